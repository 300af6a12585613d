package detect

import (
	"encoding/binary"
	"math/bits"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/apiguard/apiguard/internal/detect/jsonforms"
)

// decodeJSONContent is the reference decoding of a JSON string's content
// (RFC 8259 §7), written plainly: false when it holds a broken escape, a
// lone surrogate or bytes that are not UTF-8, which CanClassifyJSON
// leaves to the full checks.
func decodeJSONContent(s string) (string, bool) {
	if !utf8.ValidString(s) {
		return "", false
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '\\' {
			b.WriteByte(s[i])
			continue
		}
		if i+1 >= len(s) {
			return "", false
		}
		i++
		switch s[i] {
		case '"', '\\', '/':
			b.WriteByte(s[i])
		case 'b':
			b.WriteByte('\b')
		case 'f':
			b.WriteByte('\f')
		case 'n':
			b.WriteByte('\n')
		case 'r':
			b.WriteByte('\r')
		case 't':
			b.WriteByte('\t')
		case 'u':
			r, ok := refHex4(s[i+1:])
			if !ok {
				return "", false
			}
			i += 4
			if utf16.IsSurrogate(r) {
				if r >= 0xDC00 || i+2 >= len(s) || s[i+1] != '\\' || s[i+2] != 'u' {
					return "", false
				}
				lo, ok := refHex4(s[i+3:])
				if r = utf16.DecodeRune(r, lo); !ok || r == utf8.RuneError {
					return "", false
				}
				i += 6
			}
			b.WriteRune(r)
		default:
			return "", false
		}
	}
	return b.String(), true
}

// refHex4 reads four hexadecimal digits at the start of s.
func refHex4(s string) (rune, bool) {
	if len(s) < 4 {
		return 0, false
	}
	v, err := strconv.ParseUint(s[:4], 16, 32)
	return rune(v), err == nil
}

// jsonFilterValues are values of every class and their evasions (digits
// of other scripts, escaped digits, invisible characters, Unicode dashes
// and spaces, separators, PEM boundaries of four dashes, display-name and
// mailto: emails), and ordinary values the check rules out.
var jsonFilterValues = append([]string{
	"\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11", // full-width
	"\u0664\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661\u0661", // Arabic-Indic
	"4\u0967\u0967\u0967 1111 1111 1111", "4111\u20101111\u20111111\u20131111", "123\u201245\u22126789", "4111\u00a01111\u20091111\u30001111",
	"4111\u200b1111\u200b1111\u200b1111", "4111.1111.1111.1111", "4111/1111/1111/1111", "4111_1111_1111_1111", "4111 - 1111 - 1111 - 1111",
	"\u2010\u2010\u2010\u2010\u2010BEGIN RSA PRIVATE KEY-----\nMIIB", "--\u200b---BEGIN PRIVATE KEY-----\nMIIE", "x-----BEGIN PRIVATE KEY-----\nMIIE",
	"label: -----BEGIN EC PRIVATE KEY-----\nMHc", "Alice Smith <alice@example.com>", "\"Smith, Alice\" <alice@example.com>", "MailTo:alice@example.com",
	"alice\u200b@example.com", "alice@example.com\u200b", "Bearer\u00a0abcdefgh12345678", "e\u200byJhbGciOiJIUzI1NiJ9.e30.x",
	"User 12 Müller \"quoted\"", "Zürich", "東京都渋谷区", "Ærøskøbing — “quoted” – text", "Grüße, 1 Main St", "Ελληνικά 12", "emoji 😀 here",
	"-x", "$", "m", "mailto", "a@", "1234567890", "12345678901", "AKIA", "\\", "a\\b", "a/b", "tab\there", "new\nline", "ctl\x01",
}, canClassifySeeds...)

// TestCanClassifyJSONSkipsOrdinaryValues: escaped and non-ASCII values of
// no class, as the benchmark documents hold, are ruled out undecoded.
func TestCanClassifyJSONSkipsOrdinaryValues(t *testing.T) {
	for _, s := range []string{`User 12 M\u00fcller \"quoted\"`, `User 12 Müller \"quoted\"`, "Zürich", `Z\u00FCrich`, `\u00e9l\u00e8ve`[6:], `caf\u00e9 \u2014 bar`, "Tokyo 東京都渋谷区 (JP)", `2026-11-28T18:00:00Z`, `a\/b\/c`, `Line\nbreak`} {
		if CanClassifyJSON(s, All) {
			t.Errorf("CanClassifyJSON(%q) = true: an ordinary value should be ruled out", s)
		}
	}
}

