package route

import (
	"errors"
	"strings"
	"testing"
)

func TestCanonicalPathRefuseModeJudgesWhatItForwards(t *testing.T) {
	for _, in := range []string{
		"/", "/admin", "/admin/", "/images/", "/a/b/c", "/.well-known/jwks", "/...", "/a..b",
		"/a:b@c!$&'()*+,=", "/caf%C3%A9", "/%F0%9F%98%80", "/a%20b", "/a%3F%23",
		"/ADMIN", "/admin?x=/../..%2F;a", "/%25", "/%25zz",
	} {
		judged, fwd, err := CanonicalPath(in, PathRefuse)
		path, _, _ := strings.Cut(in, "?")
		if err != nil || judged != path || fwd != in {
			t.Errorf("CanonicalPath(%q, refuse) = %q, %q, %v; want %q, %q", in, judged, fwd, err, path, in)
		}
	}
}

func TestCanonicalPathRefuseModeRefuses(t *testing.T) {
	for _, tc := range []struct{ in, why string }{
		{"", "'/'"}, {"admin", "'/'"}, {"*", "'/'"}, {"http://h/admin", "'/'"}, {`\admin`, "'/'"},
		{"//admin", "empty"}, {"/a//b", "empty"}, {"/admin//", "empty"},
		{"/./admin", "'.'"}, {"/admin/.", "'.'"}, {"/x/../admin", "'.'"}, {"/admin/..", "'.'"},
		{"/%2e%2e/admin", "percent-escape"}, {"/x/.%2E/admin", "unreserved"}, {"/admin/%2e%2e/healthz", "percent-escape"},
		{"/admin/..;/healthz", ";"}, {"/admin;x", ";"}, {"/a;jsessionid=1/b", ";"},
		{"/%61dmin", "unreserved"}, {"/%7Euser", "unreserved"},
		{"/a%3Bb", "sub-delimiter"}, {"/a%2Cb", "sub-delimiter"}, {"/v1/x%3Aundelete", "sub-delimiter"}, {"/users/root%40example.com", "sub-delimiter"},
		{"/admin%2F..", "encoded '/'"}, {"/admin%5C", "encoded '/'"}, {`/\admin`, `'\'`},
		{"/admin%00", "control"}, {"/admin%0A", "control"}, {"/admin x", "control"}, {"/admin\t", "control"}, {"/admin\x00", "control"},
		{"/admin%2f", "lower-case"}, {"/caf%c3%a9", "lower-case"},
		{"/\xc3\xa9", "must be percent-encoded"}, {"/a|b", "must be percent-encoded"}, {"/a#b", "must be percent-encoded"}, {"/a[b]", "must be percent-encoded"},
		{"/admin%", "malformed"}, {"/admin%4", "malformed"}, {"/%zz", "malformed"}, {"/%u0061", "malformed"},
		{"/%2561dmin", "%25XX"}, {"/%252E%252E/admin", "%25XX"},
		{"/%C0%AF", "UTF-8"}, {"/%C0%AE%C0%AE/admin", "UTF-8"}, {"/%FF", "UTF-8"}, {"/%C3", "UTF-8"}, {"/%C3%28", "UTF-8"}, {"/%ED%A0%80", "UTF-8"},
		// The query: parsers that cut a fragment and those that read past
		// it, or that keep a malformed escape and those that drop the pair.
		{"/obs?x#&access_token=t", "'#'"}, {"/a?t=x%ZZ", "malformed escape"}, {"/a?t=%4", "malformed escape"}, {"/a?t=a b", "control"}, {"/a?t=\xc3\xa9", "non-ASCII"},
	} {
		judged, _, err := CanonicalPath(tc.in, PathRefuse)
		if err == nil {
			t.Errorf("CanonicalPath(%q, refuse) = %q, want a refusal (%s)", tc.in, judged, tc.why)
			continue
		}
		if !errors.Is(err, ErrInvalidPath) || !strings.Contains(err.Error(), tc.why) {
			t.Errorf("CanonicalPath(%q, refuse) error %q, want ErrInvalidPath mentioning %q", tc.in, err, tc.why)
		}
	}
}

func TestCanonicalPathRewriteModeDoesOnlyWhatEnvoyDoes(t *testing.T) {
	for _, tc := range []struct{ in, judged, fwd string }{
		{"/", "/", "/"},
		{"/images/", "/images/", "/images/"}, // trailing slash kept: no redirect loop behind a ServeMux
		{"/a;jsessionid=1/b", "/a;jsessionid=1/b", "/a;jsessionid=1/b"},
		{"/a%2Cb", "/a,b", "/a,b"}, // escapes of characters a path carries as themselves: decoded, as routers do
		{"/a%2cb", "/a,b", "/a,b"},
		{"/users/root%40example.com", "/users/root@example.com", "/users/root@example.com"},
		{"/v1/x%3Aundelete", "/v1/x:undelete", "/v1/x:undelete"},
		{"/%61dmin", "/admin", "/admin"},
		{"/x/../admin?q=/../x", "/admin", "/admin?q=/../x"},
		{"/x/%2e%2E/admin", "/admin", "/admin"},
		{"/../../admin", "/admin", "/admin"},
		{"//admin//x", "/admin/x", "/admin/x"},
		{"/a/./b/", "/a/b/", "/a/b/"},
		{"/a//../b", "/a/b", "/a/b"}, // Envoy: normalize_path, then merge_slashes
		{"/caf%c3%a9", "/caf%C3%A9", "/caf%C3%A9"},
		{"/ADMIN", "/ADMIN", "/ADMIN"},
	} {
		judged, fwd, err := CanonicalPath(tc.in, PathRewrite)
		if err != nil || judged != tc.judged || fwd != tc.fwd {
			t.Errorf("CanonicalPath(%q, rewrite) = %q, %q, %v; want %q, %q", tc.in, judged, fwd, err, tc.judged, tc.fwd)
		}
	}
	for _, in := range []string{"/admin/..;/healthz", "/x/.;a/y", "/admin%2F..", "/a%5Cb", "/a\\b", "/a b", "/\xc3\xa9", "/%C0%AF", "/%zz", "/%252e", "/a|b"} {
		if judged, fwd, err := CanonicalPath(in, PathRewrite); err == nil {
			t.Errorf("CanonicalPath(%q, rewrite) = %q, %q; want a refusal", in, judged, fwd)
		}
	}
}

