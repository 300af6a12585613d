package route

import (
	"errors"

	"fmt"
	"github.com/apiguard/apiguard/internal/config"
	"regexp"
	"strconv"
	"strings"
)

// Match selects requests. Every set field must match; the zero Match matches
// every request. At most one of Path, Prefix, Regex and PathTemplate may be
// set.
type Match struct {
	// Path matches the canonical path exactly; "/admin/" and "/admin" are
	// different paths, as they are to Go's ServeMux and nginx.
	Path string `json:"path,omitempty"`
	// Prefix matches whole segments: "/admin" matches "/admin" and
	// "/admin/x" but not "/adminx"; "/admin/" matches "/admin/" and
	// "/admin/x" but not "/admin". "/" matches every path.
	Prefix string `json:"prefix,omitempty"`
	// Regex is an RE2 expression that must match the whole canonical path.
	Regex string `json:"regex,omitempty"`
	// PathTemplate matches the canonical path against an Envoy uri_template
	// ("/users/{id}", "/files/{path=**}", "/v1/*/items"); see template.go
	// for the grammar and for what a variable matches.
	PathTemplate string `json:"path_template,omitempty"`
	// Methods, if set, lists the HTTP methods that match. Config values are
	// upper-cased; the request method is compared exactly (methods are
	// case-sensitive tokens, RFC 9110 section 9.1; apiguard refuses case
	// variants of standard methods before any rule runs). A list with GET
	// also matches HEAD, which every common router serves from GET handlers.
	Methods []string `json:"methods,omitempty"`
	// Headers must all match.
	Headers []HeaderMatch `json:"headers,omitempty"`
	// CaseSensitive makes Path, Prefix, Regex and PathTemplate compare case. By default
	// "/ADMIN" matches a rule for "/admin", because many upstreams (and every
	// case-insensitive file system) serve both.
	CaseSensitive bool `json:"case_sensitive,omitempty"`
}

// HeaderMatch tests one request header. With none of Exact, Prefix and
// Present set, the header must be present. Values compare case-sensitively,
// except those of ":authority" (also spelled "host"), which compare with the
// canonical authority (CanonicalAuthority) case-insensitively, as Envoy's
// virtual-host matching does; names compare case-insensitively.
type HeaderMatch struct {
	Name    string `json:"name" config:"required"`
	Exact   string `json:"exact,omitempty"`
	Prefix  string `json:"prefix,omitempty"`
	Present *bool  `json:"present,omitempty"`
	// Invert negates the result.
	Invert bool `json:"invert,omitempty"`
}

// maxRegexLen bounds configured expressions; RE2 matching is linear in the
// input, but program size grows with the pattern.
const maxRegexLen = 4096

// Validate checks m. config.Decode calls it; Compile calls it too. Errors
// are *config.Error with paths relative to m ("headers[0].name").
func (m *Match) Validate() error {
	set := 0
	for _, s := range []string{m.Path, m.Prefix, m.Regex, m.PathTemplate} {
		if s != "" {
			set++
		}
	}
	if set > 1 {
		return config.Errorf("", "set at most one of path, prefix, regex and path_template")
	}
	if m.Path != "" {
		if _, err := configPath(m.Path); err != nil {
			return config.Errorf("path", "%s", err)
		}
	}
	if m.Prefix != "" {
		if _, err := configPath(m.Prefix); err != nil {
			return config.Errorf("prefix", "%s", err)
		}
	}
	if m.Regex != "" {
		if len(m.Regex) > maxRegexLen {
			return config.Errorf("regex", "longer than %d bytes", maxRegexLen)
		}
		if _, err := regexp.Compile(m.Regex); err != nil {
			return config.Errorf("regex", "does not compile: %v", err)
		}
	}
	if m.PathTemplate != "" {
		if _, err := parseTemplate(m.PathTemplate); err != nil {
			return config.Errorf("path_template", "%s", err)
		}
	}
	for i, meth := range m.Methods {
		if !isToken(meth) {
			return config.Errorf("methods["+strconv.Itoa(i)+"]", "%q is not an HTTP method", meth)
		}
	}
	for i := range m.Headers {
		if err := m.Headers[i].Validate(); err != nil {
			var ce *config.Error
			if errors.As(err, &ce) {
				return config.Errorf(joinField("headers["+strconv.Itoa(i)+"]", ce.Path), "%s", ce.Msg)
			}
			return config.Errorf("headers["+strconv.Itoa(i)+"]", "%s", err.Error())
		}
	}
	return nil
}

