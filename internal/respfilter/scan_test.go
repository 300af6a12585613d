package respfilter

import (
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestStringEndFindsTheFirstSpecialByte checks the eight-bytes-at-a-time
// string scan against a byte-by-byte one, with every kind of byte at every
// position of a word and around it: the borrow of the bit tricks may flag
// bytes after the first special one, never before.
func TestStringEndFindsTheFirstSpecialByte(t *testing.T) {
	bytesToTry := []byte{'"', '\\', 0x00, 0x1f, 0x20, 0x21, 0x5b, 0x5d, 0x7f, 0x80, 0xa2, 0xdc, 0xff, 'a'}
	for _, first := range bytesToTry {
		for _, second := range bytesToTry {
			for i := 0; i < 20; i++ {
				for gap := 1; gap < 4; gap++ {
					doc := []byte(`"` + "abcdefghijklmnopqrstuvwxyz0123456789" + `"`)
					doc[1+i] = first
					if 1+i+gap < len(doc)-1 {
						doc[1+i+gap] = second
					}
					want := -1
					for j := 1; j < len(doc); j++ {
						if c := doc[j]; c == '"' || c == '\\' || c < 0x20 {
							// stringEnd reads whole words from the first
							// content byte; a byte past the last whole one is
							// left to scanEscaped.
							if word := 1 + (j-1)/8*8; c == '"' && word+8 <= len(doc) {
								want = j + 1
							}
							break
						}
					}
					if got := stringEnd(doc, 1); got != want {
						t.Fatalf("stringEnd(%q) = %d, want %d", doc, got, want)
					}
					end, _ := scanString(doc, 1)
					ref, _ := scanEscaped(doc, 1)
					if end != ref {
						t.Fatalf("scanString(%q) = %d, scanEscaped %d", doc, end, ref)
					}
				}
			}
		}
	}
}

// TestSkipValueJudgesEveryEndAsGJSON checks the word-at-a-time paths of
// skipValue where they stop applying: every token below, in an array and as
// a member's value, is followed by padding of every length up to more than
// two words, and every prefix of each document is judged too, so each
// token meets the end of the document at every distance. A document is
// accepted exactly when gjson.ValidBytes accepts it.
func TestSkipValueJudgesEveryEndAsGJSON(t *testing.T) {
	tokens := []string{
		`0`, `7`, `-0`, `-12`, `01`, `-01`, `1234567`, `12345678`, `123456789`, `1.5`, `19.99`,
		`0.1234567`, `0.12345678`, `1.`, `1.e5`, `1e5`, `1E+5`, `1.5e-3`, `1.5x`, `.5`, `1..2`, `1.2.3`,
		`""`, `"a"`, `"abcdefg"`, `"abcdefgh"`, `"abcdefghijklmnop"`, `"abcdefghijklmnopq"`,
		`"a\"b"`, `"a\u00e9"`, `"a\x"`, "\"a\x01b\"", "\"\xc3\xa9\"", `"unterminated`,
		`true`, `false`, `null`, `tru`, `fals`, `nul`, `truE`, `nulll`, `True`,
		`{}`, `[]`, `{ }`, `[ ]`, `{"k":1}`, `{"k" : 1}`, `{"k": 1}`, `{ "k":1 }`, `{"abcdefg":1}`,
		`{"abcdefgh":1}`, `{"a\"b":1}`, `{"k"1}`, `{"k":}`, `{,}`, `[1,]`, `{"k":1,}`, `[1 2]`,
		`[[1],[2,[3]]]`, `{"k":{"j":[true,null]}}`, `{"k":1]`, `[1}`,
	}
	list := mustAllowlist(t, "none")
	judge := func(doc []byte) {
		var rep Report
		_, err := list.filterDocument(nil, doc, filterOptions{maxDepth: 64}, &rep)
		if valid := gjson.ValidBytes(doc); (err == nil) != valid {
			t.Fatalf("%q: error %v, gjson.ValidBytes %v", doc, err, valid)
		}
	}
	for _, tok := range tokens {
		for n := 0; n <= 20; n++ {
			for _, doc := range []string{
				"[" + tok + strings.Repeat(" ", n) + "]",
				"[" + tok + `,"` + strings.Repeat("x", n) + `"]`,
				`{"k":` + tok + strings.Repeat(" ", n) + "}",
				`{"k":` + tok + `,"` + strings.Repeat("x", n) + `":0}`,
			} {
				for end := 1; end <= len(doc); end++ {
					judge([]byte(doc[:end]))
				}
			}
		}
	}
}
