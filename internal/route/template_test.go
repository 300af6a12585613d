package route

import (
	"regexp"
	"strings"
	"testing"
)

// The accepted and refused templates below follow the cases of Envoy's
// test/extensions/path/uri_template_lib/uri_template_internal_test.cc
// (ParseURLPatternSyntaxSuccess/Failure), so a template apiguard accepts is
// one Envoy's uri_template matcher accepts too.
func TestParseTemplateAcceptsEnvoysGrammar(t *testing.T) {
	for _, tmpl := range []string{
		"/", "/**.m3u8", "/**.mpd", "/*_suf", "/{path=**}.m3u8", "/{foo}/**.ts",
		"/media/*.m4s", "/media/{contentId=*}/**", "/media/*", "/api/*/*/**",
		"/api/*/v1/**", "/api/*/v1/*", "/{version=api/*}/*", "/api/*/*/",
		"/api/*/1234/", "/api/*/{resource=*}/{method=*}", "/api/*/{resource=*}/{method=**}",
		"/v1/**", "/media/{country}/{lang=*}/**", "/{foo}/{bar}/{fo}/{fum}/*",
		"/{foo=*}/{bar=*}/{fo=*}/{fum=*}/*", "/media/{id=*}/*", "/media/{contentId=**}",
		"/api/{version}/projects/{project}/locations/{location}/{resource}/{name}",
		"/api/{version=*}/{url=**}", "/api/{VERSION}/{version}/{verSION}", "/api/1234/abcd",
		"/media/abcd/%20%3C/{v1=*/%20}_suffix", "/{v_1=*/abc/**}", "/a/{v=**/def}",
		"/users/{id}", "/files/{path=**}", "/x/{a12345678901234}", "/~user/$&'()+,:@/-._",
		"/{file}..",
	} {
		if _, err := parseTemplate(tmpl); err != nil {
			t.Errorf("%q: %v", tmpl, err)
		}
	}
}

func TestParseTemplateRefuses(t *testing.T) {
	for tmpl, want := range map[string]string{
		// Envoy refuses these.
		"/api/v*/1234":                         "'*' must be a whole segment",
		"/api/{version=v*}/1234":               "'*' must be a whole segment",
		"/api/v{versionNum=*}/1234":            "a variable must be a whole segment",
		"/api/{version=*beta}/1234":            "parts must be separated",
		"/media/eff456/ll-sd-out.{ext}":        "a variable must be a whole segment",
		"/media/eff456/ll-sd-out.**":           "'*' must be a whole segment",
		"/media/{country=**}/{lang=*}/**":      `nothing but literals may follow "**"`,
		"/media/**/*/**":                       `nothing but literals may follow "**"`,
		"/link/{id=*}/asset*":                  "'*' must be a whole segment",
		"/link/{id=*}/{asset=asset*}":          "'*' must be a whole segment",
		"/media/{id=/*}/*":                     "empty segment",
		"/media/{contentId=/**}":               "empty segment",
		"/api/{version}/{version}":             `variable "version" is repeated`,
		"/api/{version.major}/{version.minor}": "is not a variable name",
		"/media/***":                           "'*' must be a whole segment",
		"/media/*{*}*":                         "a variable must be a whole segment",
		"/media/{*}/":                          "is not a variable name",
		"/media/*/index?a=2":                   "'?' is not allowed",
		"media":                                "does not start with '/'",
		"":                                     "does not start with '/'",
		"/\x01\x02":                            "control byte",
		"/*(/**":                               "must end the template",
		"/**/{var}":                            `nothing but literals may follow "**"`,
		"/{v1}/{v2}/{v3}/{v4}/{v5}/{v6}":       "more than 5 variables",
		"/{=*}":                                "is not a variable name",
		"/{var12345678901234=*}":               "longer than 16 bytes",
		"/{_var=*}":                            "is not a variable name",
		"/{1v}":                                "is not a variable name",
		"/{var=}":                              "empty match",
		"/{var=abc=def}":                       "'=' is not allowed",
		"/{var=*/}":                            "parts must be separated",
		"/a/{id":                               "is not closed",
		"/a//b":                                "empty segment",
		"/a b":                                 "space",
		"/caf\xc3\xa9":                         "non-ASCII",
		// The canonical grammar refuses these; Envoy takes them but they
		// could never match a canonical path.
		"/%61dmin/{id}": "percent-escape of an unreserved character",
		"/a/%2F/{id}":   "encoded '/'",
		"/a/%2f":        "lower-case hex",
		"/a/../{id}":    "'.' or '..' segment",
		"/./{id}":       "'.' or '..' segment",
		"/a;b/{id}":     "contains ';'",
		"/a/%zz":        "malformed percent-escape",
		"/{id}.%":       "malformed percent-escape",
		"/" + strings.Repeat("a", maxTemplateLen): "longer than",
	} {
		_, err := parseTemplate(tmpl)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%q: error %v, want %q", tmpl, err, want)
		}
	}
}

