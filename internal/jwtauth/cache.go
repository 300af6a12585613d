package jwtauth

import (
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// maxCacheTTL bounds how long a verified token is trusted without a new
// signature check, for tokens without `exp` or with a distant one.
const maxCacheTTL = 10 * time.Minute

// cacheKey is the provider plus the whole token. The map compares the
// token byte for byte, so one token cannot pass as another, and a hit costs
// the map's hash of the string rather than a SHA-256 (about 10 µs for a
// 700-byte token in Wasm). The map holds at most the cache's size of tokens,
// each no longer than the header it came from.
type cacheKey struct {
	provider int
	token    string
}

type cacheEntry struct {
	token *Token
	slot  int
}

// tokenCache is a bounded cache of verified tokens with FIFO eviction. It
// holds only the outcome of checks that do not depend on the time or the
// route: expiry, nbf, iat and claim rules are checked on every request. An
// entry dies at the token's exp, and when the provider's key set changes.
type tokenCache struct {
	mu      sync.Mutex
	entries map[cacheKey]cacheEntry
	ring    []cacheKey
	used    []bool
	next    int
}

func newTokenCache(size int) *tokenCache {
	if size <= 0 {
		return nil
	}
	return &tokenCache{entries: make(map[cacheKey]cacheEntry, size), ring: make([]cacheKey, size), used: make([]bool, size)}
}

// get returns the cached token if it is still usable with keysDigest.
func (c *tokenCache) get(k cacheKey, keysDigest [32]byte, now time.Time) *Token {
	if c == nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.entries[k]
	if !ok {
		return nil
	}
	if now.UnixNano() >= e.token.cacheUntilUnixNs || e.token.keysDigest != keysDigest {
		delete(c.entries, k)
		c.used[e.slot] = false
		return nil
	}
	return e.token
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
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.entries[k]; ok {
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
	c.ring[slot], c.used[slot] = k, true
	c.entries[k] = cacheEntry{token: t, slot: slot}
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