// TestBypassCorpus is the security property of the matcher: each spelling
// of /admin either is refused (400) or, being judged as forwarded, matches
// the rule for /admin exactly when it is /admin to a byte-comparing router.
func TestBypassCorpus(t *testing.T) {
	rules := []*Matcher{MustCompile(Match{Prefix: "/admin"}), MustCompile(Match{Path: "/admin"}), MustCompile(Match{Regex: "/admin(/.*)?"})}
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
	for _, mode := range []PathMode{PathRefuse, PathRewrite} {
		for _, raw := range corpus {
			p, fwd, err := CanonicalPath(raw, mode)
			if err != nil {
				continue
			}
			fp, _, _ := strings.Cut(fwd, "?")
			if fp != p {
				t.Errorf("%s: %q judged as %q but forwarded as %q", mode, raw, p, fwd)
			}
			isAdmin := strings.EqualFold(p, "/admin") || strings.HasPrefix(strings.ToLower(p), "/admin/")
			for i, m := range rules {
				if isAdmin && !m.Matches(&Request{Method: "GET", Path: p}) && !m.Ambiguous(p) && (i != 1 || p == "/admin") {
					t.Errorf("%s: rule %d: %q judged as %q does not match /admin", mode, i, raw, p)
				}
			}
		}
	}
}

func FuzzCanonicalPath(f *testing.F) {
	for _, s := range []string{"/admin", "//a/./b/../c", "/%61%2e%2E/%2F", "/a;b/c?d#e", "/%C3%A9%C0%AF", `/\`, "/a/b/..", "/a/..;/b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		for _, mode := range []PathMode{PathRefuse, PathRewrite} {
			judged, fwd, err := CanonicalPath(in, mode)
			if err != nil {
				if !errors.Is(err, ErrInvalidPath) {
					t.Fatalf("error %v does not wrap ErrInvalidPath", err)
				}
				continue
			}
			if fp, _, _ := strings.Cut(fwd, "?"); fp != judged {
				t.Fatalf("%s: %q judged %q, forwarded %q", mode, in, judged, fwd)
			}
			if _, q, ok := strings.Cut(in, "?"); ok && !strings.HasSuffix(fwd, "?"+q) {
				t.Fatalf("%s: %q: query not kept in %q", mode, in, fwd)
			}
			for _, bad := range []string{"//", "/./", "/../", `\`, "#"} {
				if strings.Contains(judged, bad) || bad != "//" && strings.Contains(judged+"/", bad) {
					t.Fatalf("%s: %q judged as %q, which contains %q", mode, in, judged, bad)
				}
			}
			if mode == PathRefuse && judged != strings.SplitN(in, "?", 2)[0] {
				t.Fatalf("refuse mode changed %q to %q", in, judged)
			}
			again, fwd2, err := CanonicalPath(fwd, mode)
			if err != nil || again != judged || fwd2 != fwd {
				t.Fatalf("%s: not idempotent: %q -> %q -> %q, %v", mode, in, fwd, fwd2, err)
			}
		}
	})
}

func TestCheckMethod(t *testing.T) {
	for _, m := range []string{"GET", "HEAD", "DELETE", "PATCH", "PROPFIND", "get2", "M-SEARCH"} {
		if err := CheckMethod(m); err != nil {
			t.Errorf("CheckMethod(%q) = %v", m, err)
		}
	}
	for _, m := range []string{"head", "Delete", "gEt", "patch", "", "GET ", "G\tET", "GÉT"} {
		if err := CheckMethod(m); err == nil {
			t.Errorf("CheckMethod(%q) passed", m)
		}
	}
}

func TestCanonicalAuthority(t *testing.T) {
	for _, tc := range []struct {
		in   string
		port int
		want string
	}{
		{"admin.local", 80, "admin.local"},
		{"ADMIN.local", 80, "admin.local"},
		{"admin.local.", 80, "admin.local"},
		{"admin.local:80", 80, "admin.local"},
		{"ADMIN.LOCAL.:80", 80, "admin.local"},
		{"admin.local:", 80, "admin.local"},
		{"admin.local:8080", 80, "admin.local:8080"},
		{"admin.local:80", 0, "admin.local:80"},
		{"[::1]:80", 80, "[::1]"},
		{"[::1]:81", 80, "[::1]:81"},
		{"127.0.0.1:10000", 10000, "127.0.0.1"},
	} {
		got, err := CanonicalAuthority(tc.in, tc.port)
		if err != nil || got != tc.want {
			t.Errorf("CanonicalAuthority(%q, %d) = %q, %v; want %q", tc.in, tc.port, got, err, tc.want)
		}
	}
	for _, in := range []string{"user@admin.local", "admin.local:x", "admin.local:080", "admin.local:99999", "a b", "[::1", "[zz]:80", ".", "..", "a..b", ".a", "a..", "admin%2elocal", "admin.local/x", "ädmin"} {
		if got, err := CanonicalAuthority(in, 80); err == nil {
			t.Errorf("CanonicalAuthority(%q) = %q, want a refusal", in, got)
		}
	}
}