func TestTemplateMatches(t *testing.T) {
	for _, tc := range []struct {
		tmpl string
		fold bool
		yes  []string
		no   []string
	}{
		{"/users/{id}", true,
			[]string{"/users/42", "/USERS/42", "/users/a=b", "/users/*", "/users/%C3%A9", "/users/a:b@c"},
			[]string{"/users", "/users/", "/users/42/", "/users/42/x", "/users42", "/x/users/42", "/", ""}},
		{"/users/{id}", false, []string{"/users/X"}, []string{"/USERS/x"}},
		{"/users/me", true, []string{"/users/me", "/Users/ME"}, []string{"/users/me/", "/users/mee", "/users/m"}},
		{"/files/{path=**}", true,
			[]string{"/files/", "/files/a", "/files/a/b/c", "/files/a/"},
			[]string{"/files", "/filesx/a", "/file/a"}},
		{"/**", true, []string{"/", "/a", "/a/b/"}, nil},
		{"/", true, []string{"/"}, []string{"/a", ""}},
		{"/api/*/*/", true, []string{"/api/v1/1234/"}, []string{"/api/v1/1234", "/api/v1/", "/api/v1//"}},
		{"/{version=api/*}/*", true, []string{"/api/v1/1234"}, []string{"/apix/v1/1234", "/api/v1", "/api/v1/1/2"}},
		{"/media/*.m4s", true, []string{"/media/1.m4s", "/media/a.b.M4S"}, []string{"/media/.m4s", "/media/1.m4", "/media/a/1.m4s"}},
		{"/**.mpd", true, []string{"/manifest.mpd", "/a/b/c.mpd", "/.mpd"}, []string{"/a.mp", "/a.mpd/"}},
		{"/{path=**}.m3u8", true, []string{"/media/1234/manifest.m3u8"}, []string{"/media/1234/manifest.m3u"}},
		{"/a/**/b", true, []string{"/a/x/b", "/a/x/y/b"}, []string{"/a/b", "/a/x/b/", "/a/x/c"}},
		{"/a/{v=**/def}", true, []string{"/a/x/def", "/a/1/2/def"}, []string{"/a/def"}},
		{"/{file}..", true, []string{"/x.."}, []string{"/..", "/x."}},
		{"/v1/{name}/items/{id}", true, []string{"/v1/a/items/1"}, []string{"/v1/a/items", "/v1/a/b/items/1", "/v1/a/item/1"}},
	} {
		pt, err := parseTemplate(tc.tmpl)
		if err != nil {
			t.Fatalf("%q: %v", tc.tmpl, err)
		}
		for _, p := range tc.yes {
			if !pt.match(p, tc.fold) {
				t.Errorf("%q (fold %v) does not match %q", tc.tmpl, tc.fold, p)
			}
		}
		for _, p := range tc.no {
			if pt.match(p, tc.fold) {
				t.Errorf("%q (fold %v) matches %q", tc.tmpl, tc.fold, p)
			}
		}
	}
}

// TestTemplateThroughMatcher checks the Match field, methods and the
// ambiguity rule (trailing slash, case) on templates.
func TestTemplateThroughMatcher(t *testing.T) {
	m := MustCompile(Match{PathTemplate: "/users/{id}", Methods: []string{"GET"}})
	if !m.Matches(&Request{Method: "HEAD", Path: "/users/7"}) || m.Matches(&Request{Method: "POST", Path: "/users/7"}) {
		t.Error("methods")
	}
	for path, want := range map[string]bool{"/users/7": false, "/users/7/": true, "/Users/7": true, "/users": false} {
		if got := m.Ambiguous(path); got != want {
			t.Errorf("Ambiguous(%q) = %v, want %v", path, got, want)
		}
	}
	req := &Request{Method: "GET", Path: "/users/7"}
	if n := testing.AllocsPerRun(100, func() { m.Matches(req) }); n != 0 {
		t.Errorf("Matches allocates %v times per call", n)
	}
}

