package main

import (
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
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// The JWT stage natively through proxytest. Envoy-faithful behaviour
// (pauses, callouts across workers, local replies) is proven on the compiled
// module in e2e/jwt.

var testRSA = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func testJWKS() string {
	pub := &testRSA().PublicKey
	b64 := base64.RawURLEncoding
	doc, _ := json.Marshal(map[string]any{"keys": []any{map[string]any{
		"kty": "RSA", "kid": "k1", "use": "sig",
		"n": b64.EncodeToString(pub.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
	}}})
	return string(doc)
}

func testToken(t testing.TB) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "https://idp.example.com", "sub": "alice", "aud": "orders",
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(testRSA())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jwtConfig(keys string) string {
	return fmt.Sprintf(`{"jwt": {"providers": {"corp": {"issuer": "https://idp.example.com", "audiences": ["orders"], %s,
	  "claim_to_headers": [{"claim": "sub", "header": "x-user"}]}},
	  "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]}}`, keys)
}

func headerValue(headers [][2]string, name string) (string, bool) {
	for _, kv := range headers {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return "", false
}

func TestJWTValidTokenSetsClaimHeadersStripsTheTokenAndPublishesFilterState(t *testing.T) {
	host, status := newHost(t, jwtConfig(`"local_jwks": `+testJWKS()))
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	id := host.InitializeHttpContext()
	action := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"},
		{"authorization", "Bearer " + testToken(t)}, {"x-user", "mallory"}}, true)
	if action != types.ActionContinue {
		t.Fatalf("action = %v, reply %+v", action, host.GetSentLocalResponse(id))
	}
	got := host.GetCurrentRequestHeaders(id)
	if v, _ := headerValue(got, "x-user"); v != "alice" {
		t.Errorf("x-user = %q, want the verified sub", v)
	}
	if _, ok := headerValue(got, "authorization"); ok {
		t.Error("the token was forwarded")
	}
	for name, want := range map[string]string{"apiguard.authn.decision": "allow", "apiguard.authn.reason": "verified", "apiguard.authn.sub": "alice"} {
		if v, err := host.GetProperty([]string{name}); err != nil || string(v) != want {
			t.Errorf("filter state %s = %q (%v), want %q", name, v, err, want)
		}
	}
}

func TestJWTMissingTokenIsAnOwnReplyTheResponsePoliciesSkip(t *testing.T) {
	host, _ := newHost(t, jwtConfig(`"local_jwks": `+testJWKS()))
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"}}, true)
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 401 {
		t.Fatalf("reply = %+v, want 401", r)
	}
	if v, _ := headerValue(r.Headers, "www-authenticate"); !strings.HasPrefix(v, "Bearer realm=") || strings.Contains(v, "error") {
		t.Errorf("WWW-Authenticate = %q", v)
	}
	if a := host.CallOnResponseHeaders(id, [][2]string{{":status", "401"}}, false); a != types.ActionContinue {
		t.Errorf("own reply response headers action = %v", a)
	}
}

func remoteHost(t *testing.T) proxytest.HostEmulator {
	host, status := newHost(t, jwtConfig(`"remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/jwks"}`))
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	return host
}

func TestJWTFirstRequestPausesUntilTheJWKSArrives(t *testing.T) {
	host := remoteHost(t)
	id := host.InitializeHttpContext()
	action := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"},
		{"authorization", "Bearer " + testToken(t)}}, true)
	if action != types.ActionPause {
		t.Fatalf("action = %v, want pause while the keys are fetched", action)
	}
	calls := host.GetCalloutAttributesFromContext(id)
	if len(calls) != 1 || calls[0].Upstream != "idp" {
		t.Fatalf("callouts = %+v, want one to the idp cluster", calls)
	}
	if p, _ := headerValue(calls[0].Headers, ":path"); p != "/jwks" {
		t.Errorf("callout :path = %q", p)
	}
	host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", "200"}}, nil, []byte(testJWKS()))
	if a := host.GetCurrentHttpStreamAction(id); a != types.ActionContinue {
		t.Fatalf("after the JWKS arrived: action %v, reply %+v", a, host.GetSentLocalResponse(id))
	}
	if v, _ := headerValue(host.GetCurrentRequestHeaders(id), "x-user"); v != "alice" {
		t.Errorf("x-user = %q", v)
	}
}

func TestJWTFailedFirstFetchIsJWKSUnavailable(t *testing.T) {
	host := remoteHost(t)
	id := host.InitializeHttpContext()
	host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"},
		{"authorization", "Bearer " + testToken(t)}}, true)
	calls := host.GetCalloutAttributesFromContext(id)
	if len(calls) != 1 {
		t.Fatalf("callouts = %+v", calls)
	}
	// Envoy's own answer to a refused connection.
	host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", "503"}}, nil, []byte("upstream connect error"))
	r := host.GetSentLocalResponse(id)
	if r == nil || r.StatusCode != 401 {
		t.Fatalf("reply = %+v, want 401", r)
	}
	if v, _ := headerValue(r.Headers, "x-apiguard-reason"); v != "jwks_unavailable" {
		t.Errorf("reason = %q, want jwks_unavailable", v)
	}
}

// Native counterparts of e2e/jwt's benchmarks (proxytest emulator), for the
// wasm/native ratio of a full request.
func benchNative(b *testing.B, config string, headers [][2]string) {
	opt := proxytest.NewEmulatorOption().WithVMContext(&vmContext{}).WithPluginConfiguration([]byte(config))
	host, reset := proxytest.NewHostEmulator(opt)
	defer reset()
	if host.StartPlugin() != types.OnPluginStartStatusOK {
		b.Fatal("plugin start failed")
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		id := host.InitializeHttpContext()
		if a := host.CallOnRequestHeaders(id, headers, true); a != types.ActionContinue {
			b.Fatalf("action %v", a)
		}
		host.CompleteHttpContext(id)
	}
}

func BenchmarkNativeRequestNoAuth(b *testing.B) {
	benchNative(b, `{}`, [][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"}})
}

func BenchmarkNativeRequestValidTokenCacheHit(b *testing.B) {
	tok := testToken(b)
	benchNative(b, jwtConfig(`"local_jwks": `+testJWKS()),
		[][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"}, {"authorization", "Bearer " + tok}})
}
