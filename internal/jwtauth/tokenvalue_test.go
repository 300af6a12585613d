package jwtauth

import (
	"strings"
	"testing"
)

// TestIsTokenValueEveryByte checks the eight-bytes-a-step isTokenValue
// against the byte loop it replaces: every byte value, at every position
// of values shorter and longer than a step.
func TestIsTokenValueEveryByte(t *testing.T) {
	ref := func(s string) bool {
		if s == "" {
			return false
		}
		for i := 0; i < len(s); i++ {
			if s[i] <= ' ' || s[i] == 0x7f {
				return false
			}
		}
		return true
	}
	for _, n := range []int{1, 7, 8, 9, 16, 23} {
		for pos := 0; pos < n; pos++ {
			for c := 0; c < 256; c++ {
				b := []byte(strings.Repeat("a", n))
				b[pos] = byte(c)
				if got, want := isTokenValue(string(b)), ref(string(b)); got != want {
					t.Fatalf("isTokenValue(%q) = %v, want %v", b, got, want)
				}
			}
		}
	}
	if isTokenValue("") {
		t.Fatal(`isTokenValue("") = true`)
	}
}
