package ratelimit

import (
	"regexp"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/claims"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/route"
)

// Config is the plugin's "rate_limits" key: a list of policies. Every policy
// whose match selects a request is applied; the request is admitted only if
// all of them admit it.
type Config []Policy

// Policy is one rate-limit policy. JSON keys:
type Policy struct {
	// name: required, 1-64 characters of [A-Za-z0-9_.-], unique. It names the
	// policy in RateLimit headers, metrics and the shared-data namespace.
	Name string `json:"name" config:"required"`
	// match: which requests the policy applies to (route matcher; the empty
	// match selects every request).
	Match route.Match `json:"match"`
	// key: one or more parts whose values together identify a client bucket:
	// "client_ip", "header:NAME", "claim:PATH" (a path into the verified
	// claims, written as a `claim` key's value: dotted, or a JSON array of
	// segments), "path", "method", "envoy_route" (the Envoy route name).
	Key []KeyPart `json:"key" config:"required"`
	// missing_key: what happens when a key part has no value (no such header,
	// no verified token or claim, no route name). "client_ip" (default) puts
	// the client IP in the missing part's place, so such clients are limited
	// one by one and never share one empty bucket; "deny" refuses the request.
	MissingKey string `json:"missing_key,omitempty" config:"enum=client_ip|deny,renamed_values=source_ip>client_ip"`
	// limits: the windows, each with a different per; a request is admitted
	// only if every window admits it, and a refusal by one window consumes
	// nothing from the others. At most 4. Required unless "global" is set; with "global" they are a local
	// pre-limit checked before the callout.
	Limits []Limit `json:"limits,omitempty"`
	// override: limits read from a verified claim (plan tiers).
	Override *Override `json:"override,omitempty"`
	// shadow: count, decide and send headers, but never refuse.
	Shadow bool `json:"shadow,omitempty"`
	// status: the refusal's HTTP status, 400-599 (default 429).
	Status int `json:"status,omitempty"`
	// body: the refusal's body (default {"error":"rate_limited"}).
	Body string `json:"body,omitempty"`
	// content_type: the refusal body's content type (default application/json).
	ContentType string `json:"content_type,omitempty"`
	// grpc_status: the gRPC code a gRPC client gets when this policy refuses
	// it over the limit: "resource_exhausted" (default, RESOURCE_EXHAUSTED)
	// or "unavailable" (UNAVAILABLE, what Envoy's ratelimit filter answers
	// unless rate_limited_as_resource_exhausted is set; clients retry it).
	GRPCStatus string `json:"grpc_status,omitempty" config:"enum=resource_exhausted|unavailable"`
	// headers: "draft" (default: RateLimit-Policy and RateLimit per
	// draft-ietf-httpapi-ratelimit-headers), "legacy" (X-RateLimit-Limit,
	// -Remaining, -Reset), "both" or "none". Refusals always carry Retry-After.
	Headers string `json:"headers,omitempty" config:"enum=draft|legacy|both|none"`
	// cost: "requests" (default: each request costs 1) or "response_bytes"
	// (the plugin charges each response's body size when it completes; a
	// request is refused while the key's byte budget is exhausted, and
	// "requests" in limits then counts bytes).
	Cost string `json:"cost,omitempty" config:"enum=requests|response_bytes"`
	// estimated_bytes: with cost "response_bytes", the bytes each admitted
	// request reserves from the budget until its response completes and the
	// actual size is settled (1 to 10^12). Default: the observed average
	// response size of the route, else of the policy, and before any
	// response has completed, all the
	// budget that is left. See "Response-bytes budget" in doc.go for the
	// bound on overspend.
	EstimatedBytes int64 `json:"estimated_bytes,omitempty"`
	// failure_mode: "allow" (default) or "deny": the decision when the local
	// state cannot be updated (CAS attempts exhausted, every candidate slot
	// held by live keys, or a host error). Each case is counted.
	FailureMode string `json:"failure_mode,omitempty" config:"enum=allow|deny"`
	// max_keys: the number of shared-data slots of this policy (default
	// 10000, at most 4194304). This bounds its shared memory to about
	// max_keys × (slot key + 24 + 8 × windows) bytes; see Limiter.MaxBytes.
	MaxKeys int `json:"max_keys,omitempty"`
	// global: fleet-wide limit through envoyproxy/ratelimit.
	Global *Global `json:"global,omitempty"`
}

