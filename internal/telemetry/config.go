package telemetry

import (
	"slices"
	"strconv"
	"time"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/telemetry/otlp"
)

// Config is the `telemetry` section of the plugin configuration. Every key
// is optional; Resolve fills in the defaults.
//
//	{
//	  "metric_prefix": "apiguard",   // first segment of every metric name; [a-z][a-z0-9_]*.
//	                                 // The shipped stats_tags assume "apiguard" (see StatsTags).
//	  "instance": "orders",          // second segment, so two apiguard filters in one Envoy never
//	                                 // share a metric; default: the Envoy plugin name, sanitised.
//	  "audit": {
//	    "sink": "log",               // "off" (default), "log" (proxy_log, JSON lines) or "otlp"
//	    "sample_rate": 0.1,          // fraction of allowed requests recorded, 0..1 (default 1);
//	                                 // denials and security signals are always recorded
//	    "log_level": "warn",         // level of the log sink's lines: trace|debug|info|warn|error|critical.
//	                                 // Default warn: Istio proxies log at warning, so info lines vanish.
//	    "mask": ["national_id"],     // extra keys to mask, on top of DefaultMaskKeys (never replaces them)
//	    "headers": ["user-agent"],   // request headers copied into each event, after masking
//	    "body_excerpt_bytes": 512,   // size of the masked request-body excerpt, 0 (default) = none, max 4096
//	    "key_hash_salt": "..."       // HMAC salt for the rate-limit key hash; empty = plain SHA-256
//	  },
//	  "otlp": {                      // required when audit.sink is "otlp"
//	    "cluster": "otel",           // Envoy cluster of the collector (required)
//	    "authority": "otel:4318",    // :authority of the export call; default: the cluster name
//	    "path": "/v1/logs",          // default /v1/logs
//	    "timeout": "5s",             // per export call; default 5s
//	    "batch_size": 100,           // events per export call; default 100, max 1000
//	    "flush_interval": "5s",      // export a partial batch this long after the last export; default 5s
//	    "max_buffered_events": 1000, // per worker, in-flight batch included, and never more than
//	                                 // 2 MiB; beyond it events are dropped and counted;
//	                                 // default 10 x batch_size, max 100000
//	    "retry_initial_backoff": "1s", "retry_max_backoff": "60s", // exponential backoff; defaults 1s, 60s
//	    "max_retries": 5,            // then the batch is dropped and counted; default 5
//	    "service_name": "apiguard"   // OTLP resource service.name; default "apiguard"
//	  },
//	  "gc": {                        // when to call runtime.GC(); default mode "off"
//	    "mode": "heap_above",        // "off", "every_requests" or "heap_above"
//	    "every_requests": 1000,      // every_requests: collect after this many streams (required)
//	    "heap_above_bytes": 16777216, // heap_above: collect on a tick when the heap exceeds this (required)
//	    "min_interval": "1s"         // never more often than this; default 1s
//	  },
//	  "signals": {
//	    "auth_failure_threshold": 10, // failed credentials per client IP and window, across workers, that make a burst; default 10
//	    "auth_failure_window": "60s", // default 60s; jwt.lockout.window replaces it when a lockout is configured
//	    "near_limit_ratio": 0.8       // share of a rate limit used that counts as near the limit; default 0.8
//	  }
//	}
type Config struct {
	MetricPrefix string        `json:"metric_prefix,omitempty"`
	Instance     string        `json:"instance,omitempty"`
	Audit        AuditConfig   `json:"audit,omitempty"`
	OTLP         *OTLPConfig   `json:"otlp,omitempty"`
	GC           GCConfig      `json:"gc,omitempty"`
	Signals      SignalsConfig `json:"signals,omitempty"`
}

// Audit sinks.
const (
	SinkOff  = "off"
	SinkLog  = "log"
	SinkOTLP = "otlp"
)

// Log levels of the log sink, named as in Envoy.
var logLevels = []string{"trace", "debug", "info", "warn", "error", "critical"}

