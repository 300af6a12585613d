package jwte2e

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// The demo `jwt` section and its key pair (envoy/demo, DEMO ONLY: the
// private key is public) accept a token minted the way the demo prints one,
// and show the 401 and 403 answers.
func TestDemoConfigAndKeyPair(t *testing.T) {
	section, err := os.ReadFile("../../envoy/demo/demo-jwt.json")
	if err != nil {
		t.Fatal(err)
	}
	pemBytes, err := os.ReadFile("../../envoy/demo/demo-rsa-private.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		t.Fatal("demo key: no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	e := start(t, `{"jwt": `+string(section)+`}`, 1, nil)
	mintDemo := func(scope string) string {
		now := time.Now()
		return mint(t, jwt.SigningMethodRS256, key, "demo-2026", jwt.MapClaims{
			"iss": "https://demo.apiguard.local", "aud": "demo-api", "sub": "demo-user", "scope": scope,
			"iat": now.Unix(), "exp": now.Add(time.Hour).Unix(),
		}, nil)
	}
	if rec := e.bearer(t, "/api/items", mintDemo("read")); rec.Code != 200 {
		t.Fatalf("demo token: %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
	if h, _, _ := e.upstream.last(); h.Get("x-user") != "demo-user" {
		t.Errorf("x-user = %q", h.Get("x-user"))
	}
	expect(t, e.do(t, "GET", "/api/items"), 401, "missing_token")
	expect(t, e.bearer(t, "/admin/stats", mintDemo("read")), 403, "claims_failed")
	if rec := e.bearer(t, "/admin/stats", mintDemo("read admin")); rec.Code != 200 {
		t.Errorf("admin token on /admin: %d", rec.Code)
	}
	if rec := e.do(t, "GET", "/healthz"); rec.Code != 200 {
		t.Errorf("/healthz: %d", rec.Code)
	}
}
