// Package openapie2e runs configurations that apiguard-openapi writes from
// real OpenAPI descriptions through the compiled plugin: the Petstore (3.0)
// and Redocly's Museum (3.1), committed in internal/openapi/testdata, and
// GitHub's REST API description (3.0, 13 MB), installed by `npm ci` in this
// directory from npm's @octokit/openapi, pinned by package-lock.json.
package openapie2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/openapi"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/validate"
	"github.com/apiguard/apiguard/internal/wasmhost"
	"github.com/golang-jwt/jwt/v5"
)

var module *wasmhost.Module

func TestMain(m *testing.M) {
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogWarn}, &module))
}

const issuer = "https://petstore.test"

func generate(t *testing.T, file string, opts openapi.Options) *openapi.Result {
	t.Helper()
	spec, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	res, err := openapi.Generate(spec, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range validate.Check(validate.Document{Data: res.Config}) {
		if f.Severity == validate.SeverityError {
			t.Fatalf("validate: %s: %s", f.Path, f.Msg)
		}
	}
	return res
}

func start(t *testing.T, cfg []byte) *wasmhost.Plugin {
	t.Helper()
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration: cfg, Workers: 1, AllowOnHeadersStopIteration: true,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func token(t *testing.T, scope string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": issuer, "sub": "u1", "aud": "petstore", "scope": scope,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(e2eutil.RSAKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// upstream answers every path with body, as JSON.
func upstream(body string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, body)
	})
}

