// Package canon judges what the upstream will act on. Before any policy
// reads a request, Inspect checks its path, method, authority and headers,
// and either plans the changes that make the forwarded request exactly the
// one the policies judge (a canonical :path or :authority, headers removed)
// or refuses it with a request reason (400). It never guesses how an
// upstream will read something two routers read differently.
package canon

import (
	"net/url"
	"slices"
	"strings"
	"unsafe"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/paramname"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/verdict"
)

// Config holds the top-level request settings. JSON keys:
type Config struct {
	// path_normalization: "refuse" (default) or "rewrite" (route.CanonicalPath).
	PathNormalization route.PathMode `json:"path_normalization,omitempty" config:"enum=refuse|rewrite"`
	// authority_normalization: "rewrite" (default): :authority is replaced by
	// its canonical form (route.CanonicalAuthority) before any stage reads it;
	// "refuse": a non-canonical :authority gets 400.
	AuthorityNormalization string `json:"authority_normalization,omitempty" config:"enum=rewrite|refuse"`
	// method_override: "refuse" (default): a request with
	// X-HTTP-Method-Override, X-Method-Override, X-HTTP-Method (any case,
	// '_' for '-') or a _method query parameter gets 400, since frameworks
	// route on them; "remove": they are removed before forwarding.
	MethodOverride string `json:"method_override,omitempty" config:"enum=refuse|remove"`
	// headers_with_underscores: Envoy's headers_with_underscores_action in
	// apiguard's words (DROP_HEADER is "remove", REJECT_REQUEST "refuse", as
	// in the other request settings). "remove" (default): a header whose name
	// has '_' and maps, with '_' read as '-', onto a header apiguard sets or
	// decides on is removed; "refuse": any header name with '_' gets 400;
	// "allow": such headers pass, except spellings of the headers apiguard
	// sets, which are always removed.
	HeadersWithUnderscores string `json:"headers_with_underscores,omitempty" config:"enum=remove|refuse|allow,renamed_values=drop>remove|reject>refuse"`
}

// Validate checks the enumerations.
func (c *Config) Validate() error {
	if !oneOf(string(c.PathNormalization), "", string(route.PathRefuse), string(route.PathRewrite)) {
		return config.Errorf("path_normalization", `must be "refuse" or "rewrite"`)
	}
	if !oneOf(c.AuthorityNormalization, "", "rewrite", "refuse") {
		return config.Errorf("authority_normalization", `must be "rewrite" or "refuse"`)
	}
	if !oneOf(c.MethodOverride, "", "refuse", "remove") {
		return config.Errorf("method_override", `must be "refuse" or "remove"`)
	}
	if !oneOf(c.HeadersWithUnderscores, "", "remove", "refuse", "allow") {
		return config.Errorf("headers_with_underscores", `must be "remove", "refuse" or "allow"`)
	}
	return nil
}

func oneOf(v string, set ...string) bool { return slices.Contains(set, v) }

// overrideHeaders are the method-override headers frameworks honour
// (Rack::MethodOverride, Express's method-override, Symfony, ASP.NET, Spring's
// HiddenHttpMethodFilter reads the _method parameter), in their mapped
// spelling: a WSGI or CGI upstream reads x_http_method_override as one.
var overrideHeaders = []string{"x-http-method-override", "x-method-override", "x-http-method"}

// pathOverrideHeaders are the headers IIS URL Rewrite, Symfony (before 5.x)
// and Zend route on instead of the request line: a request carrying one
// would reach another handler than the path apiguard judged. Refused, in
// every spelling, whatever method_override says: no client needs them.
var pathOverrideHeaders = []string{"x-original-url", "x-rewrite-url"}

// hostOverrideHeaders are the headers frameworks behind "trusted proxies"
// read as the host or path prefix (absolute URLs, host-based routing)
// instead of :authority: X-Forwarded-Host, X-Forwarded-Prefix (Spring,
// ASP.NET), X-Original-Host, X-Host, X-HTTP-Host-Override. Envoy's own
// X-Forwarded-Host (append_x_forwarded_host) is added by the router, after
// this filter: a client's is removed, in every spelling, so the upstream
// reads the judged authority.
var hostOverrideHeaders = []string{"x-forwarded-host", "x-forwarded-prefix", "x-original-host", "x-host", "x-http-host-override"}

