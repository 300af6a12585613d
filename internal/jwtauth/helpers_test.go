package jwtauth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
)

// Tokens are minted with golang-jwt, a library independent of go-jose, which
// apiguard verifies with.

// testNow is the fake wall clock of every test.
var testNow = time.Unix(1_900_000_000, 0)

type testKeys struct {
	rsa, rsa2, rsaWeak *rsa.PrivateKey
	p256, p384, p521   *ecdsa.PrivateKey
	ed                 ed25519.PrivateKey
}

var fixtures = sync.OnceValue(func() *testKeys {
	must := func(err error) {
		if err != nil {
			panic(err)
		}
	}
	k := &testKeys{}
	var err error
	k.rsa, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048)
	must(err)
	k.rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024) //nolint:gosec // the weak key under test
	must(err)
	k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	must(err)
	k.p384, err = ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	must(err)
	k.p521, err = ecdsa.GenerateKey(elliptic.P521(), rand.Reader)
	must(err)
	_, k.ed, err = ed25519.GenerateKey(rand.Reader)
	must(err)
	return k
})

const testSecret = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

var b64e = base64.RawURLEncoding

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig",
		"n": b64e.EncodeToString(pub.N.Bytes()), "e": b64e.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]any {
	x, y := ecPoint(pub)
	return map[string]any{"kty": "EC", "kid": kid, "crv": pub.Curve.Params().Name,
		"x": b64e.EncodeToString(x), "y": b64e.EncodeToString(y)}
}

// ecPoint is the public key's coordinates at the curve's size, from the
// uncompressed point 0x04 || X || Y.
func ecPoint(pub *ecdsa.PublicKey) (x, y []byte) {
	p, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	n := (len(p) - 1) / 2
	return p[1 : 1+n], p[1+n:]
}

func edJWK(kid string, pub ed25519.PublicKey) map[string]any {
	return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64e.EncodeToString(pub)}
}

func jwksDoc(keys ...map[string]any) []byte {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return b
}

// standardJWKS holds one key per family, with kids.
func standardJWKS() []byte {
	k := fixtures()
	return jwksDoc(
		rsaJWK("rsa1", &k.rsa.PublicKey), rsaJWK("rsa2", &k.rsa2.PublicKey),
		ecJWK("p256", &k.p256.PublicKey), ecJWK("p384", &k.p384.PublicKey), ecJWK("p521", &k.p521.PublicKey),
		edJWK("ed", k.ed.Public().(ed25519.PublicKey)))
}

func baseClaims() jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "https://idp.example.com", "sub": "alice", "aud": "orders",
		"iat": testNow.Add(-time.Minute).Unix(), "exp": testNow.Add(time.Hour).Unix(),
		"scope": "read write",
	}
}

// mint signs claims with golang-jwt; header adds or overrides header members
// (a nil value deletes one).
func mint(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range header {
		if v == nil {
			delete(tok.Header, k)
		} else {
			tok.Header[k] = v
		}
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return s
}

// signRaw signs arbitrary header and payload JSON text, for tokens that
// golang-jwt would not produce (duplicate members, b64, crit).
func signRaw(t testing.TB, m jwt.SigningMethod, key any, headerJSON, payloadJSON string) string {
	t.Helper()
	input := b64e.EncodeToString([]byte(headerJSON)) + "." + b64e.EncodeToString([]byte(payloadJSON))
	sig, err := m.Sign(input, key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return input + "." + b64e.EncodeToString(sig)
}

// decodeConfig decodes a `jwt` section the way the plugin does.
func decodeConfig(t testing.TB, js string) Config {
	t.Helper()
	var c Config
	if err := config.Decode([]byte(js), &c); err != nil {
		t.Fatalf("decode: %v", err)
	}
	return c
}

func newAuth(t testing.TB, js string) *Authenticator {
	t.Helper()
	a, err := New(decodeConfig(t, js))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return a
}

// localConfig is a provider "corp" with the standard local JWKS and a
// symmetric provider "hmac".
func localConfig(extraProvider string) string {
	return fmt.Sprintf(`{
  "providers": {
    "corp": {"issuer": "https://idp.example.com", "audiences": ["orders"],
             "local_jwks": %s,
             "claim_to_headers": [{"claim": "sub", "header": "x-user"}],
             "forward_payload_header": "x-jwt-payload"%s},
    "hmac": {"issuer": "https://hmac.example.com", "secret": %q}
  },
  "rules": [
    {"match": {"prefix": "/public"}},
    {"match": {"prefix": "/hmac"}, "requires": {"provider": "hmac"}},
    {"match": {"prefix": "/admin"}, "requires": {"provider": "corp", "claims": [{"claim": "scope", "contains": "admin"}]}},
    {"match": {"prefix": "/"}, "requires": {"provider": "corp"}}
  ]
}`, standardJWKS(), extraProvider, testSecret)
}

// headers is a case-insensitive request header map.
type headers map[string]string

func (h headers) get(name string) (string, bool) {
	v, ok := h[strings.ToLower(name)]
	return v, ok
}

func bearer(tok string) headers { return headers{"authorization": "Bearer " + tok} }

func request(path string, h headers) *Request {
	p, q, _ := strings.Cut(path, "?")
	if h == nil {
		h = headers{}
	}
	return &Request{Method: "GET", Path: p, Query: q, Header: h.get, MayWait: true}
}

// fakeKeys is a KeySource with fixed sets that counts refetch requests.
type fakeKeys struct {
	sets      map[string]*jwks.Set
	inFlight  bool
	refetches int
}

func (f *fakeKeys) Keys(p string) *jwks.Set { return f.sets[p] }

func (f *fakeKeys) Refetch(string, time.Time) bool {
	f.refetches++
	return f.inFlight
}

// withUnusedBitsSet respells seg, unpadded base64url whose length is 2 or 3
// mod 4, with the lowest unused bit of its last character set: the same
// bytes to a lenient decoder.
func withUnusedBitsSet(seg string) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	i := strings.IndexByte(alphabet, seg[len(seg)-1])
	if i < 0 || len(seg)%4 < 2 {
		panic("withUnusedBitsSet: " + seg)
	}
	return seg[:len(seg)-1] + string(alphabet[i|1])
}
