package main

import (
	"bytes"
	"compress/gzip"
	"slices"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// These exercise the wiring natively; both Envoy header modes, compression,
// limits and own replies run on the compiled module in e2e/respfilter.

func respFilterConfig(mode string) string {
	return `{"response_filter": {"headers_mode": "` + mode + `", "max_body_bytes": 64,
  "rules": [{"match": {"prefix": "/users"}, "allow": ["id", "name"]}]}}`
}

func header(hs [][2]string, name string) (string, bool) {
	for _, kv := range hs {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return "", false
}

func startFiltered(t *testing.T, mode, path string) (proxytest.HostEmulator, uint32) {
	t.Helper()
	host, status := newHost(t, respFilterConfig(mode))
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", path}, {":authority", "api"},
		{"accept-encoding", "br, gzip;q=0.5"}, {"range", "bytes=0-1"}}, true)
	return host, id
}

func TestResponseFilterConfigErrorNamesThePath(t *testing.T) {
	host, status := newHost(t, `{"response_filter": {"rules": [{"allow": ["a..b"]}]}}`)
	if status != types.OnPluginStartStatusFailed {
		t.Fatalf("plugin start = %v, want failed", status)
	}
	if logs := strings.Join(host.GetCriticalLogs(), "\n"); !strings.Contains(logs, "response_filter.rules[0].allow") {
		t.Errorf("critical logs %q do not name response_filter.rules[0].allow", logs)
	}
}

func TestResponseFilterLogsTheHeaderModeItExpects(t *testing.T) {
	host, _ := newHost(t, respFilterConfig("streamed"))
	if logs := strings.Join(host.GetInfoLogs(), "\n"); !strings.Contains(logs, `headers_mode "streamed"`) {
		t.Errorf("info logs %q do not state the header mode", logs)
	}
}

func TestFilteredRouteAsksForWholeDecodableDocuments(t *testing.T) {
	host, id := startFiltered(t, "held", "/users/1")
	req := host.GetCurrentRequestHeaders(id)
	if v, _ := header(req, "accept-encoding"); v != "gzip;q=0.5" {
		t.Errorf("accept-encoding = %q, want gzip;q=0.5", v)
	}
	if _, ok := header(req, "range"); ok {
		t.Error("range was forwarded on a filtered route")
	}
}

// A filtered route's upstream gets one decodable accept-encoding and no
// range, also when the client's value needs no rewrite (apiguard then makes
// no change) or is absent. Repeated headers are in e2e/respfilter: the
// emulator replaces only a header's first copy, Envoy all of them.
func TestFilteredRouteSetsOneDecodableAcceptEncoding(t *testing.T) {
	for _, tc := range []struct {
		sent [][2]string
		want []string
	}{
		{[][2]string{{"accept-encoding", "gzip"}, {"range", "bytes=0-1"}}, []string{"gzip"}},
		{[][2]string{{"accept-encoding", "gzip;q=0.5"}}, []string{"gzip;q=0.5"}},
		{[][2]string{{"accept-encoding", "br"}}, []string{"identity"}},
		{[][2]string{{"accept-encoding", "gzip"}}, []string{"gzip"}},
		{nil, []string{"identity"}},
	} {
		// A subtest each: one emulator at a time (newHost's cleanup).
		t.Run("", func(t *testing.T) {
			host, status := newHost(t, respFilterConfig("held"))
			if status != types.OnPluginStartStatusOK {
				t.Fatalf("plugin start = %v", status)
			}
			id := host.InitializeHttpContext()
			host.CallOnRequestHeaders(id, append([][2]string{{":method", "GET"}, {":path", "/users/1"}, {":authority", "api"}}, tc.sent...), true)
			var got []string
			for _, kv := range host.GetCurrentRequestHeaders(id) {
				if strings.EqualFold(kv[0], "accept-encoding") {
					got = append(got, kv[1])
				}
				if strings.EqualFold(kv[0], "range") {
					t.Errorf("%q: range was forwarded on a filtered route", tc.sent)
				}
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("%q: upstream accept-encoding %q, want %q", tc.sent, got, tc.want)
			}
		})
	}
}

func TestUnfilteredRouteKeepsTheClientsAcceptEncoding(t *testing.T) {
	host, id := startFiltered(t, "held", "/other")
	if v, _ := header(host.GetCurrentRequestHeaders(id), "accept-encoding"); v != "br, gzip;q=0.5" {
		t.Errorf("accept-encoding = %q, want the client's", v)
	}
}

func TestHeldModeBuffersFiltersAndSetsContentLength(t *testing.T) {
	host, id := startFiltered(t, "held", "/users/1")
	if a := host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"},
		{"content-length", "40"}, {"etag", `"x"`}}, false); a != types.ActionPause {
		t.Fatalf("response headers action = %v, want pause (held)", a)
	}
	if a := host.CallOnResponseBody(id, []byte(`{"id":1,"secret":"s`), false); a != types.ActionPause {
		t.Fatalf("first chunk action = %v, want pause", a)
	}
	if a := host.CallOnResponseBody(id, []byte(`3cr3t","name":"Ann"}`), true); a != types.ActionContinue {
		t.Fatalf("last chunk action = %v, want continue", a)
	}
	if got := string(host.GetCurrentResponseBody(id)); got != `{"id":1,"name":"Ann"}` {
		t.Errorf("body = %s", got)
	}
	resp := host.GetCurrentResponseHeaders(id)
	if v, _ := header(resp, "content-length"); v != "21" {
		t.Errorf("content-length = %q, want 21", v)
	}
	if _, ok := header(resp, "etag"); ok {
		t.Error("the unfiltered body's etag survived")
	}
}

