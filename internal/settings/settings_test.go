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
		{`{"rate_limits": [{"name": "Per User", "key": ["source.ip"], "limits": [{"requests": 1, "per": "1s"}]}]}`, `rate_limits[0].name`},
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
	s, err := Parse([]byte(`{"path_normalization": "rewrite", "authority_normalization": "refuse", "method_override": "remove", "headers_with_underscores": "reject"}`))
	if err != nil || s.PathNormalization != "rewrite" || s.AuthorityNormalization != "refuse" || s.MethodOverride != "remove" || s.HeadersWithUnderscores != "reject" {
		t.Fatalf("Parse = %+v, %v", s, err)
	}
	for _, doc := range []string{`{"path_normalization": "normalize"}`, `{"headers_with_underscores": "keep"}`} {
		if _, err := Parse([]byte(doc)); err == nil {
			t.Errorf("Parse(%s) accepted", doc)
		}
	}
}
