package respfilter

import (
	"bytes"
	"net/http"
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
