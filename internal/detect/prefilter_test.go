package detect

import (
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// canClassifySeeds are values of every class (and near misses) for
// FuzzCanClassify.
var canClassifySeeds = []string{
	"4111111111111111", " 4111111111111111 ", "-4111111111111111", "4.111111111111111e15", "4111111111111111.0", "0.4111111111111111E+16", "41111111111111110e-1", "4111 1111 1111 1111", "3782-822463-10005", "123-45-6789",
	"a@b.co", "bob.smith+tag@mail.example.co.uk", "-x@example.com", "_a@example.com", "9@example.com",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "Bearer abcdefgh12345678", "bearer  0123456789",
	"AKIAIOSFODNN7EXAMPLE", "ghp_" + strings.Repeat("a1B2", 9), "sk_live_" + strings.Repeat("x", 24),
	"xoxb-123456789012-abcdefghijkl", "SG." + strings.Repeat("a", 60), "pypi-" + strings.Repeat("a", 50),
	"GB82WEST12345698765432", "GB82 WEST 1234 5698 7654 32", "DE89370400440532013000",
	bcryptHash, argonHash, scryptHash, passlibPB, djangoPB, werkzeugPB, rsaPEM,
	"argon2" + argonHash, "bcrypt$" + bcryptHash, "bcrypt_sha256$" + bcryptHash,
	"User 12 Müller", "Zürich", "ü4111111111111111", "4111111111111111ü", "4111\u200b1111\u200b1111\u200b1111", "\u200bAKIAIOSFODNN7EXAMPLE", "gb82west12345698765432", "de89 3704 0044 0532 0130 00", "a\u00a0@b.co", "2026-11-28T18:00:00Z", "hello", "4111111111111111\x00", "\t4111111111111111",
	"$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", "123 45 6789", "123.45.6789", "123\u00a045\u00a06789",
	"DE89-3704-0044-0532-0130-00", "-----begin rsa private key-----\nMIIB", "----BEGIN PRIVATE KEY----\nMIIE", "Alice <alice@example.com>",
	"mailto:alice@example.com", "MAILTO:a@b.co?x=1", `"alice smith"@example.com`, `"a\"b"@example.com`, "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
}

func TestCanClassifyAdmitsEveryClass(t *testing.T) {
	for _, s := range canClassifySeeds {
		if _, ok := classifyWhole(s, All); ok && !CanClassify(s, All) {
			t.Errorf("CanClassify(%.40q) = false, but it is a %v", s, must(classifyWhole(s, All)))
		}
		if _, ok := classifyWhole(s, All); !ok {
			continue
		}
		if c, ok := Classify(s, All); !ok || c != must(classifyWhole(s, All)) {
			t.Errorf("Classify(%.40q) = %v, %v; without its prefilter %v", s, c, ok, must(classifyWhole(s, All)))
		}
	}
	for _, s := range []string{"User 12 Muller", "User 12 Müller \"quoted\"", "Zürich", "2026-11-28T18:00:00Z", "Zurich", "active", "1.5e2", "+1 415 555 2671", "A-1"} {
		if CanClassify(s, All) {
			t.Errorf("CanClassify(%q) = true: an ordinary value should be ruled out", s)
		}
	}
}

func TestClassifyTakesCardNumbersWrittenAsNumbers(t *testing.T) {
	for _, s := range []string{"-4111111111111111", "4.111111111111111e15", "4111111111111111.0"} {
		if c, ok := Classify(s, All); !ok || c != CardNumber {
			t.Errorf("Classify(%q) = %v, %v; want a card number", s, c, ok)
		}
	}
}

func must(c Class, _ bool) Class { return c }

// classifyWhole is Classify without its prefilter.
func classifyWhole(s string, set Set) (Class, bool) {
	v, _ := visible(s)
	return classifyVisible(v, set)
}

// FuzzCanClassify checks that CanClassify is a sound prefilter: whatever
// Classify's checks take whole, for any set of classes, passes it.
func FuzzCanClassify(f *testing.F) {
	for _, s := range canClassifySeeds {
		f.Add(s, uint32(All))
	}
	f.Fuzz(func(t *testing.T, s string, set uint32) {
		for _, set := range []Set{All, Set(set) & All} {
			if c, ok := classifyWhole(s, set); ok && !CanClassify(s, set) {
				t.Fatalf("CanClassify(%q, %b) = false, but it is a %v", s, set, c)
			}
		}
	})
}

func TestPlainRunesAreVisible(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		if plainRune(r) && (ignorable(r) || mark(r) || r != ' ' && unicode.Is(unicode.Zs, r) || r > '9' && unicode.IsDigit(r) || compatASCII(r) != 0 && compatASCII(r) != byte(r) || r != '-' && dash(r) || r > '_' && lookAlike(r) != 0) {
			t.Fatalf("plainRune(%U), but it is ignorable, a mark, a space, a digit, a dash or a look-alike", r)
		}
	}
}

