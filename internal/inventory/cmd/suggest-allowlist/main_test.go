package main

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/settings"
)

const exported = `{"routes": [
 {"route": "echo", "fields": [
  {"path": "$", "types": ["object"]},
  {"path": "method", "types": ["string"]},
  {"path": "headers", "types": ["object"]},
  {"path": "headers.accept", "types": ["string"]},
  {"path": "headers.authorization", "types": ["string"], "classes": ["bearer_token"]},
  {"path": "headers.x-card", "types": ["string"], "classes": ["card_number"]},
  {"path": "headers.x-api-key", "types": ["string"]},
  {"path": "items.#.id", "types": ["number"]},
  {"path": "blob", "types": ["object", "string"]}]},
 {"route": "_other", "fields": [{"path": "x", "types": ["string"]}]},
 {"route": "users", "fields": [{"path": "id", "types": ["number"]}]}]}`

const current = `{
  "response_inventory": {"routes": [{"name": "echo", "match": {"path": "/echo"}}, {"name": "users", "match": {"prefix": "/users"}}]},
  "response_filter": {"rules": [
    {"name": "users", "match": {"prefix": "/users"}, "allow": ["id", "name"]},
    {"name": "default", "match": {}, "allow": []}]}
}`

func TestSuggestsAllowlistWithoutSensitiveFields(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.json")
	cfg := filepath.Join(dir, "config.json")
	out := filepath.Join(dir, "proposed.json")
	os.WriteFile(inv, []byte(exported), 0o644)
	os.WriteFile(cfg, []byte(current), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--config", cfg, "-o", out, inv}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d: %s", code, stderr.String())
	}
	got := stdout.String()
	for _, want := range []string{
		"--- " + cfg, "+++ " + out,
		`+        "allow": [`, `+          "headers.accept",`, `+          "items.#.id",`, `+          "method"`, `+        "name": "echo"`,
		"review: route echo: headers.authorization: sensitive class bearer_token",
		"review: route echo: headers.x-card: sensitive class card_number",
		`review: route echo: headers.x-api-key: secret-looking name "x-api-key"`,
		"review: route echo: blob: seen both as a container and as a value",
		"review: route _other: no configured match selects this route",
		"review: route users: response_filter already has a rule of this name",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, `"headers.x-card"`) && strings.Contains(got, `+          "headers.x-card"`) {
		t.Error("the card field was proposed")
	}
	proposed, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	s, err := settings.Parse(proposed)
	if err != nil {
		t.Fatalf("the proposal does not validate: %v", err)
	}
	rules := s.ResponseFilter.Rules
	if len(rules) != 3 || rules[0].Name != "users" || rules[1].Name != "echo" || rules[2].Name != "default" {
		t.Fatalf("rules %+v: want the new rule before the catch-all", rules)
	}
	if !slices.Equal(rules[1].Allow, respfilter.Paths("headers.accept", "items.#.id", "method")) || rules[1].Match.Path != "/echo" {
		t.Errorf("echo rule %+v", rules[1])
	}
}

func TestRefusesAnInvalidCurrentConfig(t *testing.T) {
	dir := t.TempDir()
	inv := filepath.Join(dir, "inventory.json")
	cfg := filepath.Join(dir, "config.json")
	os.WriteFile(inv, []byte(exported), 0o644)
	os.WriteFile(cfg, []byte(`{"response_filter": {"rule": []}}`), 0o644)
	var stdout, stderr bytes.Buffer
	if code := run([]string{"--config", cfg, inv}, &stdout, &stderr); code != 1 || !strings.Contains(stderr.String(), "response_filter.rule: unknown key") {
		t.Errorf("exit %d, stderr %s", code, stderr.String())
	}
}

func TestUnifiedDiff(t *testing.T) {
	a := "a\nb\nc\nd\ne\nf\ng\nh\n"
	b := "a\nb\nc\nX\ne\nf\ng\nh\n"
	want := "--- A\n+++ B\n@@ -1,7 +1,7 @@\n a\n b\n c\n-d\n+X\n e\n f\n g\n"
	if got := unifiedDiff("A", "B", []byte(a), []byte(b)); got != want {
		t.Errorf("diff\n%s\nwant\n%s", got, want)
	}
	if got := unifiedDiff("A", "B", []byte(a), []byte(a)); got != "" {
		t.Errorf("diff of equal texts: %q", got)
	}
}
