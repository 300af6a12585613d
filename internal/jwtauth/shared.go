package jwtauth

import (
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
)

// sharedState is the state of one shared verified-token record: the full
// SHA-256 record key, compared in full on every hit (the table itself only
// keeps a 128-bit fingerprint).
const sharedStateBytes = sha256.Size

// ShareVerified makes workers reuse each other's signature checks through t,
// a bounded table in shared data (namespace it with the plugin root id, e.g.
// "apiguard/<root_id>/jwt"; 32-byte states). A record says: this exact
// token (SHA-256), under this provider configuration and this key set,
// passed the signature and every time-independent check; it lives no longer
// than the token's exp. A worker that finds one still parses the token for
// its claims and runs the time and claim checks, but skips the signature
// verification, which costs about 0.3 ms (RS256) to 1.5 ms (ES256) in Wasm.
//
// Whatever can write this plugin's shared data (filters with the same
// vm_id) is trusted not to forge records. Table errors (full, contended)
// only cost a verification.
func (a *Authenticator) ShareVerified(t *castable.Table) {
	a.shared = t
}

// sharedKey binds the record to the token, the provider's configuration and
// the key set, so a configuration or key change never reuses a record.
func (p *provider) sharedKey(tokenSum [32]byte, keysDigest [32]byte) [32]byte {
	h := sha256.New()
	h.Write(p.fingerprint[:])
	h.Write(keysDigest[:])
	h.Write(tokenSum[:])
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// sharedLookup reports whether a live record exists for key.
func (a *Authenticator) sharedLookup(key [32]byte, now time.Time) bool {
	hit := false
	_, err := a.shared.Update(hex.EncodeToString(key[:]), now, func(state []byte) ([]byte, time.Time, bool) {
		hit = len(state) == sharedStateBytes && subtle.ConstantTimeCompare(state, key[:]) == 1
		return nil, time.Time{}, false
	})
	return err == nil && hit
}

// sharedStore records a verification until the token's cache expiry.
func (a *Authenticator) sharedStore(key [32]byte, t *Token, now time.Time) {
	until := time.Unix(0, t.cacheUntilUnixNs)
	if !until.After(now) {
		return
	}
	_, _ = a.shared.Update(hex.EncodeToString(key[:]), now, func([]byte) ([]byte, time.Time, bool) {
		return key[:], until, true
	})
}

// fingerprintProvider hashes a provider's configuration (the secret
// included, only ever hashed).
func fingerprintProvider(name string, c *Provider) [32]byte {
	b, err := json.Marshal(c)
	if err != nil {
		return sha256.Sum256([]byte(name)) // unreachable: the config was decoded from JSON
	}
	h := sha256.New()
	h.Write([]byte(name))
	h.Write([]byte{0})
	h.Write(b)
	var k [32]byte
	h.Sum(k[:0])
	return k
}

// verifyShared completes a token another worker verified: it parses it and
// re-runs every check except the signature.
func (p *provider) verifyShared(token string, keysDigest [32]byte) (*Token, Reason) {
	pt, err := parseCompact(token, p.algs)
	if err != nil {
		return nil, reasonOf(err)
	}
	if p.typ != "" && normalizeTyp(pt.header.typ) != p.typ {
		return nil, ReasonTyp
	}
	t := &Token{Provider: p.name, Claims: pt.claims, KeyID: pt.header.kid, Alg: pt.header.alg, payload: pt.payload, keysDigest: keysDigest}
	if r := t.readRegistered(); r != "" {
		return nil, r
	}
	if p.issuer != "" && t.Issuer != p.issuer {
		return nil, ReasonIssuer
	}
	if r := p.checkStatic(t); r != "" {
		return nil, r
	}
	p.finish(t)
	return t, ""
}

// Bounds of the JWT policy's tables in shared data, per plugin root id.
const (
	// failureSlots bounds the per-client-IP failure counters: at most this
	// many client IPs are tracked at once.
	failureSlots = 4096
	// sharedVerifiedSlots bounds the cross-worker verified-token records.
	sharedVerifiedSlots = 4096
)

// UseSharedData keeps the failure counters (TrackFailures) and the
// verified-token records (ShareVerified) in store, Envoy's shared data seen
// by every worker, under ns + "authfail" and ns + "jwtverified". ns holds
// the plugin root id and a schema version, so two apiguard filters sharing
// a vm_id never mix state.
func (a *Authenticator) UseSharedData(store castable.Store, ns string) error {
	failures, err := castable.New(store, castable.Options{Namespace: ns + "authfail", Slots: failureSlots, MaxStateBytes: failureStateBytes})
	if err != nil {
		return fmt.Errorf("jwt: failure table: %w", err)
	}
	a.TrackFailures(failures)
	verified, err := castable.New(store, castable.Options{Namespace: ns + "jwtverified", Slots: sharedVerifiedSlots, MaxStateBytes: sharedStateBytes})
	if err != nil {
		return fmt.Errorf("jwt: verified-token table: %w", err)
	}
	a.ShareVerified(verified)
	return nil
}
