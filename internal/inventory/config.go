package inventory

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/route"
)

// Defaults and bounds of the response_inventory section.
const (
	DefaultMaxEntries     = 1024
	MaxMaxEntries         = 16384
	DefaultExportInterval = 60 * time.Second
	maxRoutes             = 64
	// DefaultMaxObservedBytes is the response filter's default
	// max_body_bytes, the most of a body a filtered route classifies.
	DefaultMaxObservedBytes = 1 << 20
	// MinMaxObservedBytes is the classified part of one value: a smaller
	// bound would leave even a single long value half seen.
	MinMaxObservedBytes = 1 << 10
	// MaxMaxObservedBytes is what a decoded body was followed to before
	// the bound existed: 16 MiB of a gzip of small values held a worker
	// about 15 s under wazero, the cost an operator takes on per response.
	MaxMaxObservedBytes = 16 << 20
)

// Config is the `response_inventory` section: which responses are
// observed, what their sensitive classes do, and how big the inventory may
// grow.
type Config struct {
	// Routes selects the observed requests, first match wins, and names
	// them in the inventory and the metrics. Absent: every request, named
	// by the jwt rule it matched (or "_other").
	Routes []Route `json:"routes,omitempty"`
	// SampleRate is the fraction of responses on unfiltered routes that are
	// observed, 0 to 1 (default 1). Filtered routes are classified in the
	// filter's own pass, always.
	SampleRate *float64 `json:"sample_rate,omitempty"`
	// Classes sets the policy of built-in classes by name: "observe" (the
	// default), "mask" or "deny".
	Classes map[string]string `json:"classes,omitempty"`
	// CustomClasses adds classes by key name and value patterns.
	CustomClasses []CustomClassConfig `json:"custom_classes,omitempty"`
	// MaxEntries bounds the (route, field path) entries kept in shared
	// data (default 1024, at most 16384).
	MaxEntries int `json:"max_entries,omitempty"`
	// ExportInterval is the least time between two exports of the
	// inventory through the audit sink; an export happens only when the
	// inventory changed (default 60s).
	ExportInterval config.Duration `json:"export_interval,omitempty"`
	// MaxObservedBytes bounds the body of one unfiltered response that is
	// observed, decoded when compressed (default 1 MiB, 1 KiB to 16 MiB):
	// past it the body passes unobserved, counted body_too_large.
	MaxObservedBytes int `json:"max_observed_bytes,omitempty"`
}

// Route is one entry of Config.Routes.
type Route struct {
	// Name labels the route in the inventory and the metrics. It may be
	// left out when the match is a path_template: the template is then the
	// route in the inventory, and its letters and digits its metric label
	// ("/users/{id}" is users_id).
	Name  string      `json:"name,omitempty"`
	Match route.Match `json:"match"`
}

// CustomClassConfig is one entry of Config.CustomClasses.
type CustomClassConfig struct {
	// Name is the class name in metrics, audit events and the inventory.
	Name string `json:"name" config:"required"`
	// Key is an RE2 pattern a member name must match (e.g. "(?i)^tax_?id$").
	Key string `json:"key,omitempty"`
	// Value is an RE2 pattern a string value must match; anchor it
	// ("^E[0-9]{6}$") to match whole values.
	Value string `json:"value,omitempty"`
	// Policy is "observe" (default), "mask" or "deny".
	Policy string `json:"policy,omitempty" config:"enum=observe|mask|deny"`
}

