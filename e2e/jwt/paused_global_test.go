package jwte2e

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// A request paused for remote keys is resumed from the root context (a tick
// or the JWKS answer). If it then needs a fleet-wide rate-limit check, the
// callout's answer must still act on the request: admit it (200) or refuse
// it (429). It used to hang until the route timeout: the callout's callback
// was registered under the root context, so its resume and its 429 went to
// the root, where Envoy does nothing with them.
func TestRequestPausedForKeysThenCheckedGloballyIsDecided(t *testing.T) {
	for _, c := range []struct {
		name       string
		rlsStatus  int
		rlsBody    string
		wantStatus int
	}{
		{"admitted", 200, `{"overallCode":"OK"}`, 200},
		{"over limit", 429, `{"overallCode":"OVER_LIMIT"}`, 429},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := newIDP(t, standardJWKS())
			d.delay.Store(int64(time.Second)) // cold keys: the first requests pause
			rls := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				io.Copy(io.Discard, r.Body)
				w.Header().Set("content-type", "application/json")
				w.WriteHeader(c.rlsStatus)
				io.WriteString(w, c.rlsBody)
			}))
			t.Cleanup(rls.Close)
			config := fmt.Sprintf(`{"jwt": {
  "providers": {"corp": {"issuer": %q, "audiences": ["orders"], "remote_jwks": {"cluster": "idp", "uri": %q}}},
  "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]},
 "rate_limits": [{"name": "glob", "key": ["claim:sub"], "limits": [{"requests": 1000000, "per": "60s"}],
   "global": {"cluster": "rl", "domain": "apiguard", "timeout": "500ms", "failure_mode": "deny"}}]}`,
				issuer, d.srv.URL+"/jwks")
			// A short route timeout: a hang fails the test in seconds.
			p, err := module.Start(context.Background(), wasmhost.PluginConfig{
				Name: "apiguard", RootID: "apiguard", VMID: fmt.Sprintf("apiguard-%s-%d", t.Name(), vmSeq.Add(1)),
				Configuration: []byte(config), Workers: 1, StreamTimeout: 4 * time.Second,
				Clusters: map[string]string{"idp": d.srv.URL, "rl": rls.URL},
			})
			if err != nil {
				t.Fatalf("start: %v", err)
			}
			t.Cleanup(func() { p.Close() })
			h := p.Middleware(&seen{})
			send := func() *httptest.ResponseRecorder {
				req := httptest.NewRequest("GET", "http://api.example/orders", nil)
				req.Header.Set("authorization", "Bearer "+rs256(t, "rsa1"))
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, req)
				return rec
			}
			// The first request pauses for the first fetch; the second comes
			// once the keys are loaded and checks globally from its own
			// callback, as before.
			for i, label := range []string{"paused for keys", "keys loaded"} {
				rec := send()
				if rec.Code != c.wantStatus {
					t.Fatalf("request %d (%s): %d %q (%s), want %d", i+1, label, rec.Code,
						rec.Header().Get("x-apiguard-reason"), strings.TrimSpace(rec.Body.String()), c.wantStatus)
				}
			}
		})
	}
}
