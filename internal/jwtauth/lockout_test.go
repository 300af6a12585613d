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

func TestFailureWindowIsTheLockoutsOrTheOneSet(t *testing.T) {
	k := fixtures()
	forged := mint(t, jwt.SigningMethodRS256, k.rsa2, "rsa1", baseClaims(), nil)
	ip := netip.MustParseAddr("203.0.113.7")
	a := newAuth(t, localConfig(""))
	if a.FailureWindow() != DefaultFailureWindow {
		t.Fatalf("default window %v", a.FailureWindow())
	}
	if !a.SetFailureWindow(10 * time.Second) {
		t.Fatal("window not set without a lockout")
	}
	tab, err := castable.New(&castable.MemStore{}, castable.Options{Namespace: "w", Slots: 8, MaxStateBytes: failureStateBytes})
	if err != nil {
		t.Fatal(err)
	}
	a.TrackFailures(tab)
	send := func(now time.Time) int {
		r := request("/orders", bearer(forged))
		r.ClientIP = ip
		return a.Authenticate(r, nil, now).ClientFailures
	}
	send(testNow)
	if n := send(testNow.Add(9 * time.Second)); n != 2 {
		t.Fatalf("inside the window: %d failures, want 2", n)
	}
	if n := send(testNow.Add(10 * time.Second)); n != 1 {
		t.Fatalf("after the 10s window: %d failures, want a new count", n)
	}

	js := localConfig("")
	js = js[:len(js)-2] + `, "lockout": {"failures": 3, "window": "30s"}}`
	l := newAuth(t, js)
	if l.SetFailureWindow(10*time.Second) || l.FailureWindow() != 30*time.Second {
		t.Fatalf("a lockout's window must win: %v", l.FailureWindow())
	}
}