// Validate checks the section; config.Decode calls it.
func (c *Config) Validate() error {
	if len(c.Routes) > maxRoutes {
		return config.Errorf("routes", "at most %d routes", maxRoutes)
	}
	seen := map[string]bool{}
	for i, r := range c.Routes {
		at := fmt.Sprintf("routes[%d].name", i)
		if r.Name == "" && r.Match.PathTemplate == "" {
			return config.Errorf(at, "required unless the match is a path_template")
		}
		label := MetricLabel(r)
		if !validName(label) {
			if r.Name == "" {
				return config.Errorf(at, "required: the path template gives no usable metric label")
			}
			return config.Errorf(at, "want a lowercase letter followed by up to 62 of [a-z0-9_]")
		}
		if seen[label] {
			return config.Errorf(at, "duplicate route name %q", label)
		}
		seen[label] = true
	}
	if c.SampleRate != nil && !(*c.SampleRate >= 0 && *c.SampleRate <= 1) {
		return config.Errorf("sample_rate", "%v: want a number from 0 to 1", *c.SampleRate)
	}
	names := make([]string, 0, len(c.Classes))
	for name := range c.Classes {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		if _, ok := detect.ParseClass(name); !ok {
			return config.Errorf(config.KeyPath("classes", name), "unknown class; built-in classes: %s", strings.Join(BuiltinClassNames(), ", "))
		}
		if _, ok := ParsePolicy(c.Classes[name]); !ok {
			return config.Errorf(config.KeyPath("classes", name), "want observe, mask or deny")
		}
	}
	if len(c.CustomClasses) > MaxCustomClasses {
		return config.Errorf("custom_classes", "at most %d classes", MaxCustomClasses)
	}
	for i, cc := range c.CustomClasses {
		at := fmt.Sprintf("custom_classes[%d]", i)
		if !validName(cc.Name) {
			return config.Errorf(at+".name", "want a lowercase letter followed by up to 62 of [a-z0-9_]")
		}
		if _, ok := detect.ParseClass(cc.Name); ok || seen["class:"+cc.Name] {
			return config.Errorf(at+".name", "class %q already exists", cc.Name)
		}
		seen["class:"+cc.Name] = true
		if cc.Key == "" && cc.Value == "" {
			return config.Errorf(at, "set key, value or both")
		}
		if _, err := regexp.Compile(cc.Key); err != nil {
			return config.Errorf(at+".key", "not an RE2 pattern: %v", err)
		}
		if _, err := regexp.Compile(cc.Value); err != nil {
			return config.Errorf(at+".value", "not an RE2 pattern: %v", err)
		}
	}
	if c.MaxEntries < 0 || c.MaxEntries > MaxMaxEntries {
		return config.Errorf("max_entries", "%d: want 1 to %d", c.MaxEntries, MaxMaxEntries)
	}
	if c.ExportInterval.Duration != 0 && c.ExportInterval.Duration < time.Second {
		return config.Errorf("export_interval", "at least 1s")
	}
	if n := c.MaxObservedBytes; n != 0 && (n < MinMaxObservedBytes || n > MaxMaxObservedBytes) {
		return config.Errorf("max_observed_bytes", "%d: want %d to %d (absent: %d)", n, MinMaxObservedBytes, MaxMaxObservedBytes, DefaultMaxObservedBytes)
	}
	return nil
}

// RouteName is the route of routes entry i in the inventory: its name, or
// its path template.
func RouteName(r Route, i int) string {
	if r.Name != "" {
		return r.Name
	}
	return r.Match.PathTemplate
}

// MetricLabel is the route's label in metrics, which must be a metric name
// segment: its name, or the letters and digits of its path template joined
// by '_' ("/users/{id}" is users_id, "/files/{path=**}" files_path).
func MetricLabel(r Route) string {
	if r.Name != "" {
		return r.Name
	}
	var b strings.Builder
	sep := false
	for _, c := range strings.ToLower(r.Match.PathTemplate) {
		if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' {
			if sep && b.Len() > 0 {
				b.WriteByte('_')
			}
			b.WriteRune(c)
			sep = false
			continue
		}
		sep = true
	}
	return b.String()
}

// RouteNames lists the inventory routes of the configured routes.
func (c *Config) RouteNames() []string {
	out := make([]string, len(c.Routes))
	for i, r := range c.Routes {
		out[i] = RouteName(r, i)
	}
	return out
}

// Rate is the sampling rate of unfiltered routes.
func (c *Config) Rate() float64 {
	if c.SampleRate == nil {
		return 1
	}
	return *c.SampleRate
}

// Entries is max_entries with its default.
func (c *Config) Entries() int {
	if c.MaxEntries == 0 {
		return DefaultMaxEntries
	}
	return c.MaxEntries
}

// ObservedBytes is max_observed_bytes with its default.
func (c *Config) ObservedBytes() int {
	if c.MaxObservedBytes == 0 {
		return DefaultMaxObservedBytes
	}
	return c.MaxObservedBytes
}

// Interval is export_interval with its default.
func (c *Config) Interval() time.Duration {
	if c.ExportInterval.Duration == 0 {
		return DefaultExportInterval
	}
	return c.ExportInterval.Duration
}

// Classifier builds the section's classifier.
func (c *Config) Classifier() (*Classifier, error) {
	policies := map[string]Policy{}
	for name, p := range c.Classes {
		policies[name], _ = ParsePolicy(p)
	}
	custom := make([]CustomClass, len(c.CustomClasses))
	for i, cc := range c.CustomClasses {
		p, _ := ParsePolicy(cc.Policy)
		custom[i] = CustomClass{Name: cc.Name, Key: cc.Key, Value: cc.Value, Policy: p}
	}
	return NewClassifier(policies, custom)
}

// BuiltinClassNames lists the built-in class names.
func BuiltinClassNames() []string {
	var out []string
	for _, c := range detect.Classes() {
		out = append(out, c.String())
	}
	return out
}

// validName is a metric name segment: a lowercase letter and up to 62 of
// [a-z0-9_] (telemetry.ValidName's rule; routes and classes label metrics).
func validName(s string) bool {
	if len(s) == 0 || len(s) > 63 || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 1; i < len(s); i++ {
		if c := s[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}
