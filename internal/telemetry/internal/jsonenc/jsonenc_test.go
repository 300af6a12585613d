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

// TestAppendThousandthsMatchesFloat holds the integer formatter of
// latency_ms to the float formatting it replaces, byte for byte: every
// value below 100 s in microseconds, the edges of its exact range, and
// negative values.
func TestAppendThousandthsMatchesFloat(t *testing.T) {
	check := func(n int64) {
		t.Helper()
		if got, want := AppendThousandths(nil, n), AppendFloat(nil, float64(n)/1000); !bytes.Equal(got, want) {
			t.Fatalf("%d: %s, want %s", n, got, want)
		}
	}
	for n := int64(-2000); n < 100_000_000; n++ {
		if n > 2_000_000 {
			n += 997 // a sample above 2 s
		}
		check(n)
	}
	for _, n := range []int64{1e15 - 1, 1e15, 1e15 + 1, -1e15 + 1, -1e15, 999_999_999_999_999, 123_456_789_012_345, 1 << 62, -1 << 62, 1<<63 - 1, -1 << 63} {
		check(n)
	}
}

func FuzzAppendThousandths(f *testing.F) {
	f.Add(int64(409))
	f.Fuzz(func(t *testing.T, n int64) {
		if got, want := AppendThousandths(nil, n), AppendFloat(nil, float64(n)/1000); !bytes.Equal(got, want) {
			t.Fatalf("%d: %s, want %s", n, got, want)
		}
	})
}
