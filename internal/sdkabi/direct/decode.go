package direct

import (
	"encoding/binary"
	"errors"
	"unsafe"
)

// decodePairs decodes the Proxy-Wasm header map encoding (a u32 count, a
// (u32 name length, u32 value length) per pair, then each name and value
// followed by a NUL byte; little-endian) into dst, the strings pointing into
// b without a copy. A block that does not add up is an error, never a panic.
//
// Every request's headers go through it, so it checks the block in one pass
// over the sizes and then cuts the strings with no bounds check of their
// own: compiled to Wasm, every branch a loop takes goes through its
// function's dispatch loop. FuzzDecodePairsAgrees holds it to a decoder
// that checks every pair as it goes.
func decodePairs(dst [][2]string, b []byte) ([][2]string, error) {
	if len(b) < 4 {
		return nil, errors.New("header block: too short")
	}
	count := uint64(binary.LittleEndian.Uint32(b))
	if count > uint64(len(b)-4)/8 {
		return nil, errors.New("header block: bad count")
	}
	n := int(count)
	sizes := b[4 : 4+8*n]
	// Every name and value with its NUL, summed in 64 bits (a block of a
	// 32-bit memory has fewer than 2^29 pairs of 32-bit lengths), must fit
	// after the sizes.
	var total uint64
	for i := 0; i+8 <= len(sizes); i += 8 {
		total += uint64(binary.LittleEndian.Uint32(sizes[i:])) + uint64(binary.LittleEndian.Uint32(sizes[i+4:])) + 2
	}
	data := 4 + 8*n
	if total > uint64(len(b)-data) {
		return nil, errors.New("header block: overflows")
	}
	start := len(dst)
	if cap(dst)-start < n {
		dst = append(dst, make([][2]string, n)...)[:start]
	}
	dst = dst[:start+n]
	out := dst[start:]
	base := unsafe.Pointer(unsafe.SliceData(b))
	for i := range out {
		k := int(binary.LittleEndian.Uint32(sizes[8*i:]))
		v := int(binary.LittleEndian.Uint32(sizes[8*i+4:]))
		out[i] = [2]string{unsafe.String((*byte)(unsafe.Add(base, data)), k),
			unsafe.String((*byte)(unsafe.Add(base, data+k+1)), v)}
		data += k + v + 2
	}
	return dst, nil
}

// String is b as a string sharing b's bytes, for a value read from the host
// (a block nothing writes again) that the caller keeps as a string: the
// conversion would copy it.
func String(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
