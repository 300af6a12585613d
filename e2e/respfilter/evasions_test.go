package respfilter

import (
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestTokenKeysAndReadableEvasions runs the attacker review's F5 and F6
// through the compiled plugin. Every class is denied on /deny (allow
// ["*"]): each value a reader still reads as the secret is refused
// (502 sensitive_data while the headers are held). On /tok, whose
// allowlist removes the sessions' other fields, the audit trail's
// removed_fields and the exported inventory name the token keys "*" and
// never the tokens.
func TestTokenKeysAndReadableEvasions(t *testing.T) {
	evasions := map[string]string{
		"/deny/md5crypt": `{"h":"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/"}`,
		"/deny/digest":   `{"pwd_hash":"5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"}`,
		"/deny/ssn":      `{"v":"123 45 6789"}`,
		"/deny/ssndots":  `{"v":"123.45.6789"}`,
		"/deny/iban":     `{"v":"DE89-3704-0044-0532-0130-00"}`,
		"/deny/pem":      `{"v":"-----begin rsa private key-----\nMIIBOgIBAAJBAKj34GkxFhD90vcN"}`,
		"/deny/pem4":     `{"v":"----BEGIN PRIVATE KEY----\nMIIEvQIBADANBgkqhkiG9w0B"}`,
		"/deny/email":    `{"v":"Alice <alice@example.com>"}`,
		"/deny/mailto":   `{"v":"mailto:alice@example.com"}`,
		"/deny/quoted":   `{"v":"\"alice smith\"@example.com"}`,
		"/deny/aws":      `{"SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`,
		"/deny/awspair":  `{"v":"AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`,
		// Look-alike separators and invisible controls (the third
		// review of issue 14, NEW-1 and NEW-2).
		"/deny/fwstop":    "{\"v\":\"4111\uff0e1111\uff0e1111\uff0e1111\"}",
		"/deny/middot":    `{"v":"078\u00b705\u00b71120"}`,
		"/deny/divslash":  `{"v":"4111\u22151111\u22151111\u22151111"}`,
		"/deny/fwlow":     "{\"v\":\"4111\uff3f1111\uff3f1111\uff3f1111\"}",
		"/deny/nul":       `{"v":"4\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001\u00001"}`,
		"/deny/del":       "{\"v\":\"\x7f078-05-1120\x7f\"}",
		"/deny/csi":       `{"v":"\u009b4111 1111 1111 1111\u009b"}`,
		"/deny/bs":        `{"v":"alice\b@example.com"}`,
		"/deny/longbs":    `{"v":"` + strings.Repeat("x", 1500) + `\n-----BEGIN\b RSA PRIVATE KEY-----\nMIIEowIBAAKCAQEA` + strings.Repeat("y", 1500) + `"}`,
		"/deny/fwplus":    "{\"v\":\"4111\uff0b1111\uff0b1111\uff0b1111\"}",
		"/deny/zero":      "{\"v\":\"51\u24ff51\u24ff51\u24ff51\u24ff51\u24ff\u24ff\"}",
		"/deny/braille":   "{\"v\":\"078\u280005\u28001120\"}",
		"/deny/fwat":      "{\"v\":\"john.doe\uff20example.com\"}",
		"/deny/fwpem":     "{\"v\":\"-----\uff22\uff25\uff27\uff29\uff2e RSA PRIVATE KEY-----\\nMIIE\"}",
		"/deny/reserved":  `{"v":"-----BEGIN RSA PRI\u2065VATE KEY-----\nMIIEowIBAAKCAQEA\n-----END RSA PRIVATE KEY-----"}`,
		"/deny/dashbox":   "{\"v\":\"\u2504\u2504\u2504\u2504\u2504BEGIN RSA PRIVATE KEY\u2504\u2504\u2504\u2504\u2504\\nMIIE\"}",
		"/deny/boxssn":    "{\"v\":\"078\u250005\u25001120\"}",
		"/deny/super":     "{\"v\":\"\u2074\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9 \u00b9\u00b9\u00b9\u00b9\"}",
		"/deny/underline": `{"v":"4\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u03321\u0332"}`,
	}
	const tokBody = `{"sessions":{"vKtQpZrXbYwVmNcLdFgHjAsE":{"ip":"10.0.0.1","ua":"x"},"Zm9vYmFyYmF6cXV4c2VjcmV0":{"ip":"10.0.0.2","ua":"y"}},"reset_tokens":{"rst-KqWmZpXnVbTyLr":1}}`
	tokens := []string{"vKtQpZrXbYwVmNcLdFgHjAsE", "Zm9vYmFyYmF6cXV4c2VjcmV0", "rst-KqWmZpXnVbTyLr"}
	classes := `"card_number":"deny","email":"deny","jwt":"deny","bearer_token":"deny","api_key":"deny","ssn":"deny","iban":"deny","private_key":"deny","password_hash":"deny"`
	config := `{"response_filter": {"rules": [
    {"name": "deny", "match": {"prefix": "/deny"}, "allow": ["*"]},
    {"name": "tok", "match": {"prefix": "/tok"}, "allow": ["sessions.*.ip", "reset_tokens"]}]},
  "response_inventory": {"classes": {` + classes + `}, "export_interval": "1s",
    "routes": [{"name": "deny", "match": {"prefix": "/deny"}}, {"name": "tok", "match": {"prefix": "/tok"}}]}}`
	e := start(t, config, opts{held: true, telemetry: `, "audit": {"sink": "log"}`}, func(w http.ResponseWriter, r *http.Request) {
		body := evasions[r.URL.Path]
		if r.URL.Path == "/tok" {
			body = tokBody
		}
		serve([]byte(body), false, "content-type", "application/json")(w, r)
	})
	for path := range evasions {
		if r := e.get(t, path); r.status != 502 || r.header.Get("x-apiguard-reason") != "sensitive_data" {
			t.Errorf("%s: %d %v %s; want 502 sensitive_data", path, r.status, r.header.Get("x-apiguard-reason"), r.body)
		}
	}
	if r := e.get(t, "/tok"); r.status != 200 || !strings.Contains(string(r.body), "vKtQpZ") || strings.Contains(string(r.body), `"ua"`) {
		t.Fatalf("/tok: %d %s", r.status, r.body)
	}
	// The request event's removed_fields, then an inventory export.
	var removed []string
	exported := ""
	deadline := time.Now().Add(10 * time.Second)
	for (removed == nil || exported == "") && time.Now().Before(deadline) {
		for _, ev := range e.auditEvents() {
			if ev.Type == "request" && ev.Path == "/tok" {
				removed = ev.RemovedFields
			}
			if ev.Type == "inventory" && strings.Contains(string(ev.Inventory), `"tok"`) {
				exported = string(ev.Inventory)
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	if len(removed) == 0 || exported == "" {
		t.Fatalf("no removed_fields (%q) or no inventory export of /tok (%q)", removed, exported)
	}
	if !strings.Contains(strings.Join(removed, ","), "sessions.*.ua") || !strings.Contains(exported, "sessions.*.ip") {
		t.Errorf("token keys not collapsed: removed_fields %q; inventory %s", removed, exported)
	}
	for _, l := range e.plugin.Logs() {
		for _, tok := range tokens {
			if strings.Contains(l.Message, tok) {
				t.Errorf("token %q logged: %s", tok, l.Message)
			}
		}
		// Fragments long enough that a timestamp, request id or latency
		// cannot contain them by chance ("0532" once matched a time's
		// nanoseconds).
		for _, v := range []string{"qjXMvbEw8oaL", "5e884898da", "45 6789", "45.6789", "0044-0532", "0532-0130", "MIIBOg", "MIIEvQ", "alice", "wJalrXUtnFEMI"} {
			if strings.Contains(l.Message, v) {
				t.Errorf("%q logged: %s", v, l.Message)
			}
		}
	}
}
