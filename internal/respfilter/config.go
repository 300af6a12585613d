package respfilter

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/internal/claims"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/tidwall/gjson"
)

// Defaults and bounds of the response_filter section.
const (
	// DefaultMaxBodyBytes matches Envoy's default per-stream buffer limit
	// (1 MiB), past which Envoy itself would fail the response.
	DefaultMaxBodyBytes = 1 << 20
	// MaxMaxBodyBytes keeps one buffered body within a Wasm VM's means.
	MaxMaxBodyBytes = 64 << 20
	// DefaultMaxDepth is deeper than real API documents and shallow enough
	// that a hostile upstream cannot make parsing expensive.
	DefaultMaxDepth = 64
	// MaxMaxDepth bounds the configurable depth.
	MaxMaxDepth = 1000
	// maxGrantsPerRule bounds allow_for_claims so the compiled allowlist of
	// every combination fits a uint64 cache key.
	maxGrantsPerRule = 32
	// defaultMask is written in place of a masked value when mask_value is
	// not set.
	defaultMask = `"***"`
)

// Config is the `response_filter` section of the plugin configuration.
//
// A response is filtered when the first rule that matches its request has
// an allowlist: every JSON field not on it is removed (or masked) at every
// depth. Requests that no rule matches are not filtered; put a catch-all
// rule last ({"match": {}}) to filter everything else with an empty
// allowlist.
type Config struct {
	// Rules are tried in order and the first whose match accepts the request
	// applies (the same route matcher as jwt and rate_limits).
	Rules []Rule `json:"rules"`
	// Allowlists are allow lists by name, which rules, grants and other
	// named allowlists use at a path: {"allowlist": NAME, "at": PATH} in an
	// allow list stands for every path of NAME put below PATH. A shape that
	// many operations return (a user, a repository) is written once. Names
	// are letters, digits, '.', '_' and '-'; an allowlist cannot use itself.
	Allowlists map[string]AllowList `json:"allowlists,omitempty"`
	// MaxBodyBytes is the largest body filtered, on the wire and again after
	// decompression. Bigger ones, or a declared content-length over it, are
	// errors (reason too_large) that on_error decides. Default 1048576.
	MaxBodyBytes int `json:"max_body_bytes,omitempty"`
	// OnError decides what a failure does: "deny" (default) answers 502
	// with a small JSON error, or replaces the body with an error document
	// when the headers already left (headers_mode "streamed"); "allow" sends
	// the body unfiltered and counts it. Failures: malformed, too_large,
	// unsupported_encoding, decode_failed, conflicting_length and depth.
	OnError OnError `json:"on_error,omitempty" config:"enum=allow|deny,renamed_values=pass>allow"`
	// NonJSON decides a body on a filtered route that is not JSON: one whose
	// content type is not JSON, whose first non-space byte is neither '{'
	// nor '[', and which is not a complete JSON scalar either. "deny"
	// (default) refuses it as on_error "deny" refuses a failure (reason
	// not_json), whatever on_error says; "allow" sends it unchanged and
	// counts it. A body that starts with '{' or '[' is always filtered as
	// JSON, whatever its content type says.
	NonJSON NonJSON `json:"non_json,omitempty" config:"enum=allow|deny,renamed_values=error>deny|pass>allow"`
	// MaxDepth is the deepest nesting of objects and arrays accepted; a
	// deeper document is a depth failure. Default 64, at most 1000.
	MaxDepth int `json:"max_depth,omitempty"`
	// HeadersMode tells the plugin how Envoy treats the response headers:
	// "held" (default) needs allow_on_headers_stop_iteration: true in the
	// Envoy PluginConfig, so the whole body is seen before the status
	// leaves and a failure is a real 502. "streamed" is for Istio's
	// WasmPlugin without an EnvoyFilter patch: only what the headers show
	// (encoding, declared length) can still become a 502; a failure found
	// in the body replaces the body with an error document under the status
	// already sent. Getting this wrong stalls (held without the Envoy flag)
	// or weakens (streamed) the filter, so the plugin logs it at start.
	HeadersMode HeadersMode `json:"headers_mode,omitempty" config:"enum=held|streamed"`

	// compiled is what Validate compiled, for New: a large configuration's
	// allowlists are compiled once, at decode, not again at New.
	compiled *compiled
}

