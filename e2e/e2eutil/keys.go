package e2eutil

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// RSAKey is one RSA signing key per test binary, made on first use: tests
// mint tokens with it (through a JOSE library independent of the verifier)
// and give the plugin RSAJWKS.
var RSAKey = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

// RSAJWKS is a JWKS document holding RSAKey's public half as the RS256
// signing key kid, for a provider's local_jwks.
func RSAJWKS(kid string) string {
	pub := &RSAKey().PublicKey
	b64 := base64.RawURLEncoding
	doc, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": kid, "use": "sig", "alg": "RS256",
		"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	return string(doc)
}

// RSAToken mints an RS256 token signed with RSAKey under kid, valid from a
// minute ago for an hour, with claims added (golang-jwt, independent of the
// verifier).
func RSAToken(kid string, claims map[string]any) (string, error) {
	now := time.Now()
	c := jwt.MapClaims{"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range claims {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = kid
	return tok.SignedString(RSAKey())
}
