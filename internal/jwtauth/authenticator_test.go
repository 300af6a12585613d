package jwtauth

import (
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
)

func TestEveryAlgorithmVerifies(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(""))
	cases := []struct {
		m   jwt.SigningMethod
		key any
		kid string
	}{
		{jwt.SigningMethodRS256, k.rsa, "rsa1"}, {jwt.SigningMethodRS384, k.rsa, "rsa1"}, {jwt.SigningMethodRS512, k.rsa2, "rsa2"},
		{jwt.SigningMethodPS256, k.rsa, "rsa1"}, {jwt.SigningMethodPS384, k.rsa, "rsa1"}, {jwt.SigningMethodPS512, k.rsa2, "rsa2"},
		{jwt.SigningMethodES256, k.p256, "p256"}, {jwt.SigningMethodES384, k.p384, "p384"}, {jwt.SigningMethodES512, k.p521, "p521"},
		{jwt.SigningMethodEdDSA, k.ed, "ed"},
	}
	for _, c := range cases {
		t.Run(c.m.Alg(), func(t *testing.T) {
			tok := mint(t, c.m, c.key, c.kid, baseClaims(), nil)
			res := a.Authenticate(request("/orders", bearer(tok)), nil, testNow)
			if res.Decision != Allow || res.Token == nil {
				t.Fatalf("decision %v reason %q, want allow", res.Decision, res.Reason)
			}
			if res.Token.Subject != "alice" || res.Token.KeyID != c.kid || res.Token.Alg != c.m.Alg() {
				t.Fatalf("token audit fields = %q %q %q", res.Token.Subject, res.Token.KeyID, res.Token.Alg)
			}
		})
	}
	for _, m := range []jwt.SigningMethod{jwt.SigningMethodHS256, jwt.SigningMethodHS384, jwt.SigningMethodHS512} {
		t.Run(m.Alg(), func(t *testing.T) {
			c := baseClaims()
			c["iss"] = "https://hmac.example.com"
			res := a.Authenticate(request("/hmac/x", bearer(mint(t, m, []byte(testSecret), "", c, nil))), nil, testNow)
			if res.Decision != Allow {
				t.Fatalf("decision %v reason %q, want allow", res.Decision, res.Reason)
			}
		})
	}
}

func TestNoKIDTriesKeysOfFittingType(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(""))
	// rsa2 is the second RSA key: reached by trying keys that fit RS256.
	tok := mint(t, jwt.SigningMethodRS256, k.rsa2, "", baseClaims(), nil)
	if res := a.Authenticate(request("/x", bearer(tok)), nil, testNow); res.Decision != Allow {
		t.Fatalf("no-kid token: %v %q", res.Decision, res.Reason)
	}
}

