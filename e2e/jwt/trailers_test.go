package jwte2e

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
)

// trailerUpstream records the request trailers it received.
type trailerUpstream struct {
	mu      sync.Mutex
	trailer http.Header
	header  http.Header
}

func (u *trailerUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body) // trailers are read after the body
	u.mu.Lock()
	u.trailer, u.header = r.Trailer.Clone(), r.Header.Clone()
	u.mu.Unlock()
	io.WriteString(w, `{"ok":true}`)
}

// A chunked request's trailers come after every decision: a forged claim
// header or a token in them reached the upstream in r.Trailer, where a
// framework that merges trailers into headers reads them. They are removed
// in every spelling; other trailers pass.
func TestRequestTrailersCarryNoForgedClaimsOrCredentials(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	up := &trailerUpstream{}
	h := e.plugin.Middleware(up)
	req := httptest.NewRequest("POST", "http://api.example/orders", strings.NewReader(`{"item":1}`))
	req.Header.Set("authorization", "Bearer "+rs256(t, "rsa1"))
	req.Trailer = http.Header{
		"X-User":        {"forged-admin"},
		"X-Scope":       {"admin"},
		"X_jwt_payload": {"forged"},
		"Authorization": {"Bearer zzz"},
		"Cookie":        {"session=zzz"},
		"X-Checksum":    {"abc"},
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for _, name := range []string{"X-User", "X-Scope", "X_jwt_payload", "Authorization", "Cookie"} {
		if v, ok := up.trailer[name]; ok {
			t.Errorf("trailer %s: %q reached the upstream", name, v)
		}
	}
	if got := up.trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("an ordinary trailer was lost: X-Checksum %q (trailers %v)", got, up.trailer)
	}
	if got := up.header.Get("x-user"); got != "alice" {
		t.Errorf("x-user header %q, want the verified alice", got)
	}
}

// Headers Envoy owns (X-Forwarded-For, Forwarded, X-Request-Id, x-envoy-*)
// and host overrides are removed from request trailers too: an upstream that
// merges trailers into headers used to read a forged client address,
// original path or request id.
func TestRequestTrailersCarryNoEnvoyOwnedHeaders(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	up := &trailerUpstream{}
	h := e.plugin.Middleware(up)
	req := httptest.NewRequest("POST", "http://api.example/orders", strings.NewReader(`{"item":1}`))
	req.Header.Set("authorization", "Bearer "+rs256(t, "rsa1"))
	forged := []string{"X-Forwarded-For", "Forwarded", "X-Envoy-Original-Path", "X-Request-Id", "X-Envoy-Internal", "X_envoy_external_address", "X-Forwarded-Prefix", "X-Original-Host"}
	req.Trailer = http.Header{"X-Checksum": {"abc"}}
	for _, name := range forged {
		req.Trailer[name] = []string{"forged"}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if rec.Code != 200 {
		t.Fatalf("status %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
	up.mu.Lock()
	defer up.mu.Unlock()
	for _, name := range forged {
		if v, ok := up.trailer[name]; ok {
			t.Errorf("trailer %s: %q reached the upstream", name, v)
		}
	}
	if got := up.trailer.Get("X-Checksum"); got != "abc" {
		t.Errorf("an ordinary trailer was lost: X-Checksum %q (trailers %v)", got, up.trailer)
	}
}
