package jwtauth

import (
	"encoding/json"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/claims"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/route"
)

// Defaults applied by New when a key is absent.
const (
	DefaultMaxTokenBytes      = 8 << 10
	DefaultClockSkew          = 60 * time.Second
	DefaultCacheDuration      = 5 * time.Minute
	DefaultFetchTimeout       = 3 * time.Second
	DefaultMinRefetchInterval = 30 * time.Second
	DefaultCacheEntries       = 1024
	DefaultRealm              = "apiguard"
)

// Config is the `jwt` section of the plugin configuration.
type Config struct {
	// Providers (`providers`) maps a provider name to how its tokens are
	// found and verified. Rules refer to providers by name.
	Providers map[string]*Provider `json:"providers"`
	// Rules (`rules`) decide what each request requires; the first rule whose
	// `match` selects the request wins. A request that no rule selects is not
	// authenticated, so end the list with a catch-all rule.
	Rules []Rule `json:"rules"`
	// BypassCORSPreflight (`bypass_cors_preflight`) lets CORS preflight
	// requests (OPTIONS with Origin and Access-Control-Request-Method)
	// through without a token. Default false.
	BypassCORSPreflight bool `json:"bypass_cors_preflight,omitempty"`
	// MaxTokenBytes (`max_token_bytes`) refuses longer tokens before any
	// parsing, with 401 `too_large`. Default 8192.
	MaxTokenBytes int `json:"max_token_bytes,omitempty"`
	// Realm (`realm`) is the realm in WWW-Authenticate. Default "apiguard".
	Realm string `json:"realm,omitempty"`
	// CacheEntries (`cache_entries`) bounds the verified-token cache of each
	// worker. Default 1024; -1 disables the cache.
	CacheEntries int `json:"cache_entries,omitempty"`
	// Lockout (`lockout`): answer 429 to a client IP after repeated failed
	// authentications, counted across workers. Absent: failures are only
	// counted (for the brute-force signal in audit events), never blocked.
	Lockout *Lockout `json:"lockout,omitempty"`
}

