package jwtauth

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// maxCacheTTL bounds how long a verified token is trusted without a new
// signature check, for tokens without `exp` or with a distant one.
const maxCacheTTL = 10 * time.Minute

// cacheKey is the provider plus the whole token. A hit compares the token
// byte for byte, so one token cannot pass as another. The cache holds at
// most its size of tokens, each no longer than the header it came from.
type cacheKey struct {
	provider int
	token    string
}

// cacheFP is what the cache's map hashes: the provider, the token's length
// and its last bytes (signature bytes in a compact JWS), rather than the
// whole token, which in Wasm costs a byte-wise hash of some 700 bytes on
// every request (Go's Wasm port has no AES hash). Tokens that share a
// fingerprint share an entry: the last one stored wins, and the others miss
// and are verified.
type cacheFP struct {
	provider, n int
	tail        [cacheTailBytes]byte
}

const cacheTailBytes = 24

func (k cacheKey) fingerprint() cacheFP {
	fp := cacheFP{provider: k.provider, n: len(k.token)}
	copy(fp.tail[:], k.token[max(len(k.token)-cacheTailBytes, 0):])
	return fp
}

type cacheEntry struct {
	key   cacheKey
	token *Token
	slot  int
}

// tokenCache is a bounded cache of verified tokens with FIFO eviction. It
// holds only the outcome of checks that do not depend on the time or the
// route: expiry, nbf, iat and claim rules are checked on every request. An
// entry dies at the token's exp, and when the provider's key set changes.
type tokenCache struct {
	mu      sync.Mutex
	entries map[cacheFP]cacheEntry
	ring    []cacheFP
	used    []bool
	next    int
	// last is the entry the last hit returned, looked at before the map
	// (whose 40-byte key Wasm hashes byte by byte): a worker's requests in
	// a row often carry one token. It is always an entry of the map: put
	// and every delete drop it.
	last    cacheEntry
	hasLast bool
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{entries: make(map[cacheFP]cacheEntry, size), ring: make([]cacheFP, size), used: make([]bool, size)}
}

// get returns the cached token if it is still usable with keysDigest.
func (c *tokenCache) get(k cacheKey, keysDigest [32]byte, now time.Time) *Token {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	e, ok := c.last, c.hasLast
	if !ok || e.key.provider != k.provider || !sameToken(e.key.token, k.token) {
		e, ok = c.entries[k.fingerprint()]
	}
	switch {
	case !ok || e.key.provider != k.provider || !sameToken(e.key.token, k.token):
		c.mu.Unlock()
		return nil
	case now.UnixNano() >= e.token.cacheUntilUnixNs || e.token.keysDigest != keysDigest:
		delete(c.entries, k.fingerprint())
		c.used[e.slot] = false
		c.last, c.hasLast = cacheEntry{}, false
		c.mu.Unlock()
		return nil
	}
	c.last, c.hasLast = e, true
	c.mu.Unlock()
	return e.token
}

// sameToken is a == b, 32 bytes a step: Go's Wasm port compares strings a
// byte at a time (internal/bytealg memeqbody), which for a 700-byte token
// on every cache hit costs several times this loop under wazero.
func sameToken(a, b string) bool {
	n := len(a)
	if n != len(b) {
		return false
	}
	pa, pb := unsafe.Pointer(unsafe.StringData(a)), unsafe.Pointer(unsafe.StringData(b))
	i := 0
	for ; i+32 <= n; i += 32 {
		// ^ and | bind alike in Go: every xor is parenthesised.
		d := (*(*uint64)(unsafe.Add(pa, i)) ^ *(*uint64)(unsafe.Add(pb, i))) |
			(*(*uint64)(unsafe.Add(pa, i+8)) ^ *(*uint64)(unsafe.Add(pb, i+8))) |
			(*(*uint64)(unsafe.Add(pa, i+16)) ^ *(*uint64)(unsafe.Add(pb, i+16))) |
			(*(*uint64)(unsafe.Add(pa, i+24)) ^ *(*uint64)(unsafe.Add(pb, i+24)))
		if d != 0 {
			return false
		}
	}
	for ; i < n; i++ {
		if *(*byte)(unsafe.Add(pa, i)) != *(*byte)(unsafe.Add(pb, i)) {
			return false
		}
	}
	return true
}

// cacheUntil is when trust in a verified token's signature check ends: its
// exp, and at most maxCacheTTL from now.
func cacheUntil(t *Token, now time.Time) int64 {
	until := now.Add(maxCacheTTL).UnixNano()
	if t.hasExp {
		// Compare as floats first: exp may be far outside int64 range.
		exp := t.exp * 1e9
		if exp <= float64(now.UnixNano()) {
			return now.UnixNano() // not cacheable
		}
		if exp < float64(until) {
			until = int64(exp)
		}
	}
	return until
}

// put stores t until t.cacheUntilUnixNs.
func (c *tokenCache) put(k cacheKey, t *Token, now time.Time) {
	if c == nil || t.cacheUntilUnixNs <= now.UnixNano() {
		return
	}
	fp := k.fingerprint()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.last, c.hasLast = cacheEntry{}, false // an entry may be replaced or evicted
	if e, ok := c.entries[fp]; ok {
		if e.key != k {
			// Another token with this fingerprint: this one takes its
			// entry and ring slot.
			e.key.token, e.token = strings.Clone(k.token), t
			c.entries[fp] = e
		}
		return
	}
	// The caller's token may be a view of a buffer it reuses.
	k.token = strings.Clone(k.token)
	slot := c.next
	c.next = (c.next + 1) % len(c.ring)
	if c.used[slot] {
		if old, ok := c.entries[c.ring[slot]]; ok && old.slot == slot {
			delete(c.entries, c.ring[slot])
		}
	}
	c.ring[slot], c.used[slot] = fp, true
	c.entries[fp] = cacheEntry{key: k, token: t, slot: slot}
}

// CacheStats counts how tokens were judged since New, for the
// jwt_cache_hit / jwt_cache_miss style metrics.
type CacheStats struct {
	// Hits were found in this worker's cache.
	Hits uint64
	// SharedHits were verified by another worker (see ShareVerified).
	SharedHits uint64
	// Misses were parsed and verified here (including tokens refused).
	Misses uint64
}

type cacheCounters struct{ hits, sharedHits, misses atomic.Uint64 }

// CacheStats returns the counters.
func (a *Authenticator) CacheStats() CacheStats {
	return CacheStats{Hits: a.stats.hits.Load(), SharedHits: a.stats.sharedHits.Load(), Misses: a.stats.misses.Load()}
}