// TestAttackCorpus: every case is refused with the right status and reason.
func TestAttackCorpus(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(""))
	good := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	parts := strings.Split(good, ".")
	rsaPubDER := k.rsa.PublicKey.N.Bytes()
	claimsJSON := `{"iss":"https://idp.example.com","sub":"alice","aud":"orders","iat":1899999940,"exp":1900003600}`
	otherKey := fixtures().rsaWeak // signs with a key that is not in the set
	withClaims := func(mut func(jwt.MapClaims)) string {
		c := baseClaims()
		mut(c)
		return mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", c, nil)
	}
	cases := []struct {
		name   string
		token  string
		status int
		reason Reason
	}{
		{"alg none", b64e.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + ".", 401, ReasonAlgNotAllowed},
		{"alg none no sig", b64e.EncodeToString([]byte(`{"alg":"none"}`)) + "." + parts[1] + "." + parts[2], 401, ReasonAlgNotAllowed},
		{"HS256 with the RSA public key as secret", mint(t, jwt.SigningMethodHS256, rsaPubDER, "rsa1", baseClaims(), nil), 401, ReasonAlgNotAllowed},
		{"unknown kid", mint(t, jwt.SigningMethodRS256, otherKey, "nope", baseClaims(), nil), 401, ReasonUnknownKID},
		{"kid of another key", mint(t, jwt.SigningMethodRS256, k.rsa2, "rsa1", baseClaims(), nil), 401, ReasonBadSignature},
		{"missing kid, foreign key", mint(t, jwt.SigningMethodRS256, otherKey, "", baseClaims(), nil), 401, ReasonBadSignature},
		{"empty kid, foreign key", mint(t, jwt.SigningMethodRS256, otherKey, "", baseClaims(), map[string]any{"kid": ""}), 401, ReasonBadSignature},
		{"kid not a string", mint(t, jwt.SigningMethodRS256, k.rsa, "", baseClaims(), map[string]any{"kid": 7}), 401, ReasonMalformed},
		{"kid with path characters", mint(t, jwt.SigningMethodRS256, k.rsa, "../../etc/passwd", baseClaims(), nil), 401, ReasonUnknownKID},
		{"kid with SQL", mint(t, jwt.SigningMethodRS256, k.rsa, "x' OR '1'='1", baseClaims(), nil), 401, ReasonUnknownKID},
		{"kid of wrong key type", mint(t, jwt.SigningMethodRS256, k.rsa, "p256", baseClaims(), nil), 401, ReasonBadSignature},
		{"embedded jwk", mint(t, jwt.SigningMethodRS256, otherKey, "", baseClaims(), map[string]any{"jwk": rsaJWK("", &otherKey.PublicKey)}), 401, ReasonBadSignature},
		{"embedded jwk with known kid", mint(t, jwt.SigningMethodRS256, otherKey, "rsa1", baseClaims(), map[string]any{"jwk": rsaJWK("rsa1", &otherKey.PublicKey)}), 401, ReasonBadSignature},
		{"jku header", mint(t, jwt.SigningMethodRS256, otherKey, "", baseClaims(), map[string]any{"jku": "https://evil.example/jwks"}), 401, ReasonBadSignature},
		{"x5u header", mint(t, jwt.SigningMethodRS256, otherKey, "", baseClaims(), map[string]any{"x5u": "https://evil.example/cert"}), 401, ReasonBadSignature},
		{"unknown crit", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), map[string]any{"crit": []string{"exp2"}, "exp2": 1}), 401, ReasonCrit},
		{"b64 false, validly signed", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa1","b64":false,"crit":["b64"]}`, claimsJSON), 401, ReasonCrit},
		{"b64 false without crit", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa1","b64":false}`, claimsJSON), 401, ReasonCrit},
		{"expired", withClaims(func(c jwt.MapClaims) { c["exp"] = testNow.Add(-2 * time.Minute).Unix() }), 401, ReasonExpired},
		{"nbf in the future", withClaims(func(c jwt.MapClaims) { c["nbf"] = testNow.Add(5 * time.Minute).Unix() }), 401, ReasonNotYetValid},
		{"iat far in the future", withClaims(func(c jwt.MapClaims) { c["iat"] = testNow.Add(time.Hour).Unix() }), 401, ReasonIATFuture},
		{"no exp", withClaims(func(c jwt.MapClaims) { delete(c, "exp") }), 401, ReasonLifetime},
		{"exp as string", withClaims(func(c jwt.MapClaims) { c["exp"] = "1900003600" }), 401, ReasonMalformed},
		{"wrong issuer", withClaims(func(c jwt.MapClaims) { c["iss"] = "https://evil.example" }), 401, ReasonIssuer},
		{"wrong audience", withClaims(func(c jwt.MapClaims) { c["aud"] = []string{"billing"} }), 401, ReasonAudience},
		{"no audience", withClaims(func(c jwt.MapClaims) { delete(c, "aud") }), 401, ReasonAudience},
		{"trailing garbage", good + "x", 401, ReasonMalformed}, // not a strict base64 spelling
		{"trailing base64 quantum", good + "AAAA", 401, ReasonBadSignature},
		{"trailing dot garbage", good + ".x", 401, ReasonMalformed},
		{"trailing whitespace inside", good + " x", 401, ReasonMalformed},
		{"inner whitespace", parts[0] + ". " + parts[1] + "." + parts[2], 401, ReasonMalformed},
		{"line break", parts[0] + "." + parts[1][:10] + "\n" + parts[1][10:] + "." + parts[2], 401, ReasonMalformed},
		{"extra segment", good + ".", 401, ReasonMalformed},
		{"padding", parts[0] + "=." + parts[1] + "." + parts[2], 401, ReasonMalformed},
		{"JWE five parts", parts[0] + ".AAAA.BBBB." + parts[1] + "." + parts[2], 401, ReasonMalformed},
		{"two parts", parts[0] + "." + parts[1], 401, ReasonMalformed},
		{"JSON serialisation", `{"payload":"` + parts[1] + `"}`, 401, ReasonMalformed},
		{"duplicate header alg", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"none","alg":"RS256","kid":"rsa1"}`, claimsJSON), 401, ReasonMalformed},
		{"duplicate header kid", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa2","kid":"rsa1"}`, claimsJSON), 401, ReasonMalformed},
		{"duplicate payload iss", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa1"}`, strings.Replace(claimsJSON, `{`, `{"iss":"https://evil.example",`, 1)), 401, ReasonMalformed},
		{"duplicate nested member", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa1"}`, strings.Replace(claimsJSON, `{`, `{"x":{"a":1,"a":2},`, 1)), 401, ReasonMalformed},
		{"payload not an object", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa1"}`, `["a"]`), 401, ReasonMalformed},
		{"payload trailing data", signRaw(t, jwt.SigningMethodRS256, k.rsa, `{"alg":"RS256","kid":"rsa1"}`, claimsJSON+`{}`), 401, ReasonMalformed},
		{"tampered payload", parts[0] + "." + b64e.EncodeToString([]byte(strings.Replace(claimsJSON, "alice", "admin", 1))) + "." + parts[2], 401, ReasonBadSignature},
		{"oversize token", good + strings.Repeat("A", 9000), 401, ReasonTooLarge},
		{"ES256 signature not on the curve", ecBadSignature(t, k), 401, ReasonBadSignature},
		{"signature with its unused bits set", parts[0] + "." + parts[1] + "." + withUnusedBitsSet(parts[2]), 401, ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := a.Authenticate(request("/orders", bearer(c.token)), nil, testNow)
			if res.Decision != Deny || res.Status != c.status || res.Reason != c.reason {
				t.Fatalf("got %v %d %q, want deny %d %q", res.Decision, res.Status, res.Reason, c.status, c.reason)
			}
			if !strings.Contains(res.WWWAuthenticate, `error="invalid_token"`) {
				t.Fatalf("WWW-Authenticate = %q", res.WWWAuthenticate)
			}
			if strings.Contains(res.WWWAuthenticate, parts[1]) || strings.Contains(string(res.Body), parts[1]) {
				t.Fatal("the answer echoes the token")
			}
		})
	}
}

