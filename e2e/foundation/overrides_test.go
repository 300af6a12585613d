package foundation

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// wsgiUpstream reads headers as a WSGI/CGI application does, through an
// environ where '-' and '_' are one (HTTP_X_HTTP_METHOD_OVERRIDE): it applies
// a method override and routes on X-Original-URL, and records the method,
// path and host it acted on.
type wsgiUpstream struct {
	mu    sync.Mutex
	acted []string
	hosts []string
	hits  int
}

func environ(h http.Header, name string) string {
	for k, v := range h {
		if strings.EqualFold(strings.ReplaceAll(k, "_", "-"), name) && len(v) > 0 {
			return v[0]
		}
	}
	return ""
}

func (u *wsgiUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method, path, host := r.Method, r.URL.Path, r.Host
	for _, n := range []string{"x-http-method-override", "x-method-override", "x-http-method"} {
		if v := environ(r.Header, n); v != "" {
			method = v
		}
	}
	for _, n := range []string{"x-original-url", "x-rewrite-url"} {
		if v := environ(r.Header, n); v != "" {
			path = v
		}
	}
	if v := environ(r.Header, "x-forwarded-host"); v != "" {
		host = v
	}
	u.mu.Lock()
	u.hits++
	u.acted = append(u.acted, method+" "+path)
	u.hosts = append(u.hosts, host)
	u.mu.Unlock()
	w.WriteHeader(200)
}

// Method and path overrides are refused in every spelling an upstream that
// folds '_' into '-' applies, before the upstream: POST /items/42 with
// x_http_method_override: DELETE used to reach a DELETE handler.
func TestOverrideHeadersAreRefusedInEverySpelling(t *testing.T) {
	p := start(t, `{}`, 1)
	up := &wsgiUpstream{}
	h := p.Middleware(up)
	for _, c := range []struct{ name, value, reason string }{
		{"x-http-method-override", "DELETE", "method_override"},
		{"x_http_method_override", "DELETE", "method_override"},
		{"X_HTTP_METHOD_OVERRIDE", "DELETE", "method_override"},
		{"x_method_override", "DELETE", "method_override"},
		{"x_http_method", "DELETE", "method_override"},
		{"x-http_method-override", "DELETE", "method_override"},
		{"X-Original-URL", "/admin", "path_override"},
		{"x_original_url", "/admin", "path_override"},
		{"X-Rewrite-URL", "/admin", "path_override"},
		{"x_rewrite_url", "/admin", "path_override"},
	} {
		req := httptest.NewRequest("POST", "http://api.example/items/42", nil)
		req.Header[c.name] = []string{c.value} // as sent, not canonicalised
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 400 || rec.Header().Get("x-apiguard-reason") != c.reason {
			t.Errorf("%s: got %d reason %q, want 400 %s", c.name, rec.Code, rec.Header().Get("x-apiguard-reason"), c.reason)
		}
	}
	if up.hits != 0 {
		t.Errorf("the upstream acted on %q", up.acted)
	}
}

// With method_override "remove", and always for X-Forwarded-Host, every
// spelling is removed: the upstream acts on the method, path and host that
// were judged.
func TestRemovedOverridesAndForwardedHostNeverReachTheUpstream(t *testing.T) {
	p := start(t, `{"method_override": "remove", "headers_with_underscores": "allow"}`, 1)
	up := &wsgiUpstream{}
	h := p.Middleware(up)
	for _, name := range []string{"x_http_method_override", "X_HTTP_METHOD_OVERRIDE", "x_method_override", "x_http_method", "x-http_method-override", "x-forwarded-host", "x_forwarded_host", "X_Forwarded_Host"} {
		req := httptest.NewRequest("POST", "http://api.example/items/42", nil)
		value := "DELETE"
		if strings.Contains(strings.ToLower(strings.ReplaceAll(name, "_", "-")), "host") {
			value = "admin.internal"
		}
		req.Header[name] = []string{value}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 {
			t.Fatalf("%s: %d %q", name, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
		up.mu.Lock()
		acted, host := up.acted[len(up.acted)-1], up.hosts[len(up.hosts)-1]
		up.mu.Unlock()
		if acted != "POST /items/42" || host != "api.example" {
			t.Errorf("%s: the upstream acted on %q at host %q, want POST /items/42 at api.example", name, acted, host)
		}
	}
}

// The _method query parameter is refused in every spelling PHP registers as
// _method (php_register_variable_ex drops leading spaces, turns '.' and ' '
// into '_', cuts an array suffix) and in any case: POST /healthz?.method=DELETE
// used to reach the upstream, which PHP's frameworks read as a DELETE.
// With method_override "remove", every spelling is removed instead.
func TestMethodOverrideParameterIsCaughtInPHPSpellings(t *testing.T) {
	spellings := []string{".method", "+_method", "%20_method", "%20%20.method", "_METHOD", "_Method", "_method[]", "_method[0]"}
	p := start(t, `{}`, 1)
	up := &wsgiUpstream{}
	h := p.Middleware(up)
	for _, s := range spellings {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("POST", "http://api.example/healthz?"+s+"=DELETE", nil))
		if rec.Code != 400 || rec.Header().Get("x-apiguard-reason") != "method_override" {
			t.Errorf("?%s=DELETE: got %d reason %q, want 400 method_override", s, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
	if up.hits != 0 {
		t.Errorf("%d requests with a _method parameter reached the upstream", up.hits)
	}

	rm := start(t, `{"method_override": "remove"}`, 1)
	var queries []string
	hr := rm.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		queries = append(queries, r.URL.RawQuery)
	}))
	for _, s := range spellings {
		rec := httptest.NewRecorder()
		hr.ServeHTTP(rec, httptest.NewRequest("POST", "http://api.example/healthz?a=1&"+s+"=DELETE&b=2", nil))
		if rec.Code != 200 || len(queries) == 0 || queries[len(queries)-1] != "a=1&b=2" {
			t.Errorf("remove, ?a=1&%s=DELETE&b=2: got %d, upstream query %q, want 200 and a=1&b=2", s, rec.Code, queries)
		}
		queries = nil
	}
}

// Host and prefix overrides other than X-Forwarded-Host (X-Forwarded-Prefix,
// X-Original-Host, X-Host, X-HTTP-Host-Override) are removed in every
// spelling, as X-Forwarded-Host is: they used to reach the upstream.
func TestHostOverrideHeadersNeverReachTheUpstream(t *testing.T) {
	p := start(t, `{}`, 1)
	var got []http.Header
	h := p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = append(got, r.Header.Clone()) }))
	for _, name := range []string{"X-Forwarded-Prefix", "x_forwarded_prefix", "X-Original-Host", "X_ORIGINAL_HOST", "X-Host", "x_host", "X-HTTP-Host-Override", "x_http_host_override"} {
		got = nil
		req := httptest.NewRequest("GET", "http://api.example/items/42", nil)
		req.Header[name] = []string{"admin.internal"}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != 200 || len(got) != 1 {
			t.Fatalf("%s: %d %q", name, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
		for k, v := range got[0] {
			if strings.Contains(strings.Join(v, ","), "admin.internal") {
				t.Errorf("%s: reached the upstream as %s: %q", name, k, v)
			}
		}
	}
}