// Validate checks h.
func (h *HeaderMatch) Validate() error {
	name := strings.TrimPrefix(h.Name, ":")
	if !isToken(name) {
		return config.Errorf("name", "%q is not a header name", h.Name)
	}
	ops := 0
	if h.Exact != "" {
		ops++
	}
	if h.Prefix != "" {
		ops++
	}
	if h.Present != nil {
		ops++
	}
	if ops > 1 {
		return config.Errorf("", "set at most one of exact, prefix and present")
	}
	return nil
}

func joinField(base, rel string) string {
	switch {
	case rel == "":
		return base
	case strings.HasPrefix(rel, "["):
		return base + rel
	}
	return base + "." + rel
}

// configPath checks a configured path or prefix: it must be in the
// canonical grammar of CanonicalPath (refuse mode), or the rule could never
// match what it says ("/admin;x", "/%61dmin", "/a/../b").
func configPath(p string) (string, error) {
	if strings.ContainsAny(p, "?#") {
		return "", errors.New("must not contain '?' or '#'")
	}
	if p == "" || p[0] != '/' {
		return "", errors.New("does not start with '/'")
	}
	if err := checkPath(p, false); err != nil {
		n, rerr := rewritePath(p)
		if rerr == nil && checkPath(n, false) == nil && n != p {
			return "", fmt.Errorf("%q is not in canonical form; write %q", p, n)
		}
		return "", errors.New(strings.TrimPrefix(err.Error(), "route: invalid path: "))
	}
	return p, nil
}

// isToken reports an RFC 9110 token, the syntax of methods and header names.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if byteClasses[s[i]]&classToken == 0 {
			return false
		}
	}
	return true
}

type pathKind uint8

const (
	pathAny pathKind = iota
	pathExact
	pathPrefix
	pathRegex
	pathTemplateKind
)

// Matcher is a compiled Match. It is immutable and safe for concurrent use,
// and Matches does not allocate. A nil *Matcher matches every request.
type Matcher struct {
	kind pathKind
	path string
	fold bool
	re   *regexp.Regexp
	// reExact is re without case folding, for Ambiguous; nil unless fold.
	reExact *regexp.Regexp
	// literal is the configured expression alone, unanchored and without
	// folding, for its literal prefix (Index).
	literal *regexp.Regexp
	tmpl    *pathTemplate
	methods []string
	headers []headerMatcher
}

type headerMatcher struct {
	name    string // lower case
	op      headerOp
	value   string
	present bool
	invert  bool
	fold    bool // compare values case-insensitively (:authority)
	// hostOnly compares the host without its port: the configured value
	// has none, and Go's ServeMux, express and nginx route on the host alone.
	hostOnly bool
}

type headerOp uint8

const (
	headerPresent headerOp = iota
	headerExact
	headerPrefix
)