func TestHeldModeMalformedBodyIsA502(t *testing.T) {
	host, id := startFiltered(t, "held", "/users/1")
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"}}, false)
	host.CallOnResponseBody(id, []byte(`{"id":1,"secret":`), true)
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 502 || strings.Contains(string(r.Data), "secret") {
		t.Fatalf("local reply = %+v, want a 502 without the body", r)
	}
}

func TestStreamedModeDropsLengthAndReplacesABadBody(t *testing.T) {
	host, id := startFiltered(t, "streamed", "/users/1")
	if a := host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"},
		{"content-length", "17"}}, false); a != types.ActionContinue {
		t.Fatalf("response headers action = %v, want continue (streamed)", a)
	}
	if _, ok := header(host.GetCurrentResponseHeaders(id), "content-length"); ok {
		t.Error("content-length left with the headers")
	}
	host.CallOnResponseBody(id, []byte(`{"id":1,"secret":`), true)
	if r := host.GetSentLocalResponse(id); r != nil {
		t.Fatalf("streamed mode sent a local reply %d after the headers left", r.StatusCode)
	}
	if got := string(host.GetCurrentResponseBody(id)); strings.Contains(got, "secret") || !strings.Contains(got, "malformed_json") {
		t.Errorf("body = %s, want the error document", got)
	}
}

func TestStreamedModeOverLimitWithoutLengthDropsTheRest(t *testing.T) {
	host, id := startFiltered(t, "streamed", "/users/1")
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"}}, false)
	chunk := `{"id":1,"secret":"` + strings.Repeat("x", 70) + `",`
	if a := host.CallOnResponseBody(id, []byte(chunk), false); a != types.ActionContinue {
		t.Fatalf("over-limit chunk action = %v, want continue with the error document", a)
	}
	if got := string(host.GetCurrentResponseBody(id)); !strings.Contains(got, "body_too_large") {
		t.Errorf("body = %s, want the too_large error document", got)
	}
	host.CallOnResponseBody(id, []byte(`"more":"secret"}`), true)
	if got := host.GetCurrentResponseBody(id); len(got) != 0 {
		t.Errorf("later chunk = %s, want it dropped", got)
	}
}

func gzipped(t *testing.T, s string) []byte {
	t.Helper()
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	if _, err := w.Write([]byte(s)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// A second content-encoding header must not hide behind the first: the
// client decodes "identity, gzip" as gzip, so a gzip JSON body under
// text/plain would otherwise pass as "not JSON" with non_json "allow".
func TestRepeatedContentEncodingNeverPassesAnEncodedBodyUnfiltered(t *testing.T) {
	host, status := newHost(t, `{"response_filter": {"non_json": "allow",
  "rules": [{"match": {"prefix": "/users"}, "allow": ["id"]}]}}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/users/1"}, {":authority", "api"}}, true)
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "text/plain"},
		{"content-encoding", "identity"}, {"content-encoding", "gzip"}}, false)
	body := gzipped(t, `{"id":1,"secret":"s3cr3t"}`)
	host.CallOnResponseBody(id, body, true)
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 502 || !strings.Contains(string(r.Data), "unsupported_encoding") {
		t.Fatalf("local reply %+v, body sent %q; want a 502 unsupported_encoding", r, host.GetCurrentResponseBody(id))
	}
}

func TestConflictingContentLengthsAreAFilterFailure(t *testing.T) {
	host, id := startFiltered(t, "held", "/users/1")
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"},
		{"content-length", "7"}, {"content-length", "40"}}, false)
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 502 || !strings.Contains(string(r.Data), "conflicting_length") {
		t.Fatalf("local reply %+v, want a 502 conflicting_length", r)
	}
}

func TestRepeatedEqualContentLengthsAreOneLength(t *testing.T) {
	host, id := startFiltered(t, "held", "/users/1")
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"},
		{"content-length", "21"}, {"content-length", "21"}}, false)
	host.CallOnResponseBody(id, []byte(`{"id":1,"name":"Ann"}`), true)
	if r := host.GetSentLocalResponse(id); r != nil {
		t.Fatalf("local reply %d %s, want the filtered body", r.StatusCode, r.Data)
	}
	if got := string(host.GetCurrentResponseBody(id)); got != `{"id":1,"name":"Ann"}` {
		t.Errorf("body = %s", got)
	}
}

// A HEAD response on a filtered route carries no body, but the upstream's
// content-length and etag describe the unfiltered GET body: they would tell
// how long the removed fields are.
func TestHeadOnAFilteredRouteLeaksNoLength(t *testing.T) {
	host, status := newHost(t, respFilterConfig("held"))
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v", status)
	}
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "HEAD"}, {":path", "/users/1"}, {":authority", "api"}}, true)
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}, {"content-type", "application/json"},
		{"content-length", "354"}, {"etag", `"abc"`}}, true)
	got := host.GetCurrentResponseHeaders(id)
	for _, name := range []string{"content-length", "etag"} {
		if v, ok := header(got, name); ok {
			t.Errorf("HEAD response kept %s: %q", name, v)
		}
	}
}
