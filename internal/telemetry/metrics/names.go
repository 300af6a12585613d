package metrics

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/apiguard/apiguard/internal/telemetry/envoystats"
)

// Tag keys that Envoy's stats_tags turn into Prometheus labels. A metric name
// is
//
//	<prefix>.<instance>.<subsystem>[.<tag key>.<tag value>]*.<leaf>
//
// for example apiguard.orders.authn.provider.corp.decision.deny.reason.expired.decisions_total.
// Tag values are configured names or members of closed sets, never request data.
const (
	TagInstance = "apiguard_instance" // not "instance": Prometheus sets that label on every scrape
	TagRoute    = "route"
	TagProvider = "provider"
	TagPolicy   = "policy"
	TagDecision = "decision"
	TagReason   = "reason"
	TagPhase    = "phase"
	TagClass    = "class"   // a sensitive-data class (response_inventory)
	TagVersion  = "version" // only on the build_info gauge (BuildInfoName)
)

// tagKeys are the tag keys that appear as name segments, in stats_tags order.
var tagKeys = []string{TagRoute, TagProvider, TagPolicy, TagDecision, TagReason, TagPhase, TagClass}

// DefaultPrefix is the first segment of every metric name unless configured.
const DefaultPrefix = "apiguard"

// Reserved label values. Configured names start with a letter, so these
// cannot collide with one.
const (
	// NoProvider labels authn decisions taken without a provider (public
	// routes, a missing token on a rule that accepts several providers).
	NoProvider = "_none"
	// OtherRoute labels requests that matched no named route.
	OtherRoute = "_other"
)

var namePattern = regexp.MustCompile(`^[a-z][a-z0-9_]{0,62}$`)

// ValidName reports whether s may be used as a prefix, instance, provider,
// policy or route segment: a lowercase letter then up to 62 of [a-z0-9_].
// Dots would break tag extraction; other characters would be mangled by
// Prometheus, and the length bound keeps Envoy's symbol table small.
func ValidName(s string) bool { return namePattern.MatchString(s) }

// CheckName returns an error naming what is wrong with s, for config errors.
func CheckName(s string) error {
	if !ValidName(s) {
		return fmt.Errorf("%q is not a valid metric name segment: want a lowercase letter followed by up to 62 of [a-z0-9_]", s)
	}
	return nil
}

// InstanceFromPluginName derives an instance segment from Envoy's plugin
// name (PluginConfig.name or Istio's WasmPlugin name), for when the
// configuration gives none: lowercased, every other character replaced by
// '_', a leading non-letter prefixed with "p_", cut to 63 bytes.
func InstanceFromPluginName(pluginName string) (string, error) {
	b := []byte(strings.ToLower(pluginName))
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	s := string(b)
	if s == "" {
		return "", fmt.Errorf("telemetry: no instance name configured and the plugin name is empty")
	}
	if s[0] < 'a' || s[0] > 'z' {
		s = "p_" + s
	}
	if len(s) > 63 {
		s = s[:63]
	}
	return s, nil
}

type pair struct{ key, value string }

// metricName joins the segments of a metric name.
func metricName(prefix, instance, subsystem string, pairs []pair, leaf string) string {
	var b strings.Builder
	b.WriteString(prefix)
	b.WriteByte('.')
	b.WriteString(instance)
	b.WriteByte('.')
	b.WriteString(subsystem)
	for _, p := range pairs {
		b.WriteByte('.')
		b.WriteString(p.key)
		b.WriteByte('.')
		b.WriteString(p.value)
	}
	b.WriteByte('.')
	b.WriteString(leaf)
	return b.String()
}

// StatsTags returns the stats_config.stats_tags entries that turn apiguard
// metric names with the given prefix into labels. The regexes match the
// `wasmcustom.` form Envoy stores. Each tag regex walks whole key/value pairs
// after the subsystem segment, so a configured name equal to a tag key (a
// provider called "reason") cannot be mistaken for one.
// envoy/stats_tags.yaml is StatsTags(DefaultPrefix); a test keeps them equal.
func StatsTags(prefix string) []envoystats.TagSpec {
	seg := `[a-z0-9_]+`
	head := `^` + envoystats.WasmNamespace + `\.` + prefix + `\.`
	specs := []envoystats.TagSpec{{
		TagName: TagInstance,
		Regex:   `^` + envoystats.WasmNamespace + `\.` + prefix + `(\.(` + seg + `))\.`,
	}}
	for _, k := range tagKeys {
		specs = append(specs, envoystats.TagSpec{
			TagName: k,
			Regex:   head + seg + `\.` + seg + `(?:\.` + seg + `\.` + seg + `)*?(\.` + k + `\.(` + seg + `))(?:\.` + seg + `)+$`,
		})
	}
	// The version is a release string ("0.1.0"), dots included, so it gets
	// its own regex anchored on the build_info name.
	specs = append(specs, envoystats.TagSpec{
		TagName: TagVersion,
		Regex:   head + seg + `\.build(\.` + TagVersion + `\.([0-9A-Za-z.+_-]+))\.info$`,
	})
	return specs
}

// BuildInfoName is the name of the gauge that exports the plugin's version
// once, set to 1: <prefix>.<instance>.build.version.<version>.info, which
// stats_tags turn into apiguard_build_info{apiguard_instance, version}. The
// version is a label of this one metric only, never of the others.
func BuildInfoName(prefix, instance, version string) string {
	if prefix == "" {
		prefix = DefaultPrefix
	}
	return metricName(prefix, instance, "build", []pair{{TagVersion, version}}, "info")
}
