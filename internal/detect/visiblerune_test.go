package detect

import (
	"testing"
	"unicode/utf8"
)

// TestVisibleRuneIsVisible: every character reads as visible reads it.
func TestVisibleRuneIsVisible(t *testing.T) {
	for r := rune(0); r <= utf8.MaxRune; r++ {
		if !utf8.ValidRune(r) {
			continue
		}
		want, _ := visible(string(r))
		got := ""
		if v := VisibleRune(r); v >= 0 {
			got = string(v)
		}
		if got != want {
			t.Fatalf("VisibleRune(%U) = %q, visible reads %q", r, got, want)
		}
	}
}