func TestCoversTemplates(t *testing.T) {
	for _, tc := range []struct {
		m, o Match
		want bool
	}{
		{Match{PathTemplate: "/users/{id}"}, Match{Path: "/users/me"}, true},
		{Match{PathTemplate: "/users/{id}"}, Match{PathTemplate: "/users/me"}, true},
		{Match{PathTemplate: "/users/{id}"}, Match{PathTemplate: "/USERS/{x=*}"}, true},
		{Match{PathTemplate: "/users/{id}"}, Match{Path: "/users/"}, false},
		{Match{PathTemplate: "/users/{id}"}, Match{Path: "/users/me/x"}, false},
		{Match{PathTemplate: "/users/{id}"}, Match{Prefix: "/users/me"}, false},
		{Match{PathTemplate: "/users/me"}, Match{PathTemplate: "/users/{id}"}, false},
		{Match{PathTemplate: "/users/{id}", CaseSensitive: true}, Match{Path: "/users/me"}, false},
		{Match{PathTemplate: "/users/{id}", CaseSensitive: true}, Match{Path: "/users/me", CaseSensitive: true}, true},
		{Match{PathTemplate: "/files/{p=**}"}, Match{PathTemplate: "/files/{a}/{b}"}, true},
		{Match{PathTemplate: "/files/{p=**}"}, Match{Prefix: "/files/a"}, true},
		{Match{PathTemplate: "/files/{p=**}"}, Match{Prefix: "/files"}, false},
		{Match{PathTemplate: "/files/{p=**}"}, Match{Prefix: "/files/"}, true},
		{Match{PathTemplate: "/files/{p=**}"}, Match{Path: "/files/"}, true},
		{Match{PathTemplate: "/**"}, Match{Regex: "/x.*"}, true},
		{Match{PathTemplate: "/{p=**}"}, Match{PathTemplate: "/a/{x}"}, true},
		{Match{Prefix: "/users"}, Match{PathTemplate: "/users/{id}"}, true},
		{Match{Prefix: "/users"}, Match{PathTemplate: "/{x}/{id}"}, false},
		{Match{Prefix: "/users/"}, Match{PathTemplate: "/users/{p=**}"}, true},
		{Match{Prefix: "/users"}, Match{PathTemplate: "/users/**.json"}, false}, // conservative
		{Match{Path: "/users/me"}, Match{PathTemplate: "/users/me"}, true},
		{Match{PathTemplate: "/a/**/b"}, Match{PathTemplate: "/a/**/b"}, true},
		{Match{PathTemplate: "/a/**/b"}, Match{Path: "/a/x/b"}, false}, // conservative
		{Match{PathTemplate: "/*.json"}, Match{PathTemplate: "/*.json"}, true},
		{Match{PathTemplate: "/users/{id}"}, Match{Regex: "/users/[0-9]+"}, false},
		{Match{Regex: "/users/.*"}, Match{PathTemplate: "/users/{id}"}, false},
	} {
		if got := tc.m.Covers(tc.o); got != tc.want {
			t.Errorf("%+v covers %+v = %v, want %v", tc.m, tc.o, got, tc.want)
		}
	}
	for tmpl, want := range map[string]bool{"/**": true, "/{all=**}": true, "/*": false, "/a/**": false} {
		if got := (Match{PathTemplate: tmpl}).MatchesEverything(); got != want {
			t.Errorf("MatchesEverything(%q) = %v", tmpl, got)
		}
	}
}

// envoyRegex builds the regular expression Envoy's toRegexPattern builds
// from the parts, with the segment class widened as documented: apiguard's
// walk must agree with it on every canonical path.
func envoyRegex(pt *pathTemplate, fold bool) *regexp.Regexp {
	parts := make([]string, len(pt.parts))
	for i, p := range pt.parts {
		switch p.kind {
		case partLiteral:
			parts[i] = regexp.QuoteMeta(p.lit)
		case partGlob:
			parts[i] = `[^/]+`
		case partTextGlob:
			parts[i] = `.*`
		}
	}
	expr := `\A/` + strings.Join(parts, "/") + regexp.QuoteMeta(pt.suffix) + `\z`
	if fold {
		expr = `(?i)` + expr
	}
	return regexp.MustCompile(expr)
}

func FuzzTemplate(f *testing.F) {
	for _, seed := range [][3]string{
		{"/users/{id}", "/users/{id}/x", "/users/42"},
		{"/files/{path=**}", "/files/{a}/{b}", "/files/a/b"},
		{"/**.mpd", "/a/*.mpd", "/a/b.mpd"},
		{"/a/**/b", "/a/{x}/b", "/a/x/y/b"},
		{"/{v=api/*}/*", "/api/v1/{x}", "/API/v1/2"},
		{"/api/*/*/", "/api/v/{x}/", "/api/v1/1234/"},
	} {
		f.Add(seed[0], seed[1], seed[2], true)
	}
	f.Fuzz(func(t *testing.T, a, b, path string, fold bool) {
		ta, err := parseTemplate(a)
		if err != nil {
			return
		}
		if judged, _, err := CanonicalPath(path, PathRewrite); err != nil || judged != path {
			return
		}
		if got, want := ta.match(path, fold), envoyRegex(ta, fold).MatchString(path); got != want {
			t.Fatalf("%q on %q (fold %v): walk %v, regex %v", a, path, fold, got, want)
		}
		if !ta.covers(ta, fold) {
			t.Fatalf("%q does not cover itself", a)
		}
		tb, err := parseTemplate(b)
		if err != nil {
			return
		}
		if ta.covers(tb, fold) && tb.match(path, fold) && !ta.match(path, fold) {
			t.Fatalf("%q covers %q, yet only the latter matches %q", a, b, path)
		}
		ma, mb := Match{PathTemplate: a, CaseSensitive: !fold}, Match{Prefix: strings.TrimSuffix(path, "/")}
		if mb.Prefix != "" && ma.Covers(mb) && !ta.match(path, fold) {
			t.Fatalf("%q covers prefix %q, yet does not match %q", a, mb.Prefix, path)
		}
	})
}