func send(h http.Handler, path, bearer string) *httptest.ResponseRecorder {
	req := httptest.NewRequest("GET", "http://petstore.test"+path, nil)
	if bearer != "" {
		req.Header.Set("authorization", "Bearer "+bearer)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// The Petstore's generated config, with the operator's provider for its
// OAuth2 scheme, authenticates with the declared scopes and removes every
// field the Pet schema does not declare.
func TestPetstoreConfigAuthenticatesAndFiltersThroughThePlugin(t *testing.T) {
	res := generate(t, "../../internal/openapi/testdata/petstore/openapi.yaml", openapi.Options{
		Providers: map[string]json.RawMessage{"petstore_auth": json.RawMessage(
			`{"issuer": "` + issuer + `", "audiences": ["petstore"], "local_jwks": ` + e2eutil.RSAJWKS("k1") + `}`)},
	})
	p := start(t, res.Config)
	h := p.Middleware(upstream(`[{"id": 1, "name": "rex", "photoUrls": [], "status": "available",
	  "owner_ssn": "078-05-1120", "category": {"id": 2, "name": "dogs", "internal_cost": 12}, "tags": [{"id": 3, "name": "good", "x": 1}]}]`))

	if rec := send(h, "/api/v3/pet/findByStatus?status=available", ""); rec.Code != 401 {
		t.Errorf("no token: %d, want 401", rec.Code)
	}
	if rec := send(h, "/api/v3/pet/findByStatus", token(t, "read:pets")); rec.Code != 403 {
		t.Errorf("a token without write:pets: %d, want 403 (the operation declares both scopes)", rec.Code)
	}
	rec := send(h, "/api/v3/pet/findByStatus", token(t, "read:pets write:pets"))
	want := `[{"id":1,"name":"rex","photoUrls":[],"status":"available","category":{"id":2,"name":"dogs"},"tags":[{"id":3,"name":"good"}]}]`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("with both scopes: %d %s\nwant 200 %s", rec.Code, rec.Body.String(), want)
	}
	// GET /pet/{petId} also accepts an api_key, which only the upstream
	// checks: no token needed here, but the body is still filtered.
	rec = send(h, "/api/v3/pet/7", "")
	if rec.Code != 200 || strings.Contains(rec.Body.String(), "owner_ssn") {
		t.Errorf("GET /pet/7: %d %s", rec.Code, rec.Body.String())
	}
	// An undocumented route keeps no field.
	if rec := send(h, "/api/v3/admin/dump", ""); rec.Code != 200 || strings.Contains(rec.Body.String(), "rex") {
		t.Errorf("undocumented: %d %s", rec.Code, rec.Body.String())
	}
}

// The 3.1 description's config starts and filters.
func TestMuseumConfigStartsAndFilters(t *testing.T) {
	res := generate(t, "../../internal/openapi/testdata/museum/openapi.yaml", openapi.Options{})
	h := start(t, res.Config).Middleware(upstream(`{"eventId": "e1", "name": "Pirates", "location": "Hall 1",
	  "eventDescription": "Arr", "dates": ["2024-10-29"], "price": 25, "buyer_email": "a@b.example"}`))
	rec := send(h, "/_mock/docs/openapi/museum-api/special-events/e1", "")
	want := `{"eventId":"e1","name":"Pirates","location":"Hall 1","eventDescription":"Arr","dates":["2024-10-29"],"price":25}`
	if rec.Code != 200 || rec.Body.String() != want {
		t.Errorf("%d %s\nwant %s", rec.Code, rec.Body.String(), want)
	}
}

// githubDescription is installed by `npm ci` in e2e/openapi (.ci/run does it).
const githubDescription = "node_modules/@octokit/openapi/generated/api.github.com.json"

// GitHub's description: the whole API's configuration (385 KB, with named
// allowlists for the schemas its responses share) passes validate, starts
// in the plugin and filters a real-shaped repository document.
func TestGitHubDescription(t *testing.T) {
	loadGitHub(t)
	all, took := gitHub.res, gitHub.took
	paths := 0
	var doc struct {
		ResponseFilter json.RawMessage `json:"response_filter"`
	}
	if err := json.Unmarshal(all.Config, &doc); err != nil {
		t.Fatal(err)
	}
	// The decoded section and its compiled filter, natively (the Wasm heap
	// holds the same structures).
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	before := heap()
	var rf respfilter.Config
	if err := config.Decode(doc.ResponseFilter, &rf); err != nil {
		t.Fatalf("the response_filter section does not decode: %v", err)
	}
	filter, err := respfilter.New(rf)
	if err != nil {
		t.Fatalf("the response_filter section does not compile: %v", err)
	}
	after := heap()
	runtime.KeepAlive(filter)
	for _, r := range rf.Rules {
		paths += len(r.Allow)
	}
	for _, l := range rf.Allowlists {
		paths += len(l)
	}
	t.Logf("GitHub (base path %q): %d operations -> %d response_filter rules and %d named allowlists (%d allow entries), %d jwt rules, %d bytes of compact JSON, %d findings, in %s; section and filter %.1f MiB of heap",
		all.BasePath, all.Operations, all.ResponseRules, all.Allowlists, paths, all.JWTRules, len(all.Config), len(all.Findings), took.Round(time.Millisecond), float64(after-before)/(1<<20))
	if all.Operations < 1000 || all.ResponseRules < 900 {
		t.Errorf("only %d operations and %d rules: the description was not read whole", all.Operations, all.ResponseRules)
	}
	for _, f := range validate.Check(validate.Document{Data: all.Config}) {
		if f.Severity == validate.SeverityError {
			t.Errorf("validate: %s: %s", f.Path, f.Msg)
		}
	}
	// Named allowlists for the schemas that responses share ("repository",
	// "simple-user", ...) keep the whole API's configuration small enough
	// for an Istio WasmPlugin (it was 2.6 MB with every list written out).
	if len(all.Config) > 1<<20 || all.Allowlists < 100 {
		t.Errorf("the whole API's config is %d bytes with %d named allowlists: want under 1 MiB", len(all.Config), all.Allowlists)
	}
	for _, f := range all.Findings {
		if f.Where == "document" && strings.Contains(f.What, "bytes") {
			t.Errorf("%d bytes: %s", len(all.Config), f)
		}
	}

	began := time.Now()
	p := start(t, all.Config)
	t.Logf("the plugin started with it in %s; worker VM memory %.1f MiB", time.Since(began).Round(time.Millisecond), float64(p.MemorySizes()[0])/(1<<20))
	h := p.Middleware(upstream(`{"id": 1296269, "node_id": "MDEw", "name": "Hello-World",
	  "full_name": "octocat/Hello-World", "private": false, "owner": {"login": "octocat", "id": 1, "site_admin": false, "email_verified_internal": true},
	  "internal_billing_ref": "acct_123", "topics": ["octocat"]}`))
	rec := send(h, "/repos/octocat/Hello-World", "")
	body := rec.Body.String()
	if rec.Code != 200 || !strings.Contains(body, `"full_name":"octocat/Hello-World"`) || !strings.Contains(body, `"login":"octocat"`) ||
		strings.Contains(body, "internal_billing_ref") || strings.Contains(body, "email_verified_internal") {
		t.Errorf("GET /repos/octocat/Hello-World: %d %s", rec.Code, body)
	}
	// A route near the end of the rule list, and one no rule names.
	if rec := send(h, "/zen", ""); rec.Code != 200 {
		t.Errorf("GET /zen: %d %s", rec.Code, rec.Body.String())
	}
	if rec := send(h, "/no/such/route", ""); rec.Code != 200 || strings.Contains(rec.Body.String(), "octocat") {
		t.Errorf("undocumented: %d %s", rec.Code, rec.Body.String())
	}

	// One tag still gives a configuration small enough for Istio.
	spec, err := os.ReadFile(githubDescription)
	if err != nil {
		t.Fatal(err)
	}
	repos, err := openapi.Generate(spec, openapi.Options{Compact: true, Tags: []string{"repos"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range validate.Check(validate.Document{Data: repos.Config}) {
		if f.Severity == validate.SeverityError {
			t.Fatalf("validate (tag repos): %s: %s", f.Path, f.Msg)
		}
	}
	for _, f := range repos.Findings {
		if f.Where == "document" && strings.Contains(f.What, "bytes") {
			t.Errorf("tag repos (%d bytes): %s", len(repos.Config), f)
		}
	}
	began = time.Now()
	rp := start(t, repos.Config)
	t.Logf("GitHub, tag repos: %d operations -> %d rules, %d bytes; the plugin started with it in %s; worker VM memory %.1f MiB",
		repos.Operations, repos.ResponseRules, len(repos.Config), time.Since(began).Round(time.Millisecond), float64(rp.MemorySizes()[0])/(1<<20))
}
