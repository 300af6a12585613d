package jwtauth

import (
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/castable"
)

func sharedTable(t testing.TB, store castable.Store) *castable.Table {
	t.Helper()
	tab, err := castable.New(store, castable.Options{Namespace: "apiguard/root/jwt", Slots: 256, MaxStateBytes: sharedStateBytes})
	if err != nil {
		t.Fatal(err)
	}
	return tab
}

func TestSharedVerifiedTokens(t *testing.T) {
	k := fixtures()
	store := &castable.MemStore{}
	w1, w2 := newAuth(t, localConfig("")), newAuth(t, localConfig(""))
	w1.ShareVerified(sharedTable(t, store))
	w2.ShareVerified(sharedTable(t, store))
	c := baseClaims()
	c["exp"] = testNow.Add(time.Minute).Unix()
	tok := mint(t, jwt.SigningMethodES256, k.p256, "p256", c, nil)
	if res := w1.Authenticate(request("/orders", bearer(tok)), nil, testNow); res.Decision != Allow {
		t.Fatalf("w1: %+v", res)
	}
	res := w2.Authenticate(request("/orders", bearer(tok)), nil, testNow)
	if res.Decision != Allow || res.Token.Subject != "alice" {
		t.Fatalf("w2: %+v", res)
	}
	if s := w2.CacheStats(); s.SharedHits != 1 || s.Misses != 0 {
		t.Fatalf("w2 verified again: %+v", s)
	}
	// Claim rules and the clock still apply to a shared record.
	if res := w2.Authenticate(request("/admin", bearer(tok)), nil, testNow); res.Reason != ReasonClaims {
		t.Fatalf("admin: %+v", res)
	}
	w3 := newAuth(t, localConfig(""))
	w3.ShareVerified(sharedTable(t, store))
	if res := w3.Authenticate(request("/orders", bearer(tok)), nil, testNow.Add(3*time.Minute)); res.Reason != ReasonExpired {
		t.Fatalf("expired: %+v", res)
	}
	// A worker with another configuration of the provider never trusts the
	// record.
	other := newAuth(t, localConfig(`, "subjects": ["alice"]`))
	other.ShareVerified(sharedTable(t, store))
	if res := other.Authenticate(request("/orders", bearer(tok)), nil, testNow); res.Decision != Allow {
		t.Fatalf("other config: %+v", res)
	}
	if s := other.CacheStats(); s.SharedHits != 0 || s.Misses != 1 {
		t.Fatalf("record shared across configurations: %+v", s)
	}
	// A forged token whose signature never verified finds no record.
	forged := tok[:len(tok)-4] + "AAAA"
	if res := w2.Authenticate(request("/orders", bearer(forged)), nil, testNow); res.Reason != ReasonBadSignature {
		t.Fatalf("forged: %+v", res)
	}
}

// BenchmarkSharedHit measures a token verified by another worker: local
// miss, shared-data lookup (MemStore here), parse, checks; no signature.
func BenchmarkSharedHit(b *testing.B) {
	k := fixtures()
	store := &castable.MemStore{}
	w1 := newAuth(b, localConfig(""))
	w1.ShareVerified(sharedTable(b, store))
	cfg := decodeConfig(b, localConfig(""))
	cfg.CacheEntries = -1
	w2, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	w2.ShareVerified(sharedTable(b, store))
	tok := mint(b, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	p := w2.byName["corp"]
	if _, r := w1.verifyCached(w1.byName["corp"], tok, nil, testNow); r != "" {
		b.Fatal(r)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, r := w2.verifyCached(p, tok, nil, testNow); r != "" {
			b.Fatal(r)
		}
	}
	if w2.CacheStats().Misses != 0 {
		b.Fatal("verified instead of a shared hit")
	}
}
