package jwtauth

import (
	"fmt"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
)

// worker mimics the plugin's use of the package on one Envoy worker: one
// Authenticator and one jwks.Manager, requests paused on Wait and re-run when
// Poll or OnResponse reports their provider ready.
type worker struct {
	auth *Authenticator
	mgr  *jwks.Manager
}

// serveFetches answers callouts synchronously from idp until none is left.
func serveFetches(t *testing.T, m *jwks.Manager, fetches []jwks.Fetch, idp func() []byte, now time.Time, count *int) []string {
	var ready []string
	for len(fetches) > 0 {
		f := fetches[0]
		fetches = fetches[1:]
		*count++
		u := m.OnResponse(f.ID, 200, idp(), now)
		ready = append(ready, u.Ready...)
		fetches = append(fetches, u.Fetches...)
	}
	return ready
}

func TestKeyRotationAcrossWorkers(t *testing.T) {
	k := fixtures()
	cfg := decodeConfig(t, `{"providers": {"idp": {"issuer": "https://idp.example.com",
	  "remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/jwks", "cache_duration": "600s", "min_refetch_interval": "10s"}}},
	  "rules": [{"match": {}, "requires": {"provider": "idp"}}]}`)
	store := &castable.MemStore{}
	served := jwksDoc(rsaJWK("k1", &k.rsa.PublicKey))
	idp := func() []byte { return served }
	var workers []worker
	for i := range 8 {
		a, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		m, err := jwks.NewManager(store, "apiguard/v1/root/", fmt.Sprintf("w%d", i), RemoteSources(cfg))
		if err != nil {
			t.Fatal(err)
		}
		workers = append(workers, worker{a, m})
	}
	now := testNow
	fetches := 0
	tick := func() {
		for _, w := range workers {
			u := w.mgr.Poll(now)
			serveFetches(t, w.mgr, u.Fetches, idp, now, &fetches)
		}
	}
	// A request arrives before any tick: it waits, then passes.
	tok1 := mint(t, jwt.SigningMethodRS256, k.rsa, "k1", baseClaims(), nil)
	w0 := workers[0]
	res := w0.auth.Authenticate(request("/", bearer(tok1)), w0.mgr, now)
	if res.Decision != Wait {
		t.Fatalf("before keys: %+v", res)
	}
	u := w0.mgr.Poll(now)
	ready := serveFetches(t, w0.mgr, u.Fetches, idp, now, &fetches)
	if len(ready) != 1 || ready[0] != "idp" {
		t.Fatalf("ready %v", ready)
	}
	req := request("/", bearer(tok1))
	req.MayWait = false
	if res = w0.auth.Authenticate(req, w0.mgr, now); res.Decision != Allow {
		t.Fatalf("after keys: %+v", res)
	}
	now = now.Add(time.Second)
	tick()
	for i, w := range workers {
		if res := w.auth.Authenticate(request("/", bearer(tok1)), w.mgr, now); res.Decision != Allow {
			t.Fatalf("worker %d: %+v", i, res)
		}
	}
	if fetches != 1 {
		t.Fatalf("%d fetches for 8 workers, want 1", fetches)
	}
	// The IdP rotates to k2 long before the cache expires. Every worker
	// sees a k2 token at once; one refetch serves all of them.
	served = jwksDoc(rsaJWK("k2", &k.rsa2.PublicKey))
	now = now.Add(30 * time.Second)
	tok2 := mint(t, jwt.SigningMethodRS256, k.rsa2, "k2", baseClaims(), nil)
	for i, w := range workers {
		if res := w.auth.Authenticate(request("/", bearer(tok2)), w.mgr, now); res.Decision != Wait {
			t.Fatalf("worker %d, new kid: %+v", i, res)
		}
	}
	tick()
	now = now.Add(200 * time.Millisecond)
	tick()
	for i, w := range workers {
		req := request("/", bearer(tok2))
		req.MayWait = false
		if res := w.auth.Authenticate(req, w.mgr, now); res.Decision != Allow {
			t.Fatalf("worker %d after rotation: %+v", i, res)
		}
		// k1 is gone from the set: its cached verification is dropped.
		if res := w.auth.Authenticate(req2(tok1), w.mgr, now); res.Reason != ReasonUnknownKID {
			t.Fatalf("worker %d, revoked key: %+v", i, res)
		}
	}
	if fetches != 2 {
		t.Fatalf("%d fetches after rotation, want 2", fetches)
	}
}

func req2(tok string) *Request {
	r := request("/", bearer(tok))
	r.MayWait = false
	return r
}
