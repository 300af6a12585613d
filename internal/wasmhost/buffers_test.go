package wasmhost

import (
	"net/http"
	"testing"
)

// Mirrors Envoy's Buffer::copyFrom for a body (source/extensions/common/
// wasm/context.cc): at start 0, drain size bytes and prepend; at or past the
// end, append; anywhere else, BAD_ARGUMENT.
func TestSpliceBuffer(t *testing.T) {
	tests := []struct {
		buf         string
		start, size uint64
		in, want    string
		ok          bool
	}{
		{"world", 0, 0, "hello ", "hello world", true},
		{"hello", 5, 0, "!", "hello!", true},
		{"hello", 99, 3, "!", "hello!", true},
		{"hello", 0, 5, "bye", "bye", true},
		{"hello", 0, 2, "J", "Jllo", true},
		{"hello", 0, 99, "x", "x", true},
		{"", 0, 0, "x", "x", true},
		{"hello", 1, 3, "EL", "hello", false},
		{"hello", 3, 99, "p", "hello", false},
		{"hello", 4, 0, "p", "hello", false},
	}
	for _, tt := range tests {
		got, ok := spliceBuffer([]byte(tt.buf), tt.start, tt.size, []byte(tt.in))
		if string(got) != tt.want || ok != tt.ok {
			t.Errorf("splice(%q,%d,%d,%q) = %q %v, want %q %v", tt.buf, tt.start, tt.size, tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func FuzzSpliceBuffer(f *testing.F) {
	f.Add([]byte("hello"), uint32(1), uint32(2), []byte("x"))
	f.Fuzz(func(t *testing.T, buf []byte, start, size uint32, in []byte) {
		out, ok := spliceBuffer(append([]byte(nil), buf...), uint64(start), uint64(size), in)
		if len(out) > len(buf)+len(in) {
			t.Fatalf("grew too much: %d > %d+%d", len(out), len(buf), len(in))
		}
		if !ok && string(out) != string(buf) {
			t.Fatalf("a refused write changed the buffer")
		}
	})
}

// Appending to one streamed body chunk must not overwrite the next one. The
// last "|" is the empty end-of-stream chunk Envoy's HTTP/1 codec delivers
// (ClientConnectionImpl::onMessageComplete).
func TestAppendToChunkKeepsTheRestOfTheBody(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.ChunkSize = 4
	p := startConformance(t, Options{}, cfg)
	up := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write([]byte("aaaabbbbcc")) })
	if res := do(t, p, up, "GET", "/", "", "x-do", "mark-resp-chunks"); res.body != "aaaa|bbbb|cc||" {
		t.Fatalf("got %q", res.body)
	}
}
