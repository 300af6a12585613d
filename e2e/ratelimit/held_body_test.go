package ratelimit

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// slowRLS is a rate-limit service that answers after a delay, so the
// request body arrives while the global check is still pending.
func slowRLS(t *testing.T, delay time.Duration, status int, body string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		time.Sleep(delay)
		w.Header().Set("content-type", "application/json")
		w.WriteHeader(status)
		io.WriteString(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// recordingUpstream remembers the request bodies that reached it.
type recordingUpstream struct {
	mu     sync.Mutex
	bodies [][]byte
}

func (u *recordingUpstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	b, _ := io.ReadAll(r.Body)
	u.mu.Lock()
	u.bodies = append(u.bodies, b)
	u.mu.Unlock()
	io.WriteString(w, `{"ok":true}`)
}

// With allow_on_headers_stop_iteration, pausing the request headers lets
// Envoy run the body callbacks: a body sent while the global callout is
// pending must stay held, so a refused request never reaches the upstream,
// not even its body, and an admitted one arrives whole.
func TestRequestBodyIsHeldUntilASlowGlobalCheckDecides(t *testing.T) {
	payload := bytes.Repeat([]byte(`{"item":"x"},`), 4000) // several body chunks
	for _, c := range []struct {
		name       string
		rlsStatus  int
		rlsBody    string
		wantStatus int
	}{
		{"over limit", 429, `{"overallCode":"OVER_LIMIT"}`, 429},
		{"admitted", 200, `{"overallCode":"OK"}`, 200},
	} {
		t.Run(c.name, func(t *testing.T) {
			rls := slowRLS(t, 300*time.Millisecond, c.rlsStatus, c.rlsBody)
			e := start(t, `[{"name": "fleet", "key": ["client_ip"],
				"global": {"cluster": "rls", "domain": "api", "timeout": "2s", "failure_mode": "deny"}}]`,
				opts{clusters: map[string]string{"rls": rls}})
			up := &recordingUpstream{}
			h := e.p.Middleware(up)
			hr := httptest.NewRequest("POST", "http://api.example/api/items", bytes.NewReader(payload))
			hr.RemoteAddr = "192.0.2.1:40000"
			hr.Header.Set("content-type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, hr)
			if rec.Code != c.wantStatus {
				t.Fatalf("status %d (%s), want %d", rec.Code, strings.TrimSpace(rec.Body.String()), c.wantStatus)
			}
			up.mu.Lock()
			defer up.mu.Unlock()
			switch c.wantStatus {
			case 429:
				if len(up.bodies) != 0 {
					t.Errorf("the refused request reached the upstream (%d bytes of body)", len(up.bodies[0]))
				}
			default:
				if len(up.bodies) != 1 || !bytes.Equal(up.bodies[0], payload) {
					t.Errorf("upstream got %d requests; want one with the whole %d-byte body", len(up.bodies), len(payload))
				}
			}
		})
	}
}
