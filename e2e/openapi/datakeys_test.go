package openapie2e

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/apiguard/apiguard/internal/detect"
)

// TestGitHubPropertyNamesAreNames: no property name of GitHub's REST API
// description (1,900 and more, snake_case, camelCase, "+1", "SHA256_ED25519",
// 66 characters long) is taken for data by detect.IsDataKey, so the
// response inventory and the audit trail's removed_fields record GitHub's
// fields by name while collapsing random token keys to "*".
func TestGitHubPropertyNamesAreNames(t *testing.T) {
	spec, err := os.ReadFile(githubDescription)
	if os.IsNotExist(err) {
		t.Skipf("%s is not installed: run `npm ci` in e2e/openapi (.ci/run does)", githubDescription)
	}
	if err != nil {
		t.Fatal(err)
	}
	var doc any
	if err := json.Unmarshal(spec, &doc); err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	var walk func(any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, c := range x {
				if p, ok := c.(map[string]any); ok && k == "properties" {
					for name := range p {
						names[name] = true
					}
				}
				walk(c)
			}
		case []any:
			for _, c := range x {
				walk(c)
			}
		}
	}
	walk(doc)
	if len(names) < 1500 {
		t.Fatalf("only %d property names read", len(names))
	}
	for name := range names {
		if detect.IsDataKey(name) {
			t.Errorf("property %q taken for data", name)
		}
	}
	t.Logf("%d property names read", len(names))
}
