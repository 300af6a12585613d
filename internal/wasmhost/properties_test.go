package wasmhost

import (
	"encoding/binary"
	"encoding/hex"
	"net/http"
	"testing"
)

func TestProperties(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.Properties = map[string][]byte{"node.id": []byte("sidecar~1")}
	p := startConformance(t, Options{}, cfg)
	str := func(s string) string { return s }
	i64 := func(n uint64) string { b := make([]byte, 8); binary.LittleEndian.PutUint64(b, n); return string(b) }
	tests := []struct{ path, want, status string }{
		{"plugin_name", str("conformance"), "0"},
		{"plugin_root_id", str("conformance"), "0"},
		{"plugin_vm_id", str("conformance"), "0"},
		{"node.id", str("sidecar~1"), "0"},
		{"source.address", str("192.0.2.1:1234"), "0"},
		{"source.port", i64(1234), "0"},
		{"request.path", str("/p/q?x=1"), "0"},
		{"request.url_path", str("/p/q"), "0"},
		{"request.method", str("GET"), "0"},
		{"request.host", str("example.com"), "0"},
		{"request.scheme", str("http"), "0"},
		{"request.protocol", str("HTTP/1.1"), "0"},
		{"request.headers.x-do", str("prop:request.headers.x-do"), "0"},
		{"response.code", i64(200), "0"},
		{"no.such", "", "1"},
	}
	for _, tt := range tests {
		t.Run(tt.path, func(t *testing.T) {
			res := do(t, p, echoUpstream, "GET", "http://example.com/p/q?x=1", "", "x-do", "prop:"+tt.path)
			got, _ := hex.DecodeString(res.header.Get("X-Prop"))
			if res.header.Get("X-Prop-Status") != tt.status || string(got) != tt.want {
				t.Fatalf("got %q status %s, want %q status %s", got, res.header.Get("X-Prop-Status"), tt.want, tt.status)
			}
		})
	}
}

// xds.route_name is the name of the route each stream matched, as Envoy's
// route table picks it per request.
func TestRouteNamePerStream(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.RouteName = func(r *http.Request) string {
		if r.URL.Path == "/orders" {
			return "orders"
		}
		return ""
	}
	p := startConformance(t, Options{}, cfg)
	for path, want := range map[string]string{"/orders": "orders", "/other": ""} {
		res := do(t, p, echoUpstream, "GET", path, "", "x-do", "prop:xds.route_name")
		got, _ := hex.DecodeString(res.header.Get("X-Prop"))
		if res.header.Get("X-Prop-Status") != "0" || string(got) != want {
			t.Errorf("%s: got %q status %s, want %q", path, got, res.header.Get("X-Prop-Status"), want)
		}
	}
}

func TestSetPropertyIsReadableBack(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "setprop:my_prop=hello")
	if got := res.header.Get("X-Setprop"); got != "hello/0" {
		t.Fatalf("got %q", got)
	}
}

// Envoy's connection manager adds x-request-id and x-forwarded-proto before
// the filters run; the plugin and the upstream both see them.
func TestConnectionManagerHeaders(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	var upstreamID, upstreamProto string
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		upstreamID, upstreamProto = r.Header.Get("X-Request-Id"), r.Header.Get("X-Forwarded-Proto")
	})
	res := do(t, p, up, "GET", "/", "", "x-do", "prop:request.id")
	id, _ := hex.DecodeString(res.header.Get("X-Prop"))
	if len(id) != 36 || string(id) != upstreamID || upstreamProto != "http" {
		t.Fatalf("plugin saw %q, upstream %q %q", id, upstreamID, upstreamProto)
	}
	res = do(t, p, up, "GET", "/", "", "x-do", "prop:request.id", "X-Request-Id", "client-id")
	if id, _ := hex.DecodeString(res.header.Get("X-Prop")); string(id) != "client-id" || upstreamID != "client-id" {
		t.Fatalf("a client's x-request-id must be kept: %q %q", id, upstreamID)
	}
}
