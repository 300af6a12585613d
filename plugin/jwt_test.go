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

func testJWKS() string { return jwksOf(map[string]*rsa.PrivateKey{"k1": testRSA()}) }

func jwksOf(keys map[string]*rsa.PrivateKey) string {
	b64 := base64.RawURLEncoding
	var list []any
	for kid, k := range keys {
		list = append(list, map[string]any{
			"kty": "RSA", "kid": kid, "use": "sig",
			"n": b64.EncodeToString(k.N.Bytes()), "e": b64.EncodeToString(big.NewInt(int64(k.E)).Bytes()),
		})
	}
	doc, _ := json.Marshal(map[string]any{"keys": list})
	return string(doc)
}

// testRSA2 is the key a rotation introduces (kid k2).
var testRSA2 = sync.OnceValue(func() *rsa.PrivateKey {
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return k
})

func testToken(t testing.TB) string { return signedToken(t, testRSA(), "k1", "alice") }

func signedToken(t testing.TB, key *rsa.PrivateKey, kid, sub string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "https://idp.example.com", "sub": sub, "aud": "orders",
		"iat": time.Now().Add(-time.Minute).Unix(), "exp": time.Now().Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
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
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	for name, want := range map[string]string{"apiguard.decision": "allow", "apiguard.jwt.iss": "https://idp.example.com", "apiguard.jwt.sub": "alice"} {
		if v, err := host.GetProperty([]string{name}); err != nil || string(v) != want {
			t.Errorf("filter state %s = %q (%v), want %q", name, v, err, want)
		}
	}
	// One family of filter state only: the telemetry one.
	if v, err := host.GetProperty([]string{"apiguard.authn.decision"}); err == nil {
		t.Errorf("legacy filter state apiguard.authn.decision = %q is still set", v)
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
	return remoteHostWith(t, "")
}

func remoteHostWith(t *testing.T, fetching string) proxytest.HostEmulator {
	host, status := newHost(t, jwtConfig(`"remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/jwks"`+fetching+`}`))
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
	if calls := host.GetCalloutAttributesFromContext(id); len(calls) != 0 {
		t.Fatalf("callouts from the stream = %+v: the fetch must leave from the root context", calls)
	}
	host.Tick()
	calls := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
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
	host.Tick()
	calls := host.GetCalloutAttributesFromContext(proxytest.PluginContextID)
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

// A client that goes away while its request waits for a forced refetch
// (a token naming a kid the cached set lacks) must not take the fetch with
// it: the other requests waiting for the same keys get them.
func TestJWTClientLeavingDuringARefetchDoesNotFailTheOtherWaitingRequests(t *testing.T) {
	host := remoteHostWith(t, `, "min_refetch_interval": "1ms"`)
	get := func(token string) uint32 {
		id := host.InitializeHttpContext()
		host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"},
			{"authorization", "Bearer " + token}}, true)
		return id
	}
	// answer sends the JWKS document to every callout not yet answered,
	// whichever context dispatched it, and reports how many there were.
	// (proxytest reuses callout ids once answered, and keeps the list.)
	answered := map[uint32]int{}
	answer := func(doc string, ids ...uint32) int {
		n := 0
		for _, ctx := range append([]uint32{proxytest.PluginContextID}, ids...) {
			calls := host.GetCalloutAttributesFromContext(ctx)
			for _, c := range calls[answered[ctx]:] {
				n++
				host.CallOnHttpCallResponse(c.CalloutID, [][2]string{{":status", "200"}}, nil, []byte(doc))
			}
			answered[ctx] = len(calls)
		}
		return n
	}
	first := get(testToken(t))
	host.Tick()
	if n := answer(testJWKS(), first); n != 1 {
		t.Fatalf("%d first fetches", n)
	}
	if a := host.GetCurrentHttpStreamAction(first); a != types.ActionContinue {
		t.Fatalf("first request: %v", a)
	}
	host.CompleteHttpContext(first)

	// The IdP rotates to k2. Two clients present k2 tokens; the first one
	// disconnects before the refetch answers.
	time.Sleep(5 * time.Millisecond) // past min_refetch_interval
	rotated := jwksOf(map[string]*rsa.PrivateKey{"k1": testRSA(), "k2": testRSA2()})
	leaver := get(signedToken(t, testRSA2(), "k2", "carol"))
	stayer := get(signedToken(t, testRSA2(), "k2", "bob"))
	for _, id := range []uint32{leaver, stayer} {
		if a := host.GetCurrentHttpStreamAction(id); a != types.ActionPause {
			t.Fatalf("stream %d: %v, want paused for the refetch (reply %+v)", id, a, host.GetSentLocalResponse(id))
		}
	}
	host.Tick()
	host.CompleteHttpContext(leaver)
	if n := answer(rotated, leaver, stayer); n != 1 {
		t.Fatalf("%d refetches, want 1", n)
	}
	if a := host.GetCurrentHttpStreamAction(stayer); a != types.ActionContinue {
		t.Fatalf("the waiting request: %v, reply %+v; want it to go on with the new keys", a, host.GetSentLocalResponse(stayer))
	}
	if v, _ := headerValue(host.GetCurrentRequestHeaders(stayer), "x-user"); v != "bob" {
		t.Errorf("x-user = %q", v)
	}
}

// On a route that requires no token, a client-sent copy of a claim header
// is still removed: skipping removals of absent headers must not skip a
// present one, whatever its case.
func TestJWTForgedClaimHeaderIsRemovedWhereNoTokenIsRequired(t *testing.T) {
	cfg := fmt.Sprintf(`{"jwt": {"providers": {"corp": {"issuer": "https://idp.example.com", "audiences": ["orders"], "local_jwks": %s,
	  "claim_to_headers": [{"claim": "sub", "header": "x-user"}]}},
	  "rules": [{"match": {"prefix": "/public"}}, {"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]}}`, testJWKS())
	host, status := newHost(t, cfg)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	for _, name := range []string{"x-user", "X-User"} {
		id := host.InitializeHttpContext()
		action := host.CallOnRequestHeaders(id, [][2]string{{":method", "GET"}, {":path", "/public/a"}, {":authority", "api"},
			{name, "mallory"}, {"accept", "*/*"}}, true)
		if action != types.ActionContinue {
			t.Fatalf("action = %v, reply %+v", action, host.GetSentLocalResponse(id))
		}
		got := host.GetCurrentRequestHeaders(id)
		if v, ok := headerValue(got, "x-user"); ok {
			t.Errorf("%s: forged claim header reached the upstream: %q", name, v)
		}
		if _, ok := headerValue(got, "accept"); !ok {
			t.Errorf("%s: an unrelated header was removed", name)
		}
	}
}
