package detect

import (
	"strings"
	"testing"
)

// readable are values a reader still reads as the secret, written past a
// byte-wise check (the attacker review's F6): the class Classify (or
// ClassifyUnder, with name) finds for the whole value, and whether
// Contains finds it in text (text: the form to search, "" to skip).
var readable = []struct {
	name, value string
	class       Class
	text        string
}{
	{"", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", PasswordHash, "hash=$1$saltsalt$qjXMvbEw8oaL.CzflDugX/ ok"},
	{"", "$1$abc$H6xQKxLrTT6bYlUUp8VKR.", PasswordHash, "user:$1$abc$H6xQKxLrTT6bYlUUp8VKR.:1000"},
	{"", "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", PasswordHash, "admin:$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/"},
	{"password_hash", "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", PasswordHash, ""},
	{"passwd", "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", PasswordHash, ""},
	{"pwd_hash", "5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8", PasswordHash, ""},
	{"hashedPassword", "5f4dcc3b5aa765d61d8327deb882cf99", PasswordHash, ""},
	{"", "123 45 6789", SSN, "ssn 123 45 6789."},
	{"", "123.45.6789", SSN, "ssn: 123.45.6789"},
	{"", "123\u00a045\u00a06789", SSN, "ssn 123\u200745\u20076789 here"},
	{"", "123\u200345\u20036789", SSN, ""},
	{"", "DE89-3704-0044-0532-0130-00", IBAN, "iban DE89-3704-0044-0532-0130-00, thanks"},
	{"", "GB82-WEST-1234-5698-7654-32", IBAN, ""},
	{"", "-----begin rsa private key-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n-----end rsa private key-----", PrivateKey, "key: -----begin rsa private key-----\nMIIBOg"},
	{"", "----BEGIN PRIVATE KEY----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n----END PRIVATE KEY----", PrivateKey, "x ----BEGIN PRIVATE KEY----\nMIIE"},
	{"", "-----Begin OpenSSH Private Key-----\nb3BlbnNzaC1rZXktdjE=", PrivateKey, ""},
	{"", "Alice <alice@example.com>", Email, ""},
	{"", `"Smith, Alice" <alice@example.com>`, Email, ""},
	{"", "mailto:alice@example.com", Email, ""},
	{"", "MAILTO:alice@example.com?subject=hi", Email, ""},
	{"", `"alice smith"@example.com`, Email, `to "alice smith"@example.com today`},
	{"", `"alice"@example.com`, Email, `<"alice"@example.com>`},
	{"", "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", APIKey, ""},
	{"aws_secret_access_key", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", APIKey, "aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	{"SecretAccessKey", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", APIKey, `{"AccessKeyId":"ASIAIOSFODNN7EXAMPLE","SecretAccessKey":"wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}`},
	{"awsSecretKey", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", APIKey, "id AKIAIOSFODNN7EXAMPLE secret je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY"},
}

// TestReadableEvasionsAreFound: each value is found whole, in text, and
// Redact leaves nothing of it.
func TestReadableEvasionsAreFound(t *testing.T) {
	for _, e := range readable {
		c, ok := ClassifyUnder(e.name, e.value, All)
		if !ok || c != e.class {
			t.Errorf("ClassifyUnder(%q, %.40q) = %v, %v; want %v", e.name, e.value, c, ok, e.class)
		}
		if !CanClassifyUnder(e.name, e.value, SetOf(e.class)) {
			t.Errorf("CanClassifyUnder(%q, %.40q) = false", e.name, e.value)
		}
		if e.name == "" {
			if c, ok := Classify(e.value, All); !ok || c != e.class {
				t.Errorf("Classify(%.40q) = %v, %v; want %v", e.value, c, ok, e.class)
			}
		} else if _, ok := Classify(e.value, All); ok {
			t.Errorf("Classify(%.40q) without its name %q: classified", e.value, e.name)
		}
		if e.text == "" {
			continue
		}
		if !Contains(e.text, SetOf(e.class)) {
			t.Errorf("Contains(%.60q): nothing found", e.text)
		}
		if out, ok := Redact(e.text, All, "*"); !ok || Contains(out, SetOf(e.class)) {
			t.Errorf("Redact(%.60q) = %q, %v", e.text, out, ok)
		}
	}
}

// TestReadableLookAlikesAreNot: ordinary text, versions, ids and hex
// digests under names that are not a password's are not classified,
// whole or in text.
func TestReadableLookAlikesAreNot(t *testing.T) {
	const sha1 = "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"
	const sha256 = "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"
	for _, c := range []struct{ name, value string }{
		{"sha", sha1}, {"commit", sha1}, {"head_sha", sha1}, {"hash", sha256}, {"etag", sha256}, {"checksum", sha256},
		{"id", "9f8e7d6c5b4a3f2e1d0c9f8e7d6c5b4a"}, {"digest", sha256}, {"content_sha256", sha256}, {"tree_id", sha1},
		{"passwd", "not a hash, just text"}, {"password_hash", "5baa61e4c9b93f3f0682250B6CF8331B7EE68FD8"}, // mixed case
		{"password_hash", sha1 + "0"}, {"aws_secret_access_key", "short"}, {"secret", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
		{"aws_secret_access_key", strings.Repeat("a", 40)}, {"pubkey", "AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"},
		{"", "version 1.2.3"}, {"", "v10.45.6789"}, {"", "call 415 555 2671"}, {"", "ORD 123 456 7890"}, {"", "1 123 45 6789"},
		{"", "123 45 67890"}, {"", "12.345.6789"}, {"", "192.168.100.200"}, {"", "123 45 6789 12"},
		{"", "DE89-3704-0044-0532-0130-01"}, {"", "2024-11-02-1234-5678-9012-34"}, {"", "DE89-3704 0044-0532-0130-00"},
		{"", "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----"}, {"", "----begin public key----\nMFkw"},
		{"", "---BEGIN PRIVATE KEY---\nMIIE"}, {"", "a ---- BEGIN PRIVATE KEY"},
		{"", "Alice <alice>"}, {"", "mailto:alice"}, {"", `"quoted" @ home`}, {"", `say "hi"@ once`}, {"", "<b>bold</b>"},
		{"", "Alice <alice@example.com> and Bob"}, {"", "price $1 and $100"}, {"", "$1$"},
		{"", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, {"", "token: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"},
	} {
		if cl, ok := ClassifyUnder(c.name, c.value, All); ok {
			t.Errorf("ClassifyUnder(%q, %.50q) = %v", c.name, c.value, cl)
		}
		if c.name == "" {
			var found []string
			Scan(c.value, All&^SetOf(Email), func(m Match) bool { found = append(found, m.Class.String()+":"+c.value[m.Start:m.End]); return true })
			if strings.Contains(c.value, "Alice <alice@example.com>") {
				continue // the address itself is an email in text
			}
			if len(found) > 0 || Contains(c.value, SetOf(Email)) {
				t.Errorf("%.60q: found %q in text", c.value, found)
			}
		}
	}
	// An access key id is a key; a secret far from it (past maxSecretGap)
	// is not read with it.
	far := "AKIAIOSFODNN7EXAMPLE then a sentence that runs on, and on, and on, and on: wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
	var found []string
	Scan(far, All, func(m Match) bool { found = append(found, far[m.Start:m.End]); return true })
	if len(found) != 1 || found[0] != "AKIAIOSFODNN7EXAMPLE" {
		t.Errorf("%q: found %q", far, found)
	}
}