// Provider is one token issuer (`providers.NAME`). A provider is either
// symmetric (`secret`, HS* algorithms) or asymmetric (exactly one of
// `local_jwks`, `remote_jwks`, `discovery`), never both.
type Provider struct {
	// Issuer (`issuer`): the token's `iss` must equal it. Required with
	// `discovery`. When empty, `iss` is not checked.
	Issuer string `json:"issuer,omitempty"`
	// Audiences (`audiences`): the token's `aud` (string or array) must
	// contain one of them. Absent: `aud` is not checked. An explicit empty
	// list is an error, so a typo cannot turn the check off.
	Audiences []string `json:"audiences,omitempty"`
	// Subjects (`subjects`): when set, the token's `sub` must equal one of
	// them.
	Subjects []string `json:"subjects,omitempty"`
	// Algorithms (`algorithms`): the `alg` values accepted, checked before
	// any key is used (RFC 8725 §3.1). Asymmetric providers accept RS256,
	// RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512 and EdDSA;
	// symmetric providers HS256, HS384 and HS512. Default: every algorithm
	// of the provider's kind.
	Algorithms []string `json:"algorithms,omitempty"`
	// Secret (`secret`): the HMAC key of a symmetric provider, at least as
	// long as the hash of every allowed algorithm (32 bytes for HS256, 48 for
	// HS384, 64 for HS512). Never logged.
	Secret string `json:"secret,omitempty"`
	// LocalJWKS (`local_jwks`): an inline JWKS, as a JSON object or a string
	// holding one.
	LocalJWKS InlineJWKS `json:"local_jwks,omitempty"`
	// RemoteJWKS (`remote_jwks`): a JWKS fetched from a cluster.
	RemoteJWKS *RemoteJWKS `json:"remote_jwks,omitempty"`
	// Discovery (`discovery`): find the JWKS through the issuer's OpenID
	// configuration (`issuer` + "/.well-known/openid-configuration", whose
	// `issuer` must equal ours), then fetch its `jwks_uri` from the same
	// cluster.
	Discovery *Discovery `json:"discovery,omitempty"`
	// FromHeaders (`from_headers`): headers that carry the token. Default,
	// when no location is configured: `Authorization: Bearer <token>` and the
	// `access_token` query parameter.
	FromHeaders []HeaderSource `json:"from_headers,omitempty"`
	// FromParams (`from_params`): query parameters that carry the token.
	FromParams []string `json:"from_params,omitempty"`
	// FromCookies (`from_cookies`): cookies that carry the token.
	FromCookies []string `json:"from_cookies,omitempty"`
	// ClockSkew (`clock_skew`): tolerance for exp, nbf and iat. Default "60s".
	ClockSkew *config.Duration `json:"clock_skew,omitempty"`
	// MaxLifetime (`max_lifetime`): when set, tokens must carry `exp` and
	// `iat`, and exp - iat must not exceed it (reason `lifetime`).
	MaxLifetime *config.Duration `json:"max_lifetime,omitempty"`
	// RequireExpiration (`require_expiration`): refuse tokens without `exp`
	// (reason `lifetime`). Default true.
	RequireExpiration *bool `json:"require_expiration,omitempty"`
	// Typ (`typ`): when set, the token's `typ` header must equal it,
	// case-insensitively, with or without an "application/" prefix (RFC 8725
	// §3.11, e.g. "at+jwt"). When empty, `typ` is not checked.
	Typ string `json:"typ,omitempty"`
	// Forward (`forward`): keep the token in the request sent upstream.
	// Default false: it is removed from wherever it came (header, query
	// parameter or cookie).
	Forward bool `json:"forward,omitempty"`
	// ForwardPayloadHeader (`forward_payload_header`): a header that receives
	// the token's base64url payload.
	ForwardPayloadHeader string `json:"forward_payload_header,omitempty"`
	// ClaimToHeaders (`claim_to_headers`): copy claims into request headers.
	ClaimToHeaders []ClaimToHeader `json:"claim_to_headers,omitempty"`
}

// InlineJWKS is a JWKS written inline: a JSON object or a string holding one.
type InlineJWKS []byte

// UnmarshalJSON keeps the document's bytes.
func (j *InlineJWKS) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		b = []byte(s)
	}
	*j = append((*j)[:0], b...)
	return nil
}

// JSONSchema describes a JWKS object or a string holding one.
func (InlineJWKS) JSONSchema() map[string]any {
	return map[string]any{"type": []string{"object", "string"}, "description": "a JWKS object, or a string holding one"}
}

// RemoteJWKS is a key set fetched over HTTP (`remote_jwks`).
type RemoteJWKS struct {
	// Cluster (`cluster`): the Envoy cluster that serves the JWKS. Required.
	Cluster string `json:"cluster" config:"required"`
	// URI (`uri`): the absolute http(s) URL of the JWKS; its path and host
	// become the callout's :path and :authority. Required.
	URI string `json:"uri" config:"required"`
	Fetching
}

// Discovery finds the JWKS through OpenID Connect Discovery (`discovery`).
type Discovery struct {
	// Cluster (`cluster`): the Envoy cluster that serves both the OpenID
	// configuration and the JWKS. Required.
	Cluster string `json:"cluster" config:"required"`
	Fetching
}

// Fetching holds the timing keys shared by `remote_jwks` and `discovery`.
type Fetching struct {
	// CacheDuration (`cache_duration`): how long a fetched key set is used
	// before it is refreshed. Default "300s".
	CacheDuration *config.Duration `json:"cache_duration,omitempty"`
	// Timeout (`timeout`): bound of each callout, and how long a request may
	// wait for keys that are being fetched. Default "3s".
	Timeout *config.Duration `json:"timeout,omitempty"`
	// MinRefetchInterval (`min_refetch_interval`): a token naming an unknown
	// `kid` triggers an immediate refetch at most this often, across all
	// workers. Default "30s".
	MinRefetchInterval *config.Duration `json:"min_refetch_interval,omitempty"`
}

