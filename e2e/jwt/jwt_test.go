// Package jwte2e proves JWT authentication end to end: the compiled plugin
// runs in the wazero Envoy stand-in, keys come from a real JWKS HTTP server
// through proxy_http_call, and tokens are minted with golang-jwt.
package jwte2e

import (
	"fmt"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

func TestValidTokenReachesUpstreamWithClaimHeadersAndWithoutTheToken(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	tok := rs256(t, "rsa1")
	rec := e.do(t, "GET", "/orders?access_token="+tok+"&page=2", "x-user", "mallory", "x-jwt-payload", "forged")
	if rec.Code != 200 {
		t.Fatalf("status %d, body %s", rec.Code, rec.Body)
	}
	h, uri, _ := e.upstream.last()
	if got := h.Values("x-user"); len(got) != 1 || got[0] != "alice" {
		t.Errorf("upstream x-user = %q, want only the verified sub", got)
	}
	if h.Get("x-scope") != "read,write" && h.Get("x-scope") != "read write" {
		t.Errorf("upstream x-scope = %q", h.Get("x-scope"))
	}
	if want := strings.Split(tok, ".")[1]; h.Get("x-jwt-payload") != want {
		t.Errorf("upstream x-jwt-payload = %q, want the token's payload segment", h.Get("x-jwt-payload"))
	}
	if strings.Contains(uri, "access_token") || !strings.Contains(uri, "page=2") {
		t.Errorf("upstream URI %q: want the token parameter removed and the others kept", uri)
	}
	// Authorization header source: stripped too.
	rec = e.bearer(t, "/orders", tok)
	h, _, _ = e.upstream.last()
	if rec.Code != 200 || h.Get("authorization") != "" {
		t.Errorf("status %d, upstream authorization %q: want 200 and no token upstream", rec.Code, h.Get("authorization"))
	}
}

func TestEveryAlgorithmFamilyVerifies(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	k := keys()
	for name, tok := range map[string]string{
		"RS256": mint(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", claims(), nil),
		"PS384": mint(t, jwt.SigningMethodPS384, k.rsa1, "rsa1", claims(), nil),
		"ES256": mint(t, jwt.SigningMethodES256, k.p256, "p256", claims(), nil),
		"EdDSA": mint(t, jwt.SigningMethodEdDSA, k.ed, "ed", claims(), nil),
	} {
		if rec := e.bearer(t, "/orders", tok); rec.Code != 200 {
			t.Errorf("%s: status %d reason %q", name, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
}

func TestRFC6750Answers(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	k := keys()

	rec := e.do(t, "GET", "/orders")
	expect(t, rec, 401, "missing_token")
	if got := rec.Header().Get("www-authenticate"); !strings.HasPrefix(got, `Bearer realm="`) || strings.Contains(got, "error") {
		t.Errorf("no token: WWW-Authenticate %q, want a bare Bearer realm challenge", got)
	}
	// wasmhost puts its own text/plain first; Envoy keeps only the
	// plugin's content-type (it sets text/plain only when none is set).
	if !strings.Contains(strings.Join(rec.Header().Values("content-type"), ","), "application/json") || !strings.Contains(rec.Body.String(), "missing_token") {
		t.Errorf("no token: body %q (content-type %q) is not the small JSON error", rec.Body, rec.Header().Get("content-type"))
	}

	c := claims()
	c["exp"] = time.Now().Add(-10 * time.Minute).Unix()
	expired := mint(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", c, nil)
	rec = e.bearer(t, "/orders", expired)
	expect(t, rec, 401, "token_expired")
	if got := rec.Header().Get("www-authenticate"); !strings.Contains(got, `error="invalid_token"`) || strings.Contains(got, strings.Split(expired, ".")[1]) {
		t.Errorf("expired: WWW-Authenticate %q", got)
	}

	rec = e.bearer(t, "/admin/users", rs256(t, "rsa1"))
	expect(t, rec, 403, "claims_failed")
	if got := rec.Header().Get("www-authenticate"); !strings.Contains(got, `error="insufficient_scope"`) || !strings.Contains(got, `scope="admin"`) {
		t.Errorf("claims: WWW-Authenticate %q", got)
	}

	other := mint(t, jwt.SigningMethodES256, k.p256, "p256", claims(), nil)
	rec = e.do(t, "GET", "/orders?access_token="+other, "authorization", "Bearer "+rs256(t, "rsa1"))
	expect(t, rec, 400, "multiple_tokens")
	if got := rec.Header().Get("www-authenticate"); !strings.Contains(got, `error="invalid_request"`) {
		t.Errorf("two tokens: WWW-Authenticate %q", got)
	}

	// Unprotected route: no token needed, forged identity headers removed.
	rec = e.do(t, "GET", "/public/x", "x-user", "mallory")
	h, _, _ := e.upstream.last()
	if rec.Code != 200 || h.Get("x-user") != "" {
		t.Errorf("public route: status %d, upstream x-user %q", rec.Code, h.Get("x-user"))
	}
	if _, _, hits := e.upstream.last(); hits != 1 {
		t.Errorf("upstream saw %d requests, want only the public one", hits)
	}
}

// The attack corpus of the issue, through the compiled plugin.
func TestAttackCorpus(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	k := keys()
	good := rs256(t, "rsa1")
	parts := strings.Split(good, ".")
	// The signature (342 characters: 4 unused bits at its end) respelled
	// with its lowest unused bit set: the same bytes to a lenient decoder.
	const b64url = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	last := len(parts[2]) - 1
	sigUnusedBitSet := parts[2][:last] + string(b64url[strings.IndexByte(b64url, parts[2][last])|1])
	now := time.Now().Unix()
	claimsJSON := `{"iss":"` + issuer + `","sub":"alice","aud":"orders","iat":` + itoa(now-60) + `,"exp":` + itoa(now+3600) + `}`
	with := func(mut func(jwt.MapClaims)) string {
		c := claims()
		mut(c)
		return mint(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", c, nil)
	}
	foreign := k.rsa2 // not in the key set
	cases := []struct {
		name, token string
		status      int
		reason      string
	}{
		{"alg none", b64.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", 401, "alg_not_allowed"},
		{"HS256 with the RSA public key as secret", mint(t, jwt.SigningMethodHS256, k.rsa1.PublicKey.N.Bytes(), "rsa1", claims(), nil), 401, "alg_not_allowed"},
		{"unknown kid", mint(t, jwt.SigningMethodRS256, foreign, "nope", claims(), nil), 401, "unknown_kid"},
		{"missing kid, foreign key", mint(t, jwt.SigningMethodRS256, foreign, "", claims(), nil), 401, "bad_signature"},
		{"kid with path characters", mint(t, jwt.SigningMethodRS256, k.rsa1, "../../etc/passwd", claims(), nil), 401, "unknown_kid"},
		{"kid with SQL", mint(t, jwt.SigningMethodRS256, k.rsa1, "x' OR '1'='1", claims(), nil), 401, "unknown_kid"},
		{"embedded jwk", mint(t, jwt.SigningMethodRS256, foreign, "", claims(), map[string]any{"jwk": rsaJWK("", &foreign.PublicKey)}), 401, "bad_signature"},
		{"embedded jku", mint(t, jwt.SigningMethodRS256, foreign, "", claims(), map[string]any{"jku": "https://evil.example/jwks"}), 401, "bad_signature"},
		{"unknown crit", mint(t, jwt.SigningMethodRS256, k.rsa1, "rsa1", claims(), map[string]any{"crit": []string{"exp2"}, "exp2": 1}), 401, "unsupported_crit"},
		{"b64 false, validly signed", signRaw(t, jwt.SigningMethodRS256, k.rsa1, `{"alg":"RS256","kid":"rsa1","b64":false,"crit":["b64"]}`, claimsJSON), 401, "unsupported_crit"},
		{"expired", with(func(c jwt.MapClaims) { c["exp"] = now - 600 }), 401, "token_expired"},
		{"nbf in the future", with(func(c jwt.MapClaims) { c["nbf"] = now + 600 }), 401, "token_not_yet_valid"},
		{"iat far in the future", with(func(c jwt.MapClaims) { c["iat"] = now + 3600 }), 401, "issued_in_future"},
		{"wrong issuer", with(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), 401, "bad_issuer"},
		{"wrong audience", with(func(c jwt.MapClaims) { c["aud"] = []string{"billing"} }), 401, "bad_audience"},
		{"trailing garbage", good + "x", 401, "malformed_token"}, // not a strict base64 spelling
		{"trailing base64 quantum", good + "AAAA", 401, "bad_signature"},
		{"signature with its unused bits set", parts[0] + "." + parts[1] + "." + sigUnusedBitSet, 401, "malformed_token"},
		{"extra segment", good + ".", 401, "malformed_token"},
		{"JWE five parts", parts[0] + ".AAAA.BBBB." + parts[1] + "." + parts[2], 401, "malformed_token"},
		{"duplicate header alg", signRaw(t, jwt.SigningMethodRS256, k.rsa1, `{"alg":"none","alg":"RS256","kid":"rsa1"}`, claimsJSON), 401, "malformed_token"},
		{"duplicate payload iss", signRaw(t, jwt.SigningMethodRS256, k.rsa1, `{"alg":"RS256","kid":"rsa1"}`, strings.Replace(claimsJSON, `{`, `{"iss":"https://evil.example",`, 1)), 401, "malformed_token"},
		{"oversize token", good + strings.Repeat("A", 9000), 401, "token_too_large"},
		{"RSA key under 2048 bits in the JWKS", mint(t, jwt.SigningMethodRS256, k.weak, "weak", claims(), nil), 401, "unknown_kid"},
		{"ES256 signature not on the curve", ecOffCurve(t), 401, "bad_signature"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := e.bearer(t, "/orders", c.token)
			expect(t, rec, c.status, c.reason)
			if strings.Contains(rec.Header().Get("www-authenticate"), parts[1]) || strings.Contains(rec.Body.String(), parts[1]) {
				t.Fatal("the answer echoes the token")
			}
		})
	}
	// Whitespace inside the header value: the token ends at the space.
	expect(t, e.do(t, "GET", "/orders", "authorization", "Bearer "+good+" x"), 401, "malformed_token")
	if _, _, hits := e.upstream.last(); hits != 0 {
		t.Fatalf("%d attack requests reached the upstream", hits)
	}
}

func ecOffCurve(t *testing.T) string {
	k := keys()
	tok := mint(t, jwt.SigningMethodES256, k.p256, "p256", claims(), nil)
	i := strings.LastIndexByte(tok, '.')
	sig := make([]byte, 64)
	copy(sig[:32], k.p256.Curve.Params().N.Bytes()) // r = n: out of range
	sig[63] = 1
	return tok[:i+1] + b64.EncodeToString(sig)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// The first request after start pauses until the first fetch instead of
// failing: no burst of 401s on deploy.
func TestFirstRequestWaitsForTheFirstFetch(t *testing.T) {
	d := newIDP(t, standardJWKS())
	d.delay.Store(int64(300 * time.Millisecond))
	e := start(t, remoteConfig(d, ""), 1, map[string]string{"idp": d.srv.URL})
	begin := time.Now()
	rec := e.bearer(t, "/orders", rs256(t, "rsa1"))
	if rec.Code != 200 {
		t.Fatalf("first request: %d %q, want 200 after the first fetch", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
	if waited := time.Since(begin); waited < 250*time.Millisecond {
		t.Errorf("first request answered after %v, before the JWKS server did", waited)
	}
	if h, _, _ := e.upstream.last(); h.Get("x-user") != "alice" {
		t.Errorf("upstream x-user = %q", h.Get("x-user"))
	}
}

// Key rotation: the IdP publishes a new key and signs with it. The first
// token naming the new kid triggers a refetch and passes; tokens with
// made-up kids cannot make the plugin hammer the IdP.
func TestKeyRotationRefetchesOnUnknownKIDWithoutA401Burst(t *testing.T) {
	k := keys()
	d := newIDP(t, jwksDoc(rsaJWK("rsa1", &k.rsa1.PublicKey)))
	e := start(t, remoteConfig(d, `, "min_refetch_interval": "300ms"`), 2, map[string]string{"idp": d.srv.URL})
	if rec := e.bearer(t, "/orders", rs256(t, "rsa1")); rec.Code != 200 {
		t.Fatalf("before rotation: %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
	time.Sleep(400 * time.Millisecond) // past min_refetch_interval
	d.set(jwksDoc(rsaJWK("rsa1", &k.rsa1.PublicKey), rsaJWK("rsa2", &k.rsa2.PublicKey)))
	newTok := mint(t, jwt.SigningMethodRS256, k.rsa2, "rsa2", claims(), nil)
	var wg sync.WaitGroup
	codes := make([]int, 6)
	for i := range codes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			codes[i] = e.bearer(t, "/orders", newTok).Code
		}()
	}
	wg.Wait()
	for i, c := range codes {
		if c != 200 {
			t.Errorf("request %d with the rotated key: %d, want 200", i, c)
		}
	}
	before := d.jwksHits.Load()
	if before > 3 {
		t.Errorf("JWKS fetched %d times for one rotation", before)
	}
	// Made-up kids: at most one refetch per min_refetch_interval (counted
	// over the loop's own duration: a loaded machine takes longer than 600 ms).
	began := time.Now()
	for i := range 20 {
		rec := e.bearer(t, "/orders", mint(t, jwt.SigningMethodRS256, k.rsa2, "made-up-"+strconv.Itoa(i), claims(), nil))
		if rec.Code != 401 || rec.Header().Get("x-apiguard-reason") != "unknown_kid" {
			t.Fatalf("made-up kid: %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
	allowed := int64(time.Since(began)/(300*time.Millisecond)) + 2
	if extra := d.jwksHits.Load() - before; extra > allowed || extra >= 20 {
		t.Errorf("20 made-up kids caused %d JWKS fetches in %v, want at most %d (one per 300 ms interval)", extra, time.Since(began).Round(time.Millisecond), allowed)
	}
}

// The JWKS server fails before any key set ever loaded: requests wait up to
// the fetch timeout, then get 401 jwks_unavailable, told apart from bad
// tokens.
func TestJWKSUnavailableWithoutCachedKeys(t *testing.T) {
	for _, mode := range []string{"down", "slow", "garbage", "500"} {
		t.Run(mode, func(t *testing.T) {
			d := newIDP(t, standardJWKS())
			cluster := d.srv.URL
			if mode == "down" {
				d.srv.Close() // connection refused: Envoy answers 503 itself
			} else {
				d.mode.Store(mode)
			}
			e := start(t, remoteConfig(d, `, "timeout": "400ms"`), 1, map[string]string{"idp": cluster})
			begin := time.Now()
			rec := e.bearer(t, "/orders", rs256(t, "rsa1"))
			expect(t, rec, 401, "jwks_unavailable")
			if waited := time.Since(begin); waited > 3*time.Second {
				t.Errorf("answered after %v, want about the fetch timeout", waited)
			}
			warn := strings.Join(e.plugin.LogsAt(wasmhost.LogWarn), "\n")
			if !strings.Contains(warn, "jwks") {
				t.Errorf("no JWKS warning logged: %q", warn)
			}
		})
	}
}

// Once keys loaded, a failing refresh keeps the last good set.
func TestJWKSFailureKeepsCachedKeys(t *testing.T) {
	for _, mode := range []string{"slow", "garbage", "500"} {
		t.Run(mode, func(t *testing.T) {
			d := newIDP(t, standardJWKS())
			e := start(t, remoteConfig(d, `, "cache_duration": "300ms", "timeout": "400ms"`), 1, map[string]string{"idp": d.srv.URL})
			tok := rs256(t, "rsa1")
			if rec := e.bearer(t, "/orders", tok); rec.Code != 200 {
				t.Fatalf("initial: %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
			}
			d.mode.Store(mode)
			hits := d.jwksHits.Load()
			deadline := time.Now().Add(5 * time.Second)
			for d.jwksHits.Load() == hits && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if d.jwksHits.Load() == hits {
				t.Fatal("no refresh was attempted after cache_duration")
			}
			time.Sleep(200 * time.Millisecond)
			if rec := e.bearer(t, "/orders", tok); rec.Code != 200 {
				t.Fatalf("after a failed refresh: %d %q, want the cached keys to verify", rec.Code, rec.Header().Get("x-apiguard-reason"))
			}
		})
	}
}

func TestOIDCDiscovery(t *testing.T) {
	d := newIDP(t, standardJWKS())
	cfg := `{"jwt": {"providers": {"oidc": {"issuer": "` + d.srv.URL + `", "audiences": ["orders"],
	  "discovery": {"cluster": "idp", "timeout": "2s"}}},
	  "rules": [{"match": {}, "requires": {"provider": "oidc"}}]}}`
	e := start(t, cfg, 1, map[string]string{"idp": d.srv.URL})
	c := claims()
	c["iss"] = d.srv.URL
	rec := e.bearer(t, "/orders", mint(t, jwt.SigningMethodES256, keys().p256, "p256", c, nil))
	if rec.Code != 200 {
		t.Fatalf("status %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
	if d.discHits.Load() != 1 || d.jwksHits.Load() != 1 {
		t.Errorf("discovery fetched %d times, jwks_uri %d times; want 1 and 1", d.discHits.Load(), d.jwksHits.Load())
	}
}

// Eight workers share one fetch per refresh through shared data.
func TestEightWorkersShareOneFetch(t *testing.T) {
	d := newIDP(t, standardJWKS())
	d.delay.Store(int64(100 * time.Millisecond))
	// The first fetch leaves on the first worker's first tick, while the
	// other workers still start: time from here.
	began := time.Now()
	e := start(t, remoteConfig(d, `, "cache_duration": "2s"`), 8, map[string]string{"idp": d.srv.URL})
	if e.plugin.Workers() != 8 {
		t.Fatalf("%d workers", e.plugin.Workers())
	}
	tok := rs256(t, "rsa1")
	var wg sync.WaitGroup
	var mu sync.Mutex
	bad := 0
	for range 32 { // round-robin: every worker gets requests, most while the fetch is in flight
		wg.Add(1)
		go func() {
			defer wg.Done()
			if rec := e.bearer(t, "/orders", tok); rec.Code != 200 {
				mu.Lock()
				bad++
				mu.Unlock()
				t.Logf("concurrent request: %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
			}
		}()
	}
	wg.Wait()
	// One fetch, plus one per cache_duration that start and the burst
	// lasted (on a loaded machine they can outlast the 2 s cache).
	refreshes := int64(time.Since(began) / (2 * time.Second))
	if n := d.jwksHits.Load(); n < 1 || n > 1+refreshes {
		t.Errorf("the JWKS server saw %d fetches from 8 workers in %v, want 1 (+%d refreshes)", n, time.Since(began), refreshes)
	}
	time.Sleep(500 * time.Millisecond) // a few ticks on every worker
	for range 16 {
		if rec := e.bearer(t, "/orders", tok); rec.Code != 200 {
			bad++
			t.Logf("later request: %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
	if bad > 0 {
		t.Errorf("%d requests failed; logs:\n%s", bad, strings.Join(e.plugin.LogsAt(wasmhost.LogWarn), "\n"))
	}
	// Two more refreshes (cache_duration 2s): one fetch each, not eight.
	time.Sleep(3700 * time.Millisecond)
	// One fetch per refresh, not eight: at most one per cache_duration
	// since the start, plus the first.
	if n, most := d.jwksHits.Load(), 1+int64(time.Since(began)/(2*time.Second)); n < 2 || n > most {
		t.Errorf("after ~2 refreshes the JWKS server saw %d fetches from 8 workers in %v, want 2 to %d (one per refresh)", n, time.Since(began), most)
	}
	for range 16 {
		if rec := e.bearer(t, "/orders", tok); rec.Code != 200 {
			t.Fatalf("after refreshes: %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
}

// counter sums the counters whose names contain every fragment. Metric names
// are process-wide (as in Envoy), so tests compare deltas.
func counter(e *env, fragments ...string) uint64 {
	var sum uint64
	for _, n := range e.plugin.Stats().Names() {
		match := true
		for _, f := range fragments {
			match = match && strings.Contains(n, f)
		}
		if v, ok := e.plugin.Stats().Counter(n); ok && match {
			sum += v
		}
	}
	return sum
}

func TestMetricsTellKeyOutagesFromBadTokens(t *testing.T) {
	d := newIDP(t, standardJWKS())
	d.mode.Store("500")
	e := start(t, remoteConfig(d, `, "timeout": "300ms"`), 1, map[string]string{"idp": d.srv.URL})
	unavailable := counter(e, "authn.provider.corp.decision.deny.reason.jwks_unavailable")
	failed := counter(e, "jwks.provider.corp", "http_status")
	expect(t, e.bearer(t, "/orders", rs256(t, "rsa1")), 401, "jwks_unavailable")
	if got := counter(e, "authn.provider.corp.decision.deny.reason.jwks_unavailable") - unavailable; got != 1 {
		t.Errorf("jwks_unavailable denials counted %d, want 1", got)
	}
	if got := counter(e, "jwks.provider.corp", "http_status") - failed; got < 1 {
		t.Errorf("failed JWKS fetches (http_status) counted %d, want at least 1", got)
	}

	d2 := newIDP(t, standardJWKS())
	e2 := start(t, remoteConfig(d2, ""), 1, map[string]string{"idp": d2.srv.URL})
	fetched := counter(e2, "jwks.provider.corp.fetch_successes_total")
	verified := counter(e2, "authn.provider.corp.decision.allow.reason.verified")
	expired := counter(e2, "authn.provider.corp.decision.deny.reason.token_expired")
	c := claims()
	c["exp"] = time.Now().Add(-time.Hour).Unix()
	e2.bearer(t, "/orders", rs256(t, "rsa1"))
	e2.bearer(t, "/orders", mint(t, jwt.SigningMethodRS256, keys().rsa1, "rsa1", c, nil))
	if counter(e2, "jwks.provider.corp.fetch_successes_total")-fetched != 1 ||
		counter(e2, "authn.provider.corp.decision.allow.reason.verified")-verified != 1 ||
		counter(e2, "authn.provider.corp.decision.deny.reason.token_expired")-expired != 1 {
		t.Errorf("metrics: fetched +%d, verified +%d, expired +%d; want +1 each",
			counter(e2, "jwks.provider.corp.fetch_successes_total")-fetched,
			counter(e2, "authn.provider.corp.decision.allow.reason.verified")-verified,
			counter(e2, "authn.provider.corp.decision.deny.reason.token_expired")-expired)
	}
}

// A token in a cookie is verified and removed from the Cookie header; the
// other cookies reach the upstream.
func TestCookieTokenIsStrippedAndOtherCookiesKept(t *testing.T) {
	cfg := `{"jwt": {"providers": {"corp": {"issuer": "` + issuer + `", "audiences": ["orders"],
	  "local_jwks": ` + standardJWKS() + `, "from_cookies": ["session"]}},
	  "rules": [{"match": {}, "requires": {"provider": "corp"}}]}}`
	e := start(t, cfg, 1, nil)
	rec := e.do(t, "GET", "/orders", "cookie", "theme=dark; session="+rs256(t, "rsa1")+"; lang=en")
	if rec.Code != 200 {
		t.Fatalf("status %d %q", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
	h, _, _ := e.upstream.last()
	if got := h.Get("cookie"); got != "theme=dark; lang=en" {
		t.Errorf("upstream cookie = %q, want the token cookie removed", got)
	}
}

// With `lockout`, repeated bad tokens from one client IP get 429 with
// Retry-After, counted across workers.
func TestLockoutAfterRepeatedFailures(t *testing.T) {
	cfg := strings.Replace(localConfig(), `{"jwt": {`, `{"jwt": {"lockout": {"failures": 3, "window": "60s"},`, 1)
	e := start(t, cfg, 2, nil)
	bad := mint(t, jwt.SigningMethodRS256, keys().rsa2, "rsa1", claims(), nil) // wrong key
	for range 3 {
		expect(t, e.bearer(t, "/orders", bad), 401, "bad_signature")
	}
	rec := e.bearer(t, "/orders", rs256(t, "rsa1"))
	expect(t, rec, 429, "locked_out")
	if rec.Header().Get("retry-after") == "" {
		t.Error("429 without Retry-After")
	}
}

// Two Authorization headers: refused before authentication (Envoy hands a
// filter the first, an upstream may read the last), so a valid token cannot
// carry an unverified second one to the upstream.
func TestDuplicateAuthorizationHeadersAreRefused(t *testing.T) {
	e := start(t, strings.Replace(localConfig(), `"from_params": ["access_token"],`, `"from_params": ["access_token"], "forward": true,`, 1), 1, nil)
	rec := e.do(t, "GET", "/orders", "authorization", "Bearer "+rs256(t, "rsa1"), "authorization", "Bearer forged")
	expect(t, rec, 400, "repeated_header")
	if _, _, hits := e.upstream.last(); hits != 0 {
		t.Fatal("the request reached the upstream")
	}
}

// The lockout counts an IPv6 client by its /64 (client_ip.ipv6_prefix_length),
// as rate limits do: rotating addresses within it does not reset the count,
// and another /64 is not locked out.
func TestLockoutCountsAnIPv6ClientByItsSlash64(t *testing.T) {
	cfg := strings.Replace(localConfig(), `{"jwt": {`, `{"jwt": {"lockout": {"failures": 3, "window": "60s"},`, 1)
	e := start(t, cfg, 2, nil)
	from := func(addr, token string) *httptest.ResponseRecorder {
		req := httptest.NewRequest("GET", "http://api.example/orders", nil)
		req.RemoteAddr = addr
		req.Header.Set("authorization", "Bearer "+token)
		rec := httptest.NewRecorder()
		e.handler.ServeHTTP(rec, req)
		return rec
	}
	bad := mint(t, jwt.SigningMethodRS256, keys().rsa2, "rsa1", claims(), nil) // wrong key
	for n := 1; n <= 3; n++ {
		expect(t, from(fmt.Sprintf("[2001:db8:1:2::%d:1]:4000", n), bad), 401, "bad_signature")
	}
	expect(t, from("[2001:db8:1:2::99:1]:4000", rs256(t, "rsa1")), 429, "locked_out")
	if rec := from("[2001:db8:1:3::1]:4000", rs256(t, "rsa1")); rec.Code != 200 {
		t.Errorf("another /64: %d %q, want 200", rec.Code, rec.Header().Get("x-apiguard-reason"))
	}
}
