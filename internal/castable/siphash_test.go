package castable

import (
	"encoding/binary"
	"testing"
)

// The reference vectors of SipHash-2-4 (the paper's appendix and the
// reference implementation's vectors.h): key 00..0f, message 00..n-1.
func TestSipHashVectors(t *testing.T) {
	var key [16]byte
	for i := range key {
		key[i] = byte(i)
	}
	k0, k1 := binary.LittleEndian.Uint64(key[:8]), binary.LittleEndian.Uint64(key[8:])
	msg := make([]byte, 64)
	for i := range msg {
		msg[i] = byte(i)
	}
	for n, want := range map[int]uint64{0: 0x726fdb47dd0e0e31, 1: 0x74f839c593dc67fd, 2: 0x0d6c8009d9a94f5a,
		8: 0x93f5f5799a932462, 15: 0xa129ca6149be45e5, 16: 0x3f2acc7f57c29bdb} {
		h := newSipHash(k0, k1)
		h.writeString(string(msg[:n]))
		if got := h.sum64(); got != want {
			t.Errorf("n=%d: %#x, want %#x", n, got, want)
		}
		// Split writes hash the same as one.
		for cut := 0; cut <= n; cut++ {
			h := newSipHash(k0, k1)
			h.writeString(string(msg[:cut]))
			h.writeString(string(msg[cut:n]))
			if got := h.sum64(); got != want {
				t.Errorf("n=%d split at %d: %#x, want %#x", n, cut, got, want)
			}
		}
	}
}