// Compile validates m and prepares it for matching.
func Compile(m Match) (*Matcher, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	c := &Matcher{fold: !m.CaseSensitive}
	switch {
	case m.Path != "":
		c.kind = pathExact
		c.path, _ = configPath(m.Path)
	case m.Prefix != "":
		c.kind = pathPrefix
		c.path, _ = configPath(m.Prefix)
	case m.Regex != "":
		c.kind = pathRegex
		expr := `\A(?:` + m.Regex + `)\z`
		if c.fold {
			expr = `(?i)` + expr
		}
		re, err := regexp.Compile(expr)
		if err != nil {
			return nil, config.Errorf("regex", "does not compile: %v", err)
		}
		c.re = re
		c.literal = regexp.MustCompile(m.Regex) // Validate compiled it
		if c.fold {
			c.reExact = regexp.MustCompile(`\A(?:` + m.Regex + `)\z`)
		}
	case m.PathTemplate != "":
		c.kind = pathTemplateKind
		c.tmpl, _ = parseTemplate(m.PathTemplate)
	}
	for _, meth := range m.Methods {
		meth = strings.ToUpper(meth)
		c.methods = appendMethod(c.methods, meth)
		if meth == "GET" {
			c.methods = appendMethod(c.methods, "HEAD")
		}
	}
	for _, h := range m.Headers {
		hm := headerMatcher{name: strings.ToLower(h.Name), invert: h.Invert, present: true}
		if hm.name == "host" {
			hm.name = ":authority" // Envoy's name for HTTP/1's Host
		}
		hm.fold = hm.name == ":authority"
		switch {
		case h.Exact != "":
			hm.op, hm.value = headerExact, h.Exact
		case h.Prefix != "":
			hm.op, hm.value = headerPrefix, h.Prefix
		case h.Present != nil:
			hm.present = *h.Present
		}
		if hm.fold {
			hm.value = strings.ToLower(hm.value)
			hm.hostOnly = hm.op != headerPresent && hostOnly(hm.value) == hm.value
		}
		c.headers = append(c.headers, hm)
	}
	return c, nil
}

// MustCompile is Compile for tests and literals; it panics on an invalid
// Match. Never use it on configuration.
func MustCompile(m Match) *Matcher {
	c, err := Compile(m)
	if err != nil {
		panic(err)
	}
	return c
}

// Request is the part of a request that rules look at.
type Request struct {
	Method string
	// Path must be the judged path of CanonicalPath.
	Path string
	// Header returns a request header's value. It is called with lower-case
	// names, as proxy-wasm header maps use. A nil Header has no headers.
	Header func(name string) (string, bool)
}

// Matches reports whether r satisfies every condition of m.
func (m *Matcher) Matches(r *Request) bool {
	if m == nil {
		return true
	}
	if r == nil {
		return false
	}
	if !m.pathMatches(r.Path) {
		return false
	}
	if len(m.methods) > 0 && !containsString(m.methods, r.Method) {
		return false
	}
	for i := range m.headers {
		if !m.headers[i].matches(r.Header) {
			return false
		}
	}
	return true
}

func (m *Matcher) pathMatches(p string) bool { return m.pathMatchesFold(p, m.fold) }

// pathMatchesFold is pathMatches, ignoring ASCII case when fold is set.
func (m *Matcher) pathMatchesFold(p string, fold bool) bool {
	switch m.kind {
	case pathExact:
		return equal(p, m.path, fold)
	case pathPrefix:
		if m.path == "/" {
			return true
		}
		// The boundary first: it costs a byte or two, the comparison a
		// loop when the case differs.
		n := len(m.path)
		if len(p) < n || len(p) > n && p[n] != '/' && m.path[n-1] != '/' {
			return false
		}
		return equal(p[:n], m.path, fold)
	case pathRegex:
		if !fold && m.reExact != nil {
			return m.reExact.MatchString(p)
		}
		return m.re.MatchString(p)
	case pathTemplateKind:
		return m.tmpl.match(p, fold)
	}
	return true
}

// equal compares a and b, ignoring ASCII case when fold is set: exactly
// first, which is one memory comparison and settles most paths.
func equal(a, b string, fold bool) bool {
	return a == b || fold && asciiEqualFold(a, b)
}

func (m *Matcher) equal(a, b string) bool { return equal(a, b, m.fold) }

