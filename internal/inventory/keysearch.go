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
// the value's length. It hands the same text to a longText too, when
// given one: the head and tail classified of a long value.
type keySearch struct {
	on    bool
	pend  [maxEscapeBytes]byte // an escape the last piece split
	npend int
	keys  bool // search for a key
	find  detect.KeyFinder
	text  *longText
}

// start begins a value whose raw content so far is prefix, searching it
// for a key when keys is set and handing its text to text if not nil.
func (k *keySearch) start(prefix []byte, keys bool, text *longText) {
	k.on, k.npend, k.keys, k.text = true, 0, keys, text
	k.find.Reset()
	if text != nil {
		text.reset()
	}
	k.write(prefix)
}

// emit reads a piece of the value's decoded text.
func (k *keySearch) emit(b []byte) {
	if k.keys {
		k.find.Write(b)
	}
	if k.text != nil {
		k.text.write(b)
	}
}

// end finishes the value and reports whether it holds a key header.
func (k *keySearch) end() bool {
	found := k.on && k.keys && k.find.Found()
	if k.on && k.npend > 0 && k.text != nil {
		// An escape cut by the value's end reads as unescape reads it.
		var tmp [2 * maxEscapeBytes]byte
		k.text.write(unescape(tmp[:0], k.pend[:k.npend]))
	}
	k.on, k.npend = false, 0
	return found
}

// write reads the next piece of the value's raw content.
func (k *keySearch) write(raw []byte) {
	for len(raw) > 0 && (k.text != nil || k.keys && !k.find.Found()) {
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
			k.emit(raw[:j])
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
			k.emit(utf8.AppendRune(buf[:0], r))
			return n, true
		}
		if _, ok := hex4(b[2:min(6, len(b))]); ok && len(b) < 2*6 {
			return 0, false // a \u escape or a surrogate pair, cut
		}
		k.emit(b[:2])
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
	k.emit([]byte{c})
	return 2, true
}
