package inventory

import (
	"bytes"
	"unicode/utf8"

	"github.com/apiguard/apiguard/internal/detect"
)

// keySearch looks for a private key's header in a string value longer
// than the classified part, as the Observer streams it (the filter's pass
// holds the whole value: keyPastPrefix). It reads the value's raw JSON
// content from its start, in pieces split anywhere, decodes its escapes as
// unescape does, and hands the text to a detect.KeyFinder: its memory is
// an escape split by a chunk boundary and the finder's window, whatever
// the value's length.
type keySearch struct {
	on    bool
	pend  [maxEscapeBytes]byte // an escape the last piece split
	npend int
	find  detect.KeyFinder
}

// start begins a value whose raw content so far is prefix.
func (k *keySearch) start(prefix []byte) {
	k.on, k.npend = true, 0
	k.find.Reset()
	k.write(prefix)
}

// end finishes the value and reports whether it holds a key header.
func (k *keySearch) end() bool {
	found := k.on && k.find.Found()
	k.on = false
	return found
}

// write reads the next piece of the value's raw content.
func (k *keySearch) write(raw []byte) {
	for len(raw) > 0 && !k.find.Found() {
		if k.npend > 0 {
			// Complete the split escape from raw, as far as it needs.
			var tmp [2 * maxEscapeBytes]byte
			n := copy(tmp[:], k.pend[:k.npend])
			n += copy(tmp[n:], raw[:min(len(raw), maxEscapeBytes)])
			used, ok := k.escape(tmp[:n])
			if !ok {
				k.npend = copy(k.pend[:], tmp[:n])
				return
			}
			if used >= k.npend {
				raw = raw[used-k.npend:]
				k.npend = 0
				continue
			}
			held := tmp[used:k.npend] // a broken escape's bytes, read again
			k.npend = 0
			k.write(held)
			continue
		}
		j := bytes.IndexByte(raw, '\\')
		if j != 0 {
			if j < 0 {
				j = len(raw)
			}
			k.find.Write(raw[:j])
			raw = raw[j:]
			continue
		}
		used, ok := k.escape(raw)
		if !ok {
			k.npend = copy(k.pend[:], raw)
			return
		}
		raw = raw[used:]
	}
}

// escape decodes the escape at the start of b into the finder and
// reports its length; false when b may end inside it. A broken \u escape
// is read as the two bytes "\u" and what follows as text, as unescape
// does.
func (k *keySearch) escape(b []byte) (int, bool) {
	if len(b) < 2 {
		return 0, false
	}
	var c byte
	switch b[1] {
	case 'u':
		if r, n := uEscape(b); n > 0 {
			var buf [utf8.UTFMax]byte
			k.find.Write(utf8.AppendRune(buf[:0], r))
			return n, true
		}
		if _, ok := hex4(b[2:min(6, len(b))]); ok && len(b) < 2*6 {
			return 0, false // a \u escape or a surrogate pair, cut
		}
		k.find.Write(b[:2])
		return 2, true
	case 'b':
		c = '\b'
	case 'f':
		c = '\f'
	case 'n':
		c = '\n'
	case 'r':
		c = '\r'
	case 't':
		c = '\t'
	default:
		c = b[1]
	}
	k.find.Write([]byte{c})
	return 2, true
}