// asciiEqualFold compares ASCII case-insensitively. Normalised paths are
// ASCII, and unlike strings.EqualFold it never treats a non-ASCII rune (the
// Kelvin sign) as equal to an ASCII letter.
func asciiEqualFold(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// Ambiguous reports whether upstream routers could disagree on whether m
// selects path: m matches it only when case is ignored (Go's ServeMux and
// nginx compare case, express does not), or m selects one of "/x" and
// "/x/" and not the other (express and many frameworks treat them as one
// route by default). The request must then be refused, as no one reading of
// it is the upstream's.
func (m *Matcher) Ambiguous(path string) bool {
	return m.ambiguous(path, slashVariant(path))
}

// AnyAmbiguous reports whether one of ms finds path ambiguous, building the
// trailing-slash variant of path once for all of them.
func AnyAmbiguous(ms []*Matcher, path string) bool {
	if len(ms) == 0 {
		return false
	}
	other := slashVariant(path)
	for _, m := range ms {
		if m.ambiguous(path, other) {
			return true
		}
	}
	return false
}

// slashVariant is path without its trailing slash, or with one added.
func slashVariant(path string) string {
	if other := strings.TrimSuffix(path, "/"); other != path {
		return other
	}
	return path + "/"
}

func (m *Matcher) ambiguous(path, other string) bool {
	if m == nil || m.kind == pathAny {
		return false
	}
	match := m.pathMatches(path)
	if match {
		// Folding only widens a match, so a path it misses cannot match
		// with case either: only a match is worth checking with case.
		return m.fold && !m.pathMatchesExactCase(path)
	}
	return other != "" && m.pathMatches(other)
}

// ambiguousHere is ambiguous(path, slashVariant(path)) without building
// the variant: the Index asks it of every candidate on every request, and
// in Wasm the concatenation costs an allocation per request.
func (m *Matcher) ambiguousHere(path string) bool {
	if m == nil || m.kind == pathAny {
		return false
	}
	// Matched as written, path is not ambiguous (a match with case is one
	// without); matched only without case, it is. Folding only widens a
	// match, so this is ambiguous's order turned round.
	if m.pathMatchesFold(path, false) {
		return false
	}
	if m.fold && m.pathMatchesFold(path, true) {
		return true
	}
	return m.variantMatches(path)
}

// variantMatches reports whether m's path condition matches
// slashVariant(path), false when that is "" (path "/"). Exact paths and
// prefixes are compared in place; only a regex or a template gets the
// variant built.
func (m *Matcher) variantMatches(path string) bool {
	if n := len(path); n > 0 && path[n-1] == '/' {
		return n > 1 && m.pathMatches(path[:n-1])
	}
	// The variant is path + "/": v[:n] is path and v[n] is '/'.
	n := len(path)
	switch m.kind {
	case pathExact:
		return len(m.path) == n+1 && m.path[n] == '/' && m.equal(path, m.path[:n])
	case pathPrefix:
		if m.path == "/" {
			return true
		}
		l := len(m.path)
		switch {
		case l > n+1:
			return false
		case l == n+1:
			// The whole variant is compared: it ends the path.
			return m.path[n] == '/' && m.equal(path, m.path[:n])
		}
		// l <= n: v[l] is path[l], or the added '/' when l == n.
		return m.equal(path[:l], m.path) && (l == n || path[l] == '/' || m.path[l-1] == '/')
	}
	return m.pathMatches(path + "/")
}

func (m *Matcher) pathMatchesExactCase(p string) bool { return m.pathMatchesFold(p, false) }

func appendMethod(list []string, m string) []string {
	if containsString(list, m) {
		return list
	}
	return append(list, m)
}

func containsString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (h *headerMatcher) matches(get func(string) (string, bool)) bool {
	var v string
	var ok bool
	if get != nil {
		v, ok = get(h.name)
	}
	var res bool
	if h.fold {
		v = strings.ToLower(v)
		if h.hostOnly {
			v = hostOnly(v)
		}
	}
	switch h.op {
	case headerExact:
		res = ok && v == h.value
	case headerPrefix:
		res = ok && strings.HasPrefix(v, h.value)
	default:
		res = ok == h.present
	}
	return res != h.invert
}

// hostOnly strips the port of a canonical authority ("host:port",
// "[v6]:port").
func hostOnly(a string) string {
	i := strings.LastIndexByte(a, ':')
	if i < 0 || strings.HasSuffix(a, "]") {
		return a
	}
	return a[:i]
}
