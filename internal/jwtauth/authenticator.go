package jwtauth

import (
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/claims"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
	"github.com/apiguard/apiguard/internal/paramname"
	"github.com/apiguard/apiguard/internal/route"
)

// KeySource gives the current key sets of providers with `remote_jwks` or
// `discovery`. jwks.Manager implements it.
type KeySource interface {
	// Keys returns the provider's key set, nil when none has loaded.
	Keys(provider string) *jwks.Set
	// Refetch asks for fresh keys (none loaded, or an unknown kid) and
	// reports whether a fetch is in flight or starting, so waiting is
	// worthwhile.
	Refetch(provider string, now time.Time) bool
}

// Decision is the outcome kind of Authenticate.
type Decision int

// Decisions.
const (
	// Allow: forward the request, after applying the header and parameter
	// changes in the Result.
	Allow Decision = iota
	// Deny: answer with Status, WWWAuthenticate and Body.
	Deny
	// Wait: pause the request until the keys of WaitFor arrive or the fetch
	// timeout passes, then call Authenticate again with MayWait false.
	Wait
)

func (d Decision) String() string {
	switch d {
	case Allow:
		return "allow"
	case Deny:
		return "deny"
	case Wait:
		return "wait"
	}
	return "unknown"
}

// Result is the outcome of Authenticate.
type Result struct {
	Decision Decision
	// Rule is the index of the matching rule, -1 when none matched.
	Rule int

	// Allow. Token is the first verified token (nil when none was needed or
	// present); Tokens holds all of them. Claims of Token are what rate
	// limits and response filters read; they must not be modified.
	Token  *Token
	Tokens []*Token
	// RemoveHeaders must be removed before SetHeaders are set: client-sent
	// copies of every header apiguard sets, and token headers when
	// `forward` is false.
	RemoveHeaders []string
	// SetHeaders are header name/value pairs to set.
	SetHeaders [][2]string
	// RemoveParams are query parameters to remove (see RemoveQueryParams).
	RemoveParams []string
	// RemoveCookies are cookies to remove (see RemoveCookies).
	RemoveCookies []string
	// Preflight is true when a CORS preflight bypassed authentication.
	Preflight bool

	// Deny.
	Status int
	Reason Reason
	// Provider is the provider whose token failed (for metrics and logs),
	// "" when the denial concerns no single provider (e.g. no token).
	Provider        string
	WWWAuthenticate string
	// Body is a small JSON document, content type application/json.
	Body []byte

	// RetryAfter, on a lockout (429), is when the client may retry.
	RetryAfter time.Duration
	// ClientFailures, on a counted failure, is the client IP's number of
	// failed authentications in the current window (the brute-force
	// signal); 0 when not counted.
	ClientFailures int

	// Wait: providers whose keys are being fetched, and how long the
	// request may stay paused for them (the fetch timeout; twice it with
	// discovery, which takes two callouts).
	WaitFor     []string
	WaitTimeout time.Duration
}

// Authenticator applies a compiled Config. It is safe for concurrent use.
type Authenticator struct {
	providers []*provider
	byName    map[string]*provider
	rules     []compiledRule
	// ruleIndex selects the first rule that matches (route.Index).
	ruleIndex     *route.Index
	bypassCORS    bool
	maxTokenBytes int
	realm         string
	outputHeaders []string
	// maxSetHeaders is the most headers an allowed request sets: every
	// provider's payload and claim headers.
	maxSetHeaders int
	// paramNames are every provider's token query parameters.
	paramNames []string
	cache      *tokenCache
	shared     *castable.Table
	stats      cacheCounters
	failures   *castable.Table
	lockout    *Lockout
	window     time.Duration
	// Warnings from local JWKS parsing, for the plugin to log at start.
	Warnings []string
}

type compiledRule struct {
	matcher  *route.Matcher
	requires *requirement
}

type requirement struct {
	kind      int
	provider  *provider
	children  []*requirement
	claims    []claims.Condition
	scope     string
	providers []*provider // allow_missing*: every provider
}

const (
	reqProvider = iota
	reqAny
	reqAll
	reqAllowMissing
	reqAllowMissingOrFailed
)

