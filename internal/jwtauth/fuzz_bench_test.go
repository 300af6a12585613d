package jwtauth

import (
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
)

var _ KeySource = (*jwks.Manager)(nil)

// FuzzAuthenticate feeds arbitrary tokens through extraction, parsing,
// verification and the cache. Nothing may panic, and whatever apiguard
// accepts, golang-jwt (an independent implementation) must accept too.
func FuzzAuthenticate(f *testing.F) {
	k := fixtures()
	a := newAuth(f, localConfig(""))
	for _, tok := range []string{
		mint(f, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil),
		mint(f, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil),
		mint(f, jwt.SigningMethodEdDSA, k.ed, "ed", baseClaims(), nil),
		mint(f, jwt.SigningMethodPS384, k.rsa2, "", baseClaims(), nil),
		signRaw(f, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa1","b64":false,"crit":["b64"]}`, `{"exp":1}`),
		"e30.e30.", "..", "a.b.c.d.e",
	} {
		f.Add(tok, "/orders")
		f.Add(tok, "/hmac")
	}
	pubs := map[string]any{
		"rsa1": &k.rsa.PublicKey, "rsa2": &k.rsa2.PublicKey, "p256": &k.p256.PublicKey,
		"p384": &k.p384.PublicKey, "p521": &k.p521.PublicKey, "ed": k.ed.Public(),
	}
	f.Fuzz(func(t *testing.T, token, path string) {
		res := a.Authenticate(request("/"+strings.TrimPrefix(path, "/"), bearer(token)), nil, testNow)
		switch res.Decision {
		case Deny:
			if res.Status == 0 || res.Reason == "" || strings.Contains(res.WWWAuthenticate, token) && len(token) > 8 {
				t.Fatalf("bad denial %+v", res)
			}
		case Allow:
			if res.Token == nil {
				return // a public route
			}
			key := any([]byte(testSecret))
			if res.Token.Provider == "corp" {
				key = pubs[res.Token.KeyID]
				if res.Token.KeyID == "" {
					return // tried against several keys; checked by the seeds
				}
			}
			_, err := jwt.Parse(strings.TrimSpace(token), func(*jwt.Token) (any, error) { return key, nil },
				jwt.WithTimeFunc(func() time.Time { return testNow }), jwt.WithLeeway(DefaultClockSkew))
			if err != nil {
				t.Fatalf("apiguard accepted a token golang-jwt refuses: %v", err)
			}
		}
	})
}

func benchToken(b *testing.B, m jwt.SigningMethod, key any, kid string) (*Authenticator, *provider, string) {
	a := newAuth(b, localConfig(""))
	return a, a.byName["corp"], mint(b, m, key, kid, baseClaims(), nil)
}

// BenchmarkVerifyCold is a full parse and signature check, no cache.
func BenchmarkVerifyCold(b *testing.B) {
	k := fixtures()
	for _, c := range []struct {
		m   jwt.SigningMethod
		key any
		kid string
	}{{jwt.SigningMethodRS256, k.rsa, "rsa1"}, {jwt.SigningMethodES256, k.p256, "p256"}, {jwt.SigningMethodEdDSA, k.ed, "ed"}} {
		b.Run(c.m.Alg(), func(b *testing.B) {
			_, p, tok := benchToken(b, c.m, c.key, c.kid)
			b.ReportAllocs()
			for b.Loop() {
				if _, r := p.verify(tok, nil); r != "" {
					b.Fatal(r)
				}
			}
		})
	}
}

// BenchmarkCacheHit is the verified-token cache path: SHA-256 of the token,
// a map lookup and the time checks.
func BenchmarkCacheHit(b *testing.B) {
	k := fixtures()
	a, p, tok := benchToken(b, jwt.SigningMethodRS256, k.rsa, "rsa1")
	if _, r := a.verifyCached(p, tok, nil, testNow); r != "" {
		b.Fatal(r)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, r := a.verifyCached(p, tok, nil, testNow); r != "" {
			b.Fatal(r)
		}
	}
}

// BenchmarkAuthenticate is a whole request with a valid RS256 token: route
// match, extraction, cache, claim rule and output headers.
func BenchmarkAuthenticate(b *testing.B) {
	k := fixtures()
	for _, cached := range []bool{true, false} {
		name := "cached"
		if !cached {
			name = "cold"
		}
		b.Run(name, func(b *testing.B) {
			a, _, _ := benchToken(b, jwt.SigningMethodRS256, k.rsa, "rsa1")
			if !cached {
				a.cache = nil
			}
			c := baseClaims()
			c["scope"] = "admin"
			tok := mint(b, jwt.SigningMethodRS256, k.rsa, "rsa1", c, nil)
			req := request("/admin/users", bearer(tok))
			b.ReportAllocs()
			for b.Loop() {
				if res := a.Authenticate(req, nil, testNow); res.Decision != Allow {
					b.Fatal(res.Reason)
				}
			}
		})
	}
}

// FuzzParseCompact targets the pre-verification parser alone: shape,
// strict base64url, JSON with duplicate detection, header checks.
func FuzzParseCompact(f *testing.F) {
	f.Add("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJhIn0.c2ln")
	f.Add("eyJhbGciOiJSUzI1NiIsImFsZyI6IlJTMjU2In0.e30.")
	f.Add("e30.e30.e30.e30.e30")
	f.Fuzz(func(t *testing.T, token string) {
		p, err := parseCompact(token, asymmetricAlgs)
		if err != nil {
			if reasonOf(err) == "" {
				t.Fatal("rejection without a reason")
			}
			return
		}
		if strings.Count(token, ".") != 2 || p.claims == nil || !containsString(asymmetricAlgs, p.header.alg) {
			t.Fatalf("accepted a bad token: %q", token)
		}
	})
}