// ecBadSignature is a token whose ES256 signature (r, s) is out of range for
// P-256 (r = n), so no point on the curve produces it.
func ecBadSignature(t *testing.T, k *testKeys) string {
	tok := mint(t, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil)
	i := strings.LastIndexByte(tok, '.')
	sig := make([]byte, 64)
	copy(sig[:32], k.p256.Curve.Params().N.Bytes())
	sig[63] = 1
	return tok[:i+1] + b64e.EncodeToString(sig)
}

func TestTwoDifferentTokensAreInvalidRequest(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(""))
	t1 := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	t2 := mint(t, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil)
	res := a.Authenticate(request("/orders?access_token="+t2, bearer(t1)), nil, testNow)
	if res.Status != 400 || res.Reason != ReasonMultipleTokens || !strings.Contains(res.WWWAuthenticate, `error="invalid_request"`) {
		t.Fatalf("got %d %q %q", res.Status, res.Reason, res.WWWAuthenticate)
	}
	// The same token twice is one token.
	res = a.Authenticate(request("/orders?access_token="+t1, bearer(t1)), nil, testNow)
	if res.Decision != Allow {
		t.Fatalf("same token twice: %v %q", res.Decision, res.Reason)
	}
	if strings.Join(res.RemoveParams, ",") != "access_token" || !contains(res.RemoveHeaders, "authorization") {
		t.Fatalf("token not stripped everywhere: params %v headers %v", res.RemoveParams, res.RemoveHeaders)
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestRFC6750Answers(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(""))
	res := a.Authenticate(request("/orders", nil), nil, testNow)
	if res.Status != 401 || res.Reason != ReasonMissing || res.WWWAuthenticate != `Bearer realm="apiguard"` {
		t.Fatalf("missing: %d %q %q", res.Status, res.Reason, res.WWWAuthenticate)
	}
	var doc map[string]string
	if err := json.Unmarshal(res.Body, &doc); err != nil || doc["reason"] != "missing_token" {
		t.Fatalf("body %s: %v", res.Body, err)
	}
	// Another scheme in the token header, where a token is required: a
	// malformed token, not a missing one.
	res = a.Authenticate(request("/orders", headers{"authorization": "Basic YWxhZGRpbjpvcGVu"}), nil, testNow)
	if res.Reason != ReasonMalformed {
		t.Fatalf("basic auth: %q", res.Reason)
	}
	tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	res = a.Authenticate(request("/admin/users", bearer(tok)), nil, testNow)
	want := `Bearer realm="apiguard", error="insufficient_scope", error_description="the token lacks the required claims", scope="admin"`
	if res.Status != 403 || res.Reason != ReasonClaims || res.WWWAuthenticate != want {
		t.Fatalf("claims: %d %q %q", res.Status, res.Reason, res.WWWAuthenticate)
	}
	c := baseClaims()
	c["scope"] = "read admin"
	res = a.Authenticate(request("/admin/users", bearer(mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", c, nil))), nil, testNow)
	if res.Decision != Allow {
		t.Fatalf("admin scope: %v %q", res.Decision, res.Reason)
	}
}

func TestSuccessHeaders(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(""))
	tok := mint(t, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil)
	h := bearer(tok)
	h["x-user"] = "mallory"
	h["cookie"] = "session=1"
	res := a.Authenticate(request("/orders", h), nil, testNow)
	if res.Decision != Allow {
		t.Fatalf("%v %q", res.Decision, res.Reason)
	}
	payload := strings.Split(tok, ".")[1]
	set := map[string]string{}
	for _, kv := range res.SetHeaders {
		set[kv[0]] = kv[1]
	}
	if set["x-user"] != "alice" || set["x-jwt-payload"] != payload {
		t.Fatalf("set headers %v", res.SetHeaders)
	}
	for _, h := range []string{"x-user", "x-jwt-payload", "authorization"} {
		if !contains(res.RemoveHeaders, h) {
			t.Fatalf("%s not removed: %v", h, res.RemoveHeaders)
		}
	}
	// A public route still strips forged identity headers.
	res = a.Authenticate(request("/public/x", headers{"x-user": "admin"}), nil, testNow)
	if res.Decision != Allow || !contains(res.RemoveHeaders, "x-user") || len(res.SetHeaders) != 0 {
		t.Fatalf("public: %+v", res)
	}
}

func TestForwardTrueKeepsToken(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(`, "forward": true, "from_cookies": ["jwt"]`))
	tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	res := a.Authenticate(request("/orders", headers{"cookie": "a=b; jwt=" + tok}), nil, testNow)
	if res.Decision != Allow || len(res.RemoveCookies) != 0 || contains(res.RemoveHeaders, "authorization") {
		t.Fatalf("%+v", res)
	}
}

func TestCookieTokenRemoved(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(`, "from_cookies": ["jwt"]`))
	tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	res := a.Authenticate(request("/orders", headers{"cookie": "a=b; jwt=" + tok}), nil, testNow)
	if res.Decision != Allow || strings.Join(res.RemoveCookies, ",") != "jwt" {
		t.Fatalf("%+v", res)
	}
	if got, _ := RemoveCookies("a=b; jwt="+tok+"; c=d", res.RemoveCookies); got != "a=b; c=d" {
		t.Fatalf("RemoveCookies = %q", got)
	}
	if got := RemoveQueryParams("/x?a=1&access_token=zz&b=2", []string{"access_token"}); got != "/x?a=1&b=2" {
		t.Fatalf("RemoveQueryParams = %q", got)
	}
	if got := RemoveQueryParams("/x?access_token=zz", []string{"access_token"}); got != "/x" {
		t.Fatalf("RemoveQueryParams = %q", got)
	}
	// Every spelling a framework reads as the parameter goes.
	spellings := "/x?a=1&ACCESS_TOKEN=1&access_token[]=2&access_token%5B0%5D=3&access+token=4&access.token=5&Access%5FToken=6&b=2"
	if got := RemoveQueryParams(spellings, []string{"access_token"}); got != "/x?a=1&b=2" {
		t.Fatalf("RemoveQueryParams(spellings) = %q", got)
	}
}

