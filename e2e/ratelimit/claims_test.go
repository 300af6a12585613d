package ratelimit

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

const (
	issuer = "https://idp.example"
	secret = "rate-limit-e2e-hmac-secret-of-32-bytes-or-more"
)

// jwtConfig accepts HS256 tokens of the test issuer and lets anonymous
// requests through, so that the limiter sees both.
const jwtConfig = `, "jwt": {
	"providers": {"corp": {"issuer": "` + issuer + `", "secret": "` + secret + `", "algorithms": ["HS256"]}},
	"rules": [{"match": {"prefix": "/"}, "requires": {"any": [{"provider": "corp"}, {"allow_missing": true}]}}]}`

func bearer(t *testing.T, e *env, claims jwt.MapClaims) map[string]string {
	t.Helper()
	claims["iss"] = issuer
	claims["exp"] = e.clock.now().Add(time.Hour).Unix()
	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(secret))
	if err != nil {
		t.Fatal(err)
	}
	return map[string]string{"authorization": "Bearer " + tok}
}

func TestClientsAreLimitedByAVerifiedClaimWithPlanTiers(t *testing.T) {
	e := start(t, `[{"name": "per_user", "key": ["claim:sub"], "limits": [{"requests": 2, "per": "60s"}],
		"override": {"claim": "plan", "values": {"gold": [{"requests": 4, "per": "60s"}], "internal": []}}}]`,
		opts{extra: jwtConfig, workers: 2})
	alice := bearer(t, e, jwt.MapClaims{"sub": "alice"})
	// Each user has a budget of their own, whatever address they come from.
	wantStatus(t, e.do(t, req{from: "192.0.2.1:1", headers: alice}), 200, "alice 1")
	wantStatus(t, e.do(t, req{from: "192.0.2.2:1", headers: alice}), 200, "alice 2 from elsewhere")
	refused := e.do(t, req{from: "192.0.2.3:1", headers: alice})
	wantStatus(t, refused, 429, "alice 3")
	wantStatus(t, e.do(t, req{from: "192.0.2.1:1", headers: bearer(t, e, jwt.MapClaims{"sub": "bob"})}), 200, "bob from alice's address")

	// The gold plan gets its own limits, announced in the headers.
	carol := bearer(t, e, jwt.MapClaims{"sub": "carol", "plan": "gold"})
	for i := range 4 {
		rec := e.do(t, req{headers: carol})
		wantStatus(t, rec, 200, "gold request")
		if i == 0 && rec.Header().Get("RateLimit-Policy") != `"per_user";q=4;w=60` {
			t.Errorf("gold RateLimit-Policy = %q", rec.Header().Get("RateLimit-Policy"))
		}
	}
	wantStatus(t, e.do(t, req{headers: carol}), 429, "gold request 5")
	// The internal plan is not limited by this policy.
	ops := bearer(t, e, jwt.MapClaims{"sub": "ops", "plan": "internal"})
	for range 10 {
		wantStatus(t, e.do(t, req{headers: ops}), 200, "internal plan")
	}
}

func TestUnverifiedClaimsNeverChooseTheBucket(t *testing.T) {
	e := start(t, `[{"name": "per_user", "key": ["claim:sub"], "limits": [{"requests": 1, "per": "60s"}]}]`,
		opts{extra: jwtConfig})
	// A forged token is refused by authentication before it is counted.
	forged, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": issuer, "sub": "victim",
		"exp": e.clock.now().Add(time.Hour).Unix()}).SignedString([]byte("another-secret-of-at-least-32-bytes!!"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if rec := e.do(t, req{headers: map[string]string{"authorization": "Bearer " + forged}}); rec.Code != 401 {
			t.Fatalf("forged token: got %d, want 401", rec.Code)
		}
	}
	wantStatus(t, e.do(t, req{from: "192.0.2.50:1", headers: bearer(t, e, jwt.MapClaims{"sub": "victim"})}), 200, "the real victim")
	// Anonymous clients have no sub: each is limited by its own address.
	wantStatus(t, e.do(t, req{from: "192.0.2.60:1"}), 200, "anonymous A")
	wantStatus(t, e.do(t, req{from: "192.0.2.60:1"}), 429, "anonymous A again")
	wantStatus(t, e.do(t, req{from: "192.0.2.61:1"}), 200, "anonymous B")
}
