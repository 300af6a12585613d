package main

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"os"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// Demo token settings; they match envoy/demo/demo-jwt.json, the `jwt`
// section of envoy/demo-config.json.
const (
	demoIssuer   = "https://demo.apiguard.local"
	demoAudience = "demo-api"
	demoKeyID    = "demo-2026"
	demoLifetime = time.Hour
)

// demoTokens are tokens signed with the published demo key, printed by the
// banner so `make run` can show 200, 401 and 403 answers.
type demoTokens struct {
	User, Admin string
}

// mintDemoTokens signs a user token (scope "read") and an admin token
// (scope "read admin") with the DEMO ONLY key at path.
func mintDemoTokens(path string, now time.Time) (demoTokens, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return demoTokens{}, fmt.Errorf("devproxy: demo key: %w", err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		return demoTokens{}, fmt.Errorf("devproxy: demo key %s: no PEM block", path)
	}
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return demoTokens{}, fmt.Errorf("devproxy: demo key %s: %w", path, err)
	}
	key, ok := parsed.(*rsa.PrivateKey)
	if !ok {
		return demoTokens{}, fmt.Errorf("devproxy: demo key %s: want an RSA key, got %T", path, parsed)
	}
	opts := (&jose.SignerOptions{}).WithType("JWT").WithHeader("kid", demoKeyID)
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.RS256, Key: key}, opts)
	if err != nil {
		return demoTokens{}, fmt.Errorf("devproxy: demo signer: %w", err)
	}
	sign := func(sub, scope string) (string, error) {
		claims, err := json.Marshal(map[string]any{
			"iss": demoIssuer, "aud": demoAudience, "sub": sub, "scope": scope,
			"iat": now.Unix(), "exp": now.Add(demoLifetime).Unix(),
		})
		if err != nil {
			return "", err
		}
		jws, err := signer.Sign(claims)
		if err != nil {
			return "", fmt.Errorf("devproxy: sign demo token: %w", err)
		}
		return jws.CompactSerialize()
	}
	var t demoTokens
	if t.User, err = sign("demo-user", "read"); err != nil {
		return demoTokens{}, err
	}
	if t.Admin, err = sign("demo-admin", "read admin"); err != nil {
		return demoTokens{}, err
	}
	return t, nil
}