// visibleReference is visible as first written: a rune at a time, with no
// shortcut for ASCII runs or two-byte characters, bytes that are not
// UTF-8 kept as they are.
func visibleReference(s string) (string, bool) {
	var b strings.Builder
	changed := false
	write := func(j int, out string) {
		if !changed {
			b.WriteString(s[:j])
			changed = true
		}
		b.WriteString(out)
	}
	for j := 0; j < len(s); {
		r, n := utf8.DecodeRuneInString(s[j:])
		v, ok := digitValue(r)
		switch {
		case plainRune(r):
			if changed {
				b.WriteString(s[j : j+n])
			}
		case ignorable(r):
			write(j, "")
		case spaceSeparator(r):
			write(j, " ")
		case dash(r):
			write(j, "-")
		case lookAlike(r) != 0:
			write(j, string(lookAlike(r)))
		case compatASCII(r) != 0:
			write(j, string(compatASCII(r)))
		case r >= firstOtherDigit && ok:
			write(j, string(rune('0'+v)))
		case mark(r):
			write(j, "")
		case changed:
			b.WriteString(s[j : j+n])
		}
		j += n
	}
	if !changed {
		return s, false
	}
	return b.String(), true
}

// visibleSeeds stress visible's shortcuts: ASCII runs of every length
// around a step of eight, two-byte characters at their edges (U+00BF,
// U+00C0, U+034F, U+05FF, U+0600), broken and cut sequences, invisible
// characters and spaces after two-byte ones.
var visibleSeeds = []string{
	"", "a", "abcdefg", "abcdefgh", "abcdefghi", "abcdefghijklmnop\u200b", "abcdefg\u00fc", "abcdefgh\u00fc\u00a0x",
	"\u00bf\u00c0\u034f\u05ff\u0600", "\u00fc\u034f\u00fc", "Z\u00fcrich", "M\u00fcller\u200b4111", "\xc3", "ab\xc3", "\xc3\x28", "\xcd\x8f", "\xcd\x8e",
	"\xd7\xbf\xd8\x80", "\xc2\xa0\xc2\xad", "\u00e9\u2060\u00e9", "\xff\xfe", "\u00fc\xe2\x80", "\u03a9\u3000\u03a9", "\ufeff\u0430\u0431\u0432",
	"4111\u200b1111\u200b1111\u200b1111", "\uff14\uff11\uff11\uff11", "\u00e9\u0664\u0661", "\u0660x\u06f9", "\u00fc\u0966\u200b",
	"4111\uff0e1111\u00b71111\u03871111", "078\u02d705\u02d71120", "\x00abcdefgh\x7f", "abcdefg\x1b\xff\x7f", "a\tb\nc\x01d\u009be\u0085",
	"abcdefghijklmnopqrstuvwxyz012345\x7f", "abcdefghijklmnopqrstuvwxyz01234\x1f6", "\u00e9\x00\xc3",
	"4\u03321\u03361\u20e31\u20dd", "\u2074\u00b9\u2081\u2460\u2776\u2780\u278a\u24f5\u24ea\u24ff\U0001f10b", "\uff24\uff25\U0001d403\uff20\ufe6b\uff0b\u2800\u2500", "\xcc\x80\xcd\xaf\xcd\xb0\xd2\x83\xd2\x89\xd2\x8a\xce\x87\xcb\x97",
}

// FuzzVisibleShortcuts checks that visible, with its shortcuts, returns
// what the rune-at-a-time reference does, and CanClassify what the
// prefilter of the reference's visible string says, whatever the bytes.
func FuzzVisibleShortcuts(f *testing.F) {
	for _, s := range append(visibleSeeds, canClassifySeeds...) {
		f.Add(s, uint32(All))
	}
	f.Fuzz(func(t *testing.T, s string, set uint32) {
		got, gotChanged := visible(s)
		want, wantChanged := visibleReference(s)
		if got != want || gotChanged != wantChanged {
			t.Fatalf("visible(%q) = %q, %v; reference %q, %v", s, got, gotChanged, want, wantChanged)
		}
		for _, set := range []Set{All, Set(set) & All} {
			if g, w := CanClassify(s, set), canClassify(want, set); g != w {
				t.Fatalf("CanClassify(%q, %b) = %v; reference %v", s, set, g, w)
			}
		}
	})
}

// TestVisibleShortcutsOnEveryRune runs visible and its reference on every
// character up to U+3000 (past the two-byte ones the shortcut takes) and
// one in 61 beyond, alone, after ASCII runs that put it on each side of
// an eight-byte step, between two-byte characters, and cut.
func TestVisibleShortcutsOnEveryRune(t *testing.T) {
	for r := rune(0x80); r <= unicode.MaxRune; r++ {
		if r > 0x3000 && r%61 != 0 {
			continue
		}
		c := string(r)
		for _, s := range []string{c, "abcdefg" + c + "x", "abcdefgh" + c, "é" + c + "é", c[:1], c[:len(c)-1] + "a"} {
			got, gc := visible(s)
			want, wc := visibleReference(s)
			if got != want || gc != wc {
				t.Fatalf("visible(%q) = %q, %v; reference %q, %v", s, got, gc, want, wc)
			}
		}
	}
}