func TestCachedTokenStillChecksTimeAndClaims(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(""))
	c := baseClaims()
	c["exp"] = testNow.Add(2 * time.Minute).Unix()
	tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", c, nil)
	if res := a.Authenticate(request("/orders", bearer(tok)), nil, testNow); res.Decision != Allow {
		t.Fatalf("first: %q", res.Reason)
	}
	// Cached, but the admin route's claim rule still applies.
	if res := a.Authenticate(request("/admin", bearer(tok)), nil, testNow); res.Reason != ReasonClaims {
		t.Fatalf("cached token on admin route: %v %q", res.Decision, res.Reason)
	}
	// Past exp + skew the cached token is expired.
	if res := a.Authenticate(request("/orders", bearer(tok)), nil, testNow.Add(4*time.Minute)); res.Reason != ReasonExpired {
		t.Fatalf("after exp: %v %q", res.Decision, res.Reason)
	}
}

func TestCacheDropsTokensWhenKeysChange(t *testing.T) {
	k := fixtures()
	a := newAuth(t, `{"providers": {"idp": {"remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/jwks"}}},
	  "rules": [{"match": {}, "requires": {"provider": "idp"}}]}`)
	set1, _, err := jwks.Parse(jwksDoc(rsaJWK("rsa1", &k.rsa.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	set2, _, _ := jwks.Parse(jwksDoc(rsaJWK("rsa2", &k.rsa2.PublicKey)))
	keys := &fakeKeys{sets: map[string]*jwks.Set{"idp": set1}}
	tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	if res := a.Authenticate(request("/", bearer(tok)), keys, testNow); res.Decision != Allow {
		t.Fatalf("first: %q", res.Reason)
	}
	keys.sets["idp"] = set2 // rsa1 revoked
	req := request("/", bearer(tok))
	req.MayWait = false
	if res := a.Authenticate(req, keys, testNow); res.Reason != ReasonUnknownKID {
		t.Fatalf("after rotation: %v %q", res.Decision, res.Reason)
	}
}

func TestWaitForKeys(t *testing.T) {
	k := fixtures()
	a := newAuth(t, `{"providers": {"idp": {"remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/jwks"}}},
	  "rules": [{"match": {}, "requires": {"provider": "idp"}}]}`)
	tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	keys := &fakeKeys{sets: map[string]*jwks.Set{}, inFlight: true}
	res := a.Authenticate(request("/", bearer(tok)), keys, testNow)
	if res.Decision != Wait || strings.Join(res.WaitFor, ",") != "idp" || res.WaitTimeout != DefaultFetchTimeout {
		t.Fatalf("no keys yet: %+v", res)
	}
	// The fetch timed out: the re-run may not wait and reports the outage.
	req := request("/", bearer(tok))
	req.MayWait = false
	res = a.Authenticate(req, keys, testNow)
	if res.Status != 401 || res.Reason != ReasonJWKSUnavailable {
		t.Fatalf("after timeout: %d %q", res.Status, res.Reason)
	}
	// Keys arrive; an unknown kid waits for a refetch only when one can run.
	set, _, _ := jwks.Parse(jwksDoc(rsaJWK("rsa1", &k.rsa.PublicKey)))
	keys.sets["idp"] = set
	if res = a.Authenticate(request("/", bearer(tok)), keys, testNow); res.Decision != Allow {
		t.Fatalf("keys loaded: %+v", res)
	}
	newKID := mint(t, jwt.SigningMethodRS256, k.rsa2, "rotated", baseClaims(), nil)
	if res = a.Authenticate(request("/", bearer(newKID)), keys, testNow); res.Decision != Wait {
		t.Fatalf("unknown kid with refetch possible: %+v", res)
	}
	keys.inFlight = false
	if res = a.Authenticate(request("/", bearer(newKID)), keys, testNow); res.Reason != ReasonUnknownKID {
		t.Fatalf("unknown kid, refetch rate-limited: %+v", res)
	}
}

func TestRequirementCombinations(t *testing.T) {
	k := fixtures()
	a := newAuth(t, `{
  "providers": {
    "corp": {"issuer": "https://idp.example.com", "local_jwks": `+string(jwksDoc(rsaJWK("rsa1", &k.rsa.PublicKey)))+`},
    "partner": {"issuer": "https://partner.example", "local_jwks": `+string(jwksDoc(ecJWK("p256", &k.p256.PublicKey)))+`,
                "from_headers": [{"name": "x-partner-token"}]}
  },
  "bypass_cors_preflight": true,
  "rules": [
    {"match": {"prefix": "/any"}, "requires": {"any": [{"provider": "corp"}, {"provider": "partner"}]}},
    {"match": {"prefix": "/all"}, "requires": {"all": [{"provider": "corp"}, {"provider": "partner"}]}},
    {"match": {"prefix": "/optional"}, "requires": {"allow_missing": true}},
    {"match": {"prefix": "/lenient"}, "requires": {"allow_missing_or_failed": true}},
    {"match": {"prefix": "/"}, "requires": {"provider": "corp"}}
  ]}`)
	corp := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	pc := baseClaims()
	pc["iss"] = "https://partner.example"
	partner := mint(t, jwt.SigningMethodES256, k.p256, "p256", pc, nil)
	expired := baseClaims()
	expired["exp"] = testNow.Add(-time.Hour).Unix()
	corpExpired := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", expired, nil)
	both := bearer(corp)
	both["x-partner-token"] = partner
	cases := []struct {
		name, path string
		h          headers
		decision   Decision
		reason     Reason
	}{
		{"any: corp", "/any", bearer(corp), Allow, ""},
		{"any: partner", "/any", headers{"x-partner-token": partner}, Allow, ""},
		{"any: none", "/any", nil, Deny, ReasonMissing},
		{"any: expired corp reported over partner's missing", "/any", bearer(corpExpired), Deny, ReasonExpired},
		{"all: both", "/all", both, Allow, ""},
		{"all: one", "/all", bearer(corp), Deny, ReasonMissing},
		{"allow_missing: none", "/optional", nil, Allow, ""},
		{"allow_missing: valid", "/optional", bearer(corp), Allow, ""},
		{"allow_missing: invalid", "/optional", bearer(corpExpired), Deny, ReasonExpired},
		{"allow_missing_or_failed: invalid", "/lenient", bearer(corpExpired), Allow, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := a.Authenticate(request(c.path, c.h), nil, testNow)
			if res.Decision != c.decision || res.Reason != c.reason {
				t.Fatalf("got %v %q, want %v %q", res.Decision, res.Reason, c.decision, c.reason)
			}
		})
	}
	pre := &Request{Method: "OPTIONS", Path: "/x", Header: headers{"origin": "https://app", "access-control-request-method": "POST"}.get, Bodiless: true}
	if res := a.Authenticate(pre, nil, testNow); res.Decision != Allow || !res.Preflight {
		t.Fatalf("preflight: %+v", res)
	}
	if res := a.Authenticate(&Request{Method: "OPTIONS", Path: "/x", Header: headers{}.get, Bodiless: true}, nil, testNow); res.Decision != Deny {
		t.Fatalf("plain OPTIONS must authenticate: %+v", res)
	}
	// A body follows whenever the headers did not end the stream, whatever
	// they declare: HTTP/2 bodies need no content-length.
	for _, body := range []headers{{"content-length": "12"}, {"transfer-encoding": "chunked"}, {}} {
		h := headers{"origin": "https://app", "access-control-request-method": "POST"}
		for k, v := range body {
			h[k] = v
		}
		if res := a.Authenticate(&Request{Method: "OPTIONS", Path: "/x", Header: h.get}, nil, testNow); res.Decision != Deny || res.Preflight {
			t.Fatalf("a preflight with a body (%v) must authenticate: %+v", body, res)
		}
	}
	withToken := &Request{Method: "OPTIONS", Path: "/x", Header: headers{"origin": "https://app", "access-control-request-method": "POST", "authorization": "Bearer forged.x.y"}.get, Bodiless: true}
	if res := a.Authenticate(withToken, nil, testNow); res.Decision != Allow || !contains(res.RemoveHeaders, "authorization") {
		t.Fatalf("a preflight carries no unverified token upstream: %+v", res)
	}
}

func TestTypAndSubjectsAndLifetime(t *testing.T) {
	k := fixtures()
	a := newAuth(t, `{"providers": {"p": {"local_jwks": `+string(jwksDoc(rsaJWK("rsa1", &k.rsa.PublicKey)))+`,
	  "typ": "at+jwt", "subjects": ["alice"], "max_lifetime": "90m", "algorithms": ["RS256"]}},
	  "rules": [{"match": {}, "requires": {"provider": "p"}}]}`)
	at := map[string]any{"typ": "application/AT+JWT"}
	cases := []struct {
		name   string
		tok    string
		reason Reason
	}{
		{"ok", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), at), ""},
		{"typ JWT", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil), ReasonTyp},
		{"other subject", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", jwt.MapClaims{"sub": "bob", "iat": testNow.Unix(), "exp": testNow.Add(time.Minute).Unix()}, at), ReasonSubject},
		{"lifetime too long", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", jwt.MapClaims{"sub": "alice", "iat": testNow.Unix(), "exp": testNow.Add(2 * time.Hour).Unix()}, at), ReasonLifetime},
		{"no iat with max_lifetime", mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", jwt.MapClaims{"sub": "alice", "exp": testNow.Add(time.Minute).Unix()}, at), ReasonLifetime},
		{"PS256 not allowed", mint(t, jwt.SigningMethodPS256, k.rsa, "rsa1", baseClaims(), at), ReasonAlgNotAllowed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res := a.Authenticate(request("/", bearer(c.tok)), nil, testNow)
			if res.Reason != c.reason {
				t.Fatalf("got %v %q, want %q", res.Decision, res.Reason, c.reason)
			}
		})
	}
}

// TestWeakAndInvalidJWKSKeysAreNeverUsed: keys the JWKS parser drops (RSA
// under 2048 bits, EC points off the curve) cannot verify anything, and
// loading them is reported.
func TestWeakAndInvalidJWKSKeysAreNeverUsed(t *testing.T) {
	k := fixtures()
	off := ecJWK("off", &k.p256.PublicKey)
	_, py := ecPoint(&k.p256.PublicKey)
	y := new(big.Int).Add(new(big.Int).SetBytes(py), big.NewInt(1))
	off["y"] = b64e.EncodeToString(y.FillBytes(make([]byte, 32)))
	set := jwksDoc(rsaJWK("weak", &k.rsaWeak.PublicKey), off, rsaJWK("rsa1", &k.rsa.PublicKey))
	a := newAuth(t, `{"providers": {"p": {"local_jwks": `+string(set)+`}}, "rules": [{"match": {}, "requires": {"provider": "p"}}]}`)
	warn := strings.Join(a.Warnings, "\n")
	if !strings.Contains(warn, `"weak"`) || !strings.Contains(warn, "1024 bits") || !strings.Contains(warn, `"off"`) {
		t.Fatalf("load warnings %q", warn)
	}
	for name, tok := range map[string]string{
		"weak RSA":     mint(t, jwt.SigningMethodRS256, k.rsaWeak, "weak", baseClaims(), nil),
		"weak no kid":  mint(t, jwt.SigningMethodRS256, k.rsaWeak, "", baseClaims(), nil),
		"off-curve EC": mint(t, jwt.SigningMethodES256, k.p256, "off", baseClaims(), nil),
	} {
		res := a.Authenticate(request("/", bearer(tok)), nil, testNow)
		if res.Decision != Deny || res.Status != 401 || (res.Reason != ReasonUnknownKID && res.Reason != ReasonBadSignature) {
			t.Errorf("%s: %v %d %q", name, res.Decision, res.Status, res.Reason)
		}
	}
}

func TestLocalJWKSAsString(t *testing.T) {
	k := fixtures()
	doc, _ := json.Marshal(string(jwksDoc(rsaJWK("rsa1", &k.rsa.PublicKey))))
	a := newAuth(t, `{"providers": {"p": {"local_jwks": `+string(doc)+`}}, "rules": [{"match": {}, "requires": {"provider": "p"}}]}`)
	if res := a.Authenticate(request("/", bearer(mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil))), nil, testNow); res.Decision != Allow {
		t.Fatalf("%v %q", res.Decision, res.Reason)
	}
}