// AuditConfig configures the audit trail.
type AuditConfig struct {
	Sink             string   `json:"sink,omitempty" config:"enum=off|log|otlp"`
	SampleRate       *float64 `json:"sample_rate,omitempty"`
	LogLevel         string   `json:"log_level,omitempty" config:"enum=trace|debug|info|warn|error|critical"`
	Mask             []string `json:"mask,omitempty"`
	Headers          []string `json:"headers,omitempty"`
	BodyExcerptBytes int      `json:"body_excerpt_bytes,omitempty"`
	KeyHashSalt      string   `json:"key_hash_salt,omitempty"`
}

// OTLPConfig configures the OTLP/HTTP JSON log export.
type OTLPConfig struct {
	Cluster             string          `json:"cluster" config:"required"`
	Authority           string          `json:"authority,omitempty"`
	Path                string          `json:"path,omitempty"`
	Timeout             config.Duration `json:"timeout,omitempty"`
	BatchSize           int             `json:"batch_size,omitempty"`
	FlushInterval       config.Duration `json:"flush_interval,omitempty"`
	MaxBufferedEvents   int             `json:"max_buffered_events,omitempty"`
	RetryInitialBackoff config.Duration `json:"retry_initial_backoff,omitempty"`
	RetryMaxBackoff     config.Duration `json:"retry_max_backoff,omitempty"`
	MaxRetries          *int            `json:"max_retries,omitempty"`
	ServiceName         string          `json:"service_name,omitempty"`
}

// GC policy modes.
const (
	GCOff           = "off"
	GCEveryRequests = "every_requests"
	GCHeapAbove     = "heap_above"
)

// GCConfig configures GCPolicy.
type GCConfig struct {
	Mode           string          `json:"mode,omitempty" config:"enum=off|every_requests|heap_above"`
	EveryRequests  int             `json:"every_requests,omitempty"`
	HeapAboveBytes int64           `json:"heap_above_bytes,omitempty" config:"renamed_from=heap_above_mib"`
	MinInterval    config.Duration `json:"min_interval,omitempty"`
}

// SignalsConfig configures the security signals.
type SignalsConfig struct {
	AuthFailureThreshold int             `json:"auth_failure_threshold,omitempty"`
	AuthFailureWindow    config.Duration `json:"auth_failure_window,omitempty"`
	NearLimitRatio       *float64        `json:"near_limit_ratio,omitempty"`
}

// Limits on configuration values.
const (
	maxBodyExcerpt  = 4096
	maxBatchSize    = 1000
	maxBuffered     = 100000
	maxHeaderNames  = 32
	maxMaskKeys     = 256
	defaultLogLevel = "warn"
)

// Validate checks the section; config.Decode calls it. Errors name the key
// but never echo a string value: a secret pasted into the wrong key must not
// end up in Envoy's logs.
func (c *Config) Validate() error {
	if c.MetricPrefix != "" && !metrics.ValidName(c.MetricPrefix) {
		return config.Errorf("metric_prefix", "want a lowercase letter followed by up to 62 of [a-z0-9_]")
	}
	if c.Instance != "" && !metrics.ValidName(c.Instance) {
		return config.Errorf("instance", "want a lowercase letter followed by up to 62 of [a-z0-9_]")
	}
	if c.Audit.Sink == SinkOTLP && c.OTLP == nil {
		return config.Errorf("otlp", "required when audit.sink is %q", SinkOTLP)
	}
	return nil
}

