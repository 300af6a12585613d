package telemetry

import (
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
)

// decodeConfig decodes a telemetry section the way the plugin does
// (config.Decode runs every Validate and prefixes the JSON path), then runs
// the validators again, which is harmless.
func decodeConfig(data string) (Config, error) {
	var c Config
	if err := config.Decode([]byte(data), &c); err != nil {
		return c, err
	}
	validators := []interface{ Validate() error }{&c.Audit, &c.GC, &c.Signals}
	if c.OTLP != nil {
		validators = append(validators, c.OTLP)
	}
	for _, v := range validators {
		if err := v.Validate(); err != nil {
			return c, err
		}
	}
	return c, c.Validate()
}

func TestConfigFullExample(t *testing.T) {
	c, err := decodeConfig(`{
	  "metric_prefix": "apiguard", "instance": "orders",
	  "audit": {"sink": "otlp", "sample_rate": 0.1, "log_level": "info", "mask": ["national_id"], "headers": ["user-agent", "x-request-id"],
	            "body_excerpt_bytes": 512, "key_hash_salt": "pepper"},
	  "otlp": {"cluster": "otel", "authority": "otel:4318", "path": "/v1/logs", "timeout": "2s", "batch_size": 50, "flush_interval": "1s",
	           "max_buffered_events": 500, "retry_initial_backoff": "500ms", "retry_max_backoff": "30s", "max_retries": 3, "service_name": "edge"},
	  "gc": {"mode": "heap_above", "heap_above_bytes": 16777216, "min_interval": "2s"},
	  "signals": {"auth_failure_threshold": 5, "auth_failure_window": "30s", "near_limit_ratio": 0.9}
	}`)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve("ignored")
	if err != nil {
		t.Fatal(err)
	}
	if r.Instance != "orders" || *r.Audit.SampleRate != 0.1 || r.OTLP.BatchSize != 50 || r.OTLP.Timeout.Duration != 2*time.Second ||
		*r.OTLP.MaxRetries != 3 || r.GC.MinInterval.Duration != 2*time.Second || *r.Signals.NearLimitRatio != 0.9 {
		t.Errorf("resolved %+v", r)
	}
}

func TestConfigDefaults(t *testing.T) {
	c, err := decodeConfig(`{}`)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve("My.Plugin")
	if err != nil {
		t.Fatal(err)
	}
	if r.MetricPrefix != "apiguard" || r.Instance != "my_plugin" || r.Audit.Sink != SinkOff || *r.Audit.SampleRate != 1 ||
		r.Audit.LogLevel != "warn" || r.OTLP != nil || r.GC.Mode != GCOff || r.Signals.AuthFailureThreshold != 10 ||
		r.Signals.AuthFailureWindow.Duration != time.Minute || *r.Signals.NearLimitRatio != 0.8 {
		t.Errorf("defaults %+v", r)
	}
	o, _ := decodeConfig(`{"audit":{"sink":"otlp"},"otlp":{"cluster":"otel"}}`)
	ro, err := o.Resolve("p")
	if err != nil {
		t.Fatal(err)
	}
	if ro.OTLP.Authority != "otel" || ro.OTLP.Path != "/v1/logs" || ro.OTLP.ServiceName != "apiguard" {
		t.Errorf("otlp defaults %+v", ro.OTLP)
	}
	if _, err := (Config{}).Resolve(""); err == nil {
		t.Error("no instance and no plugin name accepted")
	}
}

