package settings

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseRefusesNamesThatCannotBeMetricSegments(t *testing.T) {
	for _, tc := range []struct{ doc, path string }{
		{`{"jwt": {"providers": {"Corp.IdP": {"issuer": "https://idp", "local_jwks": {"keys": []}}}, "rules": []}}`, `jwt.providers["Corp.IdP"]`},
		{`{"rate_limits": [{"name": "Per User", "key": ["client_ip"], "limits": [{"requests": 1, "per": "1s"}]}]}`, `rate_limits[0].name`},
	} {
		_, err := Parse([]byte(tc.doc))
		if err == nil || !strings.Contains(err.Error(), tc.path) {
			t.Errorf("Parse(%s) = %v, want an error naming %s", tc.doc, err, tc.path)
		}
	}
}

func TestEmptyDocumentIsTheEmptyConfiguration(t *testing.T) {
	s, err := Parse(nil)
	if err != nil || s.JWT != nil || len(s.RateLimits) != 0 || s.ResponseFilter != nil {
		t.Fatalf("Parse(nil) = %+v, %v", s, err)
	}
}

// Every example configuration shipped in the repository passes our own
// validation.
func TestEveryShippedConfigurationIsValid(t *testing.T) {
	files, err := filepath.Glob("../../envoy/*.json")
	if err != nil {
		t.Fatal(err)
	}
	examples, _ := filepath.Glob("../../envoy/examples/*.json")
	files = append(files, examples...)
	checked := 0
	for _, f := range files {
		if strings.Contains(f, "grafana") {
			continue
		}
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Parse(data); err != nil {
			t.Errorf("%s: %v", f, err)
		}
		checked++
	}
	if checked == 0 {
		t.Fatal("no configuration files found under envoy/")
	}
}

func TestRequestSettingsAreTopLevelAndChecked(t *testing.T) {
	s, err := Parse([]byte(`{"path_normalization": "rewrite", "authority_normalization": "refuse", "method_override": "remove", "headers_with_underscores": "refuse"}`))
	if err != nil || s.PathNormalization != "rewrite" || s.AuthorityNormalization != "refuse" || s.MethodOverride != "remove" || s.HeadersWithUnderscores != "refuse" {
		t.Fatalf("Parse = %+v, %v", s, err)
	}
	for _, doc := range []string{`{"path_normalization": "normalize"}`, `{"headers_with_underscores": "keep"}`} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("Parse(%s) accepted", doc)
		}
	}
}

// Every spelling renamed before 1.0 is refused at plugin start with its JSON
// path and the new spelling (README, "One spelling per concept").
func TestRenamedSpellingsAreRefusedWithTheNewOne(t *testing.T) {
	rl := func(extra string) string {
		return `{"rate_limits": [{"name": "p", ` + extra + `, "limits": [{"requests": 1, "per": "1s"}]}]}`
	}
	for _, tt := range []struct{ in, want string }{
		{rl(`"key": ["source.ip"]`), `config: rate_limits[0].key[0]: "source.ip" was renamed to "client_ip"`},
		{rl(`"key": ["jwt.sub"]`), `config: rate_limits[0].key[0]: "jwt.CLAIM" was renamed to "claim:CLAIM": write "claim:sub"`},
		{rl(`"key": ["path"], "missing_key": "source_ip"`), `config: rate_limits[0].missing_key: "source_ip" was renamed to "client_ip"`},
		{`{"response_filter": {"rules": [{"allow_for_claims": [{"when": [{"claim": "scope", "contains": "a"}], "allow": ["x"]}]}]}}`,
			`config: response_filter.rules[0].allow_for_claims[0].when: renamed to "claims"`},
		{`{"response_filter": {"rules": [], "on_error": "pass"}}`, `config: response_filter.on_error: "pass" was renamed to "allow"`},
		{`{"response_filter": {"rules": [], "non_json": "pass"}}`, `config: response_filter.non_json: "pass" was renamed to "allow"`},
		{`{"response_filter": {"rules": [], "non_json": "error"}}`, `config: response_filter.non_json: "error" was renamed to "deny"`},
		{`{"headers_with_underscores": "drop"}`, `config: headers_with_underscores: "drop" was renamed to "remove"`},
		{`{"headers_with_underscores": "reject"}`, `config: headers_with_underscores: "reject" was renamed to "refuse"`},
		{`{"telemetry": {"gc": {"mode": "heap_above", "heap_above_mib": 16}}}`, `config: telemetry.gc.heap_above_mib: renamed to "heap_above_bytes"`},
	} {
		_, err := Parse([]byte(tt.in))
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s:\n got %v\nwant %s", tt.in, err, tt.want)
		}
	}
	// The new spellings are accepted.
	if _, err := Parse([]byte(`{"headers_with_underscores": "remove", "rate_limits": [{"name": "p", "key": ["client_ip", "claim:sub", "claim:[\"https://example.com/tenant\"]"], "missing_key": "client_ip", "limits": [{"requests": 3, "per": "1500ms"}]}],
	  "response_filter": {"rules": [{"allow_for_claims": [{"claims": [{"claim": "scope", "contains": "a"}], "allow": ["x"]}]}], "on_error": "allow", "non_json": "deny"},
	  "telemetry": {"gc": {"mode": "heap_above", "heap_above_bytes": 16777216}}}`)); err != nil {
		t.Error(err)
	}
}

func TestUnsaltedKeyHashWarningNamesThePoliciesKeyedOnClientValues(t *testing.T) {
	const limits = `"rate_limits": [{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 1, "per": "1s"}]},
		{"name": "per_method", "key": ["method"], "limits": [{"requests": 1, "per": "1s"}]}]`
	for doc, want := range map[string]string{
		`{` + limits + `, "telemetry": {"audit": {"sink": "log"}}}`:                            `rate limits "per_ip" key on client values`,
		`{` + limits + `, "telemetry": {"audit": {"sink": "log", "key_hash_salt": "pepper"}}}`: "",
		`{` + limits + `}`: "",
	} {
		s, err := Parse([]byte(doc))
		if err != nil {
			t.Fatal(err)
		}
		got := s.UnsaltedKeyHashWarning()
		if (want == "") != (got == "") || !strings.HasPrefix(got, want) {
			t.Errorf("%s: warning %q, want one starting %q", doc, got, want)
		}
	}
}

// The client_ip prefix lengths must fit their address size; a mistake is
// refused at start with its JSON path.
func TestClientPrefixLengthsAreChecked(t *testing.T) {
	s, err := Parse([]byte(`{"client_ip": {"ipv6_prefix_length": 56, "ipv4_prefix_length": 24}}`))
	if err != nil || s.ClientIP.IPv6PrefixLength != 56 || s.ClientIP.IPv4PrefixLength != 24 {
		t.Fatalf("Parse = %+v, %v", s, err)
	}
	for doc, path := range map[string]string{
		`{"client_ip": {"ipv6_prefix_length": 129}}`: "client_ip.ipv6_prefix_length",
		`{"client_ip": {"ipv6_prefix_length": -1}}`:  "client_ip.ipv6_prefix_length",
		`{"client_ip": {"ipv4_prefix_length": 33}}`:  "client_ip.ipv4_prefix_length",
	} {
		if _, err := Parse([]byte(doc)); err == nil || !strings.Contains(err.Error(), path+":") {
			t.Errorf("Parse(%s) = %v, want an error naming %s", doc, err, path)
		}
	}
}
