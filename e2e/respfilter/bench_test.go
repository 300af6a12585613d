package respfilter

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
)

// BenchmarkPlugin100KiB measures a 100 KiB JSON response through the
// compiled plugin in wazero, filtered (headers held, body buffered,
// filtered, content-length reset) against the same response passed through
// unfiltered on a bypassed route. The upstream is an in-process handler so
// that only the host and the plugin are measured.
func BenchmarkPlugin100KiB(b *testing.B) {
	doc := benchdoc.Generate(100 << 10)
	allow := `["` + strings.Join(benchdoc.Allow, `", "`) + `"]`
	cfg := `{"response_filter": {"rules": [
  {"match": {"prefix": "/pass"}, "bypass": true},
  {"match": {}, "allow": ` + allow + `}]}}`
	e := start(b, cfg, opts{held: true}, serve(doc, false, "content-type", "application/json"))
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		w.Header().Set("content-length", strconv.Itoa(len(doc)))
		w.Write(doc)
	})
	h := e.plugin.Middleware(upstream)
	for _, c := range []struct{ name, path string }{{"filtered", "/users"}, {"passthrough", "/pass"}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", c.path, nil))
				if rec.Code != 200 || rec.Body.Len() == 0 {
					b.Fatalf("got %d with %d bytes", rec.Code, rec.Body.Len())
				}
			}
		})
	}
}