// Limit is one window. JSON keys:
type Limit struct {
	// requests: the quota per window, 1 to 10^12 (bytes when cost is
	// response_bytes). It sets the steady rate: one unit every per/requests.
	Requests int64 `json:"requests" config:"required"`
	// per: the window, a duration from "1s" to "720h" in whole
	// milliseconds ("1500ms" and "1.5s" are the same window). RateLimit
	// headers state it rounded up to whole seconds.
	Per config.Duration `json:"per" config:"required"`
	// burst: extra capacity above the quota, 0 (default) to 10^12. A client
	// that has been idle for a whole window may send requests+burst at once;
	// afterwards it gets one unit every per/requests. Over any interval of
	// length d at most requests+burst + d×requests/per units are admitted.
	Burst int64 `json:"burst,omitempty"`
}

// Override reads the limits from a verified claim. JSON keys:
type Override struct {
	// claim: the claim path, dotted ("plan") or as segments
	// (["https://example.com/plan"]).
	Claim claims.Path `json:"claim" config:"required"`
	// values: the limits per claim value (a string or number claim), e.g.
	// {"gold": [...], "free": [...]}. An empty list means the tier is not
	// limited by this policy. A missing claim, an unlisted value or no
	// verified token keeps the policy's own limits.
	Values map[string][]Limit `json:"values,omitempty"`
	// numeric: the claim is a positive integer giving the requests per window.
	Numeric *NumericOverride `json:"numeric,omitempty"`
}

// NumericOverride takes the quota from an integer claim. JSON keys:
type NumericOverride struct {
	// per: the window the claimed quota applies to (required).
	Per config.Duration `json:"per" config:"required"`
	// burst: the burst for the claimed quota (default 0).
	Burst int64 `json:"burst,omitempty"`
	// max: the largest claimed quota honoured (required); larger claims are
	// capped to it, non-positive or non-integer claims keep the policy's own
	// limits.
	Max int64 `json:"max" config:"required"`
}

// Global is a fleet-wide limit checked by envoyproxy/ratelimit through its
// HTTP /json endpoint. JSON keys:
type Global struct {
	// cluster: the Envoy cluster of the rate-limit service (required).
	Cluster string `json:"cluster" config:"required"`
	// domain: the service's domain for these descriptors (required).
	Domain string `json:"domain" config:"required"`
	// descriptors: the descriptors to send, each a list of entries. Default:
	// one descriptor with one entry per key part, keyed by the part's name.
	Descriptors [][]DescriptorEntry `json:"descriptors,omitempty"`
	// timeout: the callout timeout (default "20ms", as Envoy's ratelimit
	// filter; at most "10s").
	Timeout config.Duration `json:"timeout"`
	// failure_mode: "allow" (default, as Envoy's) or "deny": the decision on
	// any answer but a 200 with overallCode OK or a 429, and on timeouts and
	// transport failures.
	FailureMode string `json:"failure_mode,omitempty" config:"enum=allow|deny"`
	// path: the endpoint path (default "/json").
	Path string `json:"path,omitempty"`
	// authority: the :authority of the callout (default: the cluster name).
	Authority string `json:"authority,omitempty"`
}

// DescriptorEntry is one entry of a global descriptor. JSON keys:
type DescriptorEntry struct {
	// key: the descriptor key, as in the service's YAML config (required).
	Key string `json:"key" config:"required"`
	// value: a literal value.
	Value string `json:"value,omitempty"`
	// from: a key part ("client_ip", "header:NAME", "claim:PATH", "path",
	// "method", "envoy_route") supplying the value; a missing value follows the
	// policy's missing_key. Exactly one of value and from.
	From KeyPart `json:"from,omitempty"`
}

const (
	maxWindows     = 4
	maxKeyParts    = 8
	maxQuota       = 1_000_000_000_000
	maxPer         = 720 * time.Hour
	defaultMaxKeys = 10000
	maxMaxKeys     = 1 << 22
	defaultTimeout = 20 * time.Millisecond
	maxTimeout     = 10 * time.Second
	// maxPartValue is the longest key-part value used as is; longer values are
	// replaced by their SHA-256 in descriptors (the shared-data table hashes
	// every key anyway).
	maxPartValue = 256
)

