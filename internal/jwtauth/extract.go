package jwtauth

import (
	"net/netip"
	"net/url"
	"strings"
	"unsafe"

	"github.com/apiguard/apiguard/internal/paramname"
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
	// ClientIP is the client address (clientip.Resolver), or its network
	// (clientip.Resolver.Network: an IPv6 client's /64); failures are
	// counted per value. The zero Addr disables counting.
	ClientIP netip.Addr
	// Bodiless is true when the request headers ended the stream (the
	// headers callback's end_of_stream): no body follows, whatever the
	// headers say. Only such a request can be a CORS preflight.
	Bodiless bool
	// MayWait allows a Wait decision when keys are being fetched. The plugin
	// sets it on the first attempt and clears it when it re-runs a paused
	// request (keys arrived or the fetch timed out).
	MayWait bool
	// Scratch, when set, is storage the call reuses for its working state
	// and the Result's slices instead of allocating them (see Scratch).
	Scratch *Scratch
}

// Scratch is storage that Authenticate calls reuse: in a Wasm guest every
// slice made per request is an allocation, and garbage the collector must
// trace. A Result of a call with a Scratch shares its storage, so it is
// valid until the next call with the same Scratch, and one Scratch serves
// one call at a time. The zero Scratch is ready to use.
type Scratch struct {
	done   []providerResult
	found  [][]location // by provider index, extract's storage
	remove []string
	set    [][2]string
}

// providerResults returns n zero results, in the Scratch's storage when
// there is one.
func (sc *Scratch) providerResults(n int) []providerResult {
	if sc == nil {
		return make([]providerResult, n)
	}
	if cap(sc.done) < n {
		sc.done = make([]providerResult, n)
	}
	sc.done = sc.done[:n]
	clear(sc.done)
	return sc.done
}

// foundBuf is where extract appends the locations of provider i's token.
func (sc *Scratch) foundBuf(i int) []location {
	if sc == nil || i >= len(sc.found) {
		return nil
	}
	return sc.found[i][:0]
}

// keepFound keeps the storage extract used for provider i.
func (sc *Scratch) keepFound(i, providers int, found []location) {
	if sc == nil || cap(found) == 0 {
		return
	}
	if len(sc.found) < providers {
		sc.found = append(sc.found, make([][]location, providers-len(sc.found))...)
	}
	sc.found[i] = found[:0]
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
	// foreign is set when a token header of p held something that is no
	// token in any configured form (another scheme, no prefix, a tab or a
	// second word after it): malformed where a token is required, removed
	// where one is optional.
	foreign bool
}

// reqView parses the query and cookies of a request at most once.
type reqView struct {
	req        *Request
	a          *Authenticator
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

// param returns the values of every query parameter that frameworks may
// read as name (paramKey), in order.
func (v *reqView) param(name string) []string {
	if !v.queryDone {
		v.queryDone = true
		if v.req.Query != "" {
			v.query = parseQuery(v.req.Query)
		}
	}
	if v.query == nil {
		return nil
	}
	key, ok := paramKey(name)
	if !ok {
		return nil
	}
	return v.query[key]
}

// parseQuery maps every parameter of a raw query to its values by paramKey.
// It reads pairs as url.ParseQuery does: split on '&', a pair holding ';'
// or an escape that does not decode skipped (Authenticator.hiddenTokenParam
// refuses such a pair when it names a token parameter).
func parseQuery(query string) url.Values {
	out := url.Values{}
	for pair := range strings.SplitSeq(query, "&") {
		if pair == "" || strings.Contains(pair, ";") {
			continue
		}
		k, val, _ := strings.Cut(pair, "=")
		key, ok := paramKey(k)
		if !ok {
			continue
		}
		value, err := url.QueryUnescape(val)
		if err != nil {
			continue
		}
		out[key] = append(out[key], value)
	}
	return out
}

// paramKey is the name a framework may read a raw query parameter name as
// (paramname.Fold of its percent-decoding, '+' as a space); ok is false when
// the name does not decode.
func paramKey(raw string) (key string, ok bool) {
	key, err := url.QueryUnescape(raw)
	if err != nil {
		return "", false
	}
	return paramname.Fold(key), true
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
		// Cookie parsers trim the name ("session =x" is "session" to Node's
		// cookie and Python's http.cookies), so apiguard reads it so too.
		name = strings.TrimSpace(name)
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
func (v *reqView) extract(p *provider, maxBytes int, found []location) extraction {
	e := extraction{found: found[:0]}
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
		tok, ok := cutPrefix(val, hs.ValuePrefix)
		switch {
		case ok && isTokenValue(tok):
			add(tok, location{locHeader, hs.Name})
		case v.a == nil || !v.a.anotherForm(hs.Name, val):
			e.foreign = true
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

// cutPrefix removes a configured value prefix, compared case-insensitively
// (RFC 9110 section 11.1: auth schemes are case-insensitive), and trailing
// blanks.
func cutPrefix(val, prefix string) (string, bool) {
	if len(val) < len(prefix) || !strings.EqualFold(val[:len(prefix)], prefix) {
		return "", false
	}
	return strings.TrimRight(val[len(prefix):], " \t"), true
}

// isTokenValue reports a non-empty value with no blank or control byte: a
// compact JWS never has one, and anything after one is another word an
// upstream may read as the credential.
func isTokenValue(s string) bool {
	if s == "" {
		return false
	}
	// Eight bytes a step: in Wasm every byte of a byte loop goes through the
	// function's dispatch loop, and a token has hundreds.
	i := 0
	if len(s) >= 8 {
		p := unsafe.Pointer(unsafe.StringData(s))
		for ; i+8 <= len(s); i += 8 {
			if !tokenBytes8(*(*uint64)(unsafe.Add(p, i))) {
				return false
			}
		}
	}
	for ; i < len(s); i++ {
		if s[i] <= ' ' || s[i] == 0x7f {
			return false
		}
	}
	return true
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// tokenBytes8 reports whether none of the eight bytes in v is a blank, a
// control byte or DEL (the "has a byte less than n" and "has a zero byte"
// tests of Bit Twiddling Hacks; exact as to whether such a byte exists).
func tokenBytes8(v uint64) bool {
	del := v ^ (lsb8 * 0x7f)
	hit := (v-lsb8*0x21)&^v | (del-lsb8)&^del
	return hit&msb8 == 0
}

// RemoveQueryParams returns path (a :path with optional query) without the
// query parameters that frameworks may read as one of names (paramKey: any
// case, percent-encoded, a PHP array), keeping every other byte as it was.
func RemoveQueryParams(path string, names []string) string {
	base, query, ok := strings.Cut(path, "?")
	if !ok || len(names) == 0 {
		return path
	}
	keys := make([]string, 0, len(names))
	for _, n := range names {
		if k, ok := paramKey(n); ok {
			keys = append(keys, k)
		}
	}
	var kept []string
	for pair := range strings.SplitSeq(query, "&") {
		key, _, _ := strings.Cut(pair, "=")
		if k, ok := paramKey(key); ok && containsString(keys, k) {
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
		if containsString(names, strings.TrimSpace(name)) {
			continue
		}
		kept = append(kept, p)
	}
	return strings.Join(kept, "; "), len(kept) > 0
}
