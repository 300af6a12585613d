package route

import (
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/config"
)

func headers(kv ...string) func(string) (string, bool) {
	return func(name string) (string, bool) {
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i] == name {
				return kv[i+1], true
			}
		}
		return "", false
	}
}

func TestMatches(t *testing.T) {
	yes, no := true, false
	tests := []struct {
		name string
		m    Match
		req  Request
		want bool
	}{
		{"empty matches all", Match{}, Request{Method: "DELETE", Path: "/x"}, true},
		{"exact", Match{Path: "/admin"}, Request{Path: "/admin"}, true},
		{"exact not child", Match{Path: "/admin"}, Request{Path: "/admin/x"}, false},
		{"exact trailing slash in config", Match{Path: "/admin/"}, Request{Path: "/admin"}, false},
		{"exact trailing slash", Match{Path: "/admin/"}, Request{Path: "/admin/"}, true},
		{"exact case-insensitive", Match{Path: "/admin"}, Request{Path: "/ADMIN"}, true},
		{"exact case-sensitive", Match{Path: "/admin", CaseSensitive: true}, Request{Path: "/ADMIN"}, false},
		{"prefix itself", Match{Prefix: "/admin"}, Request{Path: "/admin"}, true},
		{"prefix child", Match{Prefix: "/admin"}, Request{Path: "/admin/users/1"}, true},
		{"prefix is segment-aware", Match{Prefix: "/admin"}, Request{Path: "/adminx"}, false},
		{"prefix with trailing slash", Match{Prefix: "/api/"}, Request{Path: "/api"}, false},
		{"prefix with trailing slash child", Match{Prefix: "/api/"}, Request{Path: "/api/x"}, true},
		{"GET also matches HEAD", Match{Methods: []string{"GET"}}, Request{Method: "HEAD", Path: "/"}, true},
		{"authority folds case", Match{Headers: []HeaderMatch{{Name: ":authority", Exact: "Admin.Local"}}}, Request{Path: "/", Header: headers(":authority", "admin.local")}, true},
		{"authority without port in config ignores the port", Match{Headers: []HeaderMatch{{Name: ":authority", Exact: "admin.local"}}}, Request{Path: "/", Header: headers(":authority", "admin.local:8080")}, true},
		{"host is :authority", Match{Headers: []HeaderMatch{{Name: "host", Exact: "admin.local"}}}, Request{Path: "/", Header: headers(":authority", "ADMIN.local")}, true},
		{"prefix case", Match{Prefix: "/Admin"}, Request{Path: "/aDMIN/x"}, true},
		{"prefix case-sensitive", Match{Prefix: "/admin", CaseSensitive: true}, Request{Path: "/Admin/x"}, false},
		{"root prefix", Match{Prefix: "/"}, Request{Path: "/anything/at/all"}, true},
		{"shorter path", Match{Prefix: "/admin"}, Request{Path: "/adm"}, false},
		{"regex full match", Match{Regex: "/users/[0-9]+"}, Request{Path: "/users/42"}, true},
		{"regex anchored end", Match{Regex: "/users/[0-9]+"}, Request{Path: "/users/42/x"}, false},
		{"regex anchored start", Match{Regex: "/users"}, Request{Path: "/x/users"}, false},
		{"regex alternation anchored", Match{Regex: "/a|/b"}, Request{Path: "/b/x"}, false},
		{"regex case-insensitive", Match{Regex: "/users/.*"}, Request{Path: "/USERS/x"}, true},
		{"regex case-sensitive", Match{Regex: "/users/.*", CaseSensitive: true}, Request{Path: "/USERS/x"}, false},
		{"method", Match{Methods: []string{"get", "POST"}}, Request{Method: "GET", Path: "/"}, true},
		{"method case-sensitive on request", Match{Methods: []string{"GET"}}, Request{Method: "get", Path: "/"}, false},
		{"method mismatch", Match{Methods: []string{"GET"}}, Request{Method: "DELETE", Path: "/"}, false},
		{"header present", Match{Headers: []HeaderMatch{{Name: "X-Debug"}}}, Request{Path: "/", Header: headers("x-debug", "")}, true},
		{"header absent", Match{Headers: []HeaderMatch{{Name: "x-debug"}}}, Request{Path: "/", Header: headers()}, false},
		{"header nil func", Match{Headers: []HeaderMatch{{Name: "x-debug"}}}, Request{Path: "/"}, false},
		{"header present=false", Match{Headers: []HeaderMatch{{Name: "x-debug", Present: &no}}}, Request{Path: "/"}, true},
		{"header present=true", Match{Headers: []HeaderMatch{{Name: "x-debug", Present: &yes}}}, Request{Path: "/", Header: headers("x-debug", "1")}, true},
		{"header exact", Match{Headers: []HeaderMatch{{Name: "x-env", Exact: "prod"}}}, Request{Path: "/", Header: headers("x-env", "prod")}, true},
		{"header exact is case-sensitive", Match{Headers: []HeaderMatch{{Name: "x-env", Exact: "prod"}}}, Request{Path: "/", Header: headers("x-env", "PROD")}, false},
		{"header prefix", Match{Headers: []HeaderMatch{{Name: "content-type", Prefix: "application/json"}}}, Request{Path: "/", Header: headers("content-type", "application/json; charset=utf-8")}, true},
		{"header invert", Match{Headers: []HeaderMatch{{Name: "x-env", Exact: "prod", Invert: true}}}, Request{Path: "/", Header: headers("x-env", "dev")}, true},
		{"header invert on absent", Match{Headers: []HeaderMatch{{Name: "x-env", Exact: "prod", Invert: true}}}, Request{Path: "/"}, true},
		{"pseudo header", Match{Headers: []HeaderMatch{{Name: ":authority", Exact: "api.example"}}}, Request{Path: "/", Header: headers(":authority", "api.example")}, true},
		{"all conditions", Match{Prefix: "/api", Methods: []string{"POST"}, Headers: []HeaderMatch{{Name: "x-a"}}},
			Request{Method: "POST", Path: "/api/x", Header: headers("x-a", "1")}, true},
		{"one condition fails", Match{Prefix: "/api", Methods: []string{"POST"}, Headers: []HeaderMatch{{Name: "x-a"}}},
			Request{Method: "POST", Path: "/api/x", Header: headers("x-b", "1")}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := Compile(tt.m)
			if err != nil {
				t.Fatal(err)
			}
			if got := m.Matches(&tt.req); got != tt.want {
				t.Errorf("Matches = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestNilMatcherAndRequest(t *testing.T) {
	var m *Matcher
	if !m.Matches(&Request{Path: "/x"}) {
		t.Error("nil matcher must match every request")
	}
	if MustCompile(Match{}).Matches(nil) {
		t.Error("nil request must not match")
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		m    Match
		want string // substring of the error; "" for valid
	}{
		{Match{Prefix: "/admin"}, ""},
		{Match{Path: "/a", Prefix: "/a"}, "set at most one of path, prefix, regex and path_template"},
		{Match{Regex: "/a", PathTemplate: "/a"}, "set at most one of"},
		{Match{PathTemplate: "/users/{id"}, "path_template: a '{' is not closed"},
		{Match{PathTemplate: "/%61/{id}"}, "path_template: \"%61\": contains a percent-escape of an unreserved character"},
		{Match{Prefix: "admin"}, "prefix: does not start with '/'"},
		{Match{Prefix: "/admin;x"}, `prefix: contains ';'`},
		{Match{Path: "/%61dmin"}, `path: "/%61dmin" is not in canonical form; write "/admin"`},
		{Match{Path: "//admin"}, `not in canonical form`},
		{Match{Path: "/admin?x=1"}, `path: must not contain '?' or '#'`},
		{Match{Path: "/admin%2F"}, `path: contains an encoded '/'`},
		{Match{Regex: "/a("}, "regex: does not compile"},
		{Match{Regex: strings.Repeat("a", maxRegexLen+1)}, "regex: longer than"},
		{Match{Methods: []string{"GET", "BAD METHOD"}}, `methods[1]: "BAD METHOD" is not an HTTP method`},
		{Match{Methods: []string{""}}, `methods[0]`},
		{Match{Headers: []HeaderMatch{{Name: "ok"}, {Name: "bad name"}}}, `headers[1].name: "bad name" is not a header name`},
		{Match{Headers: []HeaderMatch{{Name: ""}}}, `headers[0].name`},
		{Match{Headers: []HeaderMatch{{Name: "x", Exact: "a", Prefix: "b"}}}, `headers[0]: set at most one of exact, prefix and present`},
	}
	for _, tt := range tests {
		err := tt.m.Validate()
		if tt.want == "" {
			if err != nil {
				t.Errorf("%+v: %v", tt.m, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%+v: error %v, want %q", tt.m, err, tt.want)
		}
		if _, cerr := Compile(tt.m); cerr == nil {
			t.Errorf("%+v: Compile accepted an invalid match", tt.m)
		}
	}
}

// TestDecodeReportsFullPath checks the config integration: a bad rule is
// reported at its JSON path.
func TestDecodeReportsFullPath(t *testing.T) {
	var cfg struct {
		Rules []struct {
			Match Match `json:"match"`
		} `json:"rules"`
	}
	err := config.Decode([]byte(`{"rules":[{"match":{"prefix":"/a"}},{"match":{"headers":[{"name":"x","exact":"1","present":true}]}}]}`), &cfg)
	want := "config: rules[1].match.headers[0]: set at most one of exact, prefix and present"
	if err == nil || err.Error() != want {
		t.Errorf("got %v, want %s", err, want)
	}
	err = config.Decode([]byte(`{"rules":[{"match":{"prefx":"/a"}}]}`), &cfg)
	if err == nil || err.Error() != `config: rules[0].match.prefx: unknown key (did you mean "prefix"?)` {
		t.Errorf("got %v", err)
	}
}

func BenchmarkMatches(b *testing.B) {
	cases := map[string]Match{
		"prefix":   {Prefix: "/api/v1", Methods: []string{"GET", "POST"}},
		"exact":    {Path: "/api/v1/users/42"},
		"regex":    {Regex: "/api/v[0-9]+/users/[0-9]+"},
		"template": {PathTemplate: "/api/{version}/users/{id}"},
		"header":   {Prefix: "/api", Headers: []HeaderMatch{{Name: "X-Tenant", Prefix: "acme"}}},
	}
	req := &Request{Method: "GET", Path: "/API/v1/users/42", Header: headers("x-tenant", "acme-1")}
	for name, m := range cases {
		c := MustCompile(m)
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.Matches(req) {
					b.Fatal("no match")
				}
			}
		})
	}
}

func TestMatchesDoesNotAllocate(t *testing.T) {
	c := MustCompile(Match{Regex: "/api/v[0-9]+/.*", Methods: []string{"GET"}, Headers: []HeaderMatch{{Name: "X-A", Prefix: "b"}}})
	req := &Request{Method: "GET", Path: "/api/v1/x", Header: headers("x-a", "bc")}
	if n := testing.AllocsPerRun(100, func() { c.Matches(req) }); n != 0 {
		t.Errorf("Matches allocates %v times per call", n)
	}
}

func TestAmbiguousPathsAreThoseRoutersDisagreeOn(t *testing.T) {
	prefix, exact, slash := MustCompile(Match{Prefix: "/admin"}), MustCompile(Match{Path: "/users"}), MustCompile(Match{Prefix: "/api/"})
	strict := MustCompile(Match{Prefix: "/admin", CaseSensitive: true})
	re := MustCompile(Match{Regex: "/admin/.*"})
	for _, tc := range []struct {
		m    *Matcher
		path string
		want bool
	}{
		{prefix, "/admin/x", false}, {prefix, "/ADMIN/x", true}, {prefix, "/Admin", true}, {prefix, "/other", false}, {prefix, "/admin/", false},
		{exact, "/users", false}, {exact, "/users/", true}, {exact, "/USERS", true}, {exact, "/users/1", false},
		{slash, "/api", true}, {slash, "/api/x", false},
		{strict, "/ADMIN/x", false},
		{re, "/admin/x", false}, {re, "/ADMIN/x", true}, {MustCompile(Match{Regex: "/users/[^/]+"}), "/users/1/", true},
	} {
		if got := tc.m.Ambiguous(tc.path); got != tc.want {
			t.Errorf("Ambiguous(%q) = %v, want %v", tc.path, got, tc.want)
		}
	}
}
