package route

import (
	"errors"
	"net/netip"
	"strings"
)

// standardMethods are the methods of RFC 9110 section 9 and PATCH (RFC 5789).
var standardMethods = []string{"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

// CheckMethod refuses a :method that is not a token, or that equals a
// standard method case-insensitively but not exactly ("head", "Delete").
// Methods are case-sensitive (RFC 9110 section 9.1), but routers disagree:
// Go's ServeMux and nginx treat "delete" as an unknown method, some Node and
// Python frameworks upper-case it first. A rule on DELETE must not miss a
// request that its upstream serves as DELETE, and the response filter must
// not skip the body of a "head" request the upstream answers with one.
func CheckMethod(m string) error {
	switch m {
	case "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH":
		return nil // standardMethods: tokens, upper case
	}
	if !isToken(m) {
		return errors.New("route: the method is not a token")
	}
	// The standard methods are upper case: only a method with a lower-case
	// letter can be a case variant of one (a token is ASCII).
	if !hasLower(m) {
		return nil
	}
	for _, s := range standardMethods {
		if m != s && strings.EqualFold(m, s) {
			return errors.New("route: the method is a case variant of " + s)
		}
	}
	return nil
}

func hasLower(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i]-'a' <= 'z'-'a' {
			return true
		}
	}
	return false
}

// ErrInvalidAuthority is wrapped by CanonicalAuthority's errors.
var ErrInvalidAuthority = errors.New("route: invalid authority")

// CanonicalAuthority returns the form of an :authority that rules judge:
// host lower-cased (Envoy's virtual-host matching ignores case, RFC 9110
// section 4.2.3), without a trailing dot on a DNS name ("admin.local." is
// the fully qualified "admin.local"), and without a port equal to destPort
// (the port the request arrived on, Envoy's destination.port; 0 if unknown)
// or an empty port ("admin.local:"). Userinfo, spaces, control bytes and
// anything else a host cannot hold are refused.
func CanonicalAuthority(a string, destPort int) (string, error) {
	if plainHost(a) {
		return a, nil // what canonicalAuthority returns for it, in one pass
	}
	return canonicalAuthority(a, destPort)
}

// canonicalAuthority is CanonicalAuthority step by step.
func canonicalAuthority(a string, destPort int) (string, error) {
	if a == "" {
		return "", nil
	}
	host, port := a, ""
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", ErrInvalidAuthority
		}
		host, port = a[:end+1], a[end+1:]
		if _, err := netip.ParseAddr(host[1 : len(host)-1]); err != nil {
			return "", ErrInvalidAuthority
		}
		if port != "" && port[0] != ':' {
			return "", ErrInvalidAuthority
		}
	} else if i := strings.LastIndexByte(a, ':'); i >= 0 {
		host, port = a[:i], a[i:]
	}
	if port != "" {
		port = port[1:]
		n := 0
		for i := 0; i < len(port); i++ {
			c := port[i]
			if c < '0' || c > '9' || i >= 5 {
				return "", ErrInvalidAuthority
			}
			n = n*10 + int(c-'0')
		}
		if n > 65535 || len(port) > 1 && port[0] == '0' {
			return "", ErrInvalidAuthority
		}
		if port == "" || destPort > 0 && n == destPort {
			port = ""
		}
	}
	if !strings.HasPrefix(host, "[") {
		host = strings.TrimSuffix(host, ".")
		if host == "" || strings.HasPrefix(host, ".") || strings.HasSuffix(host, ".") || strings.Contains(host, "..") {
			return "", ErrInvalidAuthority // an empty label
		}
		for i := 0; i < len(host); i++ {
			c := host[i]
			if byteClasses[c]&classHost == 0 {
				return "", ErrInvalidAuthority // '%', '@', '/', spaces, non-ASCII...
			}
		}
	}
	host = strings.ToLower(host)
	if port != "" {
		return host + ":" + port, nil
	}
	return host, nil
}
