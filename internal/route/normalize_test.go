package route

import (
	"errors"
	"strings"
	"testing"
)

func TestNormalize(t *testing.T) {
	tests := []struct{ in, want string }{
		{"/", "/"},
		{"/admin", "/admin"},
		{"/admin/", "/admin"},
		{"//admin", "/admin"},
		{"/a//b///c", "/a/b/c"},
		{"/./admin", "/admin"},
		{"/admin/.", "/admin"},
		{"/x/../admin", "/admin"},
		{"/../../admin", "/admin"},
		{"/a/b/../../..", "/"},
		{"/a/..", "/"},
		{"/%61dmin", "/admin"},
		{"/%7Euser/%41-%5f", "/~user/A-_"},
		{"/%2e%2e/admin", "/admin"},
		{"/x/.%2E/admin", "/admin"},
		{"/admin;x", "/admin"},
		{"/admin;x=1/y;z", "/admin/y"},
		{"/public;/../admin", "/admin"},
		{"/admin?x=1", "/admin"},
		{"/admin#frag", "/admin"},
		{"/admin?x=/../..%2F", "/admin"},
		{"/%2561dmin", "/%2561dmin"},
		{"/a%3bb", "/a%3Bb"},
		{"/caf%c3%a9", "/caf%C3%A9"},
		{"/%F0%9F%98%80", "/%F0%9F%98%80"},
		{"/a%20b", "/a%20b"},
		{"/...", "/..."},
		{"/.well-known/jwks", "/.well-known/jwks"},
		{"/ADMIN", "/ADMIN"},
		{"/a:b@c!$&'()*+,=", "/a:b@c!$&'()*+,="},
		{"/caf\xc3\xa9", "/caf%C3%A9"},
		{"/caf\xc3%a9", "/caf%C3%A9"},
		{"/a%2Cb", "/a,b"},
		{"/a%7cb%5B%5D", "/a|b[]"},
		{"/a%3f%23%25%3b%20", "/a%3F%23%25%3B%20"},
		{"/%2561", "/%2561"},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestNormalizeRefuses(t *testing.T) {
	tests := []struct{ in, why string }{
		{"", "does not start with '/'"},
		{"admin", "does not start with '/'"},
		{"*", "does not start with '/'"},
		{"http://h/admin", "does not start with '/'"},
		{"?x", "does not start with '/'"},
		{`\admin`, "does not start with '/'"},
		{`/\admin`, "'\\'"},
		{`/admin\..\x`, "'\\'"},
		{"/admin%2F..", "encoded '/'"},
		{"/admin%2f..", "encoded '/'"},
		{"/admin%5C..", "encoded '/'"},
		{"/admin%00", "control"},
		{"/admin%0a", "control"},
		{"/admin%7F", "control"},
		{"/admin\x00", "control"},
		{"/admin x", "control"},
		{"/admin\t", "control"},
		{"/admin;\x00", "control"},
		{"/\xff", "UTF-8"},
		{"/\xc3(", "UTF-8"},
		{"/\xc3%28", "UTF-8"},
		{"/\xc0\xaf", "UTF-8"},
		{"/admin%", "malformed"},
		{"/admin%4", "malformed"},
		{"/admin%zz", "malformed"},
		{"/%u0061dmin", "malformed"},
		{"/%C0%AFadmin", "UTF-8"},        // overlong '/'
		{"/%C0%AE%C0%AE/admin", "UTF-8"}, // overlong '..'
		{"/%E0%80%AF", "UTF-8"},
		{"/%FF", "UTF-8"},
		{"/%C3", "UTF-8"},
		{"/%C3%28", "UTF-8"},
		{"/%ED%A0%80", "UTF-8"}, // surrogate
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if err == nil {
			t.Errorf("Normalize(%q) = %q, want refusal (%s)", tt.in, got, tt.why)
			continue
		}
		if !errors.Is(err, ErrInvalidPath) || !strings.Contains(err.Error(), tt.why) {
			t.Errorf("Normalize(%q) error %q, want ErrInvalidPath mentioning %q", tt.in, err, tt.why)
		}
	}
}

// TestBypassCorpus is the security property of the matcher: each spelling
// of /admin either matches the rule for /admin or is refused (400), so none
// of them can reach /admin past a rule that protects it.
func TestBypassCorpus(t *testing.T) {
	rules := map[string]*Matcher{
		"prefix": MustCompile(Match{Prefix: "/admin"}),
		"path":   MustCompile(Match{Path: "/admin"}),
		"regex":  MustCompile(Match{Regex: "/admin(/.*)?"}),
	}
	corpus := []string{
		"/admin", "//admin", "///admin", "/admin/", "/admin//", "/%61dmin", "/%61%64%6D%69%6E",
		"/x/../admin", "/x/y/../../admin", "/../admin", "/./admin", "/admin/.", "/admin/x/..",
		"/admin;x", "/admin;", "/admin;a=b", "/%2e/admin", "/%2e%2e/admin", "/x/%2E%2E/admin",
		"/x/.%2e/admin", "/ADMIN", "/Admin", "/%41DMIN", "/admin?x", "/admin?", "/admin#x",
		"/admin%2F..", "/admin%2f", "/x%2F..%2Fadmin", `\admin`, `/\admin`, "/admin%5c",
		"/admin%00", "/admin\x00", "/admin%0d%0a", "/%2561dmin", "/%C0%AFadmin", "/x/%C0%AE%C0%AE/admin",
		"/adm%C4%B1n", "/adm\xc4\xb1n", "/ad%6Din;/", "/public;/../admin", "/.//admin", "/admin/./", "/x/..;/admin", "/x/..;x/admin",
		"/x/%2e%2e;/admin", "/%2E/admin;.css", "/admin%3B", "/admin%3b/x",
	}
	// Normal forms that are different resources to any upstream that decodes
	// once: "%61dmin" after one decode, "admın" with a dotless ı, and
	// "admin;" with a literal semicolon (upstreams that strip parameters do so
	// before decoding, so an escaped ';' is part of the name).
	different := map[string]bool{"/%2561dmin": true, "/adm%C4%B1n": true, "/admin%3B": true, "/admin%3B/x": true}
	for _, raw := range corpus {
		p, err := Normalize(raw)
		if err != nil || different[p] {
			continue
		}
		for name, m := range rules {
			if !m.Matches(&Request{Method: "GET", Path: p}) {
				t.Errorf("%s rule: %q normalises to %q, which does not match /admin", name, raw, p)
			}
		}
	}
}

func TestNormalizeIsIdempotentOnCorpus(t *testing.T) {
	for _, in := range []string{"/a/./b/../c//d/", "/%61%2561;x/%7e", "/caf%c3%a9/%3b", "/..."} {
		once, err := Normalize(in)
		if err != nil {
			t.Fatal(err)
		}
		twice, err := Normalize(once)
		if err != nil || twice != once {
			t.Errorf("Normalize(%q) = %q, then %q, %v", in, once, twice, err)
		}
	}
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"/admin", "//a/./b/../c", "/%61%2e%2E/%2F", "/a;b/c?d#e", "/%C3%A9%C0%AF", `/\`, "/a/b/.."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		out, err := Normalize(in)
		if err != nil {
			if !errors.Is(err, ErrInvalidPath) {
				t.Fatalf("error %v does not wrap ErrInvalidPath", err)
			}
			return
		}
		if out == "" || out[0] != '/' {
			t.Fatalf("Normalize(%q) = %q: not absolute", in, out)
		}
		if len(out) > 1 && strings.HasSuffix(out, "/") {
			t.Fatalf("Normalize(%q) = %q: trailing slash", in, out)
		}
		for _, bad := range []string{"//", "/./", "/../", ";", "?", "#", `\`} {
			if strings.Contains(out, bad) {
				t.Fatalf("Normalize(%q) = %q contains %q", in, out, bad)
			}
		}
		if strings.HasSuffix(out, "/.") || strings.HasSuffix(out, "/..") {
			t.Fatalf("Normalize(%q) = %q ends in a dot segment", in, out)
		}
		for i := 0; i < len(out); i++ {
			if out[i] != '%' {
				continue
			}
			v, ok := unhex(out, i)
			if !ok || strings.ToUpper(out[i:i+3]) != out[i:i+3] || !(v >= 0x80 || keepEscaped(v)) {
				t.Fatalf("Normalize(%q) = %q has non-canonical escape %q", in, out, out[i:min(i+3, len(out))])
			}
		}
		for i := 0; i < len(out); i++ {
			if out[i] <= ' ' || out[i] >= 0x7f {
				t.Fatalf("Normalize(%q) = %q contains byte %#x", in, out, out[i])
			}
		}
		again, err := Normalize(out)
		if err != nil || again != out {
			t.Fatalf("not idempotent: %q -> %q -> %q, %v", in, out, again, err)
		}
	})
}

func BenchmarkNormalize(b *testing.B) {
	for _, p := range []string{"/api/v1/users/42", "/api//v1/./users/%34%32;x?q=1"} {
		b.Run(p, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := Normalize(p); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