// HeaderSource is a header that carries a token (`from_headers[]`).
type HeaderSource struct {
	// Name (`name`): the header name, matched case-insensitively.
	Name string `json:"name" config:"required"`
	// ValuePrefix (`value_prefix`): text before the token, e.g. "Bearer ",
	// matched case-insensitively. A value without it carries no token.
	ValuePrefix string `json:"value_prefix,omitempty"`
}

// ClaimToHeader copies one claim to a request header (`claim_to_headers[]`).
type ClaimToHeader struct {
	// Claim (`claim`): a dotted path ("realm.tier") or an array of segments
	// (["https://example.com/roles"]). Strings, numbers and booleans are
	// copied as text, arrays of them joined with ",". Other values, and
	// values with control characters, are not copied.
	Claim claims.Path `json:"claim" config:"required"`
	// Header (`header`): the header to set. A client-sent copy is always
	// removed first, so clients cannot forge it.
	Header string `json:"header" config:"required"`
}

// Rule is one entry of `rules`. The rules are apiguard's routes: the name
// of the rule a request matched is its `route` in metrics and audit events.
type Rule struct {
	// Name (`name`): the route's name, a metric name segment; default
	// "route<N>" with N the rule's index. Names are unique.
	Name string `json:"name,omitempty"`
	// Match (`match`): which requests the rule selects (route matcher).
	Match route.Match `json:"match"`
	// Requires (`requires`): what the requests need. Absent: no
	// authentication.
	Requires *Requirement `json:"requires,omitempty"`
}

// Requirement says which tokens a request needs. It has exactly one of
// `provider`, `any`, `all`, `allow_missing`, `allow_missing_or_failed`, and
// optionally `claims`.
type Requirement struct {
	// Provider (`provider`): a valid token of this provider.
	Provider string `json:"provider,omitempty"`
	// Any (`any`): at least one of these requirements.
	Any []Requirement `json:"any,omitempty"`
	// All (`all`): every one of these requirements.
	All []Requirement `json:"all,omitempty"`
	// AllowMissing (`allow_missing: true`): passes when no provider's token
	// is present; a token that is present must be valid. Useful inside `any`.
	AllowMissing bool `json:"allow_missing,omitempty"`
	// AllowMissingOrFailed (`allow_missing_or_failed: true`): always passes;
	// a valid token still yields claims and headers.
	AllowMissingOrFailed bool `json:"allow_missing_or_failed,omitempty"`
	// Claims (`claims`): conditions on the verified claims ({"claim": PATH,
	// "equals"|"contains"|"any_of"|"all_of": VALUE}); all must hold, else 403
	// insufficient_scope. With `any` they apply to the token that satisfied
	// it; with `all`, to every token.
	Claims []claims.Condition `json:"claims,omitempty"`
}

var (
	asymmetricAlgs = []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
	symmetricAlgs  = []string{"HS256", "HS384", "HS512"}
	hmacKeyBytes   = map[string]int{"HS256": 32, "HS384": 48, "HS512": 64}
)

