// Package settings is the plugin's whole configuration: the JSON document
// that travels as Envoy's Wasm `configuration` or Istio's `pluginConfig`.
// Each policy owns its section's type and validation; this package composes
// them and decodes the document strictly, so a typo anywhere is refused at
// plugin start with the JSON path of the mistake.
package settings

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/internal/canon"
	"github.com/apiguard/apiguard/internal/clientip"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/jwtauth"
	"github.com/apiguard/apiguard/internal/ratelimit"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/telemetry"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
)

// MaxDocumentBytes bounds the configuration document, so a broken pipeline
// cannot hand the VM tens of megabytes. Hand-written configurations are a
// few KiB, but one generated from a large OpenAPI description is not:
// GitHub's REST API gives 2.6 MB (docs/openapi.md), which Envoy carries as
// the Wasm configuration (a StringValue, no size limit of its own). The
// whole document and its compiled form count in M_start, the measured
// start term of the memory bound (docs/memory.md). An Istio WasmPlugin is
// bounded below this, by etcd's default 1.5 MiB request limit.
const MaxDocumentBytes = 4 << 20

// Settings is the plugin configuration. Every section is optional: the empty
// document passes every request through and only observes.
type Settings struct {
	// The request settings (`path_normalization`, `authority_normalization`,
	// `method_override`, `headers_with_underscores`) sit at the top level:
	// they decide whether a request can be judged at all, before any policy
	// (docs/requests.md).
	canon.Config
	// ClientIP (`client_ip`) says how the client address is found: the
	// connection's source.address, or x-forwarded-for through `trusted_hops`
	// proxies. Envoy appends the peer to x-forwarded-for before filters run
	// when use_remote_address is true, so count that entry too (proxies in
	// front + 1), or leave 0 when the listener already sets
	// xff_num_trusted_hops.
	ClientIP clientip.Resolver `json:"client_ip"`
	// JWT (`jwt`) is authentication: providers and per-route rules.
	JWT *jwtauth.Config `json:"jwt,omitempty"`
	// RateLimits (`rate_limits`) are the rate-limit policies, all applied.
	RateLimits ratelimit.Config `json:"rate_limits,omitempty"`
	// ResponseFilter (`response_filter`) is the JSON field allowlist.
	ResponseFilter *respfilter.Config `json:"response_filter,omitempty"`
	// ResponseInventory (`response_inventory`) observes what responses
	// expose: field paths, types and sensitive classes, per route.
	ResponseInventory *inventory.Config `json:"response_inventory,omitempty"`
	// Telemetry (`telemetry`) is metrics naming, the audit trail and export.
	Telemetry telemetry.Config `json:"telemetry"`
}

// Parse decodes and validates a configuration document. It returns the
// first error in document order, an *config.Error naming the JSON path.
func Parse(data []byte) (*Settings, error) {
	s, errs := ParseAll(data)
	if len(errs) > 0 {
		return nil, errs[0]
	}
	return s, nil
}

// ParseAll is Parse reporting every error (config.DecodeAll), for
// validation tools; the plugin refuses a configuration with Parse's first.
func ParseAll(data []byte) (*Settings, config.ErrorList) {
	if len(data) > MaxDocumentBytes {
		return nil, config.ErrorList{config.Errorf("", "document is %d bytes, the limit is %d", len(data), MaxDocumentBytes)}
	}
	s := &Settings{}
	if len(data) == 0 {
		return s, nil
	}
	if errs := config.DecodeAll(data, s); len(errs) > 0 {
		return nil, errs
	}
	return s, nil
}

// SchemaID is the $id of the configuration's JSON Schema.
const SchemaID = "https://github.com/apiguard/apiguard/docs/apiguard.schema.json"

// Schema is the JSON Schema (draft 2020-12) of the configuration document,
// derived from these types as config.Decode reads them.
// docs/apiguard.schema.json is its output; a test keeps them equal.
func Schema() (map[string]any, error) {
	return config.Schema(&Settings{}, SchemaID, "apiguard plugin configuration")
}