// envoyOwnedTrailers are headers Envoy itself sets on requests (with the
// x-envoy- prefix): in request trailers nobody set them, and an upstream
// that merges trailers into headers would read a forged client address,
// original path or request id.
var envoyOwnedTrailers = []string{"x-forwarded-for", "forwarded", "x-request-id", "x-envoy-original-path"}

// overrideParam is the query parameter of method overrides.
const overrideParam = "_method"

// Inputs is what the policies contribute to the guard.
type Inputs struct {
	Config Config
	// Protected are the headers apiguard sets on requests (claim_to_headers,
	// forward_payload_header): every client spelling of them is removed.
	Protected []string
	// Watched are the headers a decision reads (match conditions, key parts,
	// token headers, x-forwarded-for when trusted): repeats are refused.
	Watched []string
	// Matches are every configured rule's match, to refuse paths on which
	// routers disagree about the rule (route.Matcher.Ambiguous).
	Matches []route.Match
}

// Guard is a compiled Inputs; immutable and safe for concurrent use.
type Guard struct {
	cfg       Config
	watched   nameSet // lower case
	protected nameSet // lower case, '-' for '_'
	sensitive nameSet // protected and watched, lower case, '-' for '_'
	// overridesOnly: no header is protected or watched and underscores are
	// not refused, so of all the header checks only overrideHeader's apply
	// (inspectOverrides).
	overridesOnly bool
	// routes indexes the configured path conditions for the ambiguity
	// check (route.Index).
	routes *route.Index
}

// New compiles in.
func New(in Inputs) (*Guard, error) {
	if err := in.Config.Validate(); err != nil {
		return nil, err
	}
	g := &Guard{cfg: in.Config}
	for _, h := range in.Protected {
		g.protected.add(mapped(h))
		g.sensitive.add(mapped(h))
	}
	for _, h := range in.Watched {
		h = strings.ToLower(h)
		if h == "host" {
			h = ":authority"
		}
		if strings.HasPrefix(h, ":") || h == "cookie" {
			// Envoy refuses repeated pseudo-headers; repeated cookie headers
			// are one list (RFC 9113 section 8.2.3), and token cookies are
			// checked one by one (multiple_tokens).
			continue
		}
		g.watched.add(h)
		g.sensitive.add(mapped(h))
	}
	var matchers []*route.Matcher
	for _, m := range in.Matches {
		if m.Path == "" && m.Prefix == "" && m.Regex == "" && m.PathTemplate == "" {
			continue
		}
		c, err := route.Compile(m)
		if err != nil {
			return nil, err
		}
		matchers = append(matchers, c)
	}
	g.routes = route.NewIndex(matchers)
	g.overridesOnly = g.sensitive.len() == 0 && g.cfg.HeadersWithUnderscores != "refuse"
	return g, nil
}

// nameSet is a set of header names, each with its position. A request's
// every header name is looked up in the guard's sets: in a Wasm guest a map
// lookup costs about 20x what it does natively, so a name is first ruled
// out by its length (one bit test, which is all most names take), and then
// compared with the few names of that length; a large set (many header
// conditions) keeps a map beside the list.
type nameSet struct {
	names []string
	// lengths has bit n set when a name is n bytes long, bit 63 for
	// names of 63 bytes and more.
	lengths uint64
	// index is names by position, once there are more than
	// maxScannedNames.
	index map[string]int
}

// maxScannedNames is the most names a nameSet compares one by one.
const maxScannedNames = 16

func lengthBit(name string) uint64 { return 1 << min(len(name), 63) }

// add adds name, once.
func (s *nameSet) add(name string) {
	if s.find(name) >= 0 {
		return
	}
	s.names = append(s.names, name)
	s.lengths |= lengthBit(name)
	if len(s.names) > maxScannedNames {
		if s.index == nil {
			s.index = make(map[string]int, len(s.names))
			for i, n := range s.names {
				s.index[n] = i
			}
		}
		s.index[name] = len(s.names) - 1
	}
}

func (s *nameSet) len() int { return len(s.names) }

// find is name's position in the set, -1 when it is not in it.
func (s *nameSet) find(name string) int {
	if s.lengths&lengthBit(name) == 0 {
		return -1
	}
	return s.lookup(name)
}

// has reports whether name is in the set.
func (s *nameSet) has(name string) bool {
	return s.lengths&lengthBit(name) != 0 && s.lookup(name) >= 0
}

func (s *nameSet) lookup(name string) int {
	if s.index != nil {
		if i, ok := s.index[name]; ok {
			return i
		}
		return -1
	}
	for i, n := range s.names {
		if n == name {
			return i
		}
	}
	return -1
}