// New validates cfg and compiles it: route matchers, claim conditions, key
// sets of local providers and algorithm allowlists, so requests do no
// set-up work.
func New(cfg Config) (*Authenticator, error) {
	if err := validateTree(&cfg); err != nil {
		return nil, fmt.Errorf("jwtauth: %w", err)
	}
	a := &Authenticator{
		byName:        map[string]*provider{},
		bypassCORS:    cfg.BypassCORSPreflight,
		maxTokenBytes: cmpDefault(cfg.MaxTokenBytes, DefaultMaxTokenBytes),
		realm:         cfg.Realm,
	}
	if a.realm == "" {
		a.realm = DefaultRealm
	}
	a.window = DefaultFailureWindow
	if cfg.Lockout != nil {
		l := *cfg.Lockout
		a.lockout, a.window = &l, l.Window.Duration
	}
	switch cfg.CacheEntries {
	case -1:
	case 0:
		a.cache = newTokenCache(DefaultCacheEntries)
	default:
		a.cache = newTokenCache(cfg.CacheEntries)
	}
	names := make([]string, 0, len(cfg.Providers))
	for name := range cfg.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	outputs := map[string]bool{}
	for i, name := range names {
		p, warnings, err := compileProvider(i, name, cfg.Providers[name])
		if err != nil {
			return nil, fmt.Errorf("jwtauth: provider %q: %w", name, err)
		}
		a.Warnings = append(a.Warnings, warnings...)
		a.providers = append(a.providers, p)
		a.byName[name] = p
		a.maxSetHeaders += len(p.claimHdrs)
		if p.payloadHdr != "" {
			a.maxSetHeaders++
		}
		if p.payloadHdr != "" {
			outputs[p.payloadHdr] = true
		}
		for _, c := range p.claimHdrs {
			outputs[c.Header] = true
		}
		for _, n := range p.fromParams {
			a.paramNames = appendUnique(a.paramNames, n)
		}
	}
	for h := range outputs {
		a.outputHeaders = append(a.outputHeaders, h)
	}
	sort.Strings(a.outputHeaders)
	for i, r := range cfg.Rules {
		m, err := route.Compile(r.Match)
		if err != nil {
			return nil, fmt.Errorf("jwtauth: rules[%d].match: %w", i, err)
		}
		cr := compiledRule{matcher: m}
		if r.Requires != nil {
			cr.requires = a.compileRequirement(r.Requires)
		}
		a.rules = append(a.rules, cr)
	}
	ms := make([]*route.Matcher, len(a.rules))
	for i := range a.rules {
		ms[i] = a.rules[i].matcher
	}
	a.ruleIndex = route.NewIndex(ms)
	return a, nil
}

func cmpDefault(v, def int) int {
	if v == 0 {
		return def
	}
	return v
}

// validateTree runs every Validate method, for configs built in Go rather
// than decoded by config.Decode (which calls them itself).
func validateTree(cfg *Config) error {
	names := make([]string, 0, len(cfg.Providers))
	for name := range cfg.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		if p := cfg.Providers[name]; p != nil {
			if err := prefixed("providers."+name, p.Validate()); err != nil {
				return err
			}
		}
	}
	for i := range cfg.Rules {
		if err := prefixed(fmt.Sprintf("rules[%d].match", i), cfg.Rules[i].Match.Validate()); err != nil {
			return err
		}
		if r := cfg.Rules[i].Requires; r != nil {
			if err := validateRequirement(r, fmt.Sprintf("rules[%d].requires", i)); err != nil {
				return err
			}
		}
	}
	if cfg.Lockout != nil {
		if err := prefixed("lockout", cfg.Lockout.Validate()); err != nil {
			return err
		}
	}
	return cfg.Validate()
}

