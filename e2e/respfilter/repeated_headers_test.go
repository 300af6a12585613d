package respfilter

import (
	"bytes"
	"net/http"
	"slices"
	"strconv"
	"testing"
)

// An upstream that sends content-encoding twice ("identity", then "gzip")
// must not get its gzip body past the filter: the client decodes it as
// gzip, but a filter reading only the first value would see identity, sniff
// compressed bytes as "not JSON" and, with non_json "allow", let them go.
func TestRepeatedContentEncodingNeverPassesUnfiltered(t *testing.T) {
	gz := gzipBytes(t, []byte(userDoc))
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			e := start(t, baseConfig(m.name, `, "non_json": "allow"`), opts{held: m.held},
				func(w http.ResponseWriter, r *http.Request) {
					w.Header().Set("content-type", "text/plain")
					w.Header()["Content-Encoding"] = []string{"identity", "gzip"}
					w.Header().Set("content-length", strconv.Itoa(len(gz)))
					w.Write(gz)
				})
			r := e.get(t, "/users/7", "accept-encoding", "gzip")
			if r.err == nil && r.status != 502 {
				t.Fatalf("got %d with %d body bytes, want a 502", r.status, len(r.body))
			}
			if bytes.Equal(r.body, gz) || bytes.Contains(r.body, []byte(cardNumber)) {
				t.Fatalf("the unfiltered body reached the client")
			}
			if got := e.counter("reason.unsupported_encoding.errors_total"); got != 1 {
				t.Errorf("content_encoding errors = %d, want 1", got)
			}
		})
	}
}

// A client's accept-encoding split over two headers reaches the upstream as
// the one rewritten value: apiguard leaves the header alone only when it was
// sent once with the value it would set, and the upstream must never pick
// a coding apiguard cannot decode from a second copy.
func TestRepeatedAcceptEncodingReachesTheUpstreamRewritten(t *testing.T) {
	e := start(t, baseConfig("held", ""), opts{held: true}, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.Write([]byte(userDoc))
	})
	for _, tc := range []struct {
		sent []string
		want []string
	}{
		{[]string{"gzip", "br"}, []string{"gzip"}},
		{[]string{"br", "gzip"}, []string{"gzip"}},
		{[]string{"gzip", "gzip"}, []string{"gzip, gzip"}},
		{[]string{"gzip", "zstd"}, []string{"gzip"}},
		{[]string{"gzip"}, []string{"gzip"}},
		{nil, []string{"identity"}},
	} {
		req, err := http.NewRequest("GET", e.front.URL+"/users/7", nil)
		if err != nil {
			t.Fatal(err)
		}
		req.Header["Accept-Encoding"] = tc.sent
		req.Header["Range"] = []string{"bytes=0-10"}
		resp, err := e.client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		seen := e.lastSeen()
		if got := seen.Values("accept-encoding"); !slices.Equal(got, tc.want) {
			t.Errorf("client sent accept-encoding %q: upstream saw %q, want %q", tc.sent, got, tc.want)
		}
		if seen.Get("range") != "" {
			t.Errorf("client sent accept-encoding %q: range reached the upstream", tc.sent)
		}
	}
}