// Rule is one entry of Config.Rules.
type Rule struct {
	// Name labels this rule in metrics and audit events; default "rule<N>"
	// with N its index. It must be unique.
	Name string `json:"name,omitempty"`
	// Match selects the requests whose responses this rule filters; an
	// empty match selects every request.
	Match route.Match `json:"match"`
	// Bypass exempts the matching requests from filtering, e.g. a public
	// sub-path under a filtered prefix. It cannot be combined with the other
	// fields except name and match.
	Bypass bool `json:"bypass,omitempty"`
	// Allow lists the field paths every caller may see, and the named
	// allowlists they may see at a path; see the package documentation for
	// the path syntax. An empty list removes every field.
	Allow AllowList `json:"allow,omitempty"`
	// AllowForClaims grants extra paths to callers whose verified JWT
	// claims meet conditions (least privilege per caller).
	AllowForClaims []ClaimGrant `json:"allow_for_claims,omitempty"`
	// Mode is "remove" (default: fields not allowed disappear) or "mask"
	// (their values become MaskValue, keeping keys and array lengths).
	Mode Mode `json:"mode,omitempty" config:"enum=remove|mask"`
	// MaskValue is the JSON value written in mask mode; default "***".
	// Any JSON value is accepted (null, a string, a number...).
	MaskValue MaskValue `json:"mask_value"`
	// Statuses lists the response statuses filtered, each a code (200) or a
	// class ("2xx"). Default: every status. Responses to apiguard's own
	// replies (401/403/429/502) are never filtered, whatever this says.
	Statuses []Status `json:"statuses,omitempty"`
}

// ClaimGrant is one entry of Rule.AllowForClaims.
type ClaimGrant struct {
	// Claims lists the claim conditions that must all hold; at least one.
	// The key is `claims`, as in a jwt rule's `requires`.
	Claims []claims.Condition `json:"claims" config:"required,renamed_from=when"`
	// Allow lists the extra paths (and named allowlists) granted; at least
	// one.
	Allow AllowList `json:"allow" config:"required"`
}

// OnError is Config.OnError.
type OnError string

// OnError values.
const (
	OnErrorDeny  OnError = "deny"
	OnErrorAllow OnError = "allow"
)

// NonJSON is Config.NonJSON.
type NonJSON string

// NonJSON values.
const (
	NonJSONDeny  NonJSON = "deny"
	NonJSONAllow NonJSON = "allow"
)

// HeadersMode is Config.HeadersMode.
type HeadersMode string

// HeadersMode values.
const (
	HeadersHeld     HeadersMode = "held"
	HeadersStreamed HeadersMode = "streamed"
)

// Mode is Rule.Mode.
type Mode string

// Mode values.
const (
	ModeRemove Mode = "remove"
	ModeMask   Mode = "mask"
)

// validate refuses an unknown on_error value in a Config built in code (the
// decoder checks the enum first, naming a renamed value's new spelling).
func (v *OnError) validate() error {
	switch *v {
	case "", OnErrorAllow, OnErrorDeny:
		return nil
	}
	return config.Errorf("", "must be %q or %q", OnErrorAllow, OnErrorDeny)
}

// validate refuses an unknown non_json value in a Config built in code.
func (v *NonJSON) validate() error {
	switch *v {
	case "", NonJSONAllow, NonJSONDeny:
		return nil
	}
	return config.Errorf("", "must be %q or %q", NonJSONAllow, NonJSONDeny)
}

// Validate refuses an unknown headers_mode value.
func (v *HeadersMode) Validate() error {
	switch *v {
	case "", HeadersHeld, HeadersStreamed:
		return nil
	}
	return config.Errorf("", "must be %q or %q", HeadersHeld, HeadersStreamed)
}

// Validate refuses an unknown mode value.
func (v *Mode) Validate() error {
	switch *v {
	case "", ModeRemove, ModeMask:
		return nil
	}
	return config.Errorf("", "must be %q or %q", ModeRemove, ModeMask)
}

// MaskValue is a JSON value kept in compact form; the zero value is unset.
type MaskValue struct{ raw []byte }

// IsSet reports whether a value was given.
func (m MaskValue) IsSet() bool { return m.raw != nil }

