package canon

import (
	"math/rand/v2"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/apiguard/apiguard/internal/paramname"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/verdict"
)

func guard(t *testing.T, cfg Config) *Guard {
	t.Helper()
	g, err := New(Inputs{
		Config:    cfg,
		Protected: []string{"x-user"},
		Watched:   []string{"authorization", "x-api-key", "cookie", ":authority"},
		Matches:   []route.Match{{Prefix: "/admin"}, {Path: "/healthz"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return g
}

func req(method, path, authority string, extra ...string) [][2]string {
	pairs := [][2]string{{":method", method}, {":path", path}, {":authority", authority}, {":scheme", "http"}}
	for i := 0; i+1 < len(extra); i += 2 {
		pairs = append(pairs, [2]string{extra[i], extra[i+1]})
	}
	return pairs
}

func port80() int { return 80 }

func TestInspectRefusesWhatUpstreamsReadTwoWays(t *testing.T) {
	g := guard(t, Config{})
	for _, tc := range []struct {
		name  string
		pairs [][2]string
		want  verdict.Reason
	}{
		{"no path", [][2]string{{":method", "GET"}}, verdict.MissingPath},
		{"dot-dot with params", req("GET", "/admin/..;/healthz", "api"), verdict.NonCanonicalPath},
		{"encoded dot-dot", req("GET", "/admin/%2e%2e/healthz", "api"), verdict.NonCanonicalPath},
		{"case of a configured prefix", req("GET", "/ADMIN/x", "api"), verdict.NonCanonicalPath},
		{"trailing slash of an exact path", req("GET", "/healthz/", "api"), verdict.NonCanonicalPath},
		{"lower-case head", req("head", "/users", "api"), verdict.NonCanonicalMethod},
		{"Delete", req("Delete", "/users/1", "api"), verdict.NonCanonicalMethod},
		{"repeated key header", req("GET", "/", "api", "x-api-key", "k", "x-api-key", "k"), verdict.RepeatedHeader},
		{"repeated authorization", req("GET", "/", "api", "authorization", "Bearer a", "Authorization", "Bearer b"), verdict.RepeatedHeader},
		{"override header", req("POST", "/", "api", "x-http-method-override", "DELETE"), verdict.MethodOverride},
		{"override parameter", req("POST", "/?a=1&%5Fmethod=DELETE", "api"), verdict.MethodOverride},
		{"override parameter, PHP dot", req("POST", "/?.method=DELETE", "api"), verdict.MethodOverride},
		{"override parameter, PHP leading plus", req("POST", "/?+_method=DELETE", "api"), verdict.MethodOverride},
		{"override parameter, PHP leading space", req("POST", "/?%20_method=DELETE", "api"), verdict.MethodOverride},
		{"override parameter, upper case", req("POST", "/?_METHOD=DELETE", "api"), verdict.MethodOverride},
		{"override parameter, PHP array", req("POST", "/?_method[]=DELETE", "api"), verdict.MethodOverride},
		// WSGI and CGI upstreams fold '_' into '-': every spelling is the override.
		{"override header, underscores", req("POST", "/", "api", "x_http_method_override", "DELETE"), verdict.MethodOverride},
		{"override header, upper underscores", req("POST", "/", "api", "X_HTTP_METHOD_OVERRIDE", "DELETE"), verdict.MethodOverride},
		{"x_method_override", req("POST", "/", "api", "x_method_override", "DELETE"), verdict.MethodOverride},
		{"x_http_method", req("POST", "/", "api", "x_http_method", "DELETE"), verdict.MethodOverride},
		{"mixed separators", req("POST", "/", "api", "x-http_method-override", "DELETE"), verdict.MethodOverride},
		{"x-original-url", req("GET", "/", "api", "x-original-url", "/admin"), verdict.PathOverride},
		{"X_Original_URL", req("GET", "/", "api", "X_Original_URL", "/admin"), verdict.PathOverride},
		{"x-rewrite-url", req("GET", "/", "api", "X-Rewrite-URL", "/admin"), verdict.PathOverride},
		{"x_rewrite_url", req("GET", "/", "api", "x_rewrite_url", "/admin"), verdict.PathOverride},
		{"userinfo in authority", req("GET", "/", "user@admin.local"), verdict.NonCanonicalAuthority},
	} {
		if p := g.Inspect(tc.pairs, port80); p.Refuse != tc.want {
			t.Errorf("%s: refuse %q (%s), want %q", tc.name, p.Refuse, p.Message, tc.want)
		}
	}
	// Repeated cookie headers are one list (HTTP/2 splits them).
	if p := g.Inspect(req("GET", "/", "api", "cookie", "a=1", "cookie", "b=2"), port80); p.Refuse != "" {
		t.Errorf("split cookies refused: %s", p.Refuse)
	}
}

func TestInspectPlansTheCanonicalRequest(t *testing.T) {
	g := guard(t, Config{})
	p := g.Inspect(req("GET", "/users/1?x=1", "ADMIN.local.:80", "X_User", "root", "x-USER", "root", "X_Api_Key", "k2", "x_other", "1"), port80)
	if p.Refuse != "" {
		t.Fatalf("refused: %s", p.Message)
	}
	if p.Path != "/users/1" || p.SetPath != "" || p.Authority != "admin.local" || p.SetAuthority != "admin.local" || p.Method != "GET" {
		t.Errorf("plan %+v", p)
	}
	if want := []string{"X_User", "x-USER", "X_Api_Key"}; !slices.Equal(p.RemoveHeaders, want) {
		t.Errorf("removes %q, want %q", p.RemoveHeaders, want)
	}

	rw := guard(t, Config{PathNormalization: route.PathRewrite, MethodOverride: "remove"})
	p = rw.Inspect(req("GET", "/x/%2e%2e/users/1/?_method=DELETE&y=2", "api", "x-method-override", "DELETE"), port80)
	if p.Refuse != "" || p.Path != "/users/1/" || p.SetPath != "/users/1/?y=2" || !slices.Equal(p.RemoveHeaders, []string{"x-method-override"}) {
		t.Errorf("rewrite plan %+v", p)
	}
	p = rw.Inspect(req("POST", "/u?a=1&.method=DELETE&+_METHOD=PUT&b=2", "api"), port80)
	if p.Refuse != "" || p.SetPath != "/u?a=1&b=2" {
		t.Errorf("remove mode left a PHP spelling of _method: %+v", p)
	}

	if p := guard(t, Config{AuthorityNormalization: "refuse"}).Inspect(req("GET", "/", "Admin.local"), port80); p.Refuse != verdict.NonCanonicalAuthority {
		t.Errorf("authority_normalization refuse: %+v", p)
	}
	if p := guard(t, Config{HeadersWithUnderscores: "refuse"}).Inspect(req("GET", "/", "api", "x_anything", "1"), port80); p.Refuse != verdict.HeaderWithUnderscores {
		t.Errorf("headers_with_underscores reject: %+v", p)
	}
	allow := guard(t, Config{HeadersWithUnderscores: "allow"})
	if p := allow.Inspect(req("GET", "/", "api", "x_other", "1", "X_User", "root"), port80); p.Refuse != "" || !slices.Equal(p.RemoveHeaders, []string{"X_User"}) {
		t.Errorf("headers_with_underscores allow: %+v", p)
	}
	if p := allow.Inspect(req("GET", "/", "api", "x-api-key", "1", "x_api_key", "2"), port80); p.Refuse != verdict.RepeatedHeader {
		t.Errorf("allow: x-api-key and x_api_key reach a CGI upstream as one header: %+v", p)
	}
}

// Inspect never panics, and what it forwards it would forward again
// unchanged: a planned request is already canonical.
func FuzzInspect(f *testing.F) {
	f.Add("GET", "/admin/..;/x?_method=1", "ADMIN.local.:80", "X_User", "a")
	f.Add("head", "/%2e%2e/", "h:", "x-api-key", "k")
	f.Add("POST", "/a/b/", "[::1]:80", "x_api_key", "k")
	f.Fuzz(func(t *testing.T, method, path, authority, name, value string) {
		for _, cfg := range []Config{{}, {PathNormalization: route.PathRewrite, MethodOverride: "remove", HeadersWithUnderscores: "allow"}} {
			g := guard(t, cfg)
			p := g.Inspect(req(method, path, authority, name, value), port80)
			if p.Refuse != "" {
				continue
			}
			fwdPath, fwdAuth := path, authority
			if p.SetPath != "" {
				fwdPath = p.SetPath
			}
			if p.SetAuthority != "" {
				fwdAuth = p.SetAuthority
			}
			pairs := req(method, fwdPath, fwdAuth)
			if !slices.Contains(p.RemoveHeaders, name) {
				pairs = append(pairs, [2]string{name, value})
			}
			again := g.Inspect(pairs, port80)
			if again.Refuse != "" || again.SetPath != "" || again.SetAuthority != "" || again.Path != p.Path || len(again.RemoveHeaders) > 0 {
				t.Fatalf("%+v: %q %q %q %q: forwarded %q %q, then %+v", cfg, method, path, authority, name, fwdPath, fwdAuth, again)
			}
		}
	})
}

// FuzzHasParamMatchesSplitting checks hasParam, which walks the query in
// place, against splitting it into pairs and decoding every key.
func FuzzHasParamMatchesSplitting(f *testing.F) {
	for _, q := range []string{"", "_method=PUT", "a=1&%5Fmethod=x", "a=1;_method", "_meth%6Fd", "+_method=1",
		"_method+=1", "%20_method", ".method", "_METHOD", "_method[]", "_method[", "%zz&_method", "&&;;=", "a&b=_method", "%5fmethod=", "x=%5Fmethod"} {
		f.Add(q)
	}
	split := func(query, name string) bool {
		for _, pair := range strings.FieldsFunc(query, func(r rune) bool { return r == '&' || r == ';' }) {
			k, _, _ := strings.Cut(pair, "=")
			if dk, err := url.QueryUnescape(k); err == nil && paramname.Fold(dk) == name || k == name {
				return true
			}
		}
		return false
	}
	f.Fuzz(func(t *testing.T, query string) {
		if got, want := hasParam(query, overrideParam), split(query, overrideParam); got != want {
			t.Fatalf("hasParam(%q) = %v, splitting says %v", query, got, want)
		}
	})
}

// TestPlainNameIsItsOwnSpelling checks the shortcut of inspectHeaders: a
// name plainName accepts is its own lower-case and mapped spelling, and one
// it refuses differs from one of them or holds a non-ASCII byte.
func TestPlainNameIsItsOwnSpelling(t *testing.T) {
	for c := 0; c < 256; c++ {
		name := "x-" + string([]byte{byte(c)}) + "-y"
		same := strings.ToLower(name) == name && mapped(name) == name && c < 0x80
		if plainName(name) != same {
			t.Errorf("plainName(%q) = %v, want %v", name, plainName(name), same)
		}
	}
}

// TestPlainNameWordAtATime checks plainName's eight-bytes-a-step test
// against the byte loop, for every byte at every position of names that
// span two words and a tail.
func TestPlainNameWordAtATime(t *testing.T) {
	plain := func(name string) bool {
		for i := 0; i < len(name); i++ {
			if c := name[i]; c-'A' <= 'Z'-'A' || c == '_' || c >= 0x80 {
				return false
			}
		}
		return true
	}
	for n := 1; n <= 19; n++ {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				if name := string(b); plainName(name) != plain(name) {
					t.Fatalf("plainName(%q) = %v, want %v", name, plainName(name), plain(name))
				}
			}
		}
	}
}

func TestJoinHeadersJoinsRepeatsAsEveryPolicySeesThem(t *testing.T) {
	got := JoinHeaders([][2]string{
		{"Cookie", "a=1"}, {"x-forwarded-for", "203.0.113.1"}, {"cookie", "b=2"}, {"X-Forwarded-For", "10.0.0.1"}, {":path", "/x"},
	})
	want := map[string]string{"cookie": "a=1; b=2", "x-forwarded-for": "203.0.113.1,10.0.0.1", ":path": "/x"}
	if len(got) != len(want) {
		t.Fatalf("JoinHeaders = %q, want %q", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestPlanAppliedIsWhatTheUpstreamGets(t *testing.T) {
	pairs := [][2]string{{":path", "/a/../admin"}, {":authority", "Example.COM"}, {"X_User", "forged"}, {"accept", "*/*"}}
	plan := Plan{SetPath: "/admin", SetAuthority: "example.com", RemoveHeaders: []string{"x_user"}}
	if !plan.Changes() || (Plan{Path: "/x"}).Changes() {
		t.Fatal("Changes: a plan that sets or removes headers changes them, and only such a plan")
	}
	got := plan.Applied(pairs)
	want := [][2]string{{":path", "/admin"}, {":authority", "example.com"}, {"accept", "*/*"}}
	if !slices.Equal(got, want) {
		t.Errorf("Applied = %q, want %q", got, want)
	}
	if pairs[0][1] != "/a/../admin" {
		t.Error("Applied changed its input")
	}
}

// With method_override "remove", every spelling of an override header is
// removed; X-Forwarded-Host is removed in every spelling whatever the
// settings; path overrides are refused even with headers_with_underscores
// "allow".
func TestInspectRemovesEverySpellingOfOverridesAndForwardedHost(t *testing.T) {
	for _, underscores := range []string{"", "refuse", "allow"} {
		rm := guard(t, Config{MethodOverride: "remove", HeadersWithUnderscores: underscores})
		names := []string{"x-forwarded-host", "X-Forwarded-Host", "X-HTTP-Method-Override"}
		if underscores != "refuse" {
			names = append(names, "x_forwarded_host", "x_http_method_override", "X_HTTP_METHOD_OVERRIDE", "x_method_override", "x_http_method", "x-http_method-override")
		}
		pairs := req("POST", "/items/42", "api")
		for _, n := range names {
			pairs = append(pairs, [2]string{n, "DELETE"})
		}
		p := rm.Inspect(pairs, port80)
		if p.Refuse != "" {
			t.Fatalf("underscores %q: refused %s (%s)", underscores, p.Refuse, p.Message)
		}
		if !slices.Equal(p.RemoveHeaders, names) {
			t.Errorf("underscores %q: removes %q, want %q", underscores, p.RemoveHeaders, names)
		}
		if p := rm.Inspect(req("GET", "/", "api", "x_original_url", "/admin"), port80); p.Refuse != verdict.PathOverride {
			t.Errorf("underscores %q: x_original_url: refuse %q, want path_override", underscores, p.Refuse)
		}
	}
}

func TestTrailerRemovalsNameProtectedHeadersAndCredentials(t *testing.T) {
	g, err := New(Inputs{Protected: []string{"x-user"}, Watched: []string{"x-api-key"}})
	if err != nil {
		t.Fatal(err)
	}
	pairs := [][2]string{{"X_User", "forged"}, {"x-api-key", "k"}, {"authorization", "Bearer zzz"}, {"Cookie", "s=1"},
		{"x_http_method_override", "DELETE"}, {"x-original-url", "/admin"}, {"x-forwarded-host", "evil"}, {"x-checksum", "abc"}}
	want := []string{"X_User", "x-api-key", "authorization", "Cookie", "x_http_method_override", "x-original-url", "x-forwarded-host"}
	if got := g.TrailerRemovals(pairs); !slices.Equal(got, want) {
		t.Errorf("TrailerRemovals = %q, want %q", got, want)
	}
}

// C-based parsers end a parameter name at NUL (access_token%00 is
// access_token to them): such names are refused.
func TestQueryParameterNamesWithNULAreRefused(t *testing.T) {
	g := guard(t, Config{})
	for path, want := range map[string]verdict.Reason{
		"/x?access_token%00=a": verdict.NonCanonicalPath,
		"/x?a=1;b%00c=2":       verdict.NonCanonicalPath,
		"/x?a=%00":             "", // a NUL in a value is the upstream's business
		"/x?a=%2500":           "",
	} {
		if p := g.Inspect(req("GET", path, "api"), port80); p.Refuse != want {
			t.Errorf("%s: refuse %q, want %q", path, p.Refuse, want)
		}
	}
}

// FuzzInspectOverridesAgrees checks inspectOverrides, the header loop of a
// guard with nothing protected or watched, against the full loop of the
// same guard, on two header names of any spelling.
func FuzzInspectOverridesAgrees(f *testing.F) {
	f.Add("X-HTTP-Method-Override", "x_method_override")
	f.Add("x-http-method", "X-Http-Method")
	f.Add("X_Original_URL", "x-forwarded_host")
	f.Add("x-rewrite-url ", "x-\u212aey")
	f.Add("accept", "x-forwarded-for")
	f.Add("X-forwarded-host", "X_Host")
	f.Add("y-http-method", "x\u2010http-method")
	f.Add("X-Forwarded-Pref\u0130x", "X-Or\u0130g\u0130nal-URL")
	configs := []Config{{}, {MethodOverride: "remove"}, {MethodOverride: "remove", HeadersWithUnderscores: "allow"}}
	f.Fuzz(func(t *testing.T, a, b string) {
		for _, cfg := range configs {
			lean, err := New(Inputs{Config: cfg})
			if err != nil {
				t.Fatal(err)
			}
			if !lean.overridesOnly {
				t.Fatalf("%+v: the guard of no inputs takes the full loop", cfg)
			}
			full := *lean
			full.overridesOnly = false
			pairs := req("GET", "/", "h", a, "1", b, "2")
			var pl, pf Plan
			rl, ml := lean.inspectHeaders(pairs, &pl)
			rf, mf := full.inspectHeaders(pairs, &pf)
			if rl != rf || ml != mf || !slices.Equal(pl.RemoveHeaders, pf.RemoveHeaders) {
				t.Fatalf("%+v: %q, %q: overrides only %q %v, full loop %q %v", cfg, a, b, rl, pl.RemoveHeaders, rf, pf.RemoveHeaders)
			}
		}
	})
}

// TestOverrideNamesHaveNoK: inspectOverrides skips names by length, which
// holds only while 'İ' and the Kelvin sign are the only non-ASCII characters
// that lower-case to ASCII ('i' and 'k'), overrideNameLengths counts the
// byte each 'İ' adds, and no name it looks for has a 'k' (the Kelvin sign,
// three bytes for one).
func TestOverrideNamesHaveNoK(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		lower := strings.ToLower(string(r))
		if strings.IndexFunc(lower, func(c rune) bool { return c < utf8.RuneSelf }) >= 0 &&
			!(r == '\u0130' && lower == "i") && !(r == '\u212a' && lower == "k") {
			t.Errorf("%U lower-cases to %q: revisit inspectOverrides", r, lower)
		}
	}
	for _, name := range []string{"x-forwarded-pref\u0130x", "X-Or\u0130g\u0130nal-URL", "X-HTTP-Method-Overr\u0130de"} {
		g, err := New(Inputs{})
		if err != nil {
			t.Fatal(err)
		}
		var p Plan
		r, _ := g.inspectHeaders(req("GET", "/", "h", name, "1"), &p)
		if r == "" && len(p.RemoveHeaders) == 0 {
			t.Errorf("%q (%d bytes) passed unjudged", name, len(name))
		}
	}
	for _, list := range [][]string{overrideHeaders, pathOverrideHeaders, hostOverrideHeaders} {
		for _, name := range list {
			if strings.ContainsAny(name, "kK") {
				t.Errorf("%q has a k: inspectOverrides would miss its Kelvin-sign spelling", name)
			}
		}
	}
}

// TestOnlyXMapsToXDash: inspectOverrides skips a name unless its first byte
// is 'x' or 'X' and its second '-' or '_', which holds only while no other
// character lower-cases to 'x' and none but '_' maps to '-' (mapped).
func TestOnlyXMapsToXDash(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if s := mapped(string(r)); s == "x" && r != 'x' && r != 'X' || s == "-" && r != '-' && r != '_' {
			t.Errorf("%U maps to %q: revisit inspectOverrides", r, s)
		}
	}
}

// mapGuard is the header sets of a guard as maps, the way Guard held them
// before nameSet: the reference inspectHeaders must agree with.
type mapGuard struct {
	watched, protected, sensitive map[string]bool
}

func newMapGuard(in Inputs) mapGuard {
	m := mapGuard{watched: map[string]bool{}, protected: map[string]bool{}, sensitive: map[string]bool{}}
	for _, h := range in.Protected {
		m.protected[mapped(h)] = true
		m.sensitive[mapped(h)] = true
	}
	for _, h := range in.Watched {
		h = strings.ToLower(h)
		if h == "host" {
			h = ":authority"
		}
		if strings.HasPrefix(h, ":") || h == "cookie" {
			continue
		}
		m.watched[h] = true
		m.sensitive[mapped(h)] = true
	}
	return m
}

// inspectHeaders is the map-based loop Guard.inspectHeaders replaced.
func (m mapGuard) inspectHeaders(g *Guard, pairs [][2]string, p *Plan) (verdict.Reason, string) {
	allow := g.cfg.HeadersWithUnderscores == "allow"
	counting := len(m.watched) > 0 || allow && len(m.sensitive) > 0
	var seen map[string]bool
	for _, kv := range pairs {
		name := kv[0]
		if name == "" || name[0] == ':' {
			continue
		}
		lower, key, underscore := strings.ToLower(name), mapped(name), strings.IndexByte(name, '_') >= 0
		count := lower
		if allow {
			count = key
		}
		if counting && (m.watched[count] || allow && m.sensitive[key]) {
			if seen == nil {
				seen = map[string]bool{}
			}
			if seen[count] {
				return verdict.RepeatedHeader, "a header that apiguard decides on was sent more than once"
			}
			seen[count] = true
		}
		if r, msg, handled := g.overrideHeader(name, key, p); handled {
			if r != "" {
				return r, msg
			}
			continue
		}
		switch {
		case underscore && g.cfg.HeadersWithUnderscores == "refuse":
			return verdict.HeaderWithUnderscores, "header names with underscores are refused"
		case len(m.protected) > 0 && m.protected[key]:
			p.RemoveHeaders = appendOnce(p.RemoveHeaders, name)
		case underscore && !allow && m.sensitive[key]:
			p.RemoveHeaders = appendOnce(p.RemoveHeaders, name)
		}
	}
	return "", ""
}

// headerNamePool has names that collide in length, case, '_' for '-',
// the Kelvin sign, and repeats.
var headerNamePool = []string{"authorization", "Authorization", "x-api-key", "X_Api_Key", "x_api_key", "x-user", "X-User",
	"x_user", "x-scope", "accept", "cookie", "Cookie", "x-forwarded-for", "X_Forwarded_For", "x-http-method-override",
	"x-forwarded-host", "x-original-url", "x-\u212aey", "x-key", "X-KEY", "host", "user-agent", "x-request-id", "x-a",
	"x_a", "X-A", "content-type", "a_b", "x-tenant", "X_TENANT", strings.Repeat("l", 70), strings.Repeat("L", 70)}

// The name sets decide exactly as the maps did: every configuration of
// underscores and overrides, sets small and larger than maxScannedNames
// and than the stack's seen bits, random header lists.
func TestInspectHeadersAgreesWithMaps(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 12))
	configs := []Config{{}, {MethodOverride: "remove"}, {HeadersWithUnderscores: "allow"}, {HeadersWithUnderscores: "refuse"},
		{MethodOverride: "remove", HeadersWithUnderscores: "allow"}}
	pick := func() string { return headerNamePool[r.IntN(len(headerNamePool))] }
	for set := range 3000 {
		var in Inputs
		in.Config = configs[r.IntN(len(configs))]
		extra := 0
		switch set % 10 {
		case 0:
			extra = maxScannedNames + 5
		case 1:
			extra = 140 // more watched names than two words of seen bits
		}
		for range r.IntN(4) {
			in.Protected = append(in.Protected, pick())
		}
		for range r.IntN(5) {
			in.Watched = append(in.Watched, pick())
		}
		for i := range extra {
			in.Watched = append(in.Watched, "x-generated-"+strconv.Itoa(i))
		}
		g, err := New(in)
		if err != nil {
			t.Fatal(err)
		}
		ref := newMapGuard(in)
		for range 50 {
			pairs := req("GET", "/", "h")
			for range r.IntN(8) {
				name := pick()
				if extra > 0 && r.IntN(3) == 0 {
					name = "x-generated-" + strconv.Itoa(r.IntN(extra))
				}
				pairs = append(pairs, [2]string{name, "v"})
			}
			var got, want Plan
			rg, mg := g.inspectHeaders(pairs, &got)
			rw, mw := ref.inspectHeaders(g, pairs, &want)
			if rg != rw || mg != mw || !slices.Equal(got.RemoveHeaders, want.RemoveHeaders) {
				t.Fatalf("%+v %+v: %q: name sets %q %v, maps %q %v", in.Config, in, pairs, rg, got.RemoveHeaders, rw, want.RemoveHeaders)
			}
			for _, kv := range pairs[4:] {
				if g.sensitive.has(mapped(kv[0])) != ref.sensitive[mapped(kv[0])] {
					t.Fatalf("sensitive(%q) differs", kv[0])
				}
			}
		}
	}
}

// BenchmarkInspect judges the demo request under the demo configuration's
// guard (claim headers protected, the token header watched, its rules).
func BenchmarkInspect(b *testing.B) {
	g, err := New(Inputs{
		Protected: []string{"x-user", "x-scope"},
		Watched:   []string{"authorization"},
		Matches: []route.Match{{Prefix: "/healthz"}, {Prefix: "/admin"}, {Prefix: "/"}, {Prefix: "/users"}, {},
			{Path: "/users", Methods: []string{"GET"}}, {Prefix: "/users"}, {Path: "/admin/stats"}, {Path: "/healthz"}, {Path: "/echo"}, {}},
	})
	if err != nil {
		b.Fatal(err)
	}
	pairs := req("GET", "/users/1", "api.example.com", "accept", "application/json", "user-agent", "bench/1.0",
		"accept-encoding", "gzip", "authorization", "Bearer x.y.z", "x-request-id", "7f1c2b1e-6a43-4d7e-9d0b-3c2f0f3a9b11",
		"x-forwarded-proto", "https")
	b.ReportAllocs()
	for b.Loop() {
		if p := g.Inspect(pairs, port80); p.Refuse != "" {
			b.Fatal(p.Refuse)
		}
	}
}