func TestForeignIssuerNeverTriggersRefetch(t *testing.T) {
	k := fixtures()
	a := newAuth(t, `{"providers": {"idp": {"issuer": "https://idp.example.com", "remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/jwks"}}},
	  "rules": [{"match": {}, "requires": {"provider": "idp"}}]}`)
	set, _, _ := jwks.Parse(jwksDoc(rsaJWK("rsa1", &k.rsa.PublicKey)))
	keys := &fakeKeys{sets: map[string]*jwks.Set{"idp": set}, inFlight: true}
	c := baseClaims()
	c["iss"] = "https://other.example"
	res := a.Authenticate(request("/", bearer(mint(t, jwt.SigningMethodRS256, k.rsa2, "made-up", c, nil))), keys, testNow)
	if res.Reason != ReasonIssuer || keys.refetches != 0 {
		t.Fatalf("%v %q after %d refetches", res.Decision, res.Reason, keys.refetches)
	}
}

// A configured token location reaches the upstream only with a token
// verified on this request: on optional and public routes every other value
// in it is removed, and where a token is required it is malformed.
func TestOnlyVerifiedTokensReachTheUpstream(t *testing.T) {
	k := fixtures()
	cfg := strings.Replace(localConfig(`, "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}], "from_cookies": ["session"]`),
		`{"match": {"prefix": "/public"}},`,
		`{"match": {"prefix": "/public"}}, {"match": {"prefix": "/maybe"}, "requires": {"allow_missing": true}},`, 1)
	a := newAuth(t, cfg)
	good := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	for _, forged := range []string{"Bearer\tforged.x.y", "forged.x.y", "JWT forged.x.y", "Bearer a b", "Bearer "} {
		for _, path := range []string{"/maybe/x", "/public/x"} {
			res := a.Authenticate(request(path, headers{"authorization": forged}), nil, testNow)
			if res.Decision != Allow || !contains(res.RemoveHeaders, "authorization") {
				t.Errorf("%s with %q: %v %q, removes %v; want allowed without the header", path, forged, res.Decision, res.Reason, res.RemoveHeaders)
			}
		}
		res := a.Authenticate(request("/orders", headers{"authorization": forged}), nil, testNow)
		if res.Decision != Deny || res.Reason != ReasonMalformed {
			t.Errorf("/orders with %q: %v %q, want malformed_token", forged, res.Decision, res.Reason)
		}
	}
	res := a.Authenticate(request("/public/x", headers{"cookie": "a=1; session=" + good}), nil, testNow)
	if res.Decision != Allow || !contains(res.RemoveCookies, "session") {
		t.Errorf("token cookie on a public route: %v, removes %v", res.Decision, res.RemoveCookies)
	}
	res = a.Authenticate(request("/orders", headers{"cookie": "session=" + good + "; session =forged"}), nil, testNow)
	if res.Reason != ReasonMultipleTokens {
		t.Errorf("session and 'session ': %v %q, want multiple_tokens", res.Decision, res.Reason)
	}
	res = a.Authenticate(request("/orders", headers{"cookie": "session=" + good}), nil, testNow)
	if res.Decision != Allow || !contains(res.RemoveCookies, "session") {
		t.Errorf("valid cookie: %v %q", res.Decision, res.Reason)
	}
	if got, _ := RemoveCookies("a=1; session =x; b=2", []string{"session"}); got != "a=1; b=2" {
		t.Errorf("RemoveCookies kept a spaced name: %q", got)
	}
}