// mapped is the name an upstream may read a header name as: lower case,
// '_' as '-' (CGI's HTTP_X_USER is both x-user and x_user).
func mapped(name string) string {
	return strings.ReplaceAll(strings.ToLower(name), "_", "-")
}

// Plan is what Inspect decided.
type Plan struct {
	// Refuse is set when the request must be answered 400; Message says why
	// in a few words (no request data).
	Refuse  verdict.Reason
	Message string

	// Judged values: what every policy reads.
	Path      string // canonical path, no query
	Method    string
	Authority string

	// SetPath and SetAuthority are the new :path and :authority, "" when
	// unchanged. RemoveHeaders are header names, as sent, to remove.
	SetPath       string
	SetAuthority  string
	RemoveHeaders []string
}

func refuse(r verdict.Reason, msg string) Plan { return Plan{Refuse: r, Message: msg} }

// Inspect judges a request from its header pairs (names as sent) and the
// port it arrived on (destination.port, read only when the authority has a
// port; 0 if unknown).
func (g *Guard) Inspect(pairs [][2]string, destPort func() int) Plan {
	var path, method, authority string
	var hasPath bool
	for _, kv := range pairs {
		if kv[0] == "" || kv[0][0] != ':' {
			continue // one byte compared, not three names
		}
		switch kv[0] {
		case ":path":
			path, hasPath = kv[1], true
		case ":method":
			method = kv[1]
		case ":authority":
			authority = kv[1]
		}
	}
	if !hasPath {
		return refuse(verdict.MissingPath, "missing :path")
	}
	if err := route.CheckMethod(method); err != nil {
		return refuse(verdict.NonCanonicalMethod, "the method must be a token, and standard methods upper case")
	}
	judged, fwd, err := route.CanonicalPath(path, g.cfg.PathNormalization)
	if err != nil {
		return refuse(verdict.NonCanonicalPath, "the request path is not in canonical form")
	}
	if g.routes.AnyAmbiguous(judged) {
		return refuse(verdict.NonCanonicalPath, "the request path differs from a configured route only in case or a trailing slash")
	}
	p := Plan{Path: judged, Method: method}
	if fwd != path {
		p.SetPath = fwd
	}
	if authority != "" {
		port := 0
		if strings.IndexByte(authority, ':') >= 0 && destPort != nil {
			port = destPort()
		}
		canonical, err := route.CanonicalAuthority(authority, port)
		if err != nil {
			return refuse(verdict.NonCanonicalAuthority, "the authority is not a host and port")
		}
		if canonical != authority {
			if g.cfg.AuthorityNormalization == "refuse" {
				return refuse(verdict.NonCanonicalAuthority, "the authority is not in canonical form")
			}
			p.SetAuthority = canonical
		}
		p.Authority = canonical
	}
	if r, msg := g.inspectHeaders(pairs, &p); r != "" {
		return refuse(r, msg)
	}
	base, query, hasQuery := strings.Cut(fwd, "?")
	if hasQuery && nulInParamName(query) {
		return refuse(verdict.NonCanonicalPath, "a query parameter name holds NUL")
	}
	if hasQuery && hasParam(query, overrideParam) {
		if g.cfg.MethodOverride != "remove" {
			return refuse(verdict.MethodOverride, "method override parameters are refused")
		}
		if q := removeParam(query, overrideParam); q != "" {
			p.SetPath = base + "?" + q
		} else {
			p.SetPath = base
		}
	}
	return p
}

