package detect

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// TestNumbersAClientReadsAsACard: a JSON number that a client reads (and
// prints) as a card number is one, whatever its notation; other numbers are
// not.
func TestNumbersAClientReadsAsACard(t *testing.T) {
	for _, c := range []struct {
		num  string
		card bool
	}{
		{"4111111111111111", true},
		{"4111111111111111.0", true},
		{"4111111111111111.000", true},
		{"-4111111111111111", true},
		{"4.111111111111111e15", true},
		{"4.111111111111111E+15", true},
		{"41111111111111.11e2", true},
		{"411111111111111100e-2", true},
		{"4111111111111111e0", true},
		{"0.4111111111111111e16", true},
		{"5555555555554444.5", true}, // a client prints the card's digits, then ".5"
		{"0." + strings.Repeat("0", 2000) + "4111111111111111e2016", true},
		{"4.111111111111111" + strings.Repeat("0", 2000) + "e15", true},
		// Read as a float64 (JSON.parse), these are the card's value.
		{"4111111111111110.99999", true},
		{"4.1111111111111109999e15", true},
		{"4111111111111110.75", true},
		{"-4111111111111110.99999", true},
		{"41111111111111109999e-4", true},
		// Not cards.
		{"4111111111111112", false},     // Luhn fails
		{"4111111111111112.4", false},   // 4111111111111112 as a float64
		{"1700000000000000000", false},  // a timestamp in ns
		{"1700000000123.999999", false}, // a timestamp in ms
		{"19.9999999999999999", false},  // a price that rounds to 20
		{"1234567890123.5", false},      // not integral
		{"4111111111111112.0", false},   // Luhn fails
		{"1700000000000", false},        // a timestamp in ms
		{"1700000000.123", false},       // a timestamp in s
		{"0.4111111111111111", false},   // a fraction
		{"4.111111111111111", false},    // a float
		{"4111111111111111e-1", false},  // 411111111111111.1
		{"4.111111111111111e30", false}, // 31 digits
		{"1e999999999", false},          // huge
		{"12345.678", false},            // a price
		{"100000000000001", false},      // an order id
		{"-0.0e+1", false},
		{"0", false},
		// 17 to 19 digit ids (Snowflake-style): a client shows the
		// shortest digits that read back as the float64 (JSON.parse, then
		// Number to string), never its exact binary value's digits, which
		// alone were a card here (…688, …976, …7936).
		{"49222760896281685", false},   // shows 49222760896281690
		{"397642849171206979", false},  // shows 397642849171207000
		{"6526276039393448195", false}, // shows 6526276039393448000
		{"1234567890123456789", false}, // shows 1234567890123456800
		// The digits a client shows are a card's: a card.
		{"4539647547319283137", true}, // shows 4539647547319283000
		{"60110841485253888", true},   // shows 60110841485253890 (Discover, 17 digits)
		{"629306668364507495", true},  // shows 629306668364507500 (UnionPay, 18 digits)
		{"41275093453919195", false},  // shows 41275093453919190: Visa issues no 17-digit cards
		// The digits as written are a card's (a client reading numbers
		// exactly shows them): a card, whatever a float64 shows.
		{"4159151187049162870", true}, // JSON.parse shows 4159151187049163000
	} {
		_, got := ClassifyNumber(c.num, All)
		if got != c.card {
			t.Errorf("ClassifyNumber(%s) = %v, want %v", c.num, got, c.card)
		}
	}
}

