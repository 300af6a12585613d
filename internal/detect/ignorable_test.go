package detect

import (
	"testing"
	"unicode"
)

func TestIgnorableFastPathsMatchTheTables(t *testing.T) {
	for r := rune(0); r <= unicode.MaxRune; r++ {
		control := unicode.Is(unicode.Cc, r) && !unicode.IsSpace(r) // C0 but tab to carriage return, DEL, C1 but NEL
		want := control || unicode.Is(unicode.Cf, r) || unicode.Is(unicode.Variation_Selector, r) || unicode.Is(unicode.Other_Default_Ignorable_Code_Point, r)
		if ignorable(r) != want {
			t.Fatalf("ignorable(%U) = %v", r, !want)
		}
		if spaceSeparator(r) != (r != ' ' && unicode.Is(unicode.Zs, r)) {
			t.Fatalf("spaceSeparator(%U)", r)
		}
	}
}
