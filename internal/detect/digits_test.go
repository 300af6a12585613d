package detect

import (
	"strings"
	"testing"
	"unicode"
)

// inDigits writes the ASCII digits of s in the decimal digits whose zero
// is zero (U+FF10 full-width, U+0660 Arabic-Indic, U+0966 Devanagari, …).
func inDigits(s string, zero rune) string {
	return strings.Map(func(r rune) rune {
		if r >= '0' && r <= '9' {
			return zero + r - '0'
		}
		return r
	}, s)
}

// digitZeros are the zeros of some scripts' decimal digits (Unicode Nd):
// full-width, Arabic-Indic, extended Arabic-Indic, Devanagari, Bengali,
// Thai, Myanmar, mathematical bold (outside the BMP).
var digitZeros = []rune{0xFF10, 0x0660, 0x06F0, 0x0966, 0x09E6, 0x0E50, 0x1040, 0x1D7CE}

// TestValuesInOtherDecimalDigits: a person reads a card number, an SSN or
// an IBAN written in any script's decimal digits (or mixing them) as the
// number it is, so Classify, Contains and Redact find it.
func TestValuesInOtherDecimalDigits(t *testing.T) {
	values := []struct {
		s     string
		class Class
	}{
		{"4111111111111111", CardNumber},
		{"4111 1111 1111 1111", CardNumber},
		{"078-05-1120", SSN},
		{"DE89370400440532013000", IBAN},
	}
	for _, v := range values {
		for _, zero := range digitZeros {
			s := inDigits(v.s, zero)
			if c, ok := Classify(s, All); !ok || c != v.class {
				t.Errorf("Classify(%q) = %v, %v; want %v", s, c, ok, v.class)
			}
			if !Contains("note: "+s+" end", All) {
				t.Errorf("Contains(%q): nothing found", s)
			}
			out, ok := Redact("note: "+s+" end", All, "***")
			if !ok || strings.ContainsFunc(out, unicode.IsDigit) {
				t.Errorf("Redact(%q) = %q, %v", s, out, ok)
			}
		}
	}
	// Mixed scripts: each digit by its value.
	mixed := inDigits("4111", 0xFF10) + inDigits("1111", 0x0660) + "1111" + inDigits("1111", 0x0966)
	if c, ok := Classify(mixed, All); !ok || c != CardNumber {
		t.Errorf("Classify(%q) = %v, %v", mixed, c, ok)
	}
	// Numbers that are no card in any digits stay unclassified.
	for _, zero := range digitZeros {
		for _, s := range []string{"4111111111111112", "2024-11-02", "12345"} {
			if c, ok := Classify(inDigits(s, zero), All); ok {
				t.Errorf("Classify(%q) = %v", inDigits(s, zero), c)
			}
		}
	}
}

// TestDigitValueMatchesUnicode checks digitValue against Unicode's decimal
// digits: every Nd character has a value, consecutive from its run's zero,
// and nothing else has one.
func TestDigitValueMatchesUnicode(t *testing.T) {
	want := -1
	for r := rune(0); r <= unicode.MaxRune; r++ {
		v, ok := digitValue(r)
		if !unicode.IsDigit(r) {
			if ok {
				t.Fatalf("digitValue(%U) = %d, not a digit", r, v)
			}
			want = -1
			continue
		}
		if want < 0 || want == 10 {
			want = 0 // a new run starts at its zero
		}
		if !ok || v != want {
			t.Fatalf("digitValue(%U) = %d, %v; want %d", r, v, ok, want)
		}
		want++
	}
}
