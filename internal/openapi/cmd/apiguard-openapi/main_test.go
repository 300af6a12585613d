package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/validate"
)

const petstore = "../../testdata/petstore/openapi.yaml"

func TestOAuth2WithoutProvidersFailsNamingTheFlag(t *testing.T) {
	var out, errb bytes.Buffer
	if code := run([]string{petstore}, &out, &errb); code != exitError {
		t.Errorf("exit %d, want %d", code, exitError)
	}
	if !strings.Contains(errb.String(), "petstore_auth (oauth2)") || !strings.Contains(errb.String(), "-providers") || out.Len() > 0 {
		t.Errorf("stdout %q, stderr %q", out.String(), errb.String())
	}
}

func TestWritesAConfigValidateAcceptsAndAReport(t *testing.T) {
	dir := t.TempDir()
	providers := filepath.Join(dir, "providers.json")
	os.WriteFile(providers, []byte(`{"petstore_auth": {"issuer": "https://idp", "audiences": ["pets"], "remote_jwks": {"cluster": "idp", "uri": "https://idp/jwks"}}}`), 0o600)
	cfg, report := filepath.Join(dir, "api.json"), filepath.Join(dir, "report.txt")
	var out, errb bytes.Buffer
	if code := run([]string{"-providers", providers, "-o", cfg, "-report", report, "-base-path", "/v3", "-tags", "pet", petstore}, &out, &errb); code != exitOK {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), "8 operations: ") {
		t.Errorf("summary %q, want the 8 operations tagged pet", errb.String())
	}
	data, _ := os.ReadFile(cfg)
	if !strings.Contains(string(data), `"path_template": "/v3/pet/{petId}"`) {
		t.Errorf("the base path is not applied:\n%s", data)
	}
	for _, f := range validate.Check(validate.Document{Data: data}) {
		if f.Severity == validate.SeverityError {
			t.Errorf("validate: %s: %s", f.Path, f.Msg)
		}
	}
	rep, _ := os.ReadFile(report)
	if !strings.Contains(string(rep), "GET /pet/{petId}: accepts apiKey credentials (api_key)") {
		t.Errorf("report:\n%s", rep)
	}
}