// Validate checks the provider on its own.
func (p *Provider) Validate() error {
	sources := 0
	for _, set := range []bool{len(p.LocalJWKS) > 0, p.RemoteJWKS != nil, p.Discovery != nil} {
		if set {
			sources++
		}
	}
	switch {
	case p.Secret != "" && sources > 0:
		return config.Errorf("secret", "a provider is symmetric (secret) or asymmetric (local_jwks, remote_jwks, discovery), not both")
	case p.Secret == "" && sources == 0:
		return config.Errorf("", "needs one of secret, local_jwks, remote_jwks or discovery")
	case sources > 1:
		return config.Errorf("", "local_jwks, remote_jwks and discovery are mutually exclusive")
	}
	allowed := asymmetricAlgs
	if p.Secret != "" {
		allowed = symmetricAlgs
	}
	if p.Algorithms != nil && len(p.Algorithms) == 0 {
		return config.Errorf("algorithms", "empty list: omit the key to accept every algorithm of the provider's kind")
	}
	for i, a := range p.Algorithms {
		if !slices.Contains(allowed, a) {
			if slices.Contains(symmetricAlgs, a) {
				return config.Errorf(fmt.Sprintf("algorithms[%d]", i), "%q needs a secret", a)
			}
			if slices.Contains(asymmetricAlgs, a) {
				return config.Errorf(fmt.Sprintf("algorithms[%d]", i), "%q needs a key set, not a secret", a)
			}
			return config.Errorf(fmt.Sprintf("algorithms[%d]", i), "unknown algorithm %q (want one of %s)", a, strings.Join(allowed, ", "))
		}
	}
	if p.Secret != "" {
		for _, a := range p.algorithms() {
			if len(p.Secret) < hmacKeyBytes[a] {
				return config.Errorf("secret", "%s needs a secret of at least %d bytes", a, hmacKeyBytes[a])
			}
		}
	}
	if p.Audiences != nil && len(p.Audiences) == 0 {
		return config.Errorf("audiences", "empty list: omit the key to skip the audience check")
	}
	for i, a := range p.Audiences {
		if a == "" {
			return config.Errorf(fmt.Sprintf("audiences[%d]", i), "empty audience")
		}
	}
	if p.Subjects != nil && len(p.Subjects) == 0 {
		return config.Errorf("subjects", "empty list: omit the key to skip the subject check")
	}
	if p.RemoteJWKS != nil {
		if p.RemoteJWKS.Cluster == "" {
			return config.Errorf("remote_jwks.cluster", "required")
		}
		if err := checkURI(p.RemoteJWKS.URI); err != nil {
			return config.Errorf("remote_jwks.uri", "%v", err)
		}
		if err := p.RemoteJWKS.Fetching.validate("remote_jwks."); err != nil {
			return err
		}
	}
	if p.Discovery != nil {
		if p.Discovery.Cluster == "" {
			return config.Errorf("discovery.cluster", "required")
		}
		if p.Issuer == "" {
			return config.Errorf("issuer", "required with discovery")
		}
		if err := checkURI(p.Issuer); err != nil {
			return config.Errorf("issuer", "discovery needs an http(s) URL: %v", err)
		}
		if err := p.Discovery.Fetching.validate("discovery."); err != nil {
			return err
		}
	}
	for i, h := range p.FromHeaders {
		if !validHeaderName(h.Name) {
			return config.Errorf(fmt.Sprintf("from_headers[%d].name", i), "invalid header name %q", h.Name)
		}
	}
	for i, n := range p.FromParams {
		if n == "" {
			return config.Errorf(fmt.Sprintf("from_params[%d]", i), "empty name")
		}
	}
	for i, n := range p.FromCookies {
		if n == "" || strings.ContainsAny(n, "=; \t,\"") {
			return config.Errorf(fmt.Sprintf("from_cookies[%d]", i), "invalid cookie name %q", n)
		}
	}
	if p.ClockSkew != nil && p.ClockSkew.Duration > time.Hour {
		return config.Errorf("clock_skew", "more than 1h")
	}
	if p.MaxLifetime != nil && p.MaxLifetime.Duration <= 0 {
		return config.Errorf("max_lifetime", "must be positive")
	}
	if p.Typ != "" && strings.ContainsAny(p.Typ, " \t\"") {
		return config.Errorf("typ", "invalid media type %q", p.Typ)
	}
	if p.ForwardPayloadHeader != "" && !validHeaderName(p.ForwardPayloadHeader) {
		return config.Errorf("forward_payload_header", "invalid header name %q", p.ForwardPayloadHeader)
	}
	for i, c := range p.ClaimToHeaders {
		if len(c.Claim) == 0 {
			return config.Errorf(fmt.Sprintf("claim_to_headers[%d].claim", i), "required")
		}
		if !validHeaderName(c.Header) {
			return config.Errorf(fmt.Sprintf("claim_to_headers[%d].header", i), "invalid header name %q", c.Header)
		}
	}
	return nil
}

