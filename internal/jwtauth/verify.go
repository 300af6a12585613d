package jwtauth

import (
	"encoding/json"
	"math"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
)

// maxNoKIDTries bounds the keys tried for a token without `kid`, so a large
// key set cannot multiply the cost of a forged token.
const maxNoKIDTries = 4

// Token is a verified token. Its Claims map is shared with the verified-token
// cache and must not be modified.
type Token struct {
	// Provider is the provider whose keys verified the token.
	Provider string
	// Claims are the payload members, numbers as json.Number.
	Claims map[string]any
	// Issuer, Subject, KeyID and Alg are for audit logs.
	Issuer, Subject, KeyID, Alg string

	payload          string // base64url payload segment
	exp, nbf, iat    float64
	hasExp, hasNbf   bool
	hasIat           bool
	keysDigest       [32]byte
	cacheUntilUnixNs int64
	// verifiedBy is the provider that verified the token, and forward the
	// headers that provider sets from it (forward_payload_header, then
	// claim_to_headers in order): made once when the token is verified,
	// since a cached token's claims never change, instead of on every
	// request that presents it.
	verifiedBy *provider
	forward    [][2]string
}

// provider is a compiled Provider.
type provider struct {
	index       int
	name        string
	fingerprint [32]byte
	issuer      string
	audiences   []string
	subjects    []string
	algs        []string
	joseAlgs    map[string][]jose.SignatureAlgorithm
	secret      []byte
	local       *jwks.Set
	remote      bool
	waitTimeout time.Duration
	skew        time.Duration
	maxLifetime time.Duration
	requireExp  bool
	typ         string
	forward     bool
	payloadHdr  string
	claimHdrs   []ClaimToHeader
	fromHeaders []HeaderSource
	fromParams  []string
	fromCookies []string
}

// verify checks token against p with keys (nil for local and symmetric
// providers). It returns the verified token or the reason it was refused.
// Checks that depend on the time are not done here (see checkTime), so the
// result can be cached.
func (p *provider) verify(token string, keys *jwks.Set) (*Token, Reason) {
	pt, err := parseCompact(token, p.algs)
	if err != nil {
		return nil, reasonOf(err)
	}
	if p.typ != "" && normalizeTyp(pt.header.typ) != p.typ {
		return nil, ReasonTyp
	}
	t := &Token{Provider: p.name, Claims: pt.claims, KeyID: pt.header.kid, Alg: pt.header.alg, payload: pt.payload}
	if r := t.readRegistered(); r != "" {
		return nil, r
	}
	// The issuer is compared before any key is looked up, so a token meant
	// for another provider never triggers a refetch of this one's keys.
	if p.issuer != "" && t.Issuer != p.issuer {
		return nil, ReasonIssuer
	}
	var candidates []any
	if p.secret != nil {
		candidates = []any{p.secret}
	} else {
		set := p.local
		if p.remote {
			set = keys
		}
		if set == nil {
			return nil, ReasonJWKSUnavailable
		}
		t.keysDigest = set.Digest
		if pt.header.hasKID && !set.HasKID(pt.header.kid) {
			return nil, ReasonUnknownKID // never falls back to another key
		}
		max := maxNoKIDTries
		if pt.header.hasKID {
			max = 0
		}
		for _, k := range set.Candidates(pt.header.kid, pt.header.alg, max) {
			candidates = append(candidates, k.Public)
		}
		if len(candidates) == 0 {
			if pt.header.hasKID {
				return nil, ReasonBadSignature // the kid's key does not fit alg
			}
			return nil, ReasonUnknownKID
		}
	}
	jws, err := jose.ParseSignedCompact(token, p.joseAlgs[pt.header.alg])
	if err != nil {
		return nil, ReasonMalformed
	}
	verified := false
	for _, key := range candidates {
		if _, err := jws.Verify(key); err == nil {
			verified = true
			break
		}
	}
	if !verified {
		return nil, ReasonBadSignature
	}
	if r := p.checkStatic(t); r != "" {
		return nil, r
	}
	p.finish(t)
	return t, ""
}

// readRegistered reads iss, sub and the NumericDate claims, refusing wrong
// types.
func (t *Token) readRegistered() Reason {
	var ok bool
	if v, present := t.Claims["iss"]; present {
		if t.Issuer, ok = v.(string); !ok {
			return ReasonMalformed
		}
	}
	if v, present := t.Claims["sub"]; present {
		if t.Subject, ok = v.(string); !ok {
			return ReasonMalformed
		}
	}
	for _, c := range []struct {
		name string
		val  *float64
		has  *bool
	}{{"exp", &t.exp, &t.hasExp}, {"nbf", &t.nbf, &t.hasNbf}, {"iat", &t.iat, &t.hasIat}} {
		v, present := t.Claims[c.name]
		if !present {
			continue
		}
		n, isNum := v.(json.Number)
		if !isNum {
			return ReasonMalformed
		}
		f, err := n.Float64()
		if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
			return ReasonMalformed
		}
		*c.val, *c.has = f, true
	}
	return ""
}

// finish completes a token that passed every check but the time's: it
// renders the headers p sets from it (Token.forward).
func (p *provider) finish(t *Token) {
	t.verifiedBy = p
	n := len(p.claimHdrs)
	if p.payloadHdr != "" {
		n++
	}
	if n == 0 {
		return
	}
	t.forward = make([][2]string, 0, n)
	if p.payloadHdr != "" {
		t.forward = append(t.forward, [2]string{p.payloadHdr, t.payload})
	}
	for _, ch := range p.claimHdrs {
		if v, ok := claimHeaderValue(t.Claims, ch.Claim); ok {
			t.forward = append(t.forward, [2]string{ch.Header, v})
		}
	}
}

// checkStatic runs the checks that do not depend on the time.
func (p *provider) checkStatic(t *Token) Reason {
	if p.audiences != nil && !audienceMatches(t.Claims["aud"], p.audiences) {
		return ReasonAudience
	}
	if p.subjects != nil && !containsString(p.subjects, t.Subject) {
		return ReasonSubject
	}
	if p.requireExp && !t.hasExp {
		return ReasonLifetime
	}
	if p.maxLifetime > 0 {
		if !t.hasExp || !t.hasIat || t.exp-t.iat > p.maxLifetime.Seconds() {
			return ReasonLifetime
		}
	}
	return ""
}

// checkTime runs the checks that depend on now, on every request, cached
// token or not.
func (p *provider) checkTime(t *Token, now time.Time) Reason {
	n := float64(now.UnixNano()) / 1e9
	skew := p.skew.Seconds()
	if t.hasExp && n > t.exp+skew {
		return ReasonExpired
	}
	if t.hasNbf && n < t.nbf-skew {
		return ReasonNotYetValid
	}
	if t.hasIat && n < t.iat-skew {
		return ReasonIATFuture
	}
	return ""
}

// audienceMatches accepts `aud` as a string or an array of strings (RFC 7519
// §4.1.3).
func audienceMatches(aud any, want []string) bool {
	switch v := aud.(type) {
	case string:
		return containsString(want, v)
	case []any:
		for _, a := range v {
			if s, ok := a.(string); ok && containsString(want, s) {
				return true
			}
		}
	}
	return false
}

// normalizeTyp lower-cases a media type and drops "application/" (RFC 7515
// §4.1.9).
func normalizeTyp(typ string) string {
	typ = strings.ToLower(typ)
	return strings.TrimPrefix(typ, "application/")
}