// TestCanClassifyJSONAdmitsEveryClass: every value of a class, in every
// JSON form, passes the check, and is found by Classify once decoded.
func TestCanClassifyJSONAdmitsEveryClass(t *testing.T) {
	for _, s := range jsonFilterValues {
		c, ok := Classify(s, All)
		for _, form := range jsonforms.Of(s) {
			if ok && !CanClassifyJSON(form, All) {
				t.Errorf("CanClassifyJSON(%q) = false, but it is a %v", form, c)
			}
			checkCanClassifyJSON(t, "", form, All)
		}
	}
	// A value that only its name makes a class: a digest under a password name.
	if CanClassifyJSON("5f4dcc3b5aa765d61d8327deb882cf99", All) || !NameClassifies("password_hash", All) {
		t.Error("a digest: ruled out by its content, not by its name")
	}
}

// checkCanClassifyJSON fails when CanClassifyJSON and NameClassifies
// rule out content under name whose decoded value ClassifyUnder or
// CanClassifyUnder takes, or, for content they can judge (clean, starting
// with a printable character), when they decide otherwise than
// CanClassifyUnder on the decoded value.
func checkCanClassifyJSON(t *testing.T, name, content string, set Set) {
	t.Helper()
	got := CanClassifyJSON(content, set) || NameClassifies(name, set)
	s, clean := decodeJSONContent(content)
	if !clean {
		return
	}
	if c, ok := ClassifyUnder(name, s, set); ok && !got {
		t.Fatalf("CanClassifyJSON(%q, %b) under %q = false, but %q is a %v", content, set, name, s, c)
	}
	want := CanClassifyUnder(name, s, set)
	if want && !got {
		t.Fatalf("CanClassifyJSON(%q, %b) under %q = false; CanClassifyUnder(%q) = true", content, set, name, s)
	}
	if len(content) > 0 && content[0] > ' ' && content[0] < 0x7f && content[0] != '\\' && got != want {
		t.Fatalf("CanClassifyJSON(%q, %b) under %q = %v; CanClassifyUnder(%q) = %v", content, set, name, got, s, want)
	}
}

// FuzzCanClassifyJSON checks that CanClassifyJSON (with NameClassifies)
// is a sound prefilter of ClassifyUnder on the decoded value, and decides
// as CanClassifyUnder does wherever it does not leave the value to it, for
// any content (and the same value in other JSON forms), name and set of
// classes.
func FuzzCanClassifyJSON(f *testing.F) {
	for _, s := range jsonFilterValues {
		for _, form := range jsonforms.Of(s) {
			f.Add(form, "", uint32(All))
		}
	}
	f.Add("5f4dcc3b5aa765d61d8327deb882cf99", "password", uint32(All))
	f.Add(`\ud83d\ude00x`, "", uint32(All))
	f.Add(`a\ud83d`, "", uint32(All))
	// Look-alike separators, invisible controls, marks and circled
	// digits (the third review of issue 14), raw and escaped.
	for _, s := range []string{"4111\uff0e1111\u00b71111\u03871111", "078\u02d705\u02d71120", "alice\x7f@example.com", "DE\x7f89370400440532013000",
		"\u009b4111 1111 1111 1111\u009b", "4\u03321\u03321\u03321\u0332", "\u2463\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460\u2460",
		"User 12 Muller\x7f", "-\u02d7-\u02d7-BEGIN PRIVATE KEY-----"} {
		f.Add(s, "", uint32(All))
		f.Add(escapeAll(s), "", uint32(All))
	}
	f.Add(`4\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1\b1`, "", uint32(All))
	f.Add(`abcdefg\u0000\u007fxyz`, "", uint32(All))
	f.Fuzz(func(t *testing.T, content, name string, set uint32) {
		for _, set := range []Set{All, Set(set) & All} {
			checkCanClassifyJSON(t, name, content, set)
			if s, ok := decodeJSONContent(content); ok && utf8.ValidString(s) {
				for _, form := range jsonforms.Of(s) {
					checkCanClassifyJSON(t, name, form, set)
				}
			}
		}
	})
}

// TestDashesAreLongCharacters: every character visible reads as '-' is
// encoded in three or four bytes, or is one of the three two-byte dashes
// (U+02D7, U+058A, U+05BE, lead bytes CB, D6 and D7), so CanClassifyJSON's
// count of the bytes that may make a dash (dashy8) counts it.
func TestDashesAreLongCharacters(t *testing.T) {
	for r := rune(utf8.RuneSelf); r <= unicode.MaxRune; r++ {
		if v, _ := visible(string(r)); v == "-" && utf8.RuneLen(r) < 3 && strings.IndexByte("\xcb\xd6\xd7", string(r)[0]) < 0 {
			t.Errorf("%U reads as a dash and is %d bytes long", r, utf8.RuneLen(r))
		}
	}
	for _, w := range []string{"--------", "\\\\\\\\\\\\\\\\", "\xe2\xe3\xef\xf0\xf4\xe0\xe1\xe9", "\xd6\xd7\xd6\xd7\xd7\xd6\xd6\xd7", "\xcb\xca\xcb\xcb\xca\xca\xcb\xd7"} {
		if n := bits.OnesCount64(dashy8(binary.LittleEndian.Uint64([]byte(w)))); n != 8 {
			t.Errorf("dashy8(%q) counts %d", w, n)
		}
	}
}

