package jwte2e

import (
	"strings"
	"testing"
)

// Frameworks read a token parameter under other spellings: any case
// (ASP.NET), a PHP array (access_token[]), '+' or '.' for '_' (PHP), and up
// to a NUL (C parsers). Each spelling is the token parameter: next to a
// header token it is a second token (400 multiple_tokens) instead of an
// unverified credential for the upstream; after a ';' (older Rack and
// Python), where apiguard cannot remove it, it is refused (401
// malformed_token) in every spelling too; a NUL in a name is refused.
func TestEverySpellingOfTheTokenParameterCountsAsAToken(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	header := rs256(t, "rsa1")
	for _, q := range []string{
		"access_token=zzz", "ACCESS_TOKEN=zzz", "Access_Token=zzz", "access_token[]=zzz", "access_token[0]=zzz",
		"access+token=zzz", "access.token=zzz", "access%5Ftoken=zzz",
		// PHP drops leading spaces and reads an unmatched '[' as '_'.
		"+access_token=zzz", "%20access_token=zzz", "%20%20access.token=zzz", "access%5Btoken=zzz", "access[token=zzz",
	} {
		rec := e.do(t, "GET", "/orders?"+q, "authorization", "Bearer "+header)
		if rec.Code != 400 || rec.Header().Get("x-apiguard-reason") != "multiple_tokens" {
			t.Errorf("?%s: got %d %q, want 400 multiple_tokens", q, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
	}
	for _, q := range []string{"page=1;access_token=zzz", "page=1;ACCESS_TOKEN=zzz", "page=1;access_token[]=zzz"} {
		expect(t, e.do(t, "GET", "/orders?"+q, "authorization", "Bearer "+header), 401, "malformed_token")
	}
	expect(t, e.do(t, "GET", "/orders?access_token%00=zzz", "authorization", "Bearer "+header), 400, "non_canonical_path")
	if _, _, hits := e.upstream.last(); hits != 0 {
		t.Fatalf("%d requests with a second token reached the upstream", hits)
	}

	// Where the config reads a query token, every spelling is read, verified
	// and removed before the upstream.
	for _, name := range []string{"ACCESS_TOKEN", "access_token[]", "access.token", "+access_token", "%20access_token", "access%5Btoken"} {
		rec := e.do(t, "GET", "/orders?"+name+"="+rs256(t, "rsa1")+"&page=2")
		if rec.Code != 200 {
			t.Fatalf("?%s=<valid>: %d %q", name, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
		h, uri, _ := e.upstream.last()
		if h.Get("x-user") != "alice" || strings.Contains(uri, "ey") || !strings.Contains(uri, "page=2") {
			t.Errorf("?%s=<valid>: upstream x-user %q, URI %q: want alice, the token removed, page kept", name, h.Get("x-user"), uri)
		}
	}
}

// On an open route the token parameter is not judged but still removed, in
// every spelling PHP reads as it: ?+access_token=forged used to reach the
// upstream, which PHP reads as access_token.
func TestTokenParameterSpellingsAreRemovedOnAnOpenRoute(t *testing.T) {
	e := start(t, localConfig(), 1, nil)
	for _, name := range []string{"access_token", "+access_token", "%20access_token", "access%5Btoken", "access.token", "ACCESS_TOKEN[]"} {
		rec := e.do(t, "GET", "/public/x?"+name+"=forged&page=2")
		if rec.Code != 200 {
			t.Fatalf("/public/x?%s=forged: %d %q", name, rec.Code, rec.Header().Get("x-apiguard-reason"))
		}
		_, uri, _ := e.upstream.last()
		if strings.Contains(uri, "forged") || !strings.Contains(uri, "page=2") {
			t.Errorf("/public/x?%s=forged: upstream URI %q, want the parameter removed and page kept", name, uri)
		}
	}
}