func validateRequirement(r *Requirement, path string) error {
	if err := prefixed(path, r.Validate()); err != nil {
		return err
	}
	for i := range r.Claims {
		if err := prefixed(fmt.Sprintf("%s.claims[%d]", path, i), r.Claims[i].Validate()); err != nil {
			return err
		}
	}
	for i := range r.Any {
		if err := validateRequirement(&r.Any[i], fmt.Sprintf("%s.any[%d]", path, i)); err != nil {
			return err
		}
	}
	for i := range r.All {
		if err := validateRequirement(&r.All[i], fmt.Sprintf("%s.all[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}

// prefixed puts path in front of a config error's path.
func prefixed(path string, err error) error {
	if err == nil {
		return nil
	}
	if ce, ok := err.(*config.Error); ok {
		p := path
		if ce.Path != "" {
			p = path + "." + ce.Path
		}
		return &config.Error{Path: p, Msg: ce.Msg}
	}
	return &config.Error{Path: path, Msg: err.Error()}
}

func compileProvider(index int, name string, c *Provider) (*provider, []string, error) {
	p := &provider{
		index:       index,
		name:        name,
		fingerprint: fingerprintProvider(name, c),
		issuer:      c.Issuer,
		audiences:   c.Audiences,
		subjects:    c.Subjects,
		algs:        c.algorithms(),
		joseAlgs:    map[string][]jose.SignatureAlgorithm{},
		remote:      c.RemoteJWKS != nil || c.Discovery != nil,
		skew:        DefaultClockSkew,
		requireExp:  c.RequireExpiration == nil || *c.RequireExpiration,
		typ:         normalizeTyp(c.Typ),
		forward:     c.Forward,
		payloadHdr:  strings.ToLower(c.ForwardPayloadHeader),
		fromParams:  c.FromParams,
		fromCookies: c.FromCookies,
	}
	switch {
	case c.RemoteJWKS != nil:
		p.waitTimeout = durationOr(c.RemoteJWKS.Timeout, DefaultFetchTimeout)
	case c.Discovery != nil:
		p.waitTimeout = 2 * durationOr(c.Discovery.Timeout, DefaultFetchTimeout)
	}
	for _, a := range p.algs {
		p.joseAlgs[a] = []jose.SignatureAlgorithm{jose.SignatureAlgorithm(a)}
	}
	if c.Secret != "" {
		p.secret = []byte(c.Secret)
	}
	if c.ClockSkew != nil {
		p.skew = c.ClockSkew.Duration
	}
	if c.MaxLifetime != nil {
		p.maxLifetime = c.MaxLifetime.Duration
	}
	for _, h := range c.FromHeaders {
		p.fromHeaders = append(p.fromHeaders, HeaderSource{Name: strings.ToLower(h.Name), ValuePrefix: h.ValuePrefix})
	}
	if len(c.FromHeaders) == 0 && len(c.FromParams) == 0 && len(c.FromCookies) == 0 {
		p.fromHeaders = []HeaderSource{{Name: "authorization", ValuePrefix: "Bearer "}}
		p.fromParams = []string{"access_token"}
	}
	for _, ch := range c.ClaimToHeaders {
		p.claimHdrs = append(p.claimHdrs, ClaimToHeader{Claim: ch.Claim, Header: strings.ToLower(ch.Header)})
	}
	var warnings []string
	if len(c.LocalJWKS) > 0 {
		set, w, err := jwks.Parse(c.LocalJWKS)
		for _, msg := range w {
			warnings = append(warnings, fmt.Sprintf("jwtauth: provider %q: local_jwks: %s", name, msg))
		}
		if err != nil {
			return nil, warnings, fmt.Errorf("local_jwks: %w", err)
		}
		p.local = set
	}
	return p, warnings, nil
}

func (a *Authenticator) compileRequirement(r *Requirement) *requirement {
	cr := &requirement{claims: r.Claims, scope: scopeOf(r.Claims)}
	switch {
	case r.Provider != "":
		cr.kind, cr.provider = reqProvider, a.byName[r.Provider]
	case r.Any != nil:
		cr.kind = reqAny
	case r.All != nil:
		cr.kind = reqAll
	case r.AllowMissing:
		cr.kind, cr.providers = reqAllowMissing, a.providers
	default:
		cr.kind, cr.providers = reqAllowMissingOrFailed, a.providers
	}
	for i := range r.Any {
		cr.children = append(cr.children, a.compileRequirement(&r.Any[i]))
	}
	for i := range r.All {
		cr.children = append(cr.children, a.compileRequirement(&r.All[i]))
	}
	return cr
}

// scopeOf renders the scope values the conditions ask for, for the RFC 6750
// scope attribute; values that would need escaping are left out.
func scopeOf(conds []claims.Condition) string {
	var scopes []string
	addValue := func(v any) {
		s, ok := v.(string)
		if !ok || s == "" {
			return
		}
		for _, f := range strings.Fields(s) {
			if !validScopeToken(f) || slices.Contains(scopes, f) {
				continue
			}
			scopes = append(scopes, f)
		}
	}
	for _, c := range conds {
		if len(c.Claim) != 1 || (c.Claim[0] != "scope" && c.Claim[0] != "scp") {
			continue
		}
		addValue(c.Equals)
		addValue(c.Contains)
		for _, v := range c.AnyOf {
			addValue(v)
		}
		for _, v := range c.AllOf {
			addValue(v)
		}
	}
	return strings.Join(scopes, " ")
}

// validScopeToken: RFC 6749 §3.3 scope-token characters.
func validScopeToken(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x21 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// RemoteSources lists the providers whose keys a jwks.Manager must fetch,
// with defaults applied.
func RemoteSources(cfg Config) []jwks.Source {
	var out []jwks.Source
	names := make([]string, 0, len(cfg.Providers))
	for name := range cfg.Providers {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		p := cfg.Providers[name]
		if p == nil {
			continue
		}
		var f *Fetching
		s := jwks.Source{Provider: name}
		switch {
		case p.RemoteJWKS != nil:
			s.Cluster, s.URI, f = p.RemoteJWKS.Cluster, p.RemoteJWKS.URI, &p.RemoteJWKS.Fetching
		case p.Discovery != nil:
			s.Cluster, s.Discovery, s.Issuer, f = p.Discovery.Cluster, true, p.Issuer, &p.Discovery.Fetching
		default:
			continue
		}
		s.CacheDuration = durationOr(f.CacheDuration, DefaultCacheDuration)
		s.Timeout = durationOr(f.Timeout, DefaultFetchTimeout)
		s.MinRefetchInterval = durationOr(f.MinRefetchInterval, DefaultMinRefetchInterval)
		out = append(out, s)
	}
	return out
}

func durationOr(d *config.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Duration
}

// outcome is the evaluation of one requirement.
type outcome struct {
	ok       bool
	tokens   []*Token
	reason   Reason
	provider string // the provider whose token failed, when one did
	scope    string
	waitFor  []string
}

// evaluation memoises per-provider work within one request.
type evaluation struct {
	a    *Authenticator
	view reqView
	keys KeySource
	now  time.Time
	// done holds each provider's result by provider index, once verified
	// (providerResult.done): a slice, not a map, as a map operation costs
	// the Wasm guest far more than a few loads.
	done []providerResult
	sc   *Scratch // the request's, or nil
}

type providerResult struct {
	done    bool
	token   *Token
	reason  Reason
	wait    bool
	found   []location
	foreign bool // a token header held no token (extraction.foreign)
	// one holds token as the one-token list of an outcome (eval), so a
	// request's outcome allocates no list of its own.
	one [1]*Token
}

// Authenticate decides a request. keys may be nil when no provider uses
// remote keys. now is the wall clock used for exp, nbf and iat.
func (a *Authenticator) Authenticate(req *Request, keys KeySource, now time.Time) Result {
	if a.hiddenTokenParam(req.Query) {
		// Refused before any rule, preflights included: what the upstream
		// will read as the token is not what apiguard can judge.
		return Result{Decision: Deny, Rule: -1, Status: status(ReasonMalformed), Reason: ReasonMalformed,
			WWWAuthenticate: challenge(a.realm, ReasonMalformed, ""), Body: body(ReasonMalformed)}
	}
	if a.bypassCORS && req.Method == "OPTIONS" && req.Header != nil {
		_, origin := req.Header("origin")
		_, acrm := req.Header("access-control-request-method")
		// A preflight has no body (Fetch standard, CORS-preflight fetch): one
		// that carries a body is no preflight and is authenticated, so
		// nothing reaches the upstream unauthenticated but an empty OPTIONS.
		// Whether a body follows is the stream's end, not a header: an
		// HTTP/2 body needs no content-length, and a codec may keep
		// transfer-encoding from the filter.
		if origin && acrm && req.Bodiless {
			res := Result{Decision: Allow, Rule: -1, Preflight: true, RemoveHeaders: slices.Clone(a.outputHeaders)}
			a.removeStrays(&res, &reqView{req: req, a: a}, nil)
			return res
		}
	}
	rr := &route.Request{Method: req.Method, Path: req.Path, Header: req.Header}
	if rr.Header == nil {
		rr.Header = func(string) (string, bool) { return "", false }
	}
	rule := a.ruleIndex.First(rr)
	if rule < 0 || a.rules[rule].requires == nil {
		res := Result{Decision: Allow, Rule: rule, RemoveHeaders: slices.Clone(a.outputHeaders)}
		a.removeStrays(&res, &reqView{req: req, a: a}, nil)
		return res
	}
	if locked, until := a.lockedOut(req.ClientIP, now); locked {
		return Result{
			Decision:   Deny,
			Rule:       rule,
			Status:     status(ReasonLockedOut),
			Reason:     ReasonLockedOut,
			Body:       body(ReasonLockedOut),
			RetryAfter: until.Sub(now),
		}
	}
	ev := &evaluation{a: a, view: reqView{req: req, a: a}, keys: keys, now: now, sc: req.Scratch,
		done: req.Scratch.providerResults(len(a.providers))}
	o := ev.eval(a.rules[rule].requires)
	switch {
	case o.ok:
		return a.allow(rule, o, ev)
	case len(o.waitFor) > 0:
		var timeout time.Duration
		for _, name := range o.waitFor {
			timeout = max(timeout, a.byName[name].waitTimeout)
		}
		return Result{Decision: Wait, Rule: rule, WaitFor: o.waitFor, WaitTimeout: timeout}
	}
	r := o.reason
	if r == "" {
		r = ReasonMissing
	}
	res := Result{
		Decision:        Deny,
		Rule:            rule,
		Status:          status(r),
		Reason:          r,
		Provider:        o.provider,
		WWWAuthenticate: challenge(a.realm, r, o.scope),
		Body:            body(r),
	}
	if countsAsFailure(r) {
		res.ClientFailures = a.recordFailure(req.ClientIP, now)
	}
	return res
}

// provider verifies p's token for this request, once.
func (ev *evaluation) provider(p *provider) *providerResult {
	pr := &ev.done[p.index]
	if pr.done {
		return pr
	}
	pr.done = true
	ex := ev.view.extract(p, ev.a.maxTokenBytes, ev.sc.foundBuf(p.index))
	ev.sc.keepFound(p.index, len(ev.done), ex.found)
	pr.foreign = ex.foreign
	if ex.reason != "" {
		pr.reason = ex.reason
		return pr
	}
	pr.found = ex.found
	var keys *jwks.Set
	if p.remote && ev.keys != nil {
		keys = ev.keys.Keys(p.name)
	}
	t, r := ev.a.verifyCached(p, ex.token, keys, ev.now)
	if (r == ReasonJWKSUnavailable || r == ReasonUnknownKID) && p.remote && ev.view.req.MayWait && ev.keys != nil {
		if ev.keys.Refetch(p.name, ev.now) {
			pr.wait = true
			return pr
		}
	}
	pr.token, pr.reason = t, r
	return pr
}

// verifyCached consults the worker's verified-token cache, then the shared
// one, and verifies the token only when neither knows it. The time is
// checked on every path.
func (a *Authenticator) verifyCached(p *provider, token string, keys *jwks.Set, now time.Time) (*Token, Reason) {
	var digest [32]byte
	switch {
	case p.remote && keys != nil:
		digest = keys.Digest
	case p.local != nil:
		digest = p.local.Digest
	}
	if a.cache == nil && a.shared == nil {
		return a.verifyFresh(p, token, keys, now)
	}
	k := cacheKey{provider: p.index, token: token}
	if t := a.cache.get(k, digest, now); t != nil {
		a.stats.hits.Add(1)
		if r := p.checkTime(t, now); r != "" {
			return nil, r
		}
		return t, ""
	}
	var sk [32]byte
	if a.shared != nil {
		sk = p.sharedKey(sha256.Sum256([]byte(token)), digest)
		if a.sharedLookup(sk, now) {
			if t, r := p.verifyShared(token, digest); r == "" {
				a.stats.sharedHits.Add(1)
				if r := p.checkTime(t, now); r != "" {
					return nil, r
				}
				t.cacheUntilUnixNs = cacheUntil(t, now)
				a.cache.put(k, t, now)
				return t, ""
			}
		}
	}
	t, r := a.verifyFresh(p, token, keys, now)
	if r != "" {
		return nil, r
	}
	a.cache.put(k, t, now)
	if a.shared != nil {
		a.sharedStore(sk, t, now)
	}
	return t, ""
}

// verifyFresh verifies the signature and every check.
func (a *Authenticator) verifyFresh(p *provider, token string, keys *jwks.Set, now time.Time) (*Token, Reason) {
	a.stats.misses.Add(1)
	t, r := p.verify(token, keys)
	if r != "" {
		return nil, r
	}
	if r := p.checkTime(t, now); r != "" {
		return nil, r
	}
	t.cacheUntilUnixNs = cacheUntil(t, now)
	return t, ""
}

func (ev *evaluation) eval(r *requirement) outcome {
	var o outcome
	switch r.kind {
	case reqProvider:
		pr := ev.provider(r.provider)
		switch {
		case pr.wait:
			o.waitFor = []string{r.provider.name}
		case pr.token != nil:
			// Capped at one: an append copies, never writes into pr.
			pr.one[0] = pr.token
			o.ok, o.tokens = true, pr.one[:1:1]
		case pr.reason == ReasonMissing && pr.foreign:
			// Where a token is required, a token header holding something
			// else is a malformed token, not a missing one.
			o.reason, o.provider = ReasonMalformed, r.provider.name
		default:
			o.reason, o.provider = pr.reason, r.provider.name
		}
	case reqAny:
		var best outcome
		var waits []string
		for _, c := range r.children {
			co := ev.eval(c)
			if co.ok {
				if claimsHold(r.claims, co.tokens) {
					return co
				}
				co = outcome{reason: ReasonClaims, scope: r.scope, provider: firstProvider(co.tokens)}
			}
			waits = appendUnique(waits, co.waitFor...)
			if len(co.waitFor) == 0 && rank(co.reason) >= rank(best.reason) {
				best = co
			}
		}
		if len(waits) > 0 {
			return outcome{waitFor: waits}
		}
		return best
	case reqAll:
		var waits []string
		var tokens []*Token
		for _, c := range r.children {
			co := ev.eval(c)
			if !co.ok && len(co.waitFor) == 0 {
				return co
			}
			waits = appendUnique(waits, co.waitFor...)
			tokens = append(tokens, co.tokens...)
		}
		if len(waits) > 0 {
			return outcome{waitFor: waits}
		}
		o.ok, o.tokens = true, tokens
	case reqAllowMissing, reqAllowMissingOrFailed:
		var best outcome
		var waits []string
		for _, p := range r.providers {
			pr := ev.provider(p)
			switch {
			case pr.token != nil:
				o.tokens = append(o.tokens, pr.token)
			case pr.wait:
				waits = appendUnique(waits, p.name)
			case pr.reason != ReasonMissing && rank(pr.reason) >= rank(best.reason):
				best.reason, best.provider = pr.reason, p.name
			}
		}
		switch {
		case r.kind == reqAllowMissingOrFailed || len(o.tokens) > 0:
			o.ok = true
		case len(waits) > 0:
			o.waitFor = waits
		case best.reason == "":
			o.ok = true // no token anywhere
		default:
			o.reason, o.provider = best.reason, best.provider
		}
		return o
	}
	if o.ok && !claimsHold(r.claims, o.tokens) {
		return outcome{reason: ReasonClaims, scope: r.scope, provider: firstProvider(o.tokens)}
	}
	return o
}

// firstProvider names the provider of the first token, "" when none.
func firstProvider(tokens []*Token) string {
	if len(tokens) == 0 {
		return ""
	}
	return tokens[0].Provider
}

// claimsHold checks conds against every token.
func claimsHold(conds []claims.Condition, tokens []*Token) bool {
	if len(conds) == 0 {
		return true
	}
	if len(tokens) == 0 {
		return false
	}
	for _, t := range tokens {
		if !claims.All(conds, t.Claims) {
			return false
		}
	}
	return true
}

func appendUnique(list []string, items ...string) []string {
	for _, it := range items {
		if !slices.Contains(list, it) {
			list = append(list, it)
		}
	}
	return list
}

// allow builds the header and parameter changes of an allowed request.
func (a *Authenticator) allow(rule int, o outcome, ev *evaluation) Result {
	res := Result{Decision: Allow, Rule: rule, RemoveHeaders: a.removeHeaders(ev.sc), SetHeaders: ev.sc.setHeaders(a.maxSetHeaders)}
	var kept []location
	// The tokens of o, each provider's once, compacted in place: o is this
	// call's own.
	res.Tokens = o.tokens[:0]
	for _, t := range o.tokens {
		if slices.ContainsFunc(res.Tokens, func(u *Token) bool { return u.Provider == t.Provider }) {
			continue
		}
		res.Tokens = append(res.Tokens, t)
		p := t.verifiedBy
		res.SetHeaders = append(res.SetHeaders, t.forward...)
		if p.forward {
			kept = append(kept, ev.done[p.index].found...)
			continue
		}
		for _, loc := range ev.done[p.index].found {
			switch loc.kind {
			case locHeader:
				res.RemoveHeaders = appendUnique(res.RemoveHeaders, loc.name)
			case locParam:
				res.RemoveParams = appendUnique(res.RemoveParams, loc.name)
			case locCookie:
				res.RemoveCookies = appendUnique(res.RemoveCookies, loc.name)
			}
		}
	}
	if len(res.Tokens) > 0 {
		res.Token = res.Tokens[0]
	} else {
		res.Tokens = nil
	}
	if len(res.SetHeaders) == 0 {
		res.SetHeaders = nil
	}
	a.removeStrays(&res, &ev.view, kept)
	if sc := ev.sc; sc != nil {
		// Keep what grew for the next call.
		if cap(res.RemoveHeaders) > cap(sc.remove) {
			sc.remove = res.RemoveHeaders[:0]
		}
		if cap(res.SetHeaders) > cap(sc.set) {
			sc.set = res.SetHeaders[:0]
		}
	}
	return res
}

// removeHeaders is a copy of the output headers, with room for the token
// locations an allowed request removes too: fresh, or in sc's storage.
func (a *Authenticator) removeHeaders(sc *Scratch) []string {
	if len(a.outputHeaders) == 0 {
		return nil
	}
	if sc == nil || cap(sc.remove) < len(a.outputHeaders)+2 {
		b := make([]string, 0, len(a.outputHeaders)+2)
		if sc != nil {
			sc.remove = b
		}
		return append(b, a.outputHeaders...)
	}
	return append(sc.remove[:0], a.outputHeaders...)
}

// setHeaders is an empty list with room for n headers: fresh, or in sc's
// storage.
func (sc *Scratch) setHeaders(n int) [][2]string {
	if sc == nil || cap(sc.set) < n {
		b := make([][2]string, 0, n)
		if sc != nil {
			sc.set = b
		}
		return b
	}
	clear(sc.set[:cap(sc.set)]) // drop the last request's values
	return sc.set[:0]
}

// claimHeaderValue renders a claim for a header: strings, numbers and
// booleans as text, arrays of them joined with ",". Anything else, or a
// value with control characters, is not copied.
func claimHeaderValue(c map[string]any, p claims.Path) (string, bool) {
	v, ok := claims.Lookup(c, p)
	if !ok {
		return "", false
	}
	var s string
	switch x := v.(type) {
	case []any:
		parts := make([]string, 0, len(x))
		for _, e := range x {
			ps, ok := scalarText(e)
			if !ok {
				return "", false
			}
			parts = append(parts, ps)
		}
		s = strings.Join(parts, ",")
	default:
		if s, ok = scalarText(v); !ok {
			return "", false
		}
	}
	if strings.ContainsFunc(s, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
		return "", false
	}
	return s, true
}

func scalarText(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, true
	case json.Number:
		return x.String(), true
	case bool:
		if x {
			return "true", true
		}
		return "false", true
	}
	return "", false
}

// OutputHeaders lists the request headers apiguard sets (claim_to_headers,
// forward_payload_header), lower case. Every client spelling of them must be
// removed before forwarding.
func (a *Authenticator) OutputHeaders() []string { return slices.Clone(a.outputHeaders) }

// InputHeaders lists the request headers authentication reads, lower case:
// token headers, match conditions, and the CORS preflight headers when
// preflights bypass authentication. A repeat of any of them is refused.
func (a *Authenticator) InputHeaders() []string {
	var out []string
	for _, p := range a.providers {
		for _, h := range p.fromHeaders {
			out = appendUnique(out, h.Name)
		}
	}
	if a.bypassCORS {
		out = appendUnique(out, "origin", "access-control-request-method")
	}
	return out
}

// hiddenTokenParam reports whether the query names a token parameter in a
// pair that Go's url.ParseQuery (what apiguard judges) does not read as
// such, in any spelling (paramname.Fold): after a ';' (Rack 2 and older Python split pairs on it) or in a
// pair with a malformed escape (Go drops the pair, Node decodes leniently).
// apiguard could neither verify nor remove such a token, so the request is
// refused rather than forwarded with it.
func (a *Authenticator) hiddenTokenParam(query string) bool {
	if query == "" || len(a.paramNames) == 0 {
		return false
	}
	for pair := range strings.SplitSeq(query, "&") {
		if !strings.Contains(pair, ";") && validEscapes(pair) {
			continue // read by ParseQuery, so judged and removable
		}
		for part := range strings.SplitSeq(pair, ";") {
			key, _, _ := strings.Cut(part, "=")
			folded := paramname.Fold(lenientUnescape(key))
			for _, name := range a.paramNames {
				if paramname.Fold(name) == folded {
					return true
				}
			}
		}
	}
	return false
}

// validEscapes reports whether every '%' in s starts a %XX escape: the
// condition for url.ParseQuery to read a pair, checked without allocating
// on every request that has a query.
func validEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' && (i+2 >= len(s) || unhex(s[i+1]) < 0 || unhex(s[i+2]) < 0) {
			return false
		}
	}
	return true
}

// lenientUnescape decodes the valid %XX escapes and '+' of s and keeps
// everything else, as lenient query parsers do.
func lenientUnescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '+':
			b.WriteByte(' ')
		case c == '%' && i+2 < len(s) && unhex(s[i+1]) >= 0 && unhex(s[i+2]) >= 0:
			b.WriteByte(byte(unhex(s[i+1])<<4 | unhex(s[i+2])))
			i += 2
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// removeStrays adds to res every configured token location (of any
// provider) that the request uses and kept does not hold: a configured
// location reaches the upstream only with a token verified on this request
// by a provider that forwards it. Unverified tokens on allow_missing routes,
// other schemes in a token header, and token cookies or parameters on routes
// that require nothing are removed, so an upstream never acts on a
// credential apiguard did not check.
func (a *Authenticator) removeStrays(res *Result, v *reqView, kept []location) {
	for _, p := range a.providers {
		for _, hs := range p.fromHeaders {
			if _, ok := v.header(hs.Name); ok && !slices.Contains(kept, location{locHeader, hs.Name}) && !slices.Contains(res.RemoveHeaders, hs.Name) {
				res.RemoveHeaders = append(res.RemoveHeaders, hs.Name)
			}
		}
		for _, name := range p.fromParams {
			if len(v.param(name)) > 0 && !slices.Contains(kept, location{locParam, name}) {
				res.RemoveParams = appendUnique(res.RemoveParams, name)
			}
		}
		for _, name := range p.fromCookies {
			if len(v.cookie(name)) > 0 && !slices.Contains(kept, location{locCookie, name}) {
				res.RemoveCookies = appendUnique(res.RemoveCookies, name)
			}
		}
	}
}

// anotherForm reports whether val, in token header name, is a token in the
// form another provider configures for that header (e.g. "JWT " next to
// "Bearer "): it is that provider's token, not a malformed one.
func (a *Authenticator) anotherForm(name, val string) bool {
	for _, p := range a.providers {
		for _, hs := range p.fromHeaders {
			if hs.Name != name {
				continue
			}
			if tok, ok := cutPrefix(val, hs.ValuePrefix); ok && isTokenValue(tok) {
				return true
			}
		}
	}
	return false
}

// ReplyHeaders are the headers of a denial's reply, as RFC 6750 says: the
// JSON body's type, no caching, the WWW-Authenticate challenge when there
// is one, and Retry-After (whole seconds, rounded up) on a lockout.
func (r *Result) ReplyHeaders() [][2]string {
	headers := [][2]string{
		{"content-type", "application/json"},
		{"cache-control", "no-store"},
	}
	if r.WWWAuthenticate != "" {
		headers = append(headers, [2]string{"www-authenticate", r.WWWAuthenticate})
	}
	if r.RetryAfter > 0 {
		secs := int64(math.Ceil(r.RetryAfter.Seconds()))
		headers = append(headers, [2]string{"retry-after", strconv.FormatInt(secs, 10)})
	}
	return headers
}
