// Package envoystats reproduces, in Go, how Envoy turns a stat name into tags
// and a Prometheus metric name, so tests (and devproxy's /stats/prometheus)
// can check apiguard's metric names without an Envoy binary.
//
// Mirrored behaviour (envoyproxy/envoy):
//   - source/common/stats/tag_producer_impl.cc: every extractor runs against
//     the original name; the characters of each first capture group are
//     collected and removed at the end, so extractors do not see each other's
//     edits. Extractors without a prefix token run first; one whose regex
//     starts with `^token\.` runs only on names whose first dot-separated
//     token is `token`. (Envoy also skips a second extractor of an
//     already-extracted tag name; apiguard's tag names are unique.)
//   - source/common/stats/tag_extractor_impl.cc (TagExtractorStdRegexImpl,
//     the engine used for user stats_tags): std::regex_search, so the regex
//     may match anywhere unless anchored; it needs at least one group. The
//     first group is removed from the name; the tag value is the second group
//     when the regex has one, else the first.
//   - source/server/admin/prometheus_stats.cc: a name in a registered custom
//     namespace (Wasm registers "wasmcustom") loses that namespace and gets no
//     "envoy_" prefix; every other name gets "envoy_". Then every character
//     outside [a-zA-Z0-9_] becomes '_'. A custom name that starts with a digit
//     is not exported at all.
//
// Go's regexp (RE2) differs from ECMAScript std::regex for lookarounds and
// backreferences, which NewExtractor rejects; for the subset both accept and
// for the regexes apiguard ships, leftmost-first matching agrees.
package envoystats

import (
	"fmt"
	"regexp"
	"strings"
)

// WasmNamespace is the custom stat namespace Envoy puts Wasm metrics in.
const WasmNamespace = "wasmcustom"

// TagSpec is one entry of Envoy's stats_config.stats_tags.
type TagSpec struct {
	TagName string `json:"tag_name"`
	Regex   string `json:"regex"`
}

// Tag is an extracted tag.
type Tag struct {
	Name  string
	Value string
}

// DefaultSpecs returns Envoy's built-in extractors that carry no prefix token
// and so run against every stat name, Wasm ones included (from
// source/common/config/well_known_names.cc). The others are anchored to
// Envoy's own namespaces (cluster., http., listener., ...) and never see a
// wasmcustom. name.
func DefaultSpecs() []TagSpec {
	return []TagSpec{
		{TagName: "envoy.response_code", Regex: `_rq(_(\d{3}))$`},
		{TagName: "envoy.response_code_class", Regex: `_rq_(\d)xx$`},
	}
}

type extractor struct {
	name   string
	prefix string
	re     *regexp.Regexp
}

// Extractor applies a list of TagSpecs the way Envoy's TagProducerImpl does.
type Extractor struct {
	extractors []extractor
}

// NewExtractor compiles specs. Envoy requires a non-empty tag name and regex.
func NewExtractor(specs []TagSpec) (*Extractor, error) {
	e := &Extractor{}
	for i, s := range specs {
		if s.TagName == "" || s.Regex == "" {
			return nil, fmt.Errorf("envoystats: spec %d: tag_name and regex are required", i)
		}
		re, err := regexp.Compile(s.Regex)
		if err != nil {
			return nil, fmt.Errorf("envoystats: spec %d (%s): %w", i, s.TagName, err)
		}
		if re.NumSubexp() < 1 {
			return nil, fmt.Errorf("envoystats: spec %d (%s): regex has no capture group, Envoy would never tag with it", i, s.TagName)
		}
		e.extractors = append(e.extractors, extractor{name: s.TagName, prefix: regexPrefix(s.Regex), re: re})
	}
	return e, nil
}

// regexPrefix finds the literal first token of a regex of the form
// `^alnum_or_underscore\.` (or `^token$`), as Envoy's extractRegexPrefix does.
func regexPrefix(regex string) string {
	if !strings.HasPrefix(regex, "^") {
		return ""
	}
	for i := 1; i < len(regex); i++ {
		c := regex[i]
		if isAlnum(c) || c == '_' {
			continue
		}
		if i == 1 {
			return ""
		}
		last := i == len(regex)-1
		rest := regex[i:]
		if (!last && (strings.HasPrefix(rest, `\.`) || strings.HasPrefix(rest, `(?=\.)`))) || (last && c == '$') {
			return regex[1:i]
		}
		return ""
	}
	return ""
}

func isAlnum(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

// Extract returns the tag-extracted name and the tags of a full stat name
// (for Wasm metrics, the `wasmcustom.` form).
func (e *Extractor) Extract(name string) (string, []Tag) {
	var tags []Tag
	var remove [][2]int
	firstToken := ""
	if dot := strings.IndexByte(name, '.'); dot >= 0 {
		firstToken = name[:dot]
	}
	// Like TagProducerImpl::forEachExtractorMatching: extractors without a
	// prefix token first, then those whose prefix is the name's first token.
	var order []*extractor
	for i := range e.extractors {
		if e.extractors[i].prefix == "" {
			order = append(order, &e.extractors[i])
		}
	}
	for i := range e.extractors {
		if p := e.extractors[i].prefix; p != "" && p == firstToken {
			order = append(order, &e.extractors[i])
		}
	}
	for _, x := range order {
		m := x.re.FindStringSubmatchIndex(name)
		if m == nil {
			continue
		}
		valueGroup := 1
		if x.re.NumSubexp() >= 2 {
			valueGroup = 2
		}
		value := ""
		if m[2*valueGroup] >= 0 {
			value = name[m[2*valueGroup]:m[2*valueGroup+1]]
		}
		tags = append(tags, Tag{Name: x.name, Value: value})
		if m[2] >= 0 {
			remove = append(remove, [2]int{m[2], m[3]})
		}
	}
	return removeIntervals(name, remove), tags
}

func removeIntervals(s string, intervals [][2]int) string {
	if len(intervals) == 0 {
		return s
	}
	drop := make([]bool, len(s))
	for _, iv := range intervals {
		for i := iv[0]; i < iv[1]; i++ {
			drop[i] = true
		}
	}
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		if !drop[i] {
			b.WriteByte(s[i])
		}
	}
	return b.String()
}

// SanitizeName replaces every character outside [a-zA-Z0-9_] with '_', as
// Envoy's Prometheus output does for metric and tag names.
func SanitizeName(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !isAlnum(c) && c != '_' {
			b[i] = '_'
		}
	}
	return string(b)
}

// PrometheusName returns the name Envoy's /stats/prometheus gives a
// tag-extracted stat name, with "wasmcustom" registered as a custom namespace.
// ok is false when Envoy would not export the metric.
func PrometheusName(tagExtractedName string) (name string, ok bool) {
	if rest, found := strings.CutPrefix(tagExtractedName, WasmNamespace+"."); found {
		n := SanitizeName(rest)
		if n == "" || (n[0] >= '0' && n[0] <= '9') {
			return "", false
		}
		return n, true
	}
	return "envoy_" + SanitizeName(tagExtractedName), true
}
