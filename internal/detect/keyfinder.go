package detect

import (
	"bytes"
	"encoding/binary"
	"math/bits"
	"unicode/utf8"
)

// KeyFinder finds a private key's PEM header in text that arrives in
// pieces: what HoldsPrivateKey finds in the whole text (a header read as a
// person reads it, invisible characters dropped and Unicode spaces read as
// ' ', not right after another '-'), for a caller that keeps no more than
// a bounded prefix of a long value, such as a string streamed past it. It
// holds the last visible bytes a header can span and a split UTF-8
// sequence, whatever the text's length. The zero KeyFinder is ready.
type KeyFinder struct {
	win   [keyWindow]byte
	n     int
	runes Runes
	found bool
}

// lowerLabels are privateKeyLabels in lower case, as the window holds
// letters (push).
var lowerLabels = func() (l [][]byte) {
	for _, label := range privateKeyLabels {
		l = append(l, bytes.ToLower([]byte(label)))
	}
	return l
}()

// maxKeyHeader is the longest header pemHeaderEnd takes up to its fourth
// closing dash, where push finds it; the window keeps one more byte, the
// one before a header, and compacts in blocks.
var maxKeyHeader = func() (n int) {
	for _, l := range privateKeyLabels {
		n = max(n, 5+len("begin ")+len(l)+len(pemDashes))
	}
	return n
}()

const keyWindow = 128

// Reset empties f for the next text.
func (f *KeyFinder) Reset() { *f = KeyFinder{} }

// Found reports whether a private key's header was seen.
func (f *KeyFinder) Found() bool { return f.found }

// Write reads the next piece of text (UTF-8, split anywhere).
func (f *KeyFinder) Write(b []byte) { f.runes.Write(b, (*keyReader)(f)) }

// keyReader is a KeyFinder as the RuneReader of its own text.
type keyReader KeyFinder

func (k *keyReader) ASCII(run []byte)      { (*KeyFinder)(k).ascii(run) }
func (k *keyReader) Char(r rune, _ []byte) { (*KeyFinder)(k).rune(r) }
func (k *keyReader) Done() bool            { return k.found }

// ascii adds a run of ASCII bytes, which read as they are: the first
// bytes one by one (a header may start in the window), then a search of
// the run itself for a header starting past its first byte, so a long
// run costs a vectorised search rather than a step per byte.
func (f *KeyFinder) ascii(a []byte) {
	head := min(len(a), maxKeyHeader)
	for _, c := range a[:head] {
		if f.push(c); f.found {
			return
		}
	}
	if len(a) == head {
		return
	}
	for i := 1; ; i++ {
		k := bytes.Index(a[i:], pemDashesBytes)
		if k < 0 {
			break
		}
		if i += k; a[i-1] == '-' {
			continue
		}
		if end, _ := pemHeaderEnd(a, i); end > 0 {
			f.found = true
			return
		}
	}
	// len(a) > maxKeyHeader: the window is the run's end, in lower case.
	f.n = copy(f.win[:], a[len(a)-maxKeyHeader-1:])
	for k := range f.win[:f.n] {
		f.win[k] = lowerASCII(f.win[k])
	}
}

var pemDashesBytes = []byte(pemDashes)

// plainPrefix is the length of the run of plain ASCII bytes at the start
// of b, those visible keeps as they are (all but the invisible controls),
// read 32 and 8 at a time. special8 finds the first byte that is not plain
// or is a space control (tab to carriage return, which are plain).
func plainPrefix(b []byte) int {
	i := 0
	for ; i+32 <= len(b); i += 32 {
		if special8(binary.LittleEndian.Uint64(b[i:]))|special8(binary.LittleEndian.Uint64(b[i+8:]))|
			special8(binary.LittleEndian.Uint64(b[i+16:]))|special8(binary.LittleEndian.Uint64(b[i+24:])) != 0 {
			break
		}
	}
	for i+8 <= len(b) {
		m := special8(binary.LittleEndian.Uint64(b[i:]))
		if m == 0 {
			i += 8
			continue
		}
		j := i + bits.TrailingZeros64(m)>>3
		if b[j] >= utf8.RuneSelf || invisibleASCII(b[j]) {
			return j
		}
		i = j + 1 // a space control
	}
	for i < len(b) && b[i] < utf8.RuneSelf && !invisibleASCII(b[i]) {
		i++
	}
	return i
}

// special8 has the high bit set in the lowest byte of v that is outside
// ASCII, a control character or DEL (the "has a byte less than n" tests of
// Bit Twiddling Hacks); bytes above it may be flagged wrongly by a borrow
// or a carry.
func special8(v uint64) uint64 {
	return (v | (v + lsb8) | (v-lsb8*' ')&^v) & msb8
}

// rune adds a character as visible reads it (VisibleRune): an invisible
// one is dropped, and one outside ASCII stands for itself by a byte no
// header holds.
func (f *KeyFinder) rune(r rune) {
	switch v := VisibleRune(r); {
	case v < 0:
	case v < utf8.RuneSelf:
		f.push(byte(v))
	default:
		f.push(utf8.RuneSelf)
	}
}

// push adds a visible byte, its ASCII letters in lower case; a header
// ends with '-', so only then is one looked for, ending with its fourth
// closing dash here (pemHeaderEnd). Compaction keeps the longest header
// and the byte before it, so a header at win[0] starts the text.
func (f *KeyFinder) push(c byte) {
	if f.n == len(f.win) {
		keep := maxKeyHeader + 1
		f.n = copy(f.win[:], f.win[f.n-keep:f.n])
	}
	f.win[f.n] = lowerASCII(c)
	f.n++
	if c != '-' || f.n < len(pemDashes) || !bytes.Equal(f.win[f.n-len(pemDashes):f.n], pemDashesBytes) {
		return
	}
	for _, l := range lowerLabels {
		p := f.n - len(pemDashes) - len(l) - len("begin ") // where "begin " starts
		if p < len(pemDashes) || !bytes.Equal(f.win[p+len("begin "):p+len("begin ")+len(l)], l) || string(f.win[p:p+len("begin ")]) != "begin " {
			continue
		}
		d := 0 // the dashes before "begin "
		for p-d > 0 && d < 6 && f.win[p-d-1] == '-' {
			d++
		}
		if d == 4 || d == 5 {
			f.found = true
			return
		}
	}
}
