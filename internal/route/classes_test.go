package route

import (
	"strings"
	"testing"
)

// The fast paths (plainPath, plainHost) answer only the common case; what
// they let through must be exactly what the full checks accept and return.

func TestPlainPathTakesCommonPaths(t *testing.T) {
	for _, p := range []string{"/", "/api/orders/42", "/a/", "/v1/file.json", "/.well-known/jwks.json",
		"/users/~ada/x-y_z", "/a/b:c@d!$&'()*+,="} {
		if !plainPath(p) {
			t.Errorf("plainPath(%q) = false, want the fast path", p)
		}
		if err := checkPath(p, false); err != nil {
			t.Errorf("checkPath(%q): %v", p, err)
		}
	}
	// Everything else goes to checkSegments, which refuses these.
	for _, p := range []string{"//a", "/a//b", "/.", "/..", "/a/./b", "/a/../b", "/a/..", "/a;b",
		"/%2e%2e/x", "/a b", "/a\\b", "/a\x7f", "/ä", "/a<b>", "/a|b"} {
		if plainPath(p) {
			t.Errorf("plainPath(%q) = true", p)
		}
		if err := checkPath(p, false); err == nil {
			t.Errorf("checkPath(%q) accepted it", p)
		}
	}
}

func FuzzPlainPathAgrees(f *testing.F) {
	for _, s := range []string{"/", "/a/b", "/a/./b", "//", "/a/..", "/..a/b.", "/a;b", "/%41", "/a/"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if p == "" || p[0] != '/' || strings.IndexByte(p, '?') >= 0 || !plainPath(p) {
			return
		}
		for _, params := range []bool{false, true} {
			if err := checkSegments(p, params); err != nil {
				t.Fatalf("plainPath(%q) = true, checkSegments(params=%v): %v", p, params, err)
			}
		}
	})
}

func TestPlainHostTakesCanonicalHosts(t *testing.T) {
	for _, a := range []string{"example.com", "api.example.com", "localhost", "a-1.b-2.c", "10.0.0.1"} {
		if !plainHost(a) {
			t.Errorf("plainHost(%q) = false, want the fast path", a)
		}
	}
	for _, a := range []string{"", "Example.com", "example.com.", ".example.com", "a..b", "example.com:8080",
		"[::1]", "user@host", "a_b", "a%41"} {
		if plainHost(a) {
			t.Errorf("plainHost(%q) = true", a)
		}
	}
}

func FuzzPlainHostAgrees(f *testing.F) {
	for _, s := range []string{"example.com", "a..b", "a.", "-a.b-", "1.2.3.4", "x:80"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, a string) {
		if !plainHost(a) {
			return
		}
		for _, port := range []int{0, 80, 443, 8080} {
			if got, err := canonicalAuthority(a, port); err != nil || got != a {
				t.Fatalf("plainHost(%q) = true, canonicalAuthority(port %d) = %q, %v", a, port, got, err)
			}
		}
	})
}

// TestByteClasses checks each table class against the definition it
// replaces, byte by byte.
func TestByteClasses(t *testing.T) {
	for i := range 256 {
		c := byte(i)
		tchar := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' ||
			strings.ContainsRune("!#$%&'*+-.^_`|~", rune(c))
		if isToken(string([]byte{c})) != tchar {
			t.Errorf("isToken(%q) = %v, want %v (RFC 9110 tchar)", c, !tchar, tchar)
		}
		if want := isUnreserved(c) || strings.IndexByte("!$&'()*+,=:@", c) >= 0; isPathChar(c) != want {
			t.Errorf("isPathChar(%q) = %v, want %v", c, !want, want)
		}
		if byteClasses[c]&classQuery != 0 {
			if err := checkQuery("?a" + string([]byte{c}) + "b"); err != nil {
				t.Errorf("byte %q is in classQuery but checkQuery refuses it: %v", c, err)
			}
		}
		if byteClasses[c]&classPlainHost != 0 {
			if a := "a" + string([]byte{c}) + "b"; !plainHost(a) || authorityOrEmpty(a) != a {
				t.Errorf("byte %q is in classPlainHost but %q is not canonical", c, a)
			}
		}
	}
}

func authorityOrEmpty(a string) string {
	got, err := canonicalAuthority(a, 0)
	if err != nil {
		return ""
	}
	return got
}
