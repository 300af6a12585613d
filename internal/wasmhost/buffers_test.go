package wasmhost

import (
	"net/http"
	"testing"
)

// Mirrors Envoy's Buffer::copyFrom: (0,0) prepends, start >= len appends,
// otherwise the range is replaced.
func TestSpliceBuffer(t *testing.T) {
	tests := []struct {
		buf         string
		start, size uint64
		in, want    string
	}{
		{"world", 0, 0, "hello ", "hello world"},
		{"hello", 5, 0, "!", "hello!"},
		{"hello", 99, 3, "!", "hello!"},
		{"hello", 0, 5, "bye", "bye"},
		{"hello", 1, 3, "EL", "hELo"},
		{"hello", 3, 99, "p", "help"},
		{"", 0, 0, "x", "x"},
	}
	for _, tt := range tests {
		if got := string(spliceBuffer([]byte(tt.buf), tt.start, tt.size, []byte(tt.in))); got != tt.want {
			t.Errorf("splice(%q,%d,%d,%q) = %q, want %q", tt.buf, tt.start, tt.size, tt.in, got, tt.want)
		}
	}
}

func FuzzSpliceBuffer(f *testing.F) {
	f.Add([]byte("hello"), uint32(1), uint32(2), []byte("x"))
	f.Fuzz(func(t *testing.T, buf []byte, start, size uint32, in []byte) {
		out := spliceBuffer(append([]byte(nil), buf...), uint64(start), uint64(size), in)
		if len(out) > len(buf)+len(in) {
			t.Fatalf("grew too much: %d > %d+%d", len(out), len(buf), len(in))
		}
	})
}

// Appending to one streamed body chunk must not overwrite the next one.
func TestAppendToChunkKeepsTheRestOfTheBody(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.ChunkSize = 4
	p := startConformance(t, Options{}, cfg)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("aaaabbbbcc")) })
	if res := do(t, p, up, "GET", "/", "", "x-do", "mark-resp-chunks"); res.body != "aaaa|bbbb|cc|" {
		t.Fatalf("got %q", res.body)
	}
}
