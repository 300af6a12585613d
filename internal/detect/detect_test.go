package detect

import (
	"strings"
	"testing"
)

func TestScanFindsEachClassInsideText(t *testing.T) {
	jwt := "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl"
	for _, c := range []struct {
		in    string
		class Class
		found string // "" when nothing may be found
	}{
		// Card numbers: test PANs of the schemes, grouped or not.
		{`"note":"my card is 4012888888881881"`, CardNumber, "4012888888881881"},
		{"card=4111111111111111&x=1", CardNumber, "4111111111111111"},
		{"pay 5555 5555 5555 4444 now", CardNumber, "5555 5555 5555 4444"},
		{"amex 3782-822463-10005.", CardNumber, "3782-822463-10005"},
		{"2223003122003222", CardNumber, "2223003122003222"},
		{"6011111111111117", CardNumber, "6011111111111117"},
		{"3530111333300000", CardNumber, "3530111333300000"},
		{"4111111111111112", 0, ""},                                // Luhn fails
		{"9111111111111111", 0, ""},                                // Luhn passes for no scheme: 9 is no IIN here
		{"41111111111111110000", 0, ""},                            // 20 digits
		{"x4111111111111111", 0, ""},                               // part of a word
		{"4111111111111111x", 0, ""},                               // runs on
		{"order 1234567890123", 0, ""},                             // an id
		{"4111 1111-1111 1111", CardNumber, "4111 1111-1111 1111"}, // mixed separators in a card's grouping
		{"4111 11-111111 1111", 0, ""},                             // mixed separators in no card's grouping
		{"+1 415 555 2671 ext 12", 0, ""},                          // a phone number
		// Emails.
		{"contact alice@example.com today", Email, "alice@example.com"},
		{"users.alice@example\\.com.ssn", Email, "users.alice@example\\.com.ssn"},
		{"x=bob.smith+tag@mail.example.co.uk;", Email, "bob.smith+tag@mail.example.co.uk"},
		{"a@b", 0, ""},
		{"@handle", 0, ""},
		{"user@localhost", 0, ""},
		{"v1.2@3.4", 0, ""},
		// JWTs and bearer tokens.
		{"token " + jwt + " end", JWT, jwt},
		{"Authorization: Bearer abcdEFGH1234.-_~+/==", BearerToken, "abcdEFGH1234.-_~+/=="},
		{"bearer  0123456789", BearerToken, "0123456789"},
		{"the bearer of bad news", 0, ""},
		// API keys with documented prefixes.
		{"key AKIAIOSFODNN7EXAMPLE.", APIKey, "AKIAIOSFODNN7EXAMPLE"},
		{"ghp_" + strings.Repeat("a1B2", 9), APIKey, "ghp_" + strings.Repeat("a1B2", 9)},
		{"sk_live_" + strings.Repeat("x", 24), APIKey, "sk_live_" + strings.Repeat("x", 24)},
		{"AIza" + strings.Repeat("Sy-_", 8) + "abc", APIKey, "AIza" + strings.Repeat("Sy-_", 8) + "abc"},
		{"xoxb-123456789012-abcdefghijkl", APIKey, "xoxb-123456789012-abcdefghijkl"},
		{"AKIASHORT", 0, ""},
		{"myghp_" + strings.Repeat("a", 36), 0, ""}, // not at a word start
	} {
		var got []Match
		Scan(c.in, All, func(m Match) bool { got = append(got, m); return true })
		if c.found == "" {
			if len(got) != 0 {
				t.Errorf("%q: found %v %q, want nothing", c.in, got[0].Class, c.in[got[0].Start:got[0].End])
			}
			continue
		}
		if len(got) != 1 || got[0].Class != c.class || c.in[got[0].Start:got[0].End] != c.found {
			t.Errorf("%q: found %+v, want one %v %q", c.in, got, c.class, c.found)
		}
	}
}

func TestRedactAndClassify(t *testing.T) {
	in := "card 4111111111111111, mail alice@example.com, auth Bearer abcdefgh12345678"
	out, ok := Redact(in, All, "***")
	if want := "card ***, mail ***, auth Bearer ***"; !ok || out != want {
		t.Errorf("Redact = %q, %v; want %q", out, ok, want)
	}
	if out, ok := Redact("nothing here 12345", All, "***"); ok || out != "nothing here 12345" {
		t.Errorf("Redact of plain text = %q, %v", out, ok)
	}
	// Only the chosen classes.
	if out, _ := Redact(in, SetOf(Email), "***"); !strings.Contains(out, "4111111111111111") || strings.Contains(out, "alice") {
		t.Errorf("Redact(Email only) = %q", out)
	}
	if c, ok := Classify(" alice@example.com ", All); !ok || c != Email {
		t.Errorf("Classify(email) = %v, %v", c, ok)
	}
	if _, ok := Classify("mail alice@example.com", All); ok {
		t.Error("Classify took a sentence containing an email for an email")
	}
	for _, c := range Classes() {
		if p, ok := ParseClass(c.String()); !ok || p != c {
			t.Errorf("class %v does not round-trip", c)
		}
	}
}

func TestIsDataKey(t *testing.T) {
	for _, k := range []string{"email", "user_id", "addressLine2", "@type", "$ref", "cvv2", "x-request-id", "ssn", "a", "_links", "v1", "created_at_utc", "billing_address_line_2", "api_key_last_four"} {
		if IsDataKey(k) {
			t.Errorf("%q taken for data", k)
		}
	}
	for _, k := range []string{"4111111111111111", "alice@example\\.com", "alice@example.com", "123", "550e8400-e29b-41d4-a716-446655440000",
		"f47ac10b-58cc-4372-a567-0e02b2c3d479", "9f8e7d6c5b4a3f2e", "u12345678", "John Smith", "a.b", strings.Repeat("k", 65), "12ab",
		"key_AKIAIOSFODNN7EXAMPLE", "ssn_of_user_bob_078-05-1120", "tok_ghp_" + strings.Repeat("aB3d", 9)} {
		if !IsDataKey(k) {
			t.Errorf("%q taken for a field name", k)
		}
	}
}

func FuzzScan(f *testing.F) {
	f.Add("card 4111111111111111 mail a@b.co Bearer abcdefghij eyJabcd.x.y")
	f.Fuzz(func(t *testing.T, s string) {
		last := 0
		Scan(s, All, func(m Match) bool {
			if m.Start < last || m.End <= m.Start || m.End > len(s) {
				t.Fatalf("bad match %+v after %d in %q", m, last, s)
			}
			last = m.End
			return true
		})
		out, _ := Redact(s, All, "*")
		if Contains(out, SetOf(CardNumber, JWT)) && !Contains(s, SetOf(CardNumber, JWT)) {
			t.Fatalf("Redact created a finding: %q -> %q", s, out)
		}
		_ = IsDataKey(s)
	})
}

func BenchmarkScanHeaderValues(b *testing.B) {
	values := []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36",
		"application/json, text/plain, */*", "7f1c2a9e-5b1d-4c1e-9a55-0f3c1e2d4b6a", "/api/orders/12345?page=2&sort=desc",
	}
	b.ReportAllocs()
	for b.Loop() {
		for _, v := range values {
			Redact(v, All, "*")
		}
	}
}
