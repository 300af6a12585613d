package jwtauth

import (
	"net/netip"
	"net/url"
	"strings"
)

// Request is what Authenticate needs to know about a request.
type Request struct {
	// Method is the :method.
	Method string
	// Path is the judged path of route.CanonicalPath (no query).
	Path string
	// Header returns the value of a request header, by lower-case name.
	Header func(name string) (string, bool)
	// Query is the raw query string of the :path, without "?".
	Query string
	// ClientIP is the client address (clientip.Resolver); failures are
	// counted per client IP. The zero Addr disables counting.
	ClientIP netip.Addr
	// MayWait allows a Wait decision when keys are being fetched. The plugin
	// sets it on the first attempt and clears it when it re-runs a paused
	// request (keys arrived or the fetch timed out).
	MayWait bool
}

// location is where a token was found, so it can be removed.
type location struct {
	kind int // locHeader, locParam, locCookie
	name string
}

const (
	locHeader = iota
	locParam
	locCookie
)

// extraction is the token found for one provider.
type extraction struct {
	token  string
	found  []location
	reason Reason // "", missing, too_large or multiple_tokens
}

// reqView parses the query and cookies of a request at most once.
type reqView struct {
	req        *Request
	query      url.Values
	queryDone  bool
	cookies    map[string][]string
	cookieDone bool
}

func (v *reqView) header(name string) (string, bool) {
	if v.req.Header == nil {
		return "", false
	}
	return v.req.Header(name)
}

func (v *reqView) param(name string) []string {
	if !v.queryDone {
		v.queryDone = true
		if v.req.Query != "" {
			// ParseQuery keeps what it could parse when it meets a bad pair.
			v.query, _ = url.ParseQuery(v.req.Query)
		}
	}
	return v.query[name]
}

func (v *reqView) cookie(name string) []string {
	if !v.cookieDone {
		v.cookieDone = true
		if h, ok := v.header("cookie"); ok {
			v.cookies = parseCookies(h)
		}
	}
	return v.cookies[name]
}

// parseCookies splits a Cookie header (RFC 6265 §4.2.1) into name → values.
func parseCookies(h string) map[string][]string {
	out := map[string][]string{}
	for part := range strings.SplitSeq(h, ";") {
		name, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		if !ok || name == "" {
			continue
		}
		val = strings.TrimSpace(val)
		if len(val) >= 2 && val[0] == '"' && val[len(val)-1] == '"' {
			val = val[1 : len(val)-1]
		}
		out[name] = append(out[name], val)
	}
	return out
}

// extract finds p's token. Oversize values are refused before anything
// else looks at them; two different tokens are a malformed request.
func (v *reqView) extract(p *provider, maxBytes int) extraction {
	var e extraction
	add := func(tok string, loc location) {
		if e.reason == ReasonTooLarge || e.reason == ReasonMultipleTokens {
			return
		}
		if len(tok) > maxBytes {
			e.reason = ReasonTooLarge
			return
		}
		if e.token != "" && e.token != tok {
			e.reason = ReasonMultipleTokens
			return
		}
		e.token = tok
		e.found = append(e.found, loc)
	}
	for _, hs := range p.fromHeaders {
		val, ok := v.header(hs.Name)
		if !ok {
			continue
		}
		if hs.ValuePrefix != "" {
			if len(val) < len(hs.ValuePrefix) || !strings.EqualFold(val[:len(hs.ValuePrefix)], hs.ValuePrefix) {
				continue
			}
			val = val[len(hs.ValuePrefix):]
		}
		if val = strings.TrimSpace(val); val != "" {
			add(val, location{locHeader, hs.Name})
		}
	}
	for _, name := range p.fromParams {
		for _, val := range v.param(name) {
			if val != "" {
				add(val, location{locParam, name})
			}
		}
	}
	for _, name := range p.fromCookies {
		for _, val := range v.cookie(name) {
			if val != "" {
				add(val, location{locCookie, name})
			}
		}
	}
	if e.reason == "" && e.token == "" {
		e.reason = ReasonMissing
	}
	return e
}

// RemoveQueryParams returns path (a :path with optional query) without the
// query parameters named in names, keeping every other byte as it was.
func RemoveQueryParams(path string, names []string) string {
	base, query, ok := strings.Cut(path, "?")
	if !ok || len(names) == 0 {
		return path
	}
	var kept []string
	for pair := range strings.SplitSeq(query, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, err := url.QueryUnescape(key); err == nil && containsString(names, k) {
			continue
		}
		kept = append(kept, pair)
	}
	if len(kept) == 0 {
		return base
	}
	return base + "?" + strings.Join(kept, "&")
}

// RemoveCookies returns a Cookie header value without the cookies named in
// names, and whether anything is left.
func RemoveCookies(header string, names []string) (string, bool) {
	var kept []string
	for part := range strings.SplitSeq(header, ";") {
		p := strings.TrimSpace(part)
		if p == "" {
			continue
		}
		name, _, _ := strings.Cut(p, "=")
		if containsString(names, name) {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "; "), len(kept) > 0
}
