package audit

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"
)

// TestReadableEvasionsAreMasked: the values a reader still reads as the
// secret (the attacker review's F6) are masked in logged JSON and form
// bodies and in headers, under the names that hold them.
func TestReadableEvasionsAreMasked(t *testing.T) {
	m := NewMasker(nil)
	for _, e := range []struct{ key, value, leak string }{
		{"h", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "qjXMvbEw8oaL"},
		{"h", "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", "HqJZimcKQFAM"},
		{"pwd_hash", "5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8", "5E884898DA"},
		{"pass_digest", "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "5baa61e4c9"},
		{"v", "ssn 123 45 6789", "6789"},
		{"v", "ssn 123.45.6789", "6789"},
		{"v", "ssn 123\u200745\u20076789", "6789"},
		{"v", "iban DE89-3704-0044-0532-0130-00", "0532"},
		{"v", "-----begin rsa private key-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf", "MIIBOg"},
		{"v", "----BEGIN PRIVATE KEY----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC", "MIIEvQ"},
		{"v", "Alice <alice@example.com>", "alice@"},
		{"v", `to "alice smith"@example.com`, "alice smith"},
		{"v", "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"},
		{"creds", "aws_access_key_id=AKIAIOSFODNN7EXAMPLE aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"},
		{"AwsSecretValue", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI"},
	} {
		body, _ := json.Marshal(map[string]string{e.key: e.value})
		if out := m.MaskBody("application/json", body, 4096); strings.Contains(out, e.leak) {
			t.Errorf("JSON %s: logged %s", body, out)
		}
		form := url.QueryEscape(e.key) + "=" + url.QueryEscape(e.value)
		if out := m.MaskBody("application/x-www-form-urlencoded", []byte(form), 4096); strings.Contains(out, url.QueryEscape(e.leak)) || strings.Contains(out, e.leak) {
			t.Errorf("form %s: logged %s", form, out)
		}
		if out := m.MaskHeader("x-"+e.key, e.value); strings.Contains(out, e.leak) {
			t.Errorf("header %s: logged %s", e.key, out)
		}
	}
	// A commit SHA under its own name stays.
	body := `{"sha":"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8","note":"version 1.2.3, call 415 555 2671"}`
	if out := m.MaskBody("application/json", []byte(body), 4096); !strings.Contains(out, "5baa61e4c9b9") || !strings.Contains(out, "415 555 2671") {
		t.Errorf("masked what is not a secret: %s", out)
	}
}