// TestCanClassifyJSONOnEveryShape builds values from the pieces its
// shortcuts look at (the first byte, the next two, dashes and '@' inside,
// the length, the last character, each plain, escaped, outside ASCII or
// invisible) and checks that it decides as CanClassify does on the decoded
// value, with every class and with some alone.
func TestCanClassifyJSONOnEveryShape(t *testing.T) {
	firsts := []string{"U", "Z", "e", "B", "b", "a", "p", "s", "A", "g", "x", "S", "m", "M", "D", "(", "_", "4", "$", "-", `"`}
	seconds := []string{"", "s", "E", "8", "ü", `\u00fc`, `\u0041`, `\"`, `\u200b`, "４", "\u200b", "-", "."}
	middles := []string{"", "er", "9", "-", "----", `\u2010\u2010\u2010\u2010`, "\u2010-\u2010-", "@", "x@example.com", " ", "BEGIN PRIVATE KEY----"}
	pads := []string{"", "abc", "abcdefghijkl", strings.Repeat("wxyz", 8)}
	lasts := []string{"", "a", ">", " ", "ü", `\"`, `\\`, `\/`, `\u0041`, `\n`, `\u200b`, "\u200b", "é", "東", "\\"}
	// The classes the shortcuts reason about, alone.
	sets := []Set{All, SetOf(Email), SetOf(PrivateKey), SetOf(IBAN), SetOf(JWT)}
	n := 0
	for _, f := range firsts {
		for _, s2 := range seconds {
			for _, m := range middles {
				for _, p := range pads {
					for _, l := range lasts {
						content := f + s2 + m + p + l
						for _, set := range sets {
							checkCanClassifyJSON(t, "", content, set)
						}
						n++
					}
				}
			}
		}
	}
	t.Logf("%d values", n)
}

// TestCanClassifyJSONTailBytes puts what the counts over a value look at
// (a dash, a PEM boundary's dashes, a backslash, a character outside
// ASCII of two or three bytes, a dash of three) at every place of values of every length up to 24,
// so that each falls in the words counted whole and in the last bytes
// counted one at a time, of every length: CanClassifyJSON must decide
// as CanClassify does on the decoded value. 'e' starts a JWT, and so
// makes the length count decide; 'U' starts nothing.
func TestCanClassifyJSONTailBytes(t *testing.T) {
	pieces := []string{"-", pemDashes, `\\`, `\"`, `\u002d`, "é", "東", "\u2010", "\u2010-\u2010-", "@", "8"}
	for _, first := range []string{"U", "e", "G"} {
		for n := 1; n <= 24; n++ {
			for at := 1; at < n; at++ {
				for _, p := range pieces {
					content := first + strings.Repeat("x", at-1) + p + strings.Repeat("y", max(n-at-1, 0))
					for _, set := range []Set{All, SetOf(PrivateKey), SetOf(JWT), SetOf(IBAN), SetOf(Email)} {
						checkCanClassifyJSON(t, "", content, set)
					}
				}
			}
		}
	}
}

// TestCanClassifyJSONNearTheEnds: what the quick tests read at either end
// of a value (the second and third bytes of an IBAN, the last character),
// hidden behind characters visible drops (U+034F is two bytes and not a
// plainRune), escapes and wide characters, and every printable last byte:
// CanClassifyJSON must decide as CanClassify does on the decoded value.
func TestCanClassifyJSONNearTheEnds(t *testing.T) {
	hidden := []string{"", "\u034f", `\u034f`, "\u200b", `\u200b`, "\u00c0", `\u0045`, "ü", "４"}
	for _, x := range hidden {
		for _, content := range []string{
			"D" + x + "E89370400440532013000", "DE" + x + "89370400440532013000", "D" + x + "Exxxxxxxxxxxxxxxxx",
			"User 12 M" + x + "uller", "User 12 Muller" + x, "Z" + x + "rich", "x" + x + "@example.com",
		} {
			for _, set := range []Set{All, SetOf(IBAN), SetOf(Email)} {
				checkCanClassifyJSON(t, "", content, set)
			}
		}
	}
	for last := byte(0x20); last < 0x80; last++ {
		for _, content := range []string{"User 12 Muller" + string(last), "Zurich" + string(last), "e" + string(last)} {
			checkCanClassifyJSON(t, "", content, All)
			checkCanClassifyJSON(t, "", content, SetOf(Email))
		}
	}
}