// Validate checks the audit section.
func (a *AuditConfig) Validate() error {
	switch a.Sink {
	case "", SinkOff, SinkLog, SinkOTLP:
	default:
		return config.Errorf("sink", "want off, log or otlp")
	}
	if a.SampleRate != nil && !(*a.SampleRate >= 0 && *a.SampleRate <= 1) {
		return config.Errorf("sample_rate", "%v: want a number from 0 to 1", *a.SampleRate)
	}
	if a.LogLevel != "" && !slices.Contains(logLevels, a.LogLevel) {
		return config.Errorf("log_level", "want one of trace, debug, info, warn, error, critical")
	}
	if len(a.Mask) > maxMaskKeys {
		return config.Errorf("mask", "at most %d keys", maxMaskKeys)
	}
	for i, k := range a.Mask {
		if audit.NormalizeKey(k) == "" {
			return config.Errorf("mask["+strconv.Itoa(i)+"]", "empty key")
		}
	}
	if len(a.Headers) > maxHeaderNames {
		return config.Errorf("headers", "at most %d headers", maxHeaderNames)
	}
	for i, h := range a.Headers {
		if !validHeaderName(h) {
			return config.Errorf("headers["+strconv.Itoa(i)+"]", "not a lowercase HTTP header name")
		}
	}
	if a.BodyExcerptBytes < 0 || a.BodyExcerptBytes > maxBodyExcerpt {
		return config.Errorf("body_excerpt_bytes", "%d: want 0 to %d", a.BodyExcerptBytes, maxBodyExcerpt)
	}
	return nil
}

// Validate checks the otlp section.
func (o *OTLPConfig) Validate() error {
	if o.Cluster == "" {
		return config.Errorf("cluster", "required")
	}
	if o.Path != "" && (o.Path[0] != '/' || !printableASCII(o.Path)) {
		return config.Errorf("path", "want an absolute path of printable ASCII")
	}
	if !printableASCII(o.Authority) {
		return config.Errorf("authority", "must be printable ASCII")
	}
	if o.BatchSize < 0 || o.BatchSize > maxBatchSize {
		return config.Errorf("batch_size", "%d: want 1 to %d", o.BatchSize, maxBatchSize)
	}
	if o.MaxBufferedEvents < 0 || o.MaxBufferedEvents > maxBuffered {
		return config.Errorf("max_buffered_events", "%d: want 1 to %d", o.MaxBufferedEvents, maxBuffered)
	}
	if o.MaxBufferedEvents != 0 && o.MaxBufferedEvents < o.batchSize() {
		return config.Errorf("max_buffered_events", "%d is below batch_size %d", o.MaxBufferedEvents, o.batchSize())
	}
	if o.MaxRetries != nil && (*o.MaxRetries < 0 || *o.MaxRetries > 100) {
		return config.Errorf("max_retries", "%d: want 0 to 100", *o.MaxRetries)
	}
	if o.RetryMaxBackoff.Duration != 0 && o.RetryMaxBackoff.Duration < o.retryInitial() {
		return config.Errorf("retry_max_backoff", "below retry_initial_backoff")
	}
	for _, d := range []struct {
		path string
		v    time.Duration
	}{{"timeout", o.Timeout.Duration}, {"flush_interval", o.FlushInterval.Duration}, {"retry_initial_backoff", o.RetryInitialBackoff.Duration}} {
		if d.v != 0 && d.v < time.Millisecond {
			return config.Errorf(d.path, "must be at least 1ms")
		}
	}
	if !printableASCII(o.ServiceName) {
		return config.Errorf("service_name", "must be printable ASCII")
	}
	return nil
}

// Validate checks the gc section.
func (g *GCConfig) Validate() error {
	switch g.Mode {
	case "", GCOff:
	case GCEveryRequests:
		if g.EveryRequests < 1 {
			return config.Errorf("every_requests", "required (at least 1) when mode is %q", GCEveryRequests)
		}
	case GCHeapAbove:
		if g.HeapAboveBytes < 1<<20 || g.HeapAboveBytes > 4<<30 {
			return config.Errorf("heap_above_bytes", "required (1048576 to 4294967296, 1 MiB to 4 GiB) when mode is %q", GCHeapAbove)
		}
	default:
		return config.Errorf("mode", "want off, every_requests or heap_above")
	}
	return nil
}

// Validate checks the signals section.
func (s *SignalsConfig) Validate() error {
	if s.AuthFailureThreshold < 0 || s.AuthFailureThreshold > 1_000_000 {
		return config.Errorf("auth_failure_threshold", "%d: want 1 to 1000000", s.AuthFailureThreshold)
	}
	if w := s.AuthFailureWindow.Duration; w != 0 && (w < time.Second || w > 24*time.Hour) {
		return config.Errorf("auth_failure_window", "want 1s to 24h")
	}
	if s.NearLimitRatio != nil && !(*s.NearLimitRatio > 0 && *s.NearLimitRatio <= 1) {
		return config.Errorf("near_limit_ratio", "%v: want a number above 0 and at most 1", *s.NearLimitRatio)
	}
	return nil
}

