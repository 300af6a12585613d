package jwtauth

import (
	"net/netip"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/castable"
)

func TestFailuresCountedAcrossWorkersAndLockout(t *testing.T) {
	k := fixtures()
	store := &castable.MemStore{}
	js := localConfig("")
	js = js[:len(js)-2] + `, "lockout": {"failures": 3, "window": "60s"}}`
	var workers []*Authenticator
	for range 2 {
		a := newAuth(t, js)
		tab, err := castable.New(store, castable.Options{Namespace: "apiguard/root/authfail", Slots: 64, MaxStateBytes: failureStateBytes})
		if err != nil {
			t.Fatal(err)
		}
		a.TrackFailures(tab)
		workers = append(workers, a)
	}
	attacker, other := netip.MustParseAddr("203.0.113.7"), netip.MustParseAddr("198.51.100.1")
	good := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	forged := mint(t, jwt.SigningMethodRS256, k.rsa2, "rsa1", baseClaims(), nil)
	send := func(w int, ip netip.Addr, h headers, now time.Time) Result {
		r := request("/orders", h)
		r.ClientIP = ip
		return workers[w].Authenticate(r, nil, now)
	}
	now := testNow
	// Missing tokens are not guesses.
	for range 5 {
		if res := send(0, attacker, nil, now); res.ClientFailures != 0 {
			t.Fatalf("missing token counted: %+v", res)
		}
	}
	for i := range 3 {
		res := send(i%2, attacker, bearer(forged), now)
		if res.Reason != ReasonBadSignature || res.ClientFailures != i+1 {
			t.Fatalf("failure %d: %q count %d", i+1, res.Reason, res.ClientFailures)
		}
	}
	now = now.Add(10 * time.Second)
	res := send(1, attacker, bearer(good), now)
	if res.Status != 429 || res.Reason != ReasonLockedOut || res.RetryAfter != 50*time.Second || res.WWWAuthenticate != "" {
		t.Fatalf("locked out: %+v", res)
	}
	if res := send(0, other, bearer(good), now); res.Decision != Allow {
		t.Fatalf("another client: %+v", res)
	}
	if res := send(0, attacker, bearer(good), now.Add(51*time.Second)); res.Decision != Allow {
		t.Fatalf("after the window: %+v", res)
	}
}
