package jwtauth

import (
	"strings"
	"testing"
	"time"
)

// TestCacheFingerprintCollision: two tokens that share the fingerprint the
// cache hashes (provider, length and last bytes) never pass as each other;
// the last one stored holds the entry.
func TestCacheFingerprintCollision(t *testing.T) {
	now := time.Now()
	c := newTokenCache(4)
	tail := strings.Repeat("s", 40)
	a := cacheKey{provider: 0, token: "aaaa." + tail}
	b := cacheKey{provider: 0, token: "bbbb." + tail}
	if a.fingerprint() != b.fingerprint() {
		t.Fatal("test tokens must share a fingerprint")
	}
	ta := &Token{Subject: "a", cacheUntilUnixNs: now.Add(time.Minute).UnixNano()}
	tb := &Token{Subject: "b", cacheUntilUnixNs: now.Add(time.Minute).UnixNano()}
	var digest [32]byte
	c.put(a, ta, now)
	if got := c.get(b, digest, now); got != nil {
		t.Fatalf("token b got a's entry: %+v", got)
	}
	if got := c.get(a, digest, now); got != ta {
		t.Fatalf("token a: %+v, want its own", got)
	}
	c.put(b, tb, now)
	if got := c.get(a, digest, now); got != nil {
		t.Fatalf("token a after b was stored: %+v, want a miss", got)
	}
	if got := c.get(b, digest, now); got != tb {
		t.Fatalf("token b: %+v, want its own", got)
	}
	other := cacheKey{provider: 1, token: b.token}
	if got := c.get(other, digest, now); got != nil {
		t.Fatalf("another provider's lookup got %+v", got)
	}
	// The ring still bounds the entries.
	for i := range 10 {
		c.put(cacheKey{token: strings.Repeat("x", i+1)}, ta, now)
	}
	if len(c.entries) > 4 {
		t.Fatalf("%d entries in a cache of 4", len(c.entries))
	}
}

// TestSameTokenIsEquality: the cache's comparison tells apart two tokens
// that differ in any one byte, at any length, and in length alone: a cache
// hit can never hand one token's verification to another.
func TestSameTokenIsEquality(t *testing.T) {
	for n := range 100 {
		a := strings.Repeat("x", n)
		if !sameToken(a, strings.Clone(a)) {
			t.Fatalf("length %d: equal tokens compare unequal", n)
		}
		if sameToken(a, a+"x") || sameToken(a+"x", a) {
			t.Fatalf("length %d: tokens of different lengths compare equal", n)
		}
		for i := range n {
			for _, flip := range []byte{0x01, 0x08, 0x80, 0xff} {
				b := []byte(a)
				b[i] ^= flip
				if sameToken(a, string(b)) {
					t.Fatalf("length %d: tokens differing at byte %d (^%#x) compare equal", n, i, flip)
				}
			}
		}
	}
}

// A token just served from the cache is judged again on the next request:
// a changed key set or its expiry drops it, and it is not served after.
func TestCacheHitIsCheckedEveryTime(t *testing.T) {
	now := time.Now()
	c := newTokenCache(4)
	k := cacheKey{token: "a.b.c"}
	tok := &Token{cacheUntilUnixNs: now.Add(time.Minute).UnixNano()}
	var digest, rotated [32]byte
	rotated[0] = 1
	c.put(k, tok, now)
	if got := c.get(k, digest, now); got != tok {
		t.Fatalf("first hit: %+v", got)
	}
	if got := c.get(k, rotated, now); got != nil {
		t.Fatal("a token verified under the old key set was served after a rotation")
	}
	if got := c.get(k, digest, now); got != nil {
		t.Fatal("a token dropped at a rotation was served again")
	}
	c.put(k, tok, now)
	if got := c.get(k, digest, now); got != tok {
		t.Fatalf("hit after put: %+v", got)
	}
	if got := c.get(k, digest, now.Add(time.Minute)); got != nil {
		t.Fatal("an expired token was served")
	}
	if got := c.get(k, digest, now); got != nil {
		t.Fatal("a token dropped at its expiry was served again")
	}
}