// Resolve returns a copy of c with every default filled in. pluginName is
// Envoy's plugin name, used for the instance segment when none is configured.
func (c Config) Resolve(pluginName string) (Config, error) {
	if c.MetricPrefix == "" {
		c.MetricPrefix = metrics.DefaultPrefix
	}
	if c.Instance == "" {
		inst, err := metrics.InstanceFromPluginName(pluginName)
		if err != nil {
			return Config{}, err
		}
		c.Instance = inst
	}
	a := &c.Audit
	if a.Sink == "" {
		a.Sink = SinkOff
	}
	if a.SampleRate == nil {
		one := 1.0
		a.SampleRate = &one
	}
	if a.LogLevel == "" {
		a.LogLevel = defaultLogLevel
	}
	if c.OTLP != nil {
		o := *c.OTLP
		o.BatchSize = o.batchSize()
		if o.Authority == "" {
			o.Authority = o.Cluster
		}
		if o.Path == "" {
			o.Path = "/v1/logs"
		}
		o.Timeout.Duration = orDur(o.Timeout.Duration, 5*time.Second)
		o.FlushInterval.Duration = orDur(o.FlushInterval.Duration, 5*time.Second)
		if o.MaxBufferedEvents == 0 {
			o.MaxBufferedEvents = min(10*o.BatchSize, maxBuffered)
		}
		o.RetryInitialBackoff.Duration = o.retryInitial()
		o.RetryMaxBackoff.Duration = orDur(o.RetryMaxBackoff.Duration, max(60*time.Second, o.RetryInitialBackoff.Duration))
		if o.MaxRetries == nil {
			five := 5
			o.MaxRetries = &five
		}
		if o.ServiceName == "" {
			o.ServiceName = "apiguard"
		}
		c.OTLP = &o
	}
	if c.GC.Mode == "" {
		c.GC.Mode = GCOff
	}
	c.GC.MinInterval.Duration = c.GC.minInterval()
	s := &c.Signals
	if s.AuthFailureThreshold == 0 {
		s.AuthFailureThreshold = 10
	}
	s.AuthFailureWindow.Duration = orDur(s.AuthFailureWindow.Duration, 60*time.Second)
	if s.NearLimitRatio == nil {
		r := 0.8
		s.NearLimitRatio = &r
	}
	return c, nil
}

func (o *OTLPConfig) batchSize() int {
	if o.BatchSize == 0 {
		return 100
	}
	return o.BatchSize
}

func (o *OTLPConfig) retryInitial() time.Duration {
	return orDur(o.RetryInitialBackoff.Duration, time.Second)
}

func (g GCConfig) minInterval() time.Duration { return orDur(g.MinInterval.Duration, time.Second) }

func orDur(d, def time.Duration) time.Duration {
	if d == 0 {
		return def
	}
	return d
}

func validHeaderName(h string) bool {
	if h == "" || len(h) > 128 {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_' || (c == ':' && i == 0)) {
			return false
		}
	}
	return true
}

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e {
			return false
		}
	}
	return true
}

// BatcherConfig is the export buffer's configuration of a resolved OTLPConfig.
func (o *OTLPConfig) BatcherConfig() otlp.BatcherConfig {
	retries := 5
	if o.MaxRetries != nil {
		retries = *o.MaxRetries
	}
	return otlp.BatcherConfig{
		BatchSize: o.batchSize(), MaxBuffered: o.MaxBufferedEvents, FlushInterval: o.FlushInterval.Duration,
		CallTimeout: o.Timeout.Duration, InitialBackoff: o.retryInitial(), MaxBackoff: o.RetryMaxBackoff.Duration,
		MaxRetries: retries,
	}
}