// UnmarshalJSON accepts any JSON value up to 1 KiB and nesting depth 8.
func (m *MaskValue) UnmarshalJSON(data []byte) error {
	if len(data) > 1024 {
		return errors.New("mask_value: longer than 1024 bytes")
	}
	if !depthWithin(data, 8) || !gjson.ValidBytes(data) {
		return errors.New("mask_value: not a valid JSON value")
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, data); err != nil {
		return fmt.Errorf("mask_value: %w", err)
	}
	m.raw = buf.Bytes()
	return nil
}

// JSONSchema describes a mask value: any JSON value.
func (MaskValue) JSONSchema() map[string]any {
	return map[string]any{"description": "any JSON value, written in place of a masked one"}
}

// MarshalJSON returns the compact value.
func (m MaskValue) MarshalJSON() ([]byte, error) {
	if m.raw == nil {
		return []byte("null"), nil
	}
	return m.raw, nil
}

// Status is one entry of Rule.Statuses: a code (lo == hi) or a class.
type Status struct{ lo, hi int }

// UnmarshalJSON accepts a number 100..599 or a string "1xx".."5xx".
func (s *Status) UnmarshalJSON(data []byte) error {
	if len(data) == 5 && data[0] == '"' && data[4] == '"' &&
		data[1] >= '1' && data[1] <= '5' && (data[2] == 'x' || data[2] == 'X') && (data[3] == 'x' || data[3] == 'X') {
		base := int(data[1]-'0') * 100
		*s = Status{base, base + 99}
		return nil
	}
	n, err := strconv.Atoi(string(data))
	if err != nil || n < 100 || n > 599 {
		return errors.New(`must be a status code 100..599 or a class "1xx".."5xx"`)
	}
	*s = Status{n, n}
	return nil
}

// JSONSchema describes a status code or class.
func (Status) JSONSchema() map[string]any {
	return map[string]any{"anyOf": []any{
		map[string]any{"type": "integer", "minimum": 100, "maximum": 599},
		map[string]any{"type": "string", "pattern": "^[1-5][xX][xX]$"},
	}}
}

// MarshalJSON renders the code or class.
func (s Status) MarshalJSON() ([]byte, error) {
	if s.lo == s.hi {
		return []byte(strconv.Itoa(s.lo)), nil
	}
	return []byte(`"` + strconv.Itoa(s.lo/100) + `xx"`), nil
}

// Validate checks the section as a whole and compiles its allowlists,
// keeping them for New; Decode has already validated each nested value, and
// New calls it again for configs built in code.
func (c *Config) Validate() error {
	if err := c.check(); err != nil {
		return err
	}
	comp, err := c.compile()
	if err != nil {
		return err
	}
	c.compiled = comp
	return nil
}

// check is Validate without compiling the allowlists.
func (c *Config) check() error {
	if c.MaxBodyBytes < 0 || c.MaxBodyBytes > MaxMaxBodyBytes {
		return config.Errorf("max_body_bytes", "must be between 1 and %d (0 means the default %d)", MaxMaxBodyBytes, DefaultMaxBodyBytes)
	}
	if c.MaxDepth < 0 || c.MaxDepth > MaxMaxDepth {
		return config.Errorf("max_depth", "must be between 1 and %d (0 means the default %d)", MaxMaxDepth, DefaultMaxDepth)
	}
	if err := c.OnError.validate(); err != nil {
		return prefixed("on_error", err)
	}
	if err := c.NonJSON.validate(); err != nil {
		return prefixed("non_json", err)
	}
	if err := c.HeadersMode.Validate(); err != nil {
		return prefixed("headers_mode", err)
	}
	for _, name := range c.allowlistNames() {
		at := config.KeyPath("allowlists", name)
		if !validAllowlistName(name) {
			return config.Errorf(at, "%s", allowlistNameRule)
		}
		if err := c.Allowlists[name].validate(); err != nil {
			return prefixed(at, err)
		}
	}
	names := make(map[string]int, len(c.Rules))
	for i := range c.Rules {
		r := &c.Rules[i]
		at := fmt.Sprintf("rules[%d]", i)
		if err := r.Validate(); err != nil {
			return prefixed(at, err)
		}
		name := r.name(i)
		if j, dup := names[name]; dup {
			return config.Errorf(at+".name", "%q is already the name of rules[%d]", name, j)
		}
		names[name] = i
	}
	return nil
}