// A token parameter that Go's query parser does not read (after a ';', or
// in a pair with a malformed escape) can be neither verified nor removed,
// while some upstreams read it: the request is refused.
func TestHiddenTokenParametersAreRefused(t *testing.T) {
	a := newAuth(t, localConfig(""))
	for _, q := range []string{"x=1;access_token=forged.x.y", "access_token=forged.x.y%ZZ", "a=%zz;access%5Ftoken=f", "x=1&y=2;access_token=f"} {
		res := a.Authenticate(&Request{Method: "GET", Path: "/public", Query: q, Header: headers{}.get}, nil, testNow)
		if res.Decision != Deny || res.Reason != ReasonMalformed {
			t.Errorf("?%s: %v %q, want a malformed_token denial", q, res.Decision, res.Reason)
		}
	}
	for _, q := range []string{"x=1;y=2", "a=b&c=%2F", "q=access_token"} {
		res := a.Authenticate(&Request{Method: "GET", Path: "/public", Query: q, Header: headers{}.get}, nil, testNow)
		if res.Reason == ReasonMalformed {
			t.Errorf("?%s refused although it names no token parameter", q)
		}
	}
}

// TestScratchGivesFreshResults runs requests of every kind (allowed with
// claim and payload headers, tokens in a header, a parameter and a cookie,
// denied, two tokens, a public route with forged headers) through one
// Scratch, in an order that makes each reuse the storage the one before
// grew, and checks every Result equals the Result of a call without one:
// a location, header or token left from an earlier request must never
// change what is removed, set or forwarded.
func TestScratchGivesFreshResults(t *testing.T) {
	k := fixtures()
	a := newAuth(t, localConfig(`, "from_cookies": ["jwt"], "from_params": ["access_token"]`))
	tok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", baseClaims(), nil)
	other := mint(t, jwt.SigningMethodES256, k.p256, "p256", baseClaims(), nil)
	admin := baseClaims()
	admin["scope"] = "read admin"
	adminTok := mint(t, jwt.SigningMethodRS256, k.rsa, "rsa1", admin, nil)
	hmacTok := mint(t, jwt.SigningMethodHS256, []byte(testSecret), "", jwt.MapClaims{
		"iss": "https://hmac.example.com", "sub": "svc", "exp": testNow.Add(time.Hour).Unix()}, nil)
	forged := bearer(tok)
	forged["x-user"], forged["x-jwt-payload"] = "mallory", "forged"
	reqs := []func() *Request{
		func() *Request { return request("/orders?access_token="+tok, headers{"cookie": "a=b; jwt=" + tok}) },
		func() *Request { return request("/orders", forged) },
		func() *Request { return request("/orders", nil) },
		func() *Request { return request("/orders?access_token="+other, bearer(tok)) },
		func() *Request { return request("/admin/users", bearer(tok)) },
		func() *Request { return request("/admin/users", bearer(adminTok)) },
		func() *Request { return request("/hmac/x", bearer(hmacTok)) },
		func() *Request {
			return request("/public/x", headers{"x-user": "admin", "authorization": "Bearer " + tok})
		},
		func() *Request { return request("/orders", headers{"cookie": "jwt=" + other}) },
		func() *Request { return request("/orders", headers{"authorization": "Basic YWxhZGRpbjpvcGVu"}) },
	}
	var sc Scratch
	for round := range 3 {
		for i, mk := range reqs {
			if round == 1 {
				mk = reqs[len(reqs)-1-i] // the other order
			}
			want := a.Authenticate(mk(), nil, testNow)
			req := mk()
			req.Scratch = &sc
			got := a.Authenticate(req, nil, testNow)
			if !reflect.DeepEqual(normalResult(got), normalResult(want)) {
				t.Errorf("round %d, request %d: with a Scratch\n%+v\nwithout\n%+v", round, i, got, want)
			}
		}
	}
}

// normalResult is r with empty lists as nil: a Scratch's lists are empty
// where a fresh call's are nil.
func normalResult(r Result) Result {
	for _, l := range []*[]string{&r.RemoveHeaders, &r.RemoveParams, &r.RemoveCookies, &r.WaitFor} {
		if len(*l) == 0 {
			*l = nil
		}
	}
	if len(r.SetHeaders) == 0 {
		r.SetHeaders = nil
	}
	if len(r.Tokens) == 0 {
		r.Tokens = nil
	}
	return r
}
