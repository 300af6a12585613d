package respfilter

import "testing"

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