var (
	namePattern   = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)
	headerPattern = regexp.MustCompile("^[a-z0-9!#$%&'*+.^_`|~-]+$")
	identPattern  = regexp.MustCompile(`^[A-Za-z0-9_-]+$`)
)

// Validate checks every policy and that names are unique.
func (c *Config) Validate() error {
	seen := make(map[string]bool, len(*c))
	for i := range *c {
		p := &(*c)[i]
		if err := p.Validate(); err != nil {
			return prefixed(indexPath(i), err)
		}
		if seen[p.Name] {
			return config.Errorf(indexPath(i)+".name", "duplicate policy name %q", p.Name)
		}
		seen[p.Name] = true
	}
	return nil
}

// Validate checks one policy; errors name the offending key.
func (p *Policy) Validate() error {
	if !namePattern.MatchString(p.Name) {
		return config.Errorf("name", "must be 1-64 characters of [A-Za-z0-9_.-]")
	}
	if err := p.Match.Validate(); err != nil {
		return prefixed("match", err)
	}
	if len(p.Key) == 0 {
		return config.Errorf("key", "at least one key part is required")
	}
	if len(p.Key) > maxKeyParts {
		return config.Errorf("key", "at most %d key parts", maxKeyParts)
	}
	seen := map[KeyPart]bool{}
	for i, k := range p.Key {
		path := "key[" + itoa(i) + "]"
		if _, err := parsePart(k); err != nil {
			return config.Errorf(path, "%s", err.Error())
		}
		if seen[k] {
			return config.Errorf(path, "duplicate key part %q", k)
		}
		seen[k] = true
	}
	if !oneOf(p.MissingKey, "", "client_ip", "deny") {
		return config.Errorf("missing_key", "must be \"client_ip\" or \"deny\"")
	}
	if len(p.Limits) == 0 && p.Global == nil {
		return config.Errorf("limits", "at least one limit is required unless global is set")
	}
	if err := validateLimits("limits", p.Limits); err != nil {
		return err
	}
	if p.Override != nil {
		if err := p.Override.validate(); err != nil {
			return prefixed("override", err)
		}
	}
	if p.Status != 0 && (p.Status < 400 || p.Status > 599) {
		return config.Errorf("status", "must be 400-599")
	}
	if !oneOf(p.GRPCStatus, "", "resource_exhausted", "unavailable") {
		return config.Errorf("grpc_status", "must be \"resource_exhausted\" or \"unavailable\"")
	}
	if !oneOf(p.Headers, "", "draft", "legacy", "both", "none") {
		return config.Errorf("headers", "must be \"draft\", \"legacy\", \"both\" or \"none\"")
	}
	if !oneOf(p.Cost, "", "requests", "response_bytes") {
		return config.Errorf("cost", "must be \"requests\" or \"response_bytes\"")
	}
	if p.EstimatedBytes != 0 {
		if p.Cost != "response_bytes" {
			return config.Errorf("estimated_bytes", "needs cost \"response_bytes\"")
		}
		if p.EstimatedBytes < 1 || p.EstimatedBytes > maxQuota {
			return config.Errorf("estimated_bytes", "must be 1-%d", int64(maxQuota))
		}
	}
	if !oneOf(p.FailureMode, "", "allow", "deny") {
		return config.Errorf("failure_mode", "must be \"allow\" or \"deny\"")
	}
	if p.MaxKeys < 0 || p.MaxKeys > maxMaxKeys {
		return config.Errorf("max_keys", "must be 1-%d", maxMaxKeys)
	}
	if strings.ContainsAny(p.ContentType, "\r\n") {
		return config.Errorf("content_type", "must not contain line breaks")
	}
	if p.Global != nil {
		if p.Cost == "response_bytes" {
			return config.Errorf("global", "cannot be combined with cost \"response_bytes\"")
		}
		if err := p.Global.validate(); err != nil {
			return prefixed("global", err)
		}
	}
	return nil
}

func validateLimits(path string, ls []Limit) error {
	if len(ls) > maxWindows {
		return config.Errorf(path, "at most %d windows", maxWindows)
	}
	pers := map[time.Duration]bool{}
	for i := range ls {
		if err := ls[i].validate(); err != nil {
			return prefixed(path+"["+itoa(i)+"]", err)
		}
		if pers[ls[i].Per.Duration] {
			return config.Errorf(path+"["+itoa(i)+"].per", "another window has the same per; keep the tighter one")
		}
		pers[ls[i].Per.Duration] = true
	}
	return nil
}