// inspectHeaders checks repeats, method overrides and underscore spellings,
// and adds the removals to p.
func (g *Guard) inspectHeaders(pairs [][2]string, p *Plan) (verdict.Reason, string) {
	if g.overridesOnly {
		return g.inspectOverrides(pairs, p)
	}
	allow := g.cfg.HeadersWithUnderscores == "allow"
	// Repeats are counted only for headers a decision reads; with none
	// (the empty configuration), no name is looked up. A name is counted
	// under its lower-case spelling among the watched names, or, with
	// underscores allowed, under its mapped spelling among the sensitive
	// ones: a watched name's mapped spelling is sensitive, so
	// watched[key] || sensitive[key] is sensitive[key] alone.
	counted := &g.watched
	if allow {
		counted = &g.sensitive
	}
	counting := counted.len() > 0
	// seen has a bit per counted name's position, on the stack for the
	// usual few names.
	var seenWords [2]uint64
	seen := seenWords[:]
	if n := counted.len(); n > 64*len(seenWords) {
		seen = make([]uint64, (n+63)/64)
	}
	for _, kv := range pairs {
		name := kv[0]
		if name == "" || name[0] == ':' {
			continue
		}
		// Names come lower case with '-' from Envoy's codecs: then the
		// three spellings are the name itself, and nothing is allocated.
		lower, key, underscore := name, name, false
		if !plainName(name) {
			lower, key = strings.ToLower(name), mapped(name)
			underscore = strings.IndexByte(name, '_') >= 0
		}
		count := lower
		if allow {
			count = key // x_api_key and x-api-key reach a CGI upstream as one
		}
		if counting {
			if i := counted.find(count); i >= 0 {
				bit := uint64(1) << (i % 64)
				if seen[i/64]&bit != 0 {
					return verdict.RepeatedHeader, "a header that apiguard decides on was sent more than once"
				}
				seen[i/64] |= bit
			}
		}
		if mayBeOverride(key) {
			if r, msg, handled := g.overrideHeader(name, key, p); handled {
				if r != "" {
					return r, msg
				}
				continue
			}
		}
		switch {
		case underscore && g.cfg.HeadersWithUnderscores == "refuse":
			return verdict.HeaderWithUnderscores, "header names with underscores are refused"
		case g.protected.has(key):
			p.RemoveHeaders = appendOnce(p.RemoveHeaders, name)
		case underscore && !allow && g.sensitive.has(key):
			p.RemoveHeaders = appendOnce(p.RemoveHeaders, name)
		}
	}
	return "", ""
}

// overrideHeader applies the rules on override headers and host overrides
// to the header name, given its mapped spelling key: it is refused (a
// reason), removed, or neither (handled false). Overrides are judged on the
// mapped name: an upstream that folds '_' into '-' applies
// x_http_method_override as the real one.
func (g *Guard) overrideHeader(name, key string, p *Plan) (r verdict.Reason, msg string, handled bool) {
	if !mayBeOverride(key) {
		return "", "", false
	}
	switch {
	case oneOf(key, overrideHeaders...):
		if g.cfg.MethodOverride != "remove" {
			return verdict.MethodOverride, "method override headers are refused", true
		}
		p.RemoveHeaders = appendOnce(p.RemoveHeaders, name)
		return "", "", true
	case oneOf(key, pathOverrideHeaders...):
		return verdict.PathOverride, "path override headers are refused", true
	case oneOf(key, hostOverrideHeaders...):
		p.RemoveHeaders = appendOnce(p.RemoveHeaders, name)
		return "", "", true
	}
	return "", "", false
}

// overrideNameLengths has bit n set when a spelling of a name
// overrideHeader acts on can be n bytes long: its own length, and one more
// for each 'i' spelled 'İ' (two bytes that lower-case to 'i').
var overrideNameLengths = func() (bits uint64) {
	for _, list := range [][]string{overrideHeaders, pathOverrideHeaders, hostOverrideHeaders} {
		for _, name := range list {
			for extra := range strings.Count(name, "i") + 1 {
				bits |= 1 << (len(name) + extra)
			}
		}
	}
	return bits
}()

// mayBeOverride reports whether overrideHeader may act on a mapped name:
// every name it acts on starts with "x-" and has one of a few lengths
// (overrideNameLengths), so most names (x-request-id, x-forwarded-proto)
// are ruled out without a call or a name compared.
func mayBeOverride(key string) bool {
	n := len(key) // a length with its bit set is at least 6
	return n < 64 && overrideNameLengths&(1<<n) != 0 && key[0] == 'x' && key[1] == '-'
}

// inspectOverrides is inspectHeaders when only overrideHeader's rules apply
// (Guard.overridesOnly): with nothing protected or watched, no name is
// counted, removed as a spelling or refused for an underscore. A name's
// mapped spelling can be one of those names only if it has that name's
// length, or that length and one byte per 'i': each of its bytes must map to
// one ASCII letter or '-', and the only non-ASCII characters that lower-case
// to ASCII are 'İ' (two bytes, to 'i': overrideNameLengths counts it) and
// the Kelvin sign (to 'k', which none of them has: TestOverrideNamesHaveNoK).
// So names of other lengths are skipped unread. All of them start with "x-", and only 'x' and
// 'X' lower-case to 'x', only '-' and '_' map to '-'
// (TestOnlyXMapsToXDash): a name whose first two bytes are not those is
// skipped too, as most request headers are (accept-encoding,
// x-forwarded-for passes).
func (g *Guard) inspectOverrides(pairs [][2]string, p *Plan) (verdict.Reason, string) {
	for _, kv := range pairs {
		name := kv[0]
		// A length with its bit set is at least 6: name[1] exists.
		if n := len(name); n >= 64 || overrideNameLengths&(1<<n) == 0 ||
			name[0]|0x20 != 'x' || name[1] != '-' && name[1] != '_' {
			continue
		}
		key := name
		if !plainName(name) {
			key = mapped(name)
		}
		if r, msg, _ := g.overrideHeader(name, key, p); r != "" {
			return r, msg
		}
	}
	return "", ""
}

