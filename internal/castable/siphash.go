package castable

import (
	"encoding/binary"
	"math/bits"
)

// sipHash is SipHash-2-4 (Aumasson and Bernstein, "SipHash: a fast
// short-input PRF", 2012), written from the paper: a keyed hash that is fast
// on short inputs and whose outputs an attacker cannot predict or collide
// without the key. The table chooses slots with it instead of SHA-256, which
// costs several times more in Wasm. It streams, so a key in parts needs no
// joined copy.
type sipHash struct {
	v0, v1, v2, v3 uint64
	tail           [8]byte
	ntail          int
	length         uint64
}

func newSipHash(k0, k1 uint64) sipHash {
	return sipHash{
		v0: k0 ^ 0x736f6d6570736575,
		v1: k1 ^ 0x646f72616e646f6d,
		v2: k0 ^ 0x6c7967656e657261,
		v3: k1 ^ 0x7465646279746573,
	}
}

func (s *sipHash) round() {
	s.v0 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 13)
	s.v1 ^= s.v0
	s.v0 = bits.RotateLeft64(s.v0, 32)
	s.v2 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 16)
	s.v3 ^= s.v2
	s.v0 += s.v3
	s.v3 = bits.RotateLeft64(s.v3, 21)
	s.v3 ^= s.v0
	s.v2 += s.v1
	s.v1 = bits.RotateLeft64(s.v1, 17)
	s.v1 ^= s.v2
	s.v2 = bits.RotateLeft64(s.v2, 32)
}

// block compresses one 8-byte message word (two SipRounds: the "2" of 2-4).
func (s *sipHash) block(m uint64) {
	s.v3 ^= m
	s.round()
	s.round()
	s.v0 ^= m
}

func (s *sipHash) writeString(p string) {
	s.length += uint64(len(p))
	if s.ntail > 0 {
		n := copy(s.tail[s.ntail:], p)
		s.ntail += n
		p = p[n:]
		if s.ntail < 8 {
			return
		}
		s.block(binary.LittleEndian.Uint64(s.tail[:]))
		s.ntail = 0
	}
	for len(p) >= 8 {
		s.block(uint64(p[0]) | uint64(p[1])<<8 | uint64(p[2])<<16 | uint64(p[3])<<24 |
			uint64(p[4])<<32 | uint64(p[5])<<40 | uint64(p[6])<<48 | uint64(p[7])<<56)
		p = p[8:]
	}
	s.ntail = copy(s.tail[:], p)
}

// sum64 finishes the hash (four SipRounds: the "4").
func (s *sipHash) sum64() uint64 {
	var last [8]byte
	copy(last[:], s.tail[:s.ntail])
	last[7] = byte(s.length)
	s.block(binary.LittleEndian.Uint64(last[:]))
	s.v2 ^= 0xff
	s.round()
	s.round()
	s.round()
	s.round()
	return s.v0 ^ s.v1 ^ s.v2 ^ s.v3
}

// SipHash64 is SipHash-2-4 of s under the key (k0, k1): for other keyed
// hashes of short client-chosen strings (audit sampling of request ids).
func SipHash64(k0, k1 uint64, s string) uint64 {
	h := newSipHash(k0, k1)
	h.writeString(s)
	return h.sum64()
}
