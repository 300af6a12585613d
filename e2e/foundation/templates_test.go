package foundation

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// templateConfig selects requests with Envoy uri_template path templates in
// every policy: a public literal route listed before the template it
// overlaps, an authenticated "/users/{id}", a filtered response on the same
// template and a rate limit on "/files/{path=**}".
func templateConfig() string {
	return `{
  "jwt": {
    "providers": {"corp": {"issuer": "https://idp.example", "audiences": ["api"], "local_jwks": ` + e2eutil.RSAJWKS("k1") + `}},
    "rules": [
      {"name": "me", "match": {"path_template": "/users/me", "methods": ["GET"]}},
      {"name": "user_by_id", "match": {"path_template": "/users/{id}"}, "requires": {"provider": "corp"}},
      {"name": "files", "match": {"path_template": "/files/{path=**}"}},
      {"match": {"prefix": "/"}}
    ]
  },
  "rate_limits": [
    {"name": "files", "match": {"path_template": "/files/{path=**}"}, "key": ["client_ip"], "limits": [{"requests": 2, "per": "3600s"}]}
  ],
  "response_filter": {"rules": [
    {"name": "me", "match": {"path_template": "/users/{id}", "methods": ["GET"]}, "allow": ["id", "name"]},
    {"match": {}, "bypass": true}
  ]}
}`
}

// userAPI answers every path with a user document that has a secret.
type userAPI struct{}

func (userAPI) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("content-type", "application/json")
	io.WriteString(w, `{"id":"7","name":"Ada","secret":"s3cr3t","path":"`+r.URL.Path+`"}`)
}

func TestPathTemplatesSelectRequestsInEveryPolicy(t *testing.T) {
	p := start(t, templateConfig(), 2)
	h := p.Middleware(userAPI{})

	// The literal route before the template is public, and its response is
	// filtered by the template rule.
	rec := get(t, h, "/users/me")
	if rec.Code != 200 || rec.Body.String() != `{"id":"7","name":"Ada"}` {
		t.Errorf("/users/me: %d %q, want 200 with id and name only", rec.Code, rec.Body.String())
	}
	// Any other segment needs a token, with the bytes Envoy's glob would
	// skip ('=' and '*') too.
	for _, path := range []string{"/users/42", "/users/a=b", "/users/*"} {
		if rec := get(t, h, path); rec.Code != 401 {
			t.Errorf("%s: %d, want 401", path, rec.Code)
		}
	}
	// A deeper path is not the template's: the catch-all lets it through,
	// and the response passes whole (bypass).
	if rec := get(t, h, "/users/42/avatar"); rec.Code != 200 || !strings.Contains(rec.Body.String(), "secret") {
		t.Errorf("/users/42/avatar: %d %q", rec.Code, rec.Body.String())
	}
	// The trailing-slash twin and case variants of a templated route are
	// refused, as routers disagree on them.
	for _, path := range []string{"/users/42/", "/USERS/42"} {
		if rec := get(t, h, path); rec.Code != 400 || rec.Header().Get("x-apiguard-reason") != "non_canonical_path" {
			t.Errorf("%s: %d %q, want 400 non_canonical_path", path, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
	// "**" spans segments; the rate limit counts them as one route.
	codes := []int{}
	for _, path := range []string{"/files/a", "/files/a/b/c", "/files/x.txt"} {
		codes = append(codes, get(t, h, path).Code)
	}
	if codes[0] != 200 || codes[1] != 200 || codes[2] != 429 {
		t.Errorf("/files/** codes %v, want [200 200 429]", codes)
	}
	// Metrics carry the rule's name, never the path.
	for _, name := range []string{"me", "user_by_id", "files"} {
		name = "wasmcustom.apiguard.apiguard.http.route." + name + ".requests_total"
		if v, ok := p.Stats().Counter(name); !ok || v == 0 {
			t.Errorf("counter %s = %d (%v); have:\n%s", name, v, ok, strings.Join(p.Stats().Names(), "\n"))
		}
	}
	for _, name := range p.Stats().Names() {
		if strings.Contains(name, "42") || strings.Contains(name, "{") {
			t.Errorf("a metric name carries a path: %s", name)
		}
	}
}

func TestBadPathTemplateIsRefusedAtStartNamingThePath(t *testing.T) {
	for config, path := range map[string]string{
		`{"jwt": {"providers": {}, "rules": [{"match": {"path_template": "/users/{id"}}]}}`:                                   "jwt.rules[0].match.path_template",
		`{"rate_limits": [{"name": "x", "match": {"path_template": "/a/**/{b}"}, "limits": [{"requests": 1, "per": "1s"}]}]}`: "rate_limits[0].match.path_template",
		`{"response_filter": {"rules": [{"match": {"path_template": "/a/v*"}, "allow": ["id"]}]}}`:                            "response_filter.rules[0].match.path_template",
	} {
		_, err := module.Start(context.Background(), wasmhost.PluginConfig{
			Name: "apiguard", RootID: "apiguard", VMID: "apiguard", Configuration: []byte(config),
		})
		if err == nil || !strings.Contains(err.Error(), path) {
			t.Errorf("start error %v, want one naming %s", err, path)
		}
	}
}