// trailerCredentials are removed from request trailers whatever the
// configuration: RFC 9110 section 6.5.1 leaves authentication out of
// trailers, and an upstream that merges trailers into its headers would
// otherwise read a credential nobody verified.
var trailerCredentials = []string{"authorization", "proxy-authorization", "cookie"}

// TrailerRemovals names the request trailers (as sent) to remove before they
// reach the upstream: every spelling of a header apiguard sets or decides on
// (credentials included), of an override header, of a host override
// (X-Forwarded-Host, ...), of a header Envoy owns (X-Forwarded-For,
// Forwarded, X-Request-Id, x-envoy-*), and the credential fields. Trailers come after every decision, so nothing in
// them was judged; an upstream that reads them as headers must not find a
// forged claim header or an unverified token there.
func (g *Guard) TrailerRemovals(pairs [][2]string) []string {
	var remove []string
	for _, kv := range pairs {
		name := kv[0]
		if name == "" || name[0] == ':' {
			continue
		}
		key := name
		if !plainName(name) {
			key = mapped(name)
		}
		if g.sensitive.has(key) || oneOf(key, hostOverrideHeaders...) || oneOf(key, trailerCredentials...) ||
			oneOf(key, overrideHeaders...) || oneOf(key, pathOverrideHeaders...) ||
			oneOf(key, envoyOwnedTrailers...) || strings.HasPrefix(key, "x-envoy-") {
			remove = appendOnce(remove, name)
		}
	}
	return remove
}

// plainName reports whether name is its own lower-case, '-' for '_'
// spelling: no upper-case letter, no '_', nothing but ASCII.
//
// It takes eight bytes a step (compiled to Wasm, a loop per byte costs a
// pass through the function's dispatch loop per byte): every request header
// name goes through it. The test is of each byte alone, so the tail is the
// name's last eight bytes, overlapping the words before, and a name of four
// to seven bytes is its first four and last four: no byte loop but for
// names shorter than four bytes.
func plainName(name string) bool {
	n := len(name)
	p := unsafe.Pointer(unsafe.StringData(name))
	if n >= 8 {
		for i := 0; i+8 <= n; i += 8 {
			if !plainWord(*(*uint64)(unsafe.Add(p, i))) {
				return false
			}
		}
		return n%8 == 0 || plainWord(*(*uint64)(unsafe.Add(p, n-8)))
	}
	if n >= 4 {
		return plainWord(uint64(*(*uint32)(p)) | uint64(*(*uint32)(unsafe.Add(p, n-4)))<<32)
	}
	for i := 0; i < n; i++ {
		if c := name[i]; c-'A' <= 'Z'-'A' || c == '_' || c >= 0x80 {
			return false
		}
	}
	return true
}

// plainWord is plainName's test on eight bytes at once.
func plainWord(x uint64) bool {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	if x&highs != 0 {
		return false // a byte >= 0x80
	}
	// With every high bit clear, adding 0x80-'A' sets a byte's high bit iff
	// it is >= 'A', adding 0x80-('Z'+1) iff it is > 'Z', and no sum carries
	// into the next byte: the two differ exactly on upper-case letters.
	if ((x+(0x80-'A')*ones)^(x+(0x80-'Z'-1)*ones))&highs != 0 {
		return false
	}
	v := x ^ '_'*ones // a zero byte where x has '_'
	return (v-ones)&^v&highs == 0
}

func appendOnce(list []string, s string) []string {
	if slices.Contains(list, s) {
		return list
	}
	return append(list, s)
}

