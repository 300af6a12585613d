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
func decodePairs(dst [][2]string, b []byte) ([][2]string, error) {
	if len(b) < 4 {
		return nil, errors.New("header block: too short")
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n > uint64(len(b)-4)/8 {
		return nil, errors.New("header block: bad count")
	}
	sizes, data := 4, 4+8*int(n)
	for range n {
		k := uint64(binary.LittleEndian.Uint32(b[sizes:]))
		v := uint64(binary.LittleEndian.Uint32(b[sizes+4:]))
		sizes += 8
		if k+v+2 > uint64(len(b)-data) {
			return nil, errors.New("header block: overflows")
		}
		name := view(b, data, int(k))
		data += int(k) + 1
		value := view(b, data, int(v))
		data += int(v) + 1
		dst = append(dst, [2]string{name, value})
	}
	return dst, nil
}

// view is b[off:off+n] as a string sharing b's bytes.
func view(b []byte, off, n int) string {
	if n == 0 {
		return ""
	}
	return unsafe.String(&b[off], n)
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
