package jwte2e

import (
	"context"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// Tokens are minted with golang-jwt, a library independent of go-jose, which
// the plugin verifies with.

var module *wasmhost.Module

func TestMain(m *testing.M) {
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogInfo}, &module))
}

type testKeys struct {
	rsa1, rsa2, weak *rsa.PrivateKey
	p256             *ecdsa.PrivateKey
	ed               ed25519.PrivateKey
}

var keys = sync.OnceValue(func() *testKeys {
	k := &testKeys{}
	var err error
	for _, step := range []func(){
		func() { k.rsa1, err = rsa.GenerateKey(rand.Reader, 2048) },
		func() { k.rsa2, err = rsa.GenerateKey(rand.Reader, 2048) },
		func() { k.weak, err = rsa.GenerateKey(rand.Reader, 1024) }, //nolint:gosec // the weak key under test
		func() { k.p256, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader) },
		func() { _, k.ed, err = ed25519.GenerateKey(rand.Reader) },
	} {
		if step(); err != nil {
			panic(err)
		}
	}
	return k
})

var b64 = base64.RawURLEncoding

func rsaJWK(kid string, pub *rsa.PublicKey) map[string]any {
	return map[string]any{"kty": "RSA", "kid": kid, "use": "sig",
		"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes())}
}

func ecJWK(kid string, pub *ecdsa.PublicKey) map[string]any {
	// The uncompressed point 0x04 || X || Y, each coordinate at the curve's size.
	p, err := pub.Bytes()
	if err != nil {
		panic(err)
	}
	n := (len(p) - 1) / 2
	return map[string]any{"kty": "EC", "kid": kid, "crv": "P-256",
		"x": b64.EncodeToString(p[1 : 1+n]),
		"y": b64.EncodeToString(p[1+n:])}
}

func edJWK(kid string, pub ed25519.PublicKey) map[string]any {
	return map[string]any{"kty": "OKP", "kid": kid, "crv": "Ed25519", "x": b64.EncodeToString(pub)}
}

func jwksDoc(keys ...map[string]any) string {
	b, err := json.Marshal(map[string]any{"keys": keys})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// standardJWKS holds rsa1, p256, ed and the weak RSA key (which the plugin
// must ignore).
func standardJWKS() string {
	k := keys()
	return jwksDoc(rsaJWK("rsa1", &k.rsa1.PublicKey), ecJWK("p256", &k.p256.PublicKey),
		edJWK("ed", k.ed.Public().(ed25519.PublicKey)), rsaJWK("weak", &k.weak.PublicKey))
}

const issuer = "https://idp.example.com"

func claims() jwt.MapClaims {
	now := time.Now()
	return jwt.MapClaims{
		"iss": issuer, "sub": "alice", "aud": "orders",
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
		"scope": "read write",
	}
}

// mint signs c with golang-jwt; header adds or overrides header members.
func mint(t testing.TB, m jwt.SigningMethod, key any, kid string, c jwt.MapClaims, header map[string]any) string {
	t.Helper()
	tok := jwt.NewWithClaims(m, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	for k, v := range header {
		tok.Header[k] = v
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("mint: %v", err)
	}
	return s
}

// signRaw signs arbitrary header and payload JSON text, for tokens
// golang-jwt would not produce (duplicate members, b64, crit).
func signRaw(t testing.TB, m jwt.SigningMethod, key any, headerJSON, payloadJSON string) string {
	t.Helper()
	input := b64.EncodeToString([]byte(headerJSON)) + "." + b64.EncodeToString([]byte(payloadJSON))
	sig, err := m.Sign(input, key)
	if err != nil {
		t.Fatalf("sign: %v", err)
	}
	return input + "." + b64.EncodeToString(sig)
}

func rs256(t testing.TB, kid string) string {
	return mint(t, jwt.SigningMethodRS256, keys().rsa1, kid, claims(), nil)
}

// idp is a JWKS and OpenID configuration server whose answers tests switch.
type idp struct {
	srv      *httptest.Server
	doc      atomic.Pointer[string]
	mode     atomic.Value // "ok", "garbage", "500", "slow"
	delay    atomic.Int64 // ns added before every answer
	jwksHits atomic.Int64
	discHits atomic.Int64
}

func newIDP(t *testing.T, doc string) *idp {
	d := &idp{}
	d.doc.Store(&doc)
	d.mode.Store("ok")
	d.srv = httptest.NewServer(http.HandlerFunc(d.serve))
	t.Cleanup(d.srv.Close)
	return d
}

func (d *idp) set(doc string) { d.doc.Store(&doc) }

func (d *idp) serve(w http.ResponseWriter, r *http.Request) {
	if ns := d.delay.Load(); ns > 0 {
		time.Sleep(time.Duration(ns))
	}
	switch r.URL.Path {
	case "/.well-known/openid-configuration":
		d.discHits.Add(1)
		w.Header().Set("content-type", "application/json")
		fmt.Fprintf(w, `{"issuer":%q,"jwks_uri":%q}`, d.srv.URL, d.srv.URL+"/keys")
		return
	case "/jwks", "/keys":
		d.jwksHits.Add(1)
	default:
		http.NotFound(w, r)
		return
	}
	switch d.mode.Load().(string) {
	case "garbage":
		io.WriteString(w, "<html>oops</html>")
	case "500":
		http.Error(w, "boom", 500)
	case "slow":
		time.Sleep(2 * time.Second)
		io.WriteString(w, *d.doc.Load())
	default:
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, *d.doc.Load())
	}
}

// seen records what the upstream received.
type seen struct {
	mu      sync.Mutex
	headers http.Header
	uri     string
	hits    int
}

func (s *seen) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.headers, s.uri = r.Header.Clone(), r.RequestURI
	s.hits++
	s.mu.Unlock()
	w.Header().Set("content-type", "application/json")
	io.WriteString(w, `{"ok":true}`)
}

func (s *seen) last() (http.Header, string, int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.headers, s.uri, s.hits
}

type env struct {
	plugin   *wasmhost.Plugin
	handler  http.Handler
	upstream *seen
}

var vmSeq atomic.Int64

func start(t testing.TB, config string, workers int, clusters map[string]string) *env {
	t.Helper()
	// One vm_id per test: shared data (keys, failure counts) is per vm_id
	// and outlives a plugin, as in Envoy.
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: fmt.Sprintf("apiguard-%s-%d", t.Name(), vmSeq.Add(1)),
		Configuration: []byte(config), Workers: workers, Clusters: clusters,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	if c, ok := t.(interface{ Cleanup(func()) }); ok {
		c.Cleanup(func() { p.Close() })
	}
	up := &seen{}
	return &env{plugin: p, handler: p.Middleware(up), upstream: up}
}

// do sends one request; hdr holds name/value pairs.
func (e *env) do(t testing.TB, method, uri string, hdr ...string) *httptest.ResponseRecorder {
	t.Helper()
	req := httptest.NewRequest(method, "http://api.example"+uri, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Add(hdr[i], hdr[i+1])
	}
	rec := httptest.NewRecorder()
	e.handler.ServeHTTP(rec, req)
	return rec
}

func (e *env) bearer(t testing.TB, uri, token string) *httptest.ResponseRecorder {
	t.Helper()
	return e.do(t, "GET", uri, "authorization", "Bearer "+token)
}

// localConfig protects /orders and /admin with a provider of inline keys.
func localConfig() string { return localConfigWith("") }

// localConfigWith adds top-level `jwt` keys (each followed by a comma).
func localConfigWith(extra string) string {
	return fmt.Sprintf(`{"jwt": {%s
  "providers": {
    "corp": {"issuer": %q, "audiences": ["orders"], "local_jwks": %s,
             "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
             "from_params": ["access_token"],
             "claim_to_headers": [{"claim": "sub", "header": "x-user"}, {"claim": "scope", "header": "x-scope"}],
             "forward_payload_header": "x-jwt-payload"}
  },
  "rules": [
    {"match": {"prefix": "/public"}},
    {"match": {"prefix": "/admin"}, "requires": {"provider": "corp", "claims": [{"claim": "scope", "contains": "admin"}]}},
    {"match": {"prefix": "/"}, "requires": {"provider": "corp"}}
  ]
}}`, extra, issuer, standardJWKS())
}

// remoteConfig protects everything with a provider whose keys come from
// the idp cluster.
func remoteConfig(d *idp, fetching string) string {
	return fmt.Sprintf(`{"jwt": {
  "providers": {
    "corp": {"issuer": %q, "audiences": ["orders"],
             "remote_jwks": {"cluster": "idp", "uri": %q %s},
             "claim_to_headers": [{"claim": "sub", "header": "x-user"}]}
  },
  "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]
}}`, issuer, d.srv.URL+"/jwks", fetching)
}

func expect(t testing.TB, rec *httptest.ResponseRecorder, status int, reason string) {
	t.Helper()
	if rec.Code != status || rec.Header().Get("x-apiguard-reason") != reason {
		t.Fatalf("got %d reason %q (body %s), want %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"), rec.Body, status, reason)
	}
}

func randomID() string {
	var b [12]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return b64.EncodeToString(b[:])
}