func (l *Limit) validate() error {
	if l.Requests < 1 || l.Requests > maxQuota {
		return config.Errorf("requests", "must be 1-%d", int64(maxQuota))
	}
	if err := validatePer("per", l.Per.Duration); err != nil {
		return err
	}
	if l.Requests > int64(l.Per.Duration) {
		return config.Errorf("requests", "more than one unit per nanosecond of per is not supported")
	}
	if l.Burst < 0 || l.Burst > maxQuota {
		return config.Errorf("burst", "must be 0-%d", int64(maxQuota))
	}
	if _, ok := newWindow(*l); !ok {
		return config.Errorf("burst", "capacity requests+burst over per is too large")
	}
	return nil
}

func validatePer(path string, d time.Duration) error {
	if d < time.Second || d > maxPer || d%time.Millisecond != 0 {
		return config.Errorf(path, "must be from 1s to 720h, in whole milliseconds")
	}
	return nil
}

func (o *Override) validate() error {
	if len(o.Claim) == 0 {
		return config.Errorf("claim", "is required")
	}
	if (o.Values == nil) == (o.Numeric == nil) {
		return config.Errorf("", "exactly one of values and numeric is required")
	}
	for _, v := range sortedKeys(o.Values) {
		if err := validateLimits(mapKeyPath("values", v), o.Values[v]); err != nil {
			return err
		}
	}
	if n := o.Numeric; n != nil {
		if err := validatePer("numeric.per", n.Per.Duration); err != nil {
			return err
		}
		if n.Max < 1 || n.Max > maxQuota {
			return config.Errorf("numeric.max", "must be 1-%d", int64(maxQuota))
		}
		probe := Limit{Requests: n.Max, Per: n.Per, Burst: n.Burst}
		if err := probe.validate(); err != nil {
			return prefixed("numeric", err)
		}
	}
	return nil
}

func (g *Global) validate() error {
	if g.Cluster == "" {
		return config.Errorf("cluster", "is required")
	}
	if g.Domain == "" {
		return config.Errorf("domain", "is required")
	}
	if g.Timeout.Duration < 0 || g.Timeout.Duration > maxTimeout {
		return config.Errorf("timeout", "must be at most 10s")
	}
	if g.Timeout.Duration != 0 && g.Timeout.Duration < time.Millisecond {
		return config.Errorf("timeout", "must be at least 1ms")
	}
	if !oneOf(g.FailureMode, "", "allow", "deny") {
		return config.Errorf("failure_mode", "must be \"allow\" or \"deny\"")
	}
	if g.Path != "" && !strings.HasPrefix(g.Path, "/") {
		return config.Errorf("path", "must start with /")
	}
	for i, d := range g.Descriptors {
		dp := "descriptors[" + itoa(i) + "]"
		if len(d) == 0 {
			return config.Errorf(dp, "needs at least one entry")
		}
		for j, e := range d {
			ep := dp + "[" + itoa(j) + "]"
			if e.Key == "" {
				return config.Errorf(ep+".key", "is required")
			}
			if (e.Value == "") == (e.From == "") {
				return config.Errorf(ep, "exactly one of value and from is required")
			}
			if e.From != "" {
				if _, err := parsePart(e.From); err != nil {
					return config.Errorf(ep+".from", "%s", err.Error())
				}
			}
		}
	}
	return nil
}

func oneOf(s string, allowed ...string) bool {
	for _, a := range allowed {
		if s == a {
			return true
		}
	}
	return false
}

// prefixed puts path in front of the path of a config error.
func prefixed(path string, err error) error {
	if ce, ok := err.(*config.Error); ok {
		p := path
		switch {
		case ce.Path == "":
		case strings.HasPrefix(ce.Path, "["):
			p += ce.Path
		default:
			p += "." + ce.Path
		}
		return &config.Error{Path: p, Msg: ce.Msg}
	}
	return &config.Error{Path: path, Msg: err.Error()}
}

func indexPath(i int) string { return "[" + itoa(i) + "]" }

// mapKeyPath names a map entry as config paths do: base.key for identifiers,
// base["key"] otherwise.
func mapKeyPath(base, key string) string {
	if identPattern.MatchString(key) {
		return base + "." + key
	}
	return base + "[" + strconv.Quote(key) + "]"
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
