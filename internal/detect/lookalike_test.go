package detect

import (
	"fmt"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// separatorLookAlikes are characters a reader takes for '.', '/', '_' or
// '-' between digit groups, as Unicode's confusables.txt (the symbols it
// maps to those, or to the middle dot) and NFKC (full-width and small
// forms) have them; letters that look like one are not among them.
var separatorLookAlikes = map[byte][]rune{
	'.': {0xFF0E, 0xFE52, 0xFF61, 0x3002, 0x2024, 0x00B7, 0x0387, 0x2027, 0x2022, 0x2219, 0x22C5, 0x30FB, 0xFF65, 0x2E31, 0x16EB,
		0x0701, 0x0702, 0x06D4, 0xA60E, 0x10101, 0x10A50},
	'/': {0xFF0F, 0x2215, 0x2044, 0x2571, 0x27CB, 0x29F8, 0x1735, 0x2041, 0x2F03, 0x31D3, 0x1D23A},
	'_': {0xFF3F, 0x203F, 0x2040, 0x2054, 0xFE33, 0xFE34, 0xFE4D, 0xFE4E, 0xFE4F},
	'-': {0x2043, 0x2053, 0x02D7, 0x2796, 0x207B, 0x208B},
}

// escapeAll is s with every character written as a JSON \u escape (a
// surrogate pair above U+FFFF).
func escapeAll(s string) string {
	var b strings.Builder
	for _, r := range s {
		if r > 0xFFFF {
			r -= 0x10000
			fmt.Fprintf(&b, `\u%04x\u%04x`, 0xD800+(r>>10), 0xDC00+(r&0x3FF))
			continue
		}
		fmt.Fprintf(&b, `\u%04x`, r)
	}
	return b.String()
}

// TestLookAlikeSeparatorsGroupDigits: a card or an SSN grouped by a
// character that looks like a dot, a slash, an underscore or a dash is one
// to a reader, and to every entry point (the third attacker review of
// issue 14, NEW-1); the ASCII separator's false positives stay out.
func TestLookAlikeSeparatorsGroupDigits(t *testing.T) {
	for ascii, rs := range separatorLookAlikes {
		for _, r := range rs {
			if v := VisibleRune(r); v != rune(ascii) {
				t.Errorf("VisibleRune(%U) = %q, want %q", r, v, ascii)
			}
			sep := string(r)
			cases := []struct {
				value string
				class Class
			}{{"4111" + sep + "1111" + sep + "1111" + sep + "1111", CardNumber}}
			if ascii == '.' || ascii == '-' {
				cases = append(cases, struct {
					value string
					class Class
				}{"078" + sep + "05" + sep + "1120", SSN})
			}
			for _, c := range cases {
				if got, ok := Classify(c.value, All); !ok || got != c.class {
					t.Errorf("%U: Classify(%q) = %v, %v; want %v", r, c.value, got, ok, c.class)
				}
				if !Contains("paid with "+c.value+", thanks", All) {
					t.Errorf("%U: Contains(%q) = false", r, c.value)
				}
				if out, ok := Redact("paid with "+c.value+" ok", All, "***"); !ok || out != "paid with *** ok" {
					t.Errorf("%U: Redact(%q) = %q, %v", r, c.value, out, ok)
				}
				for _, content := range []string{c.value, escapeAll(c.value)} {
					if !CanClassifyJSON(content, All) {
						t.Errorf("%U: CanClassifyJSON(%q) = false", r, content)
					}
				}
			}
		}
	}
	for _, s := range []string{"192\uff0e168\uff0e100\uff0e200", "2024\uff0e11\uff0e02", "10\u00b74111\u00b71111\u00b71111\u00b71111", "02\u221511\u22152024", "1\u30fb2\u30fb3\u30fb4"} {
		if c, ok := Classify(s, All); ok {
			t.Errorf("Classify(%q) = %v", s, c)
		}
	}
}

// invisibleControls are the control characters that render as nothing:
// C0 other than the tab, line feed, vertical tab, form feed and carriage
// return, DEL, and C1 other than NEL (a line break).
func invisibleControls() (cs []rune) {
	for r := rune(0); r < 0xA0; r++ {
		if r < 0x20 && (r < '\t' || r > '\r') || r >= 0x7F && r != 0x85 {
			cs = append(cs, r)
		}
	}
	return cs
}

// TestControlCharactersAreInvisible: a control character that renders as
// nothing, between a value's characters or around it, does not hide it
// from any entry point, raw or escaped (NEW-2 of the same review); the
// whitespace controls are read as they are.
func TestControlCharactersAreInvisible(t *testing.T) {
	const jwt = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl"
	for _, r := range invisibleControls() {
		if v := VisibleRune(r); v != -1 {
			t.Errorf("VisibleRune(%U) = %q, want -1", r, v)
		}
		c := string(r)
		for _, v := range []struct {
			value string
			class Class
		}{
			{c + "4111 1111 1111 1111" + c, CardNumber},
			{spread("4111111111111111", c), CardNumber},
			{c + "078-05-1120" + c, SSN},
			{"078" + c + "-05-" + c + "1120", SSN},
			{"alice" + c + "@example.com", Email},
			{jwt[:10] + c + jwt[10:], JWT},
			{"DE89" + c + "370400440532013000", IBAN},
		} {
			if got, ok := Classify(v.value, All); !ok || got != v.class {
				t.Errorf("%U: Classify(%q) = %v, %v; want %v", r, v.value, got, ok, v.class)
			}
			if !Contains("x "+v.value+" y", All) {
				t.Errorf("%U: Contains(%q) = false", r, v.value)
			}
			if out, ok := Redact("x "+v.value+" y", All, "***"); !ok || strings.ContainsAny(out, "0123456789@") && v.class != JWT {
				t.Errorf("%U: Redact(%q) = %q, %v", r, v.value, out, ok)
			}
			escaped := strings.ReplaceAll(v.value, c, fmt.Sprintf(`\u%04x`, r))
			for _, content := range []string{v.value, escaped} {
				if !utf8.ValidString(content) || r < 0x20 && content == v.value {
					continue // JSON holds C0 controls escaped only
				}
				if !CanClassifyJSON(content, All) {
					t.Errorf("%U: CanClassifyJSON(%q) = false", r, content)
				}
			}
		}
	}
	if !CanClassifyJSON(`4\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1`, All) {
		t.Error(`CanClassifyJSON: backspaces (\b) between a card's digits hide it`)
	}
	for _, r := range "\t\n\v\f\r\u0085" {
		if v := VisibleRune(r); v != r {
			t.Errorf("VisibleRune(%U) = %q: whitespace is read as it is", r, v)
		}
	}
	if _, ok := Classify("\x00\x07\x7f", All); ok {
		t.Error("control characters alone classified")
	}
}

// spread is the ASCII s with sep between each of its characters.
func spread(s, sep string) string { return strings.Join(strings.Split(s, ""), sep) }

// TestCompatibilityDigitsAndSeparators: every character whose NFKC form is
// one ASCII character reads as it (ſ, ʰ and ˢ too, the second review's
// ˢk_live_…), and so does a circled digit NFKC leaves alone;
// a card written with them, or with combining marks drawn on its digits
// (an underline, a strike-through, a keycap, an enclosing circle), is one
// to every entry point.
func TestCompatibilityDigitsAndSeparators(t *testing.T) {
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if utf16.IsSurrogate(r) {
			continue
		}
		n := norm.NFKC.String(string(r))
		if len(n) != 1 || n[0] >= utf8.RuneSelf {
			if compatASCII(r) != 0 {
				t.Errorf("compatASCII(%U) = %q; NFKC reads %q", r, compatASCII(r), n)
			}
			continue
		}
		if v := VisibleRune(r); v != rune(n[0]) && !dash(r) { // ～ is Japanese code pages' wave dash 〜
			t.Errorf("VisibleRune(%U) = %q; NFKC reads %q", r, v, n)
		}
	}
	digits := func(zero, one rune) string { // 4111 1111 1111 1111 from a digit run
		four := zero + 4
		if zero < 0 {
			four = one + 3
		}
		return string(four) + strings.Repeat(string(one), 3) + " " + strings.Repeat(strings.Repeat(string(one), 4)+" ", 2) + strings.Repeat(string(one), 4)
	}
	values := []struct {
		value string
		class Class
	}{
		{digits(0x2080, 0x2081), CardNumber}, // subscripts
		{"\u2074\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9\u00b9", CardNumber}, // superscripts
		{digits(-1, 0x2460), CardNumber}, {digits(-1, 0x2776), CardNumber}, {digits(-1, 0x2780), CardNumber}, // circled
		{digits(-1, 0x278A), CardNumber}, {digits(-1, 0x24F5), CardNumber},
		{"51\u24ff51\u24ff51\u24ff51\u24ff51\u24ff\u24ff", CardNumber}, // negative circled zeros: 5105105105105100
		{"\U0001f10c78-\U0001f10b5-112\u24ea", SSN},
		{spread("4111111111111111", "\u0332") + "\u0332", CardNumber},                                                  // combining low line: underlined
		{spread("4111111111111111", "\u0336") + "\u0336", CardNumber},                                                  // combining long stroke: struck through
		{spread("4111111111111111", "\ufe0f\u20e3"), CardNumber},                                                       // keycaps
		{spread("4111111111111111", "\u20dd"), CardNumber},                                                             // enclosing circles
		{"4\u0489111111111111111", CardNumber},                                                                         // a Cyrillic enclosing mark
		{"4111\uff0b1111\uff0b1111\uff0b1111", CardNumber},                                                             // full-width plus
		{"4111\ufe621111\ufe621111\ufe621111", CardNumber},                                                             // small plus
		{"4111\u207a1111\u208a1111\u27951111", CardNumber},                                                             // superscript, subscript, heavy plus
		{"4111\u28001111\u28001111\u28001111", CardNumber},                                                             // Braille blank
		{"078\u250005\u25001120", SSN},                                                                                 // box drawing
		{"4111\u30fc1111\u30fc1111\u30fc1111", CardNumber},                                                             // prolonged sound marks
		{"4111\u20651111\u20651111\u20651111", CardNumber}, {"4111\U000e00801111\ufff01111\U000e01f01111", CardNumber}, // reserved ignorables
		{"-----BEGIN RSA PRI\u2065VATE KEY-----\nMIIEow", PrivateKey}, {"ali\u2065ce@example.com", Email},
		{"\u2504\u2504\u2504\u2504\u2504BEGIN RSA PRIVATE KEY\u2504\u2504\u2504\u2504\u2504\nMIIEow", PrivateKey}, // dashed box drawing
		{"4111\u257c1111\u23ba1111\u254d1111", CardNumber}, {"4111\uff5e1111\uff5e1111\uff5e1111", CardNumber},
		{"4111\u25cf1111\u25e61111\u02d91111", CardNumber}, {"4111\u20171111\u25811111\u02cd1111", CardNumber},
		{"john.doe\uff20example.com", Email}, {"john.doe\ufe6bexample.com", Email},
		{"\uff24\uff2589370400440532013000", IBAN}, {"\U0001d403\U0001d40489370400440532013000", IBAN},
		{"\uff45yJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.abc", JWT},
		{"\u02e2k_live_4eC39HqLyjWDarjtT1zdp7dc", APIKey}, {"\u017fk_live_4eC39HqLyjWDarjtT1zdp7dc", APIKey},
		{"Bearer \u017fbcdefgh12345678", BearerToken}, {"\u017fam.smith@example.com", Email}, {"g\u02b0p_" + strings.Repeat("a1B2", 9), APIKey},
		{"-----\uff22\uff25\uff27\uff29\uff2e RSA PRIVATE KEY-----\nMIIEow", PrivateKey},
		{"\u2500\u2500\u2500\u2500\u2500BEGIN RSA PRIVATE KEY\u2500\u2500\u2500\u2500\u2500\nMIIEow", PrivateKey},
	}
	for _, v := range values {
		if got, ok := Classify(v.value, All); !ok || got != v.class {
			t.Errorf("Classify(%q) = %v, %v; want %v", v.value, got, ok, v.class)
		}
		if out, ok := Redact("x "+v.value+" ok", All, "***"); !ok || strings.ContainsAny(readableDigits(out), "0123456789@") && v.class != PrivateKey {
			t.Errorf("Redact(%q) = %q, %v", v.value, out, ok)
		}
		if !Contains("x "+v.value+" ok", All) {
			t.Errorf("Contains(%q) = false", v.value)
		}
		for _, content := range []string{v.value, escapeAll(v.value)} {
			if !CanClassifyJSON(content, All) {
				t.Errorf("CanClassifyJSON(%q) = false", content)
			}
		}
	}
	for _, s := range []string{"H\u2082O", "x\u00b2 + y\u00b2", "caf\u0065\u0301", "\u2460 \u2461 \u2462", "\uff21\uff22\uff23\u682a\u5f0f\u4f1a\u793e", "\uff11\uff12\uff13\uff0d\uff14\uff15\uff16\uff17", "E = mc\u00b2 \u00b7 10\u2078", "03\u30fc1234\u30fc5678", "490154203237518", "4901234567894", "100004567890125", "302-1234567-1234565", "Bearer Authentication", "bearer securities", "Bearer instrument"} {
		if c, ok := Classify(s, All); ok {
			t.Errorf("Classify(%q) = %v", s, c)
		}
	}
}

// readableDigits is s with every character VisibleRune reads as an ASCII
// digit or '@' written so.
func readableDigits(s string) string {
	return strings.Map(func(r rune) rune {
		if v := VisibleRune(r); v >= '0' && v <= '9' || v == '@' {
			return v
		}
		return r
	}, s)
}
