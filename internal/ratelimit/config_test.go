package ratelimit

import (
	"errors"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/config"
)

// decodeAndValidate decodes like the plugin does, then validates again (a
// no-op when config.Decode already ran Validate).
func decodeAndValidate(js string) error {
	var cfg Config
	if err := config.Decode([]byte(js), &cfg); err != nil {
		return err
	}
	return cfg.Validate()
}

func TestConfigErrorsNameTheKey(t *testing.T) {
	for _, tc := range []struct{ js, path string }{
		{`[{"name":"","key":["client_ip"],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].name"},
		{`[{"name":"a b","key":["client_ip"],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].name"},
		{`[{"name":"a","key":[],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key"},
		{`[{"name":"a","key":["client_ip","cookie:x"],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key[1]"},
		{`[{"name":"a","key":["header:bad name"],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key[0]"},
		{`[{"name":"a","key":["jwt."],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key[0]"},
		{`[{"name":"a","key":["path","path"],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key[1]"},
		{`[{"name":"a","key":["path"]}]`, "[0].limits"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":0,"per":"1s"}]}]`, "[0].limits[0].requests"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1500us"}]}]`, "[0].limits[0].per"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"500ms"}]}]`, "[0].limits[0].per"},
		{`[{"name":"a","key":["claim:"],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key[0]"},
		{`[{"name":"a","key":["claim:a..b"],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key[0]"},
		{`[{"name":"a","key":["claim:[\"x\""],"limits":[{"requests":1,"per":"1s"}]}]`, "[0].key[0]"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s","burst":-1}]}]`, "[0].limits[0].burst"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"},{"requests":1,"per":"2s"},{"requests":1,"per":"3s"},{"requests":1,"per":"4s"},{"requests":1,"per":"5s"}]}]`, "[0].limits"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"},{"requests":5,"per":"1s"}]}]`, "[0].limits[1].per"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"status":200}]`, "[0].status"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"headers":"ietf"}]`, "[0].headers"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"cost":"bytes"}]`, "[0].cost"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"failure_mode":"open"}]`, "[0].failure_mode"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"missing_key":"skip"}]`, "[0].missing_key"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"max_keys":-1}]`, "[0].max_keys"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"estimated_bytes":100}]`, "[0].estimated_bytes"},
		{`[{"name":"a","key":["path"],"cost":"response_bytes","limits":[{"requests":1,"per":"1s"}],"estimated_bytes":-5}]`, "[0].estimated_bytes"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"override":{"claim":"plan"}}]`, "[0].override"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"override":{"claim":"plan","values":{"gold":[{"requests":0,"per":"1s"}]}}}]`, "[0].override.values.gold[0].requests"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],"override":{"claim":"rpm","numeric":{"per":"60s"}}}]`, "[0].override.numeric.max"},
		{`[{"name":"a","key":["path"],"global":{"domain":"d"}}]`, "[0].global.cluster"},
		{`[{"name":"a","key":["path"],"global":{"cluster":"c"}}]`, "[0].global.domain"},
		{`[{"name":"a","key":["path"],"global":{"cluster":"c","domain":"d","timeout":"1m"}}]`, "[0].global.timeout"},
		{`[{"name":"a","key":["path"],"global":{"cluster":"c","domain":"d","descriptors":[[{"key":"k"}]]}}]`, "[0].global.descriptors[0][0]"},
		{`[{"name":"a","key":["path"],"global":{"cluster":"c","domain":"d","descriptors":[[{"key":"k","from":"nope"}]]}}]`, "[0].global.descriptors[0][0].from"},
		{`[{"name":"a","key":["path"],"cost":"response_bytes","global":{"cluster":"c","domain":"d"}}]`, "[0].global"},
		{`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}]},{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}]}]`, "[1].name"},
	} {
		err := decodeAndValidate(tc.js)
		var ce *config.Error
		if !errors.As(err, &ce) {
			t.Errorf("%s: err = %v, want a *config.Error at %s", tc.js, err, tc.path)
			continue
		}
		if ce.Path != tc.path {
			t.Errorf("%s: path %q, want %q (%v)", tc.js, ce.Path, tc.path, err)
		}
	}
}