func (f *Fetching) validate(prefix string) error {
	for _, d := range []struct {
		name string
		v    *config.Duration
	}{{"cache_duration", f.CacheDuration}, {"timeout", f.Timeout}, {"min_refetch_interval", f.MinRefetchInterval}} {
		if d.v != nil && d.v.Duration <= 0 {
			return config.Errorf(prefix+d.name, "must be positive")
		}
	}
	if f.Timeout != nil && f.Timeout.Duration > time.Minute {
		return config.Errorf(prefix+"timeout", "more than 1m")
	}
	return nil
}

func checkURI(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf("not a URL")
	}
	if (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil || u.Fragment != "" {
		return fmt.Errorf("%q is not an absolute http(s) URL without userinfo or fragment", s)
	}
	return nil
}

// validHeaderName accepts lower- or mixed-case HTTP token names, not
// pseudo-headers.
func validHeaderName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return true
}

// algorithms is the effective allowlist.
func (p *Provider) algorithms() []string {
	if len(p.Algorithms) > 0 {
		return p.Algorithms
	}
	if p.Secret != "" {
		return symmetricAlgs
	}
	return asymmetricAlgs
}

// Validate checks the requirement's shape; provider names are checked by
// Config.Validate, which knows the providers.
func (r *Requirement) Validate() error {
	kinds := 0
	for _, set := range []bool{r.Provider != "", r.Any != nil, r.All != nil, r.AllowMissing, r.AllowMissingOrFailed} {
		if set {
			kinds++
		}
	}
	if kinds != 1 {
		return config.Errorf("", "needs exactly one of provider, any, all, allow_missing, allow_missing_or_failed")
	}
	if r.Any != nil && len(r.Any) == 0 {
		return config.Errorf("any", "empty list")
	}
	if r.All != nil && len(r.All) == 0 {
		return config.Errorf("all", "empty list")
	}
	if (r.AllowMissing || r.AllowMissingOrFailed) && len(r.Claims) > 0 {
		return config.Errorf("claims", "claims cannot be checked when the token may be missing; put them on a provider requirement")
	}
	return nil
}

// Validate checks cross-references: every provider a rule names must exist.
func (c *Config) Validate() error {
	if c.MaxTokenBytes < 0 {
		return config.Errorf("max_token_bytes", "must not be negative")
	}
	if c.CacheEntries < -1 {
		return config.Errorf("cache_entries", "must be -1 (off), 0 (default) or positive")
	}
	if strings.ContainsFunc(c.Realm, func(r rune) bool { return r < 0x20 || r == 0x7f || r == '"' || r == '\\' }) {
		return config.Errorf("realm", "must not contain quotes, backslashes or control characters")
	}
	for name, p := range c.Providers {
		if p == nil {
			return config.Errorf("providers."+name, "null provider")
		}
		if name == "" {
			return config.Errorf("providers", "empty provider name")
		}
	}
	for i := range c.Rules {
		if c.Rules[i].Requires == nil {
			continue
		}
		if err := c.checkProviders(c.Rules[i].Requires, fmt.Sprintf("rules[%d].requires", i)); err != nil {
			return err
		}
	}
	return nil
}

// RouteNames returns the name of every rule, in order (see Rule.Name).
func (c *Config) RouteNames() []string {
	names := make([]string, len(c.Rules))
	for i, r := range c.Rules {
		names[i] = r.Name
		if names[i] == "" {
			names[i] = "route" + strconv.Itoa(i)
		}
	}
	return names
}

func (c *Config) checkProviders(r *Requirement, path string) error {
	if r.Provider != "" {
		if _, ok := c.Providers[r.Provider]; !ok {
			return config.Errorf(path+".provider", "unknown provider %q", r.Provider)
		}
	}
	for i := range r.Any {
		if err := c.checkProviders(&r.Any[i], fmt.Sprintf("%s.any[%d]", path, i)); err != nil {
			return err
		}
	}
	for i := range r.All {
		if err := c.checkProviders(&r.All[i], fmt.Sprintf("%s.all[%d]", path, i)); err != nil {
			return err
		}
	}
	return nil
}
