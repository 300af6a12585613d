package main

import (
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

// testCard is a test PAN (Visa's): it must show up as a class, never as a
// value, in metrics, audit events, the inventory and its exports.
const testCard = "4111 1111 1111 1111"

// inventoryDemoConfig is envoy/demo-config.json with /echo unfiltered (its
// response_filter rule and the catch-all removed) and a response_inventory
// that names it, exporting every second.
func inventoryDemoConfig(t *testing.T, root string) string {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(root, "envoy", "demo-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatal(err)
	}
	rf := doc["response_filter"].(map[string]any)
	var rules []any
	for _, r := range rf["rules"].([]any) {
		if n := r.(map[string]any)["name"]; n != "echo" && n != "default" {
			rules = append(rules, r)
		}
	}
	rf["rules"] = rules
	doc["response_inventory"] = map[string]any{
		"routes":          []any{map[string]any{"name": "echo", "match": map[string]any{"path": "/echo"}}},
		"export_interval": "1s",
	}
	out, _ := json.MarshalIndent(doc, "", "  ")
	return writeFile(t, "inventory-demo.json", string(out))
}

// echo sends GET /echo through devproxy with the user token and a card
// number in a header, which the demo API echoes back in its body.
func echo(t *testing.T, base, token string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest("GET", base+"/echo", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("X-Card", testCard)
	req.Header.Set("X-Note", "hello")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body
}

// TestInventoryAcceptance is issue 14's acceptance through devproxy with the
// demo API: a card number that the unfiltered /echo returns shows up in the
// metrics, the audit trail and /apiguard/inventory within a tick, and its
// value nowhere; the allowlist suggested from that inventory, applied to
// the demo, removes the card number and keeps the rest.
func TestInventoryAcceptance(t *testing.T) {
	root := repoRoot(t)
	wasm := wasmbuild.ForTest(t, "./plugin")
	cfg := inventoryDemoConfig(t, root)
	tokens, err := mintDemoTokens(filepath.Join(root, "envoy", "demo", "demo-rsa-private.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	in := start(t, "--wasm", wasm, "--config", cfg, "--workers", "2")
	base, admin := "http://"+in.addrs.Listen, "http://"+in.addrs.Admin

	status, body := echo(t, base, tokens.User)
	if status != 200 || body["headers"].(map[string]any)["x-card"] != testCard {
		t.Fatalf("/echo: %d %v: want the card echoed (unfiltered)", status, body)
	}
	// Within one export tick (1 s, ticks every 200 ms).
	var inv, prom, logs string
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, inv = get(t, admin+"/apiguard/inventory")
		_, prom = get(t, admin+"/stats/prometheus")
		logs = in.stderr.String() + in.stdout.String()
		if strings.Contains(logs, `"type":"inventory"`) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	for _, want := range []string{`"path": "headers.x-card"`, `"card_number"`, `"route": "echo"`, `"path": "headers.x-note"`} {
		if !strings.Contains(inv, want) {
			t.Errorf("/apiguard/inventory lacks %s:\n%s", want, inv)
		}
	}
	for _, want := range []string{`apiguard_inventory_sensitive_values_total{apiguard_instance="demo",route="echo",class="card_number"} 1`,
		`apiguard_security_sensitive_exposures_total{apiguard_instance="demo",route="echo"} 1`} {
		if !strings.Contains(prom, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	for _, want := range []string{`"type":"sensitive_field"`, `"field":"headers.x-card"`, `"class":"card_number"`, `"sensitive_data_exposed"`, `"type":"inventory"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("the audit trail lacks %s:\n%s", want, logs)
		}
	}
	for _, where := range []struct{ name, text string }{{"logs", logs}, {"inventory", inv}, {"metrics", prom}} {
		if strings.Contains(where.text, testCard) || strings.Contains(where.text, strings.ReplaceAll(testCard, " ", "")) {
			t.Errorf("the card number appears in the %s", where.name)
		}
	}

	// The suggested allowlist, applied to the demo.
	proposed := filepath.Join(t.TempDir(), "proposed.json")
	cmd := exec.Command("go", // go test puts its GOROOT/bin first on PATH
		"run", "./internal/inventory/cmd/suggest-allowlist",
		"--config", cfg, "-o", proposed, admin+"/apiguard/inventory")
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("suggest-allowlist: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "review: route echo: headers.x-card: sensitive class card_number") ||
		!strings.Contains(string(out), `+          "headers.x-note",`) {
		t.Errorf("suggest-allowlist output:\n%s", out)
	}
	if strings.Contains(string(out), testCard) {
		t.Error("suggest-allowlist printed the card number")
	}
	in.stop()
	again := start(t, "--wasm", wasm, "--config", proposed)
	status, body = echo(t, "http://"+again.addrs.Listen, tokens.User)
	headers, _ := body["headers"].(map[string]any)
	if status != 200 || headers == nil {
		t.Fatalf("/echo under the proposal: %d %v", status, body)
	}
	if _, ok := headers["x-card"]; ok {
		t.Errorf("the proposal lets the card number through: %v", body)
	}
	if headers["x-note"] != "hello" || body["method"] != "GET" || body["path"] != "/echo" {
		t.Errorf("the proposal removed more than the card: %v", body)
	}
}