func TestErrorPathInsideThePluginConfig(t *testing.T) {
	var plugin struct {
		RateLimits Config `json:"rate_limits"`
	}
	err := config.Decode([]byte(`{"rate_limits":[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s"}],
		"override":{"claim":"plan","values":{"gold.plus":[{"requests":1,"per":"0s"}]}}}]}`), &plugin)
	var ce *config.Error
	if !errors.As(err, &ce) || ce.Path != `rate_limits[0].override.values["gold.plus"][0].per` {
		t.Fatalf("err = %v", err)
	}
}

func TestUnknownKeysAreRefused(t *testing.T) {
	err := decodeAndValidate(`[{"name":"a","key":["path"],"limits":[{"requests":1,"per":"1s","brust":3}]}]`)
	if err == nil || !strings.Contains(err.Error(), "brust") {
		t.Fatalf("typo accepted: %v", err)
	}
}

func TestDesignExampleIsValid(t *testing.T) {
	js := `[
	  {"name": "per_user", "match": {"prefix": "/api"}, "key": ["claim:sub"], "limits": [{"requests": 100, "per": "60s", "burst": 20}],
	   "override": {"claim": "plan", "values": {"gold": [{"requests": 1000, "per": "60s"}], "internal": []}}},
	  {"name": "fleet_per_ip", "key": ["client_ip"], "limits": [{"requests": 1000, "per": "60s"}],
	   "global": {"cluster": "ratelimit", "domain": "apiguard", "timeout": "50ms", "failure_mode": "allow"}},
	  {"name": "scrape", "key": ["client_ip"], "cost": "response_bytes", "headers": "both", "limits": [{"requests": 10485760, "per": "3600s"}]}
	]`
	var cfg Config
	if err := config.Decode([]byte(js), &cfg); err != nil {
		t.Fatal(err)
	}
	l, err := New(cfg, &castable.MemStore{}, "apiguard/root")
	if err != nil {
		t.Fatal(err)
	}
	// 3 policies × 10000 slots × (slot key + castable.SlotOverhead + 32 bytes of state).
	if b := l.MaxBytes(); b < 3*10000*(castable.SlotOverhead+32) || b > 3*10000*(castable.SlotOverhead+32+64) {
		t.Fatalf("MaxBytes = %d", b)
	}
}

// Old spellings are refused with the new one, at the key part's path.
func TestRenamedSpellingsNameTheNewOne(t *testing.T) {
	for _, tc := range []struct{ js, want string }{
		{`[{"name":"a","key":["source.ip"],"limits":[{"requests":1,"per":"1s"}]}]`, `config: [0].key[0]: "source.ip" was renamed to "client_ip"`},
		{`[{"name":"a","key":["jwt.sub"],"limits":[{"requests":1,"per":"1s"}]}]`, `config: [0].key[0]: "jwt.CLAIM" was renamed to "claim:CLAIM": write "claim:sub"`},
		{`[{"name":"a","key":["path"],"missing_key":"source_ip","limits":[{"requests":1,"per":"1s"}]}]`, `config: [0].missing_key: "source_ip" was renamed to "client_ip"`},
		{`[{"name":"a","key":["path"],"global":{"cluster":"c","domain":"d","descriptors":[[{"key":"k","from":"jwt.tenant"}]]}}]`, `config: [0].global.descriptors[0][0].from: "jwt.CLAIM" was renamed to "claim:CLAIM": write "claim:tenant"`},
	} {
		if err := decodeAndValidate(tc.js); err == nil || err.Error() != tc.want {
			t.Errorf("%s: %v, want %s", tc.js, err, tc.want)
		}
	}
}