// Validate checks one rule: its paths parse, its grants are complete, and
// bypass stands alone. Whether its allowlist fits the node budget is
// checked with the section (Config.Validate), which compiles it.
func (r *Rule) Validate() error {
	if err := r.Match.Validate(); err != nil {
		return prefixed("match", err)
	}
	if err := refuseGRPCOnly(&r.Match); err != nil && !r.Bypass {
		return err
	}
	if r.Bypass {
		if len(r.Allow) > 0 || len(r.AllowForClaims) > 0 || r.Mode != "" || r.MaskValue.IsSet() || len(r.Statuses) > 0 {
			return config.Errorf("bypass", "a bypass rule takes only name and match")
		}
		return nil
	}
	if err := r.Mode.Validate(); err != nil {
		return prefixed("mode", err)
	}
	if r.MaskValue.IsSet() && r.Mode != ModeMask {
		return config.Errorf("mask_value", `is only used with "mode": "mask"`)
	}
	if err := validatePaths("allow", r.Allow); err != nil {
		return err
	}
	if len(r.AllowForClaims) > maxGrantsPerRule {
		return config.Errorf("allow_for_claims", "at most %d entries", maxGrantsPerRule)
	}
	for i := range r.AllowForClaims {
		if err := r.AllowForClaims[i].Validate(); err != nil {
			return prefixed(fmt.Sprintf("allow_for_claims[%d]", i), err)
		}
	}
	return nil
}

// Validate checks one grant.
func (g *ClaimGrant) Validate() error {
	if len(g.Claims) == 0 {
		return config.Errorf("claims", "needs at least one condition (use allow for paths every caller gets)")
	}
	for i := range g.Claims {
		if err := g.Claims[i].Validate(); err != nil {
			return prefixed(fmt.Sprintf("claims[%d]", i), err)
		}
	}
	if len(g.Allow) == 0 {
		return config.Errorf("allow", "needs at least one path")
	}
	return validatePaths("allow", g.Allow)
}

func validatePaths(field string, l AllowList) error {
	if err := l.validate(); err != nil {
		return prefixed(field, err)
	}
	return nil
}

// allowlistNames returns the names of Allowlists, sorted.
func (c *Config) allowlistNames() []string {
	names := make([]string, 0, len(c.Allowlists))
	for name := range c.Allowlists {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func (r *Rule) name(i int) string {
	if r.Name != "" {
		return r.Name
	}
	return "rule" + strconv.Itoa(i)
}

// prefixed puts err under the relative path at, keeping a *config.Error's
// own path below it.
func prefixed(at string, err error) error {
	var ce *config.Error
	if errors.As(err, &ce) {
		p := at
		switch {
		case ce.Path == "":
		case ce.Path[0] == '[':
			p += ce.Path
		default:
			p += "." + ce.Path
		}
		return &config.Error{Path: p, Msg: ce.Msg}
	}
	return config.Errorf(at, "%v", err)
}

// RuleNames returns the name of every rule, in order (see Rule.Name).
func (c *Config) RuleNames() []string {
	names := make([]string, len(c.Rules))
	for i := range c.Rules {
		names[i] = c.Rules[i].name(i)
	}
	return names
}

// refuseGRPCOnly refuses a rule whose match requires a gRPC content-type on
// the request: gRPC responses always pass unfiltered (their bodies are
// length-prefixed protobuf), so such a rule would protect nothing while
// looking as if it did.
func refuseGRPCOnly(m *route.Match) error {
	for i, h := range m.Headers {
		if !strings.EqualFold(h.Name, "content-type") || h.Invert {
			continue
		}
		v := h.Exact
		if v == "" {
			v = h.Prefix
		}
		if strings.HasPrefix(strings.ToLower(v), "application/grpc") {
			return config.Errorf(fmt.Sprintf("match.headers[%d]", i),
				"this rule matches only gRPC requests (content-type %q), whose length-prefixed protobuf bodies the JSON allowlist cannot read: gRPC responses always pass unfiltered, so the rule would protect nothing; remove it (gRPC-Web and JSON transcoding are not supported either)", v)
		}
	}
	return nil
}
