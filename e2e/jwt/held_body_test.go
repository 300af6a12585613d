package jwte2e

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// With allow_on_headers_stop_iteration (every example envoy.yaml), Envoy
// still calls the request body callback of a request whose headers the
// plugin paused. A request with a body must stay held until authentication
// decides: it never reaches the upstream while the JWKS fetch is pending,
// and a token that cannot be verified is refused.
func TestRequestWithBodyWaitsForAuthenticationWhenHeadersAreHeld(t *testing.T) {
	for _, mode := range []string{"500", "slow"} {
		t.Run(mode, func(t *testing.T) {
			d := newIDP(t, standardJWKS())
			d.mode.Store(mode)
			p, err := module.Start(context.Background(), wasmhost.PluginConfig{
				Name: "apiguard", RootID: "apiguard", VMID: fmt.Sprintf("held-%s-%d", mode, vmSeq.Add(1)),
				Configuration: []byte(remoteConfig(d, `, "timeout": "400ms"`)),
				Clusters:      map[string]string{"idp": d.srv.URL},

				AllowOnHeadersStopIteration: true,
				ChunkSize:                   8,
			})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { p.Close() })
			up := &seen{}
			h := p.Middleware(up)

			req := httptest.NewRequest("POST", "http://api.example/orders", strings.NewReader(`{"item":"book","qty":1}`))
			req.Header.Set("authorization", "Bearer "+rs256(t, "rsa1"))
			req.Header.Set("content-type", "application/json")
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)

			expect(t, rec, 401, "jwks_unavailable")
			if _, _, hits := up.last(); hits != 0 {
				t.Errorf("the upstream saw %d requests before authentication decided", hits)
			}
		})
	}
}