// nulInParamName reports whether a parameter name of the raw query decodes
// to a name holding NUL: parsers written in C end the name there, so
// access_token%00 is access_token to them and something else to apiguard.
func nulInParamName(query string) bool {
	// A query with no '%' (most) is told by one byte scan; a substring
	// search costs a few more in Wasm.
	if strings.IndexByte(query, '%') < 0 || !strings.Contains(query, "%00") {
		return false
	}
	for pair := range strings.FieldsFuncSeq(query, func(r rune) bool { return r == '&' || r == ';' }) {
		key, _, _ := strings.Cut(pair, "=")
		if strings.Contains(key, "%00") {
			return true
		}
	}
	return false
}

// hasParam reports whether the raw query has a parameter named name (folded
// by paramname.Fold), in any spelling that decodes and folds to it
// ("%5Fmethod", "_METHOD", ".method", "+_method", "_method[]"), with '&' or
// ';' as separators (some frameworks split on both).
func hasParam(query, name string) bool {
	// A key decodes and folds (paramname.Fold) to name only if its first
	// byte is name's, name's in upper case, '.' or ' ' for '_', or starts an
	// escape ('+' decodes to a space, and leading spaces are dropped): a
	// query with none of them holds no such key, which a few scans tell.
	if name == "" {
		return false
	}
	first := name[0]
	if strings.IndexByte(query, first) < 0 && strings.IndexByte(query, '%') < 0 && strings.IndexByte(query, '+') < 0 &&
		strings.IndexByte(query, ' ') < 0 && (first < 'a' || first > 'z' || strings.IndexByte(query, first-'a'+'A') < 0) &&
		(first != '_' || strings.IndexByte(query, '.') < 0) {
		return false
	}
	for query != "" {
		// One pass over the pair: where its key ends, where the pair ends,
		// and whether the key has an escape or a '+' (only those make the
		// decoded key differ, and the decoder allocate).
		keyEnd, end, encoded := -1, len(query), false
		for i := 0; i < len(query); i++ {
			if c := query[i]; c == '&' || c == ';' {
				end = i
				break
			} else if keyEnd < 0 {
				if c == '=' {
					keyEnd = i
				} else if c == '%' || c == '+' {
					encoded = true
				}
			}
		}
		if keyEnd < 0 {
			keyEnd = end
		}
		k := query[:keyEnd]
		if end < len(query) {
			query = query[end+1:]
		} else {
			query = ""
		}
		if k == name || !encoded && paramname.Fold(k) == name {
			return true
		}
		if encoded {
			if dk, err := url.QueryUnescape(k); err == nil && paramname.Fold(dk) == name {
				return true
			}
		}
	}
	return false
}

// removeParam returns query without the parameters named name, in any
// spelling hasParam finds, every other byte kept.
func removeParam(query, name string) string {
	var kept []string
	for pair := range strings.SplitSeq(query, "&") {
		drop := false
		for _, sub := range strings.Split(pair, ";") {
			k, _, _ := strings.Cut(sub, "=")
			if dk, err := url.QueryUnescape(k); err == nil && paramname.Fold(dk) == name || k == name {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, pair)
		}
	}
	return strings.Join(kept, "&")
}

// Changes reports whether the plan changes the request headers.
func (plan Plan) Changes() bool {
	return plan.SetPath != "" || plan.SetAuthority != "" || len(plan.RemoveHeaders) > 0
}

// Applied is pairs as the plan's changes leave them, so the plugin, once it
// has made them, needs not read the headers again.
func (plan Plan) Applied(pairs [][2]string) [][2]string {
	out := make([][2]string, 0, len(pairs))
	for _, kv := range pairs {
		removed := false
		for _, name := range plan.RemoveHeaders {
			if strings.EqualFold(kv[0], name) {
				removed = true
				break
			}
		}
		switch {
		case removed:
			continue
		case kv[0] == ":path" && plan.SetPath != "":
			kv[1] = plan.SetPath
		case kv[0] == ":authority" && plan.SetAuthority != "":
			kv[1] = plan.SetAuthority
		}
		out = append(out, kv)
	}
	return out
}

// JoinHeaders is the header view every policy reads: names lower case,
// repeated headers joined (cookies with "; ", others with ","), so every
// policy sees every value and a second copy of a header cannot slip past one
// of them.
func JoinHeaders(pairs [][2]string) map[string]string {
	m := make(map[string]string, len(pairs))
	for _, kv := range pairs {
		name := strings.ToLower(kv[0])
		prev, ok := m[name]
		if !ok {
			m[name] = kv[1]
			continue
		}
		sep := ","
		if name == "cookie" {
			sep = "; "
		}
		m[name] = prev + sep + kv[1]
	}
	return m
}