// Validate checks what spans sections: every provider and rate-limit policy
// name becomes a metric name segment, so it must be one (config.Decode calls
// this after the sections validated themselves).
func (s *Settings) Validate() error {
	if err := s.Config.Validate(); err != nil {
		return err
	}
	if s.JWT != nil {
		names := make([]string, 0, len(s.JWT.Providers))
		for name := range s.JWT.Providers {
			names = append(names, name)
		}
		slices.Sort(names)
		for _, name := range names {
			if err := metrics.CheckName(name); err != nil {
				return config.Errorf(config.KeyPath("jwt.providers", name), "provider name: %v", err)
			}
		}
		seen := map[string]bool{}
		for i, name := range s.JWT.RouteNames() {
			if err := metrics.CheckName(name); err != nil {
				return config.Errorf(fmt.Sprintf("jwt.rules[%d].name", i), "%v", err)
			}
			if seen[name] {
				return config.Errorf(fmt.Sprintf("jwt.rules[%d].name", i), "duplicate route name %q", name)
			}
			seen[name] = true
		}
	}
	for i, p := range s.RateLimits {
		if err := metrics.CheckName(p.Name); err != nil {
			return config.Errorf(fmt.Sprintf("rate_limits[%d].name", i), "%v", err)
		}
	}
	return nil
}

// Inventory lists the configured names that become metric name segments.
func (s *Settings) Inventory(instance string) metrics.Inventory {
	inv := metrics.Inventory{Prefix: s.Telemetry.MetricPrefix, Instance: instance}
	if s.JWT != nil {
		for name, p := range s.JWT.Providers {
			inv.Providers = append(inv.Providers, name)
			if p != nil && (p.RemoteJWKS != nil || p.Discovery != nil) {
				inv.JWKSProviders = append(inv.JWKSProviders, name)
			}
		}
		slices.Sort(inv.Providers)
		slices.Sort(inv.JWKSProviders)
		inv.Routes = s.JWT.RouteNames()
	}
	for _, p := range s.RateLimits {
		inv.Policies = append(inv.Policies, p.Name)
	}
	if ri := s.ResponseInventory; ri != nil {
		inv.Classes = inventory.BuiltinClassNames()
		for _, c := range ri.CustomClasses {
			inv.Classes = append(inv.Classes, c.Name)
		}
		inv.InventoryRoutes = s.inventoryRouteLabels()
	}
	return inv
}

// inventoryRouteLabels are the routes the response inventory counts by:
// its own routes' labels, or without them the response_filter rule names
// and the jwt rule names (whichever a response is named after), keeping
// the ones that are metric name segments (others count as _other).
func (s *Settings) inventoryRouteLabels() []string {
	ri := s.ResponseInventory
	var names []string
	if len(ri.Routes) > 0 {
		for _, r := range ri.Routes {
			names = append(names, inventory.MetricLabel(r))
		}
		return names
	}
	if s.ResponseFilter != nil {
		names = append(names, s.ResponseFilter.RuleNames()...)
	}
	if s.JWT != nil {
		names = append(names, s.JWT.RouteNames()...)
	}
	var out []string
	for _, n := range names {
		if metrics.ValidName(n) && !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out
}

// Matches returns every configured rule's match: jwt rules, rate-limit
// policies and response-filter rules.
func (s *Settings) Matches() []route.Match {
	var out []route.Match
	if s.JWT != nil {
		for _, r := range s.JWT.Rules {
			out = append(out, r.Match)
		}
	}
	for _, p := range s.RateLimits {
		out = append(out, p.Match)
	}
	if s.ResponseFilter != nil {
		for _, r := range s.ResponseFilter.Rules {
			out = append(out, r.Match)
		}
	}
	if s.ResponseInventory != nil {
		for _, r := range s.ResponseInventory.Routes {
			out = append(out, r.Match)
		}
	}
	return out
}

// UnsaltedKeyHashWarning is the start-up warning naming the
// UnsaltedClientKeyPolicies, "" when there are none. The configuration stays
// valid (a lab setup need not manage a secret).
func (s *Settings) UnsaltedKeyHashWarning() string {
	names := s.UnsaltedClientKeyPolicies()
	if len(names) == 0 {
		return ""
	}
	quoted := make([]string, len(names))
	for i, n := range names {
		quoted[i] = strconv.Quote(n)
	}
	return "rate limits " + strings.Join(quoted, ", ") + " key on client values and telemetry.audit.key_hash_salt is not set: " +
		"audit events carry ratelimit_key_hash values a dictionary can reverse; set a secret salt"
}

// UnsaltedClientKeyPolicies names the rate-limit policies whose keys hold
// client values (IPs, subjects, API keys) while the audit trail records
// their pseudonyms without telemetry.audit.key_hash_salt: an unsalted hash
// of a low-entropy value is reversed by hashing a dictionary.
func (s *Settings) UnsaltedClientKeyPolicies() []string {
	a := s.Telemetry.Audit
	if a.Sink == "" || a.Sink == telemetry.SinkOff || a.KeyHashSalt != "" {
		return nil
	}
	var names []string
	for i := range s.RateLimits {
		if s.RateLimits[i].KeyHoldsClientValues() {
			names = append(names, s.RateLimits[i].Name)
		}
	}
	return names
}
