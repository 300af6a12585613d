package detect

import "unicode/utf8"

// RuneReader reads text a run of plain ASCII bytes (those visible keeps as
// they are) or a character at a time, as Runes hands it over.
type RuneReader interface {
	// ASCII reads a run of plain ASCII bytes.
	ASCII(run []byte)
	// Char reads one character outside ASCII or an invisible control
	// character, and its bytes (one byte of an invalid sequence reads as
	// utf8.RuneError).
	Char(r rune, raw []byte)
	// Done reports that nothing more need be read.
	Done() bool
}

// Runes splits text that arrives in pieces, split anywhere, into plain
// ASCII runs and characters for a RuneReader, keeping a UTF-8 sequence the last piece
// cut until the next completes it: a streaming reader of a long value
// (KeyFinder, the inventory's long strings) holds no more than that. The
// zero Runes is ready.
type Runes struct {
	part [utf8.UTFMax]byte
	np   int
}

// Reset forgets a held sequence, for the next text.
func (u *Runes) Reset() { u.np = 0 }

// Write hands b to rd, after the sequence the last piece cut.
func (u *Runes) Write(b []byte, rd RuneReader) {
	for len(b) > 0 && !rd.Done() {
		if u.np > 0 {
			// A sequence split by the last piece: completed from b.
			var tmp [2 * utf8.UTFMax]byte
			k := copy(tmp[:], u.part[:u.np])
			k += copy(tmp[k:], b[:min(len(b), utf8.UTFMax)])
			if !utf8.FullRune(tmp[:k]) {
				u.np = copy(u.part[:], tmp[:k])
				return
			}
			r, size := utf8.DecodeRune(tmp[:k])
			rd.Char(r, tmp[:size])
			if size >= u.np {
				b = b[size-u.np:]
				u.np = 0
				continue
			}
			// An invalid sequence: the bytes after its first are read again.
			held := tmp[size:u.np]
			u.np = 0
			u.Write(held, rd)
			continue
		}
		if n := plainPrefix(b); n > 0 {
			rd.ASCII(b[:n])
			b = b[n:]
			continue
		}
		if !utf8.FullRune(b) {
			u.np = copy(u.part[:], b)
			return
		}
		r, size := utf8.DecodeRune(b)
		rd.Char(r, b[:size])
		b = b[size:]
	}
}

// End hands rd a sequence the text's end cut, each of its bytes an invalid
// one.
func (u *Runes) End(rd RuneReader) {
	held := u.part[:u.np]
	u.np = 0
	for i := range held {
		rd.Char(utf8.RuneError, held[i:i+1])
	}
}
