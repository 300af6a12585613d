package jwtauth

import "strings"

// RequestHeaders is the request header map the upstream will receive: the
// host's, in the plugin. Forward reads and edits it; the plugin logs each
// failed edit.
type RequestHeaders interface {
	// MayHave reports whether the header name (lower case) may be present:
	// false only when the headers were read for the decision and name was
	// not among them, so nothing needs removing.
	MayHave(name string) bool
	// Get is a header's value as read for the decision.
	Get(name string) (string, bool)
	// Cookies is the value of every Cookie header, in order.
	Cookies() ([]string, error)
	Remove(name string) error
	Replace(name, value string) error
	Add(name, value string) error
}

// Forward makes an allowed request's headers what the upstream may
// receive: client-sent copies of the headers apiguard sets are removed
// first, then the token is stripped from wherever it came (unless
// `forward`), then the claim headers are set. changed reports whether it
// edited the headers, so the caller drops what it cached of them.
//
// It reports ok false when a header could not be changed: the request must
// not then reach the upstream with a client-forged claim header or the token.
func (r *Result) Forward(h RequestHeaders) (changed, ok bool) {
	changed = len(r.RemoveParams) > 0 || len(r.RemoveCookies) > 0 || len(r.SetHeaders) > 0
	ok = true
	for _, name := range r.RemoveHeaders {
		if setsHeader(r.SetHeaders, name) {
			continue // replacing a header drops every client-sent copy of it
		}
		if !h.MayHave(strings.ToLower(name)) {
			continue
		}
		changed = true
		if err := h.Remove(name); err != nil {
			ok = false
		}
	}
	if len(r.RemoveParams) > 0 {
		// A request without a :path has no query to strip.
		if raw, present := h.Get(":path"); present {
			if err := h.Replace(":path", RemoveQueryParams(raw, r.RemoveParams)); err != nil {
				ok = false
			}
		}
	}
	if len(r.RemoveCookies) > 0 && !stripCookies(h, r.RemoveCookies) {
		ok = false
	}
	for _, kv := range r.SetHeaders {
		if err := h.Replace(kv[0], kv[1]); err != nil {
			ok = false
		}
	}
	return changed, ok
}

// setsHeader reports whether set (lower-case names) sets name.
func setsHeader(set [][2]string, name string) bool {
	for _, kv := range set {
		if kv[0] == name {
			return true
		}
	}
	return false
}

// stripCookies rewrites every Cookie header without the named cookies,
// keeping the others byte for byte, as one Cookie header. It reports false
// when the headers could not be read or changed: the token cookie may then
// still be there.
func stripCookies(h RequestHeaders, names []string) bool {
	all, err := h.Cookies()
	if err != nil {
		return false
	}
	var kept []string
	for _, v := range all {
		if rest, ok := RemoveCookies(v, names); ok {
			kept = append(kept, rest)
		}
	}
	if err := h.Remove("cookie"); err != nil {
		return false
	}
	if len(kept) > 0 {
		if err := h.Add("cookie", strings.Join(kept, "; ")); err != nil {
			return false
		}
	}
	return true
}
