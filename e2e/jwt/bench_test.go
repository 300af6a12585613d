package jwte2e

import (
	"net/http/httptest"
	"testing"

	"github.com/golang-jwt/jwt/v5"
)

// Full requests through the compiled plugin in wazero. Compare
// BenchmarkRequestNoAuth with the others for the cost of authentication.

func benchRequests(b *testing.B, config string, token func() string) {
	e := start(b, config, 1, nil)
	defer e.plugin.Close()
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		var hdr []string
		if token != nil {
			b.StopTimer()
			hdr = []string{"authorization", "Bearer " + token()}
			b.StartTimer()
		}
		req := httptest.NewRequest("GET", "http://api.example/orders", nil)
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
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

// A new token every time (minted outside the timer): a cold verification.
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
