package jwks

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"math/big"
	"strings"
	"sync"
	"testing"
)

var b64 = base64.RawURLEncoding

type keys struct {
	rsa, rsaWeak *rsa.PrivateKey
	p256         *ecdsa.PrivateKey
	ed           ed25519.PublicKey
}

var fixtures = sync.OnceValue(func() *keys {
	k := &keys{}
	var err error
	if k.rsa, err = rsa.GenerateKey(rand.Reader, 2048); err != nil {
		panic(err)
	}
	if k.rsaWeak, err = rsa.GenerateKey(rand.Reader, 1024); err != nil { //nolint:gosec // the weak key under test
		panic(err)
	}
	if k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		panic(err)
	}
	if k.ed, _, err = ed25519.GenerateKey(rand.Reader); err != nil {
		panic(err)
	}
	return k
})

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid,
		"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(kid string, x, y *big.Int) map[string]any {
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256",
		"x": b64.EncodeToString(x.FillBytes(make([]byte, 32))), "y": b64.EncodeToString(y.FillBytes(make([]byte, 32)))}
}

func doc(keys ...map[string]any) []byte {
	b, _ := json.Marshal(map[string]any{"keys": keys})
	return b
}

func TestParseKeepsUsableKeysAndWarns(t *testing.T) {
	k := fixtures()
	enc := rsaJWK("enc", &k.rsa.PublicKey)
	enc["use"] = "enc"
	priv := rsaJWK("priv", &k.rsa.PublicKey)
	priv["d"] = "AQAB"
	offCurve := ecJWK("off", k.p256.X, new(big.Int).Add(k.p256.Y, big.NewInt(1)))
	set, warnings, err := Parse(doc(
		rsaJWK("good", &k.rsa.PublicKey),
		rsaJWK("weak", &k.rsaWeak.PublicKey),
		enc, priv, offCurve,
		map[string]any{"kty": "oct", "kid": "hmac", "k": "c2VjcmV0"},
		ecJWK("p256", k.p256.X, k.p256.Y),
		map[string]any{"kty": "OKP", "crv": "Ed25519", "kid": "ed", "x": b64.EncodeToString(k.ed)},
	))
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, key := range set.Keys() {
		kids = append(kids, key.KID)
	}
	if strings.Join(kids, ",") != "good,p256,ed" {
		t.Fatalf("usable keys %v", kids)
	}
	joined := strings.Join(warnings, "\n")
	for _, want := range []string{`"weak"`, "1024 bits", `"enc"`, `"priv"`, `"off"`, `"hmac"`} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %s:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, b64.EncodeToString(k.rsaWeak.N.Bytes())[:20]) {
		t.Fatal("a warning carries key material")
	}
	if got := set.Candidates("", "RS256", 0); len(got) != 1 || got[0].KID != "good" {
		t.Fatalf("RS256 candidates %v", got)
	}
	if got := set.Candidates("good", "ES256", 0); len(got) != 0 {
		t.Fatal("an RSA key fits ES256")
	}
	if got := set.Candidates("missing", "RS256", 0); len(got) != 0 {
		t.Fatal("an unknown kid fell back to another key")
	}
}

func TestParseRefusesUnusableDocuments(t *testing.T) {
	k := fixtures()
	for name, d := range map[string]string{
		"not json":      `nope`,
		"no keys":       `{"kty":"RSA"}`,
		"empty":         `{"keys": []}`,
		"only weak":     string(doc(rsaJWK("weak", &k.rsaWeak.PublicKey))),
		"trailing data": string(doc(rsaJWK("good", &k.rsa.PublicKey))) + `{}`,
		"huge":          `{"keys": [], "pad": "` + strings.Repeat("a", MaxDocumentBytes) + `"}`,
	} {
		if _, _, err := Parse([]byte(d)); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

func TestSplitURIAndDiscovery(t *testing.T) {
	p, a, err := SplitURI("https://idp.example.com:8443/realms/x/certs?v=2")
	if err != nil || p != "/realms/x/certs?v=2" || a != "idp.example.com:8443" {
		t.Fatalf("%q %q %v", p, a, err)
	}
	p, a, err = discoveryTarget("https://idp.example.com/realms/x/")
	if err != nil || p != "/realms/x/.well-known/openid-configuration" || a != "idp.example.com" {
		t.Fatalf("%q %q %v", p, a, err)
	}
	_, _, err = ParseDiscovery([]byte(`{"issuer":"https://evil.example","jwks_uri":"https://evil.example/k"}`), "https://idp.example.com")
	if err == nil {
		t.Fatal("issuer mismatch accepted")
	}
	p, a, err = ParseDiscovery([]byte(`{"issuer":"https://idp.example.com","jwks_uri":"https://keys.example.com/k"}`), "https://idp.example.com")
	if err != nil || p != "/k" || a != "keys.example.com" {
		t.Fatalf("%q %q %v", p, a, err)
	}
}

func FuzzParse(f *testing.F) {
	k := fixtures()
	f.Add(doc(rsaJWK("a", &k.rsa.PublicKey), ecJWK("b", k.p256.X, k.p256.Y)))
	f.Add([]byte(`{"keys":[{"kty":"EC","crv":"P-521","x":"AA","y":"AA"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"OKP","crv":"Ed25519","x":"` + b64.EncodeToString(make([]byte, 32)) + `"}]}`))
	f.Add([]byte(`{"keys":[{"kty":"RSA","n":"AQAB","e":"AQAB","x5c":["MIIB"]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		set, _, err := Parse(data)
		if err == nil && set.Len() == 0 {
			t.Fatal("a set without keys was returned")
		}
		for _, alg := range []string{"RS256", "ES256", "EdDSA"} {
			_ = set.Candidates("", alg, 4)
		}
	})
}