// TestInvisibleCharactersDoNotHideValues: zero-width and other format
// characters, and Unicode spaces, inside or around a value do not hide it
// from Classify, Contains or Redact (a client shows the same digits).
func TestInvisibleCharactersDoNotHideValues(t *testing.T) {
	for _, s := range []string{
		"\u200b4111111111111111",
		"4111\u200b1111111111\u200b11",
		"\ufeff4111 1111 1111 1111\u2060",
		"4111\u00a01111\u00a01111\u00a01111", // no-break spaces as group separators
		"4111\u00ad1111111111\u200d11",
		"\u200b\u200c\u200d\u200e\u200f\u202a\u202c\u2061\u2062\u2063\u2064078-05-1120",
		"DE89\u200b3704\u200b0044\u200b0532\u200b0130\u200b00",
	} {
		if _, ok := Classify(s, All); !ok {
			t.Errorf("Classify(%q): nothing found", s)
		}
		if !Contains("note: "+s+" end", All) {
			t.Errorf("Contains(%q): nothing found", s)
		}
		out, ok := Redact("note: "+s+" end", All, "***")
		if !ok || strings.ContainsAny(out, "0123456789") {
			t.Errorf("Redact(%q) = %q, %v", s, out, ok)
		}
	}
	// Plain text with non-ASCII letters is left as it is.
	if out, ok := Redact("café 12€ – ok\u200b", All, "***"); ok || out != "café 12€ – ok\u200b" {
		t.Errorf("Redact of plain text = %q, %v", out, ok)
	}
	if _, ok := Classify("\u200b\u200b", All); ok {
		t.Error("invisible characters alone classified")
	}
}

// TestIBANsInAnyCase: banks read an IBAN case-insensitively.
func TestIBANsInAnyCase(t *testing.T) {
	for _, s := range []string{"de89370400440532013000", "De89370400440532013000", "gb82 west 1234 5698 7654 32", "fr1420041010050500013m02606"} {
		if c, ok := Classify(s, All); !ok || c != IBAN {
			t.Errorf("Classify(%q) = %v, %v; want iban", s, c, ok)
		}
	}
	for _, s := range []string{"de89370400440532013001", "xx89370400440532013000", "de8937040044053201300"} {
		if _, ok := Classify(s, All); ok {
			t.Errorf("Classify(%q): classified", s)
		}
	}
}

// FuzzNormalisedClassify checks that inserting invisible characters into a
// string never changes what Classify finds in it, and that ClassifyNumber
// never fails.
func FuzzNormalisedClassify(f *testing.F) {
	for _, s := range []string{"4111111111111111", "alice@example.com", "DE89370400440532013000", "078-05-1120", "x"} {
		f.Add(s, uint8(3))
	}
	f.Fuzz(func(t *testing.T, s string, at uint8) {
		if !utf8.ValidString(s) {
			return
		}
		c1, ok1 := Classify(s, All)
		i := int(at) % (len(s) + 1)
		for i < len(s) && !utf8.RuneStart(s[i]) {
			i++
		}
		with := s[:i] + "\u200b" + s[i:]
		c2, ok2 := Classify(with, All)
		if ok1 && (!ok2 || c1 != c2) {
			t.Fatalf("Classify(%q) = %v, Classify(%q) = %v, %v", s, c1, with, c2, ok2)
		}
		_, _ = ClassifyNumber(s, All)
	})
}

func TestContainsFindsCardsInAnyNotation(t *testing.T) {
	for _, s := range []string{`{"x":,"c":4.111111111111111e15}`, "total -4111111111111111.0 due", "[4111111111111111e0]"} {
		if !Contains(s, All) {
			t.Errorf("%q: no card found", s)
		}
	}
	for _, s := range []string{`{"t":1700000000.5,"p":4.111111111111111,"d":"2024-11-02"}`, "v4.111111111111111e15", "x_4111111111111111", "4111111111111111e15x", "4111111111111112"} {
		if Contains(s, All) {
			t.Errorf("%q: a card found", s)
		}
	}
	if Contains("4111111111111111", SetOf(Email)) {
		t.Error("found outside the set")
	}
}

// TestRedactMasksCardsInNumberNotation: the audit trail's masking (Redact,
// Scan) finds a card number written as a signed, fractional or exponent
// number too, and leaves other numbers alone.
func TestRedactMasksCardsInNumberNotation(t *testing.T) {
	in := `{"a":-4111111111111111,"b":4.111111111111111e15,"c":5555555555554444.0,"d":1700000000.5,"e":"2024-11-02","f":-0.5e3,"g":4.111111111111111}`
	out, ok := Redact(in, All, "***")
	if want := `{"a":***,"b":***,"c":***,"d":1700000000.5,"e":"2024-11-02","f":-0.5e3,"g":4.111111111111111}`; !ok || out != want {
		t.Errorf("Redact =\n%s\nwant\n%s", out, want)
	}
}
