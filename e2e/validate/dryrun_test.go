// Package validate_test runs `validate --dry-run`'s start of a
// configuration in wasmhost against the compiled plugin.
package validate_test

import (
	"bytes"
	"context"
	"os"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/validate"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// A configuration that decodes but that the plugin refuses at start (a key
// set with no usable key is only parsed when the plugin configures) passes
// Check and fails DryRun, with the plugin's own message.
func TestDryRunRefusesWhatThePluginRefuses(t *testing.T) {
	var logs bytes.Buffer
	mod, err := e2eutil.Compile(wasmhost.Options{LogLevel: wasmhost.LogWarn, LogWriter: &logs})
	if err != nil {
		t.Fatal(err)
	}
	defer mod.Close(context.Background())

	bad := validate.Document{Data: []byte(`{"jwt": {"providers": {"corp": {"issuer": "https://idp", "audiences": ["api"],
	  "local_jwks": {"keys": [{"kty": "RSA", "kid": "k1"}]}}},
	  "rules": [{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}]}}`)}
	if f := validate.Check(bad); len(f) != 0 {
		t.Fatalf("Check: %+v, want nothing to report", f)
	}
	_, err = validate.DryRun(context.Background(), mod, bad, &logs)
	if err == nil || !strings.Contains(err.Error(), "configuration refused") || !strings.Contains(err.Error(), `provider "corp"`) {
		t.Errorf("DryRun = %v, want the plugin's refusal", err)
	}

	demo, err := os.ReadFile("../../envoy/demo-config.json")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := validate.DryRun(context.Background(), mod, validate.Document{Data: demo}, &logs); err != nil {
		t.Errorf("the demo configuration does not start: %v", err)
	}
}
