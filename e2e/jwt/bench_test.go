package jwte2e

import (
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Full requests through the compiled plugin in wazero. Compare
// BenchmarkRequestNoAuth with the others for the cost of authentication.

// benchRequests sends b.N requests, the i-th with the i-th of b.N tokens
// from token (nil: no token). The tokens are minted before the timer starts,
// not between StopTimer and StartTimer, whose ReadMemStats would inflate a
// cache hit's figure 1.5-2.8 times.
func benchRequests(b *testing.B, config string, token func() string) {
	e := start(b, config, 1, nil)
	defer e.plugin.Close()
	var auth []string
	if token != nil {
		auth = make([]string, b.N)
		for i := range auth {
			auth[i] = "Bearer " + token()
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		req := httptest.NewRequest("GET", "http://api.example/orders", nil)
		if auth != nil {
			req.Header.Set("authorization", auth[i])
		}
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		if rec.Code != 200 {
			b.Fatalf("status %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
}

func BenchmarkRequestNoAuth(b *testing.B) {
	benchRequests(b, `{}`, nil)
}

// The same token every time: a verified-token cache hit after the first.
func BenchmarkRequestValidTokenCacheHit(b *testing.B) {
	tok := rs256(b, "rsa1")
	benchRequests(b, localConfig(), func() string { return tok })
}

// A new token every time (minted before the timer starts): a cold verification.
func BenchmarkRequestValidTokenColdRS256(b *testing.B) {
	benchRequests(b, localConfig(), func() string {
		c := claims()
		c["jti"] = randomID()
		return mint(b, jwt.SigningMethodRS256, keys().rsa1, "rsa1", c, nil)
	})
}

func BenchmarkRequestValidTokenColdES256(b *testing.B) {
	benchRequests(b, localConfig(), func() string {
		c := claims()
		c["jti"] = randomID()
		return mint(b, jwt.SigningMethodES256, keys().p256, "p256", c, nil)
	})
}

// The same token every time with the worker cache off: every request after
// the first finds the cross-worker record in shared data and skips the
// signature check (the cost another worker pays for a token one worker
// verified).
func BenchmarkRequestValidTokenSharedHit(b *testing.B) {
	tok := rs256(b, "rsa1")
	benchRequests(b, localConfigWith(`"cache_entries": -1,`), func() string { return tok })
}
