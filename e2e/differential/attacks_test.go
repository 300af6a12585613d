package differential

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

const attackSecret = "attack-test-secret-0123456789-0123456789-0123456789-0123456789"

// attackConfig is the issue's setting: /admin needs a token, /healthz is
// public, /users is optional-auth with a filtered response, x-api-key keys
// a rate limit, and the session cookie and Authorization carry tokens.
const attackConfig = `{
  "jwt": {
    "providers": {"corp": {"issuer": "https://idp.example", "secret": "` + attackSecret + `", "algorithms": ["HS256"],
      "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}], "from_cookies": ["session"], "forward": true,
      "claim_to_headers": [{"claim": "sub", "header": "x-user"}]}},
    "rules": [
      {"match": {"headers": [{"name": ":authority", "exact": "admin.local"}]}, "requires": {"provider": "corp"}},
      {"match": {"prefix": "/admin"}, "requires": {"provider": "corp"}},
      {"match": {"methods": ["DELETE"]}, "requires": {"provider": "corp"}},
      {"match": {"prefix": "/healthz"}},
      {"match": {"prefix": "/"}, "requires": {"allow_missing": true}}
    ]
  },
  "rate_limits": [{"name": "per_key", "key": ["header:x-api-key"], "missing_key": "deny", "limits": [{"requests": 1, "per": "60s"}]},
                  {"name": "per_path", "match": {"prefix": "/users"}, "key": ["path"], "limits": [{"requests": 1, "per": "60s"}]}],
  "response_filter": {"rules": [{"match": {"prefix": "/users"}, "allow": ["id", "name"]}]}
}`

// seen is what the echo upstream received.
type seen struct {
	Method, URI, Host string
	Header            http.Header
}

// The issue's attacks, each through the compiled plugin to an upstream that
// reports what it received: every one is refused, or the upstream receives
// exactly what apiguard judged.
func TestTheIssuesAttacksFail(t *testing.T) {
	var last *seen
	front := startEcho(t, attackConfig, "apiguard-attacks", &last)
	_, portStr, _ := net.SplitHostPort(front.Listener.Addr().String())
	port, _ := strconv.Atoi(portStr)

	tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"iss": "https://idp.example", "sub": "alice", "exp": time.Now().Add(time.Hour).Unix()}).SignedString([]byte(attackSecret))
	if err != nil {
		t.Fatal(err)
	}
	forged := strings.Replace(tok, ".", ".x", 1)

	do := func(c testCase) (int, string, string) {
		t.Helper()
		last = nil
		o, body := sendFull(t, front.Listener.Addr().String(), c)
		return o.status, o.reason, body
	}
	refused := func(name string, c testCase, reason string) {
		t.Helper()
		status, got, _ := do(c)
		if got != reason || last != nil {
			t.Errorf("%s: status %d reason %q, upstream reached: %v; want refused with %q", name, status, got, last != nil, reason)
		}
	}
	refused("GET /admin/..;/healthz", testCase{method: "GET", target: "/admin/..;/healthz", host: "api.local"}, "non_canonical_path")
	// The review's query forms: a fragment after which Go's url parser
	// still reads what follows, and a malformed escape (a token after ';'
	// is refused where a parameter is a token location: jwtauth's
	// TestHiddenTokenParametersAreRefused).
	refused("token after #", testCase{method: "GET", target: "/public?x#&access_token=" + forged, host: "api.local"}, "non_canonical_path")
	refused("malformed escape", testCase{method: "GET", target: "/public?access_token=" + forged + "%ZZ", host: "api.local"}, "non_canonical_path")
	refused("GET /admin/%2e%2e/healthz", testCase{method: "GET", target: "/admin/%2e%2e/healthz", host: "api.local"}, "non_canonical_path")
	refused("head /users", testCase{method: "head", target: "/users", host: "api.local"}, "non_canonical_method")
	refused("delete /users/1", testCase{method: "delete", target: "/users/1", host: "api.local"}, "non_canonical_method")
	refused("DELETE /users/1 without a token", testCase{method: "DELETE", target: "/users/1", host: "api.local", headers: [][2]string{{"x-api-key", "d"}}}, "missing_token")
	for _, host := range []string{"ADMIN.local", "admin.local:80", "admin.local.", "admin.local:" + strconv.Itoa(port)} {
		refused("host "+host, testCase{method: "GET", target: "/healthz", host: host, headers: [][2]string{{"x-api-key", "h" + host}}}, "missing_token")
	}
	refused("repeated x-api-key", testCase{method: "GET", target: "/healthz", host: "api.local", headers: [][2]string{{"x-api-key", "K1"}, {"x-api-key", "K1"}}}, "repeated_header")
	refused("session cookie twice", testCase{method: "GET", target: "/users/7", host: "api.local", headers: [][2]string{{"x-api-key", "c"}, {"Cookie", "session=" + tok + "; session =" + forged}}}, "multiple_tokens")

	// A path key cannot be reset by case: /users/A and /users/a share a bucket.
	if status, reason, _ := do(testCase{method: "GET", target: "/users/a", host: "api.local", headers: [][2]string{{"x-api-key", "p1"}}}); status != 200 {
		t.Fatalf("/users/a: %d %s", status, reason)
	}
	if _, reason, _ := do(testCase{method: "GET", target: "/users/A", host: "api.local", headers: [][2]string{{"x-api-key", "p2"}}}); reason != "rate_limited" {
		t.Errorf("/users/A after /users/a: %q, want rate_limited", reason)
	}

	// Credentials on an allow_missing route never reach the upstream unverified.
	for i, auth := range []string{"Bearer\t" + forged, forged, "JWT " + forged, "Bearer " + forged + " x"} {
		status, reason, _ := do(testCase{method: "GET", target: "/profile/" + strconv.Itoa(i), host: "api.local", headers: [][2]string{{"x-api-key", "a" + strconv.Itoa(i)}, {"Authorization", auth}}})
		if status != 200 || last == nil || last.Header.Get("authorization") != "" {
			t.Errorf("Authorization %q on an optional route: %d %s, upstream saw %v", auth, status, reason, last)
		}
	}
	// A forged identity header in any spelling is removed.
	status, reason, _ := do(testCase{method: "GET", target: "/profile", host: "api.local", headers: [][2]string{{"x-api-key", "u"}, {"X_User", "root"}, {"X-USER", "root"}}})
	if status != 200 || last == nil {
		t.Fatalf("X_User: %d %s", status, reason)
	}
	for k := range last.Header {
		if strings.ReplaceAll(strings.ToLower(k), "_", "-") == "x-user" {
			t.Errorf("the upstream saw %s: %v", k, last.Header[k])
		}
	}
	// HEAD in exact spelling skips the body; GET's body is filtered.
	_, _, body := do(testCase{method: "GET", target: "/users/9", host: "api.local", headers: [][2]string{{"x-api-key", "g"}}})
	var doc map[string]any
	if err := json.Unmarshal([]byte(body), &doc); err != nil || doc["password_hash"] != nil {
		t.Errorf("GET /users/9 body %q", body)
	}
	// The canonical authority is what the upstream receives.
	if status, reason, _ := do(testCase{method: "GET", target: "/profile", host: "API.Local.:" + strconv.Itoa(port), headers: [][2]string{{"x-api-key", "auth"}}}); status != 200 || last == nil || last.Host != "api.local" {
		t.Errorf("authority: %d %s, upstream host %v", status, reason, last)
	}
}