func TestConfigRejectsMistakes(t *testing.T) {
	for _, c := range []struct{ json, wantIn string }{
		{`{"instance": "Orders"}`, "instance"},
		{`{"metric_prefix": "api.guard"}`, "metric_prefix"},
		{`{"audit": {"sink": "file"}}`, "audit.sink"},
		{`{"audit": {"sample_rate": 1.5}}`, "audit.sample_rate"},
		{`{"audit": {"log_level": "warning"}}`, "audit.log_level"},
		{`{"audit": {"headers": ["User Agent"]}}`, "audit.headers[0]"},
		{`{"audit": {"mask": ["-"]}}`, "audit.mask[0]"},
		{`{"audit": {"body_excerpt_bytes": 100000}}`, "audit.body_excerpt_bytes"},
		{`{"audit": {"sink": "otlp"}}`, "otlp"},
		{`{"otlp": {}}`, "otlp.cluster"},
		{`{"otlp": {"cluster": "c", "path": "v1/logs"}}`, "otlp.path"},
		{`{"otlp": {"cluster": "c", "batch_size": 5000}}`, "otlp.batch_size"},
		{`{"otlp": {"cluster": "c", "batch_size": 100, "max_buffered_events": 10}}`, "otlp.max_buffered_events"},
		{`{"otlp": {"cluster": "c", "retry_initial_backoff": "10s", "retry_max_backoff": "1s"}}`, "otlp.retry_max_backoff"},
		{`{"otlp": {"cluster": "c", "max_retries": -1}}`, "otlp.max_retries"},
		{`{"gc": {"mode": "always"}}`, "gc.mode"},
		{`{"gc": {"mode": "every_requests"}}`, "gc.every_requests"},
		{`{"gc": {"mode": "heap_above"}}`, "gc.heap_above_bytes"},
		{`{"signals": {"near_limit_ratio": 0}}`, "signals.near_limit_ratio"},
		{`{"signals": {"max_tracked_clients": 1024}}`, "signals.max_tracked_clients"},
		{`{"signals": {"auth_failure_window": "10ms"}}`, "signals.auth_failure_window"},
		{`{"audit": {"smaple_rate": 1}}`, "audit.smaple_rate"},
		{`{"otlp": {"cluster": "c", "timeout": "-1s"}}`, "otlp.timeout"},
	} {
		_, err := decodeConfig(c.json)
		if err == nil {
			t.Errorf("%s accepted", c.json)
			continue
		}
		if !strings.Contains(err.Error(), c.wantIn) {
			t.Errorf("%s: error %q does not name %q", c.json, err, c.wantIn)
		}
	}
}

func TestConfigErrorsNeverCarryTheSalt(t *testing.T) {
	_, err := decodeConfig(`{"audit": {"key_hash_salt": "` + secretPassword + `", "sink": "bogus"}}`)
	if err == nil || strings.Contains(err.Error(), secretPassword) {
		t.Fatalf("err = %v", err)
	}
}

func FuzzConfigDecode(f *testing.F) {
	f.Add(`{"audit":{"sink":"log","sample_rate":0.5},"gc":{"mode":"every_requests","every_requests":10}}`)
	f.Add(`{"otlp":{"cluster":"c","batch_size":1}}`)
	f.Fuzz(func(t *testing.T, data string) {
		c, err := decodeConfig(data)
		if err != nil {
			return
		}
		r, err := c.Resolve("fuzz")
		if err != nil {
			return
		}
		if !metrics.ValidName(r.Instance) || !metrics.ValidName(r.MetricPrefix) {
			t.Fatalf("resolved names %q %q", r.Instance, r.MetricPrefix)
		}
		if r.OTLP != nil {
			bc := r.OTLP.BatcherConfig()
			if bc.BatchSize < 1 || bc.MaxBuffered < bc.BatchSize {
				t.Fatalf("batcher config %+v", bc)
			}
		}
	})
}

// The telemetry section of the design document's example must stay valid.
func TestConfigDesignExample(t *testing.T) {
	c, err := decodeConfig(`{"metric_prefix": "apiguard", "audit": {"sink": "log", "mask": ["password", "card_number"]}}`)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve("apiguard.orders")
	if err != nil || r.Instance != "apiguard_orders" || r.Audit.Sink != SinkLog {
		t.Fatalf("%+v %v", r, err)
	}
}

func TestBatcherConfigFromResolvedConfig(t *testing.T) {
	c, err := Config{Instance: "x", Audit: AuditConfig{Sink: SinkOTLP}, OTLP: &OTLPConfig{Cluster: "otel"}}.Resolve("")
	if err != nil {
		t.Fatal(err)
	}
	bc := c.OTLP.BatcherConfig()
	if bc.BatchSize != 100 || bc.MaxBuffered != 1000 || bc.FlushInterval != 5*time.Second || bc.InitialBackoff != time.Second ||
		bc.MaxBackoff != time.Minute || bc.MaxRetries != 5 || bc.CallTimeout != 5*time.Second {
		t.Errorf("%+v", bc)
	}
}
