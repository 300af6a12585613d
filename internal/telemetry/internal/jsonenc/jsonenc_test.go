package jsonenc

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

// TestAppendStringEveryByte holds AppendString, which copies eight plain
// bytes a step, to encoding/json's bytes: every byte value at every
// position of strings shorter and longer than a step, and multi-byte runes
// across a step's edge.
func TestAppendStringEveryByte(t *testing.T) {
	check := func(s string) {
		t.Helper()
		want, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("AppendString(%q) = %s, want %s", s, got, want)
		}
	}
	for _, n := range []int{1, 7, 8, 9, 16, 17, 24} {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				check(string(b))
			}
		}
	}
	for _, r := range []string{"é", "€", "\u2028", "\u2029", "😀"} {
		for pos := 0; pos <= 16; pos++ {
			check(strings.Repeat("a", pos) + r + strings.Repeat("b", 16-pos))
		}
	}
}