// sendFull is send with the response body.
func sendFull(t *testing.T, addr string, c testCase) (outcome, string) {
	t.Helper()
	o, body, err := sendWithBody(addr, c)
	if err != nil {
		t.Fatalf("%s: %v", c, err)
	}
	return o, body
}

// A CORS preflight that bypasses authentication is an OPTIONS request with
// no body and no unverified token, and its response is still filtered.
func TestBypassedPreflightsAreEmptyAndFiltered(t *testing.T) {
	cfg := strings.Replace(attackConfig, `"jwt": {`, `"jwt": {"bypass_cors_preflight": true,`, 1)
	cfg = strings.Replace(cfg, `"missing_key": "deny", `, ``, 1)
	var last *seen
	addr := startEcho(t, cfg, "apiguard-preflight", &last).Listener.Addr().String()
	pre := [][2]string{{"Origin", "https://app.example.com"}, {"Access-Control-Request-Method", "DELETE"}}

	o, body := sendFull(t, addr, testCase{method: "OPTIONS", target: "/users/1", host: "api.local", headers: append(pre, [2]string{"Authorization", "Bearer forged.x.y"})})
	if o.status != 200 || last == nil || last.Header.Get("authorization") != "" {
		t.Fatalf("preflight: %d %q, upstream saw %v", o.status, o.reason, last)
	}
	if strings.Contains(body, "password_hash") {
		t.Errorf("a preflight's response on a filtered route was not filtered: %s", body)
	}
	last = nil
	o, _ = sendFull(t, addr, testCase{method: "OPTIONS", target: "/admin/users", host: "api.local", headers: pre, body: "payload"})
	if o.reason == "" || last != nil {
		t.Errorf("an OPTIONS with a body passed as a preflight: %d %q, upstream reached %v", o.status, o.reason, last != nil)
	}
	// A chunked body declares no content-length, and Go's server keeps
	// transfer-encoding out of the header map the plugin sees: only the
	// stream's end tells that a body follows.
	last = nil
	c, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(c, "OPTIONS /admin/users HTTP/1.1\r\nHost: api.local\r\nOrigin: https://app.example.com\r\n"+
		"Access-Control-Request-Method: DELETE\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n7\r\npayload\r\n0\r\n\r\n")
	resp, _ := io.ReadAll(c)
	if last != nil || !strings.Contains(string(resp), "missing_token") {
		t.Errorf("a chunked OPTIONS passed as a preflight: upstream reached %v\n%s", last != nil, resp)
	}
}

// startEcho runs the plugin with cfg in front of an upstream that records
// what it received in *last and answers a user record with a secret field.
func startEcho(t *testing.T, cfg, vmID string, last **seen) *httptest.Server {
	t.Helper()
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: vmID,
		Configuration: []byte(cfg), Workers: 1, AllowOnHeadersStopIteration: true,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		*last = &seen{Method: r.Method, URI: r.RequestURI, Host: r.Host, Header: r.Header.Clone()}
		w.Header().Set("content-type", "application/json")
		w.Write([]byte(`{"id":1,"name":"Ada","password_hash":"secret"}`))
	})
	front := httptest.NewServer(p.Middleware(up))
	t.Cleanup(front.Close)
	return front
}
