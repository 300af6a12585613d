package inventory

import (
	"unicode/utf8"

	"github.com/apiguard/apiguard/internal/detect"
)

// longText keeps what is classified of a string value longer than
// maxValueBytes, from its decoded text fed in pieces split anywhere (a
// UTF-8 sequence included), in bounded memory whatever the value's length.
// Invisible characters (detect.VisibleRune) are dropped as they come, as
// classification drops them, so that they neither count toward a bound
// nor take room: a card number with hundreds of zero-width spaces between
// its digits is sixteen characters long here. It keeps
//   - head: the first maxValueBytes bytes after the padding that opens
//     the value (spaces, invisible characters), whole characters;
//   - tail: the last maxValueBytes bytes before the padding that closes
//     it, whole characters, when the head does not hold them ("Alice
//     Alice … <alice@example.com>": a display name before an address);
//   - jwt: whether the whole value, padding aside, is one compact JWS or
//     JWE as detect reads a JWT, which a header longer than the head (an
//     x5c certificate chain) would otherwise hide.
//
// An invalid UTF-8 byte reads as U+FFFD, as ranging over a string does.
type longText struct {
	head []byte
	// lead is set while only padding was seen; full once a character did
	// not fit in head; over once a character other than padding came
	// after that.
	lead, full, over bool
	// tail is the text after the leading padding up to its last character
	// other than padding, and pad the padding after it; each keeps at
	// least its last maxValueBytes bytes.
	tail, pad []byte
	// runes holds a UTF-8 sequence the last piece split.
	runes detect.Runes
	jwt   jwtRun
}

// reset prepares t for the next value.
func (t *longText) reset() {
	t.head, t.tail, t.pad = t.head[:0], t.tail[:0], t.pad[:0]
	t.lead, t.full, t.over = true, false, false
	t.runes.Reset()
	t.jwt = jwtRun{}
}

// write reads the next piece of the value's decoded text.
func (t *longText) write(b []byte) { t.runes.Write(b, (*longReader)(t)) }

// longReader is a longText as the RuneReader of its value.
type longReader longText

func (l *longReader) ASCII(run []byte)        { (*longText)(l).ascii(run) }
func (l *longReader) Char(r rune, raw []byte) { (*longText)(l).char(r, raw) }
func (l *longReader) Done() bool              { return false }

// ascii reads a run of ASCII characters, which read as they are.
func (t *longText) ascii(a []byte) {
	if t.lead {
		i := 0
		for i < len(a) && isASCIIPadding(a[i]) {
			i++
		}
		if a = a[i:]; len(a) == 0 {
			return
		}
		t.lead = false
	}
	for _, c := range a {
		if t.jwt.bad {
			break
		}
		t.jwt.add(rune(c))
	}
	took := 0 // the bytes of a in head
	if !t.full {
		took = min(len(a), maxValueBytes-len(t.head))
		t.head = append(t.head, a[:took]...)
		t.full = took < len(a)
	}
	// The last character other than padding splits the run between tail
	// and pad.
	end := len(a)
	for end > 0 && isASCIIPadding(a[end-1]) {
		end--
	}
	if t.full && end > took {
		t.over = true
	}
	if end > 0 {
		if end >= maxValueBytes {
			t.tail = append(t.tail[:0], a[end-maxValueBytes:end]...)
		} else {
			t.tail = keepLast(append(append(t.tail, t.pad...), a[:end]...))
		}
		t.pad = t.pad[:0]
	}
	if p := a[end:]; len(p) >= maxValueBytes {
		t.pad = append(t.pad[:0], p[len(p)-maxValueBytes:]...)
	} else {
		t.pad = keepLast(append(t.pad, p...))
	}
}

// char reads one character outside ASCII, or an invalid byte (r is
// utf8.RuneError), whose bytes are enc.
func (t *longText) char(r rune, enc []byte) {
	v := detect.VisibleRune(r)
	if v < 0 {
		return // invisible
	}
	if r == utf8.RuneError && len(enc) == 1 {
		enc = []byte(string(utf8.RuneError))
	}
	padding := detect.IsPadding(r)
	if t.lead {
		if padding {
			return
		}
		t.lead = false
	}
	if !t.jwt.bad {
		t.jwt.add(v)
	}
	took := false
	if !t.full {
		if took = len(t.head)+len(enc) <= maxValueBytes; took {
			t.head = append(t.head, enc...)
		}
		t.full = !took
	}
	if padding {
		t.pad = keepLast(append(t.pad, enc...))
		return
	}
	if !took && t.full {
		t.over = true
	}
	t.tail = keepLast(append(append(t.tail, t.pad...), enc...))
	t.pad = t.pad[:0]
}

// keepLast drops from b all but its last maxValueBytes bytes once it
// holds twice that, so a long value costs a copy per maxValueBytes.
func keepLast(b []byte) []byte {
	if len(b) < 2*maxValueBytes {
		return b
	}
	return b[:copy(b, b[len(b)-maxValueBytes:])]
}

func isASCIIPadding(c byte) bool { return c == ' ' || c >= '\t' && c <= '\r' }

// parts ends the value and returns its head, its tail (nil when the head
// holds the whole value, padding aside) and whether it is one JWT.
func (t *longText) parts() (head, tail []byte, jwt bool) {
	t.runes.End((*longReader)(t)) // a sequence cut by the end: each byte an invalid one
	if t.over {
		// keepLast may have cut a character: the tail starts at the
		// next whole one.
		tail = t.tail[max(0, len(t.tail)-maxValueBytes):]
		for len(tail) > 0 && !utf8.RuneStart(tail[0]) {
			tail = tail[1:]
		}
	}
	return t.head, tail, !t.lead && t.jwt.whole()
}

// jwtRun follows a value's visible characters (detect.VisibleRune), its
// leading padding dropped, and tells whether they are one compact JWT as
// detect reads one whole (its jwtAt, then nothing but padding): "eyJ" and
// at least four more base64url characters, a dot, a non-empty base64url
// part, and at most three more dotted parts, which may be empty.
type jwtRun struct {
	n      int // characters of the run
	dots   int
	seg    int // characters of the current part
	bad    bool
	closed bool // padding came after the run
}

func (j *jwtRun) add(r rune) {
	switch {
	case j.closed:
		j.bad = j.bad || !detect.IsPadding(r)
	case detect.IsPadding(r):
		j.closed = true
	case j.n < 3:
		j.bad = j.bad || r != rune("eyJ"[j.n])
		j.seg++
	case r == '.':
		j.bad = j.bad || j.dots == 0 && j.seg < 7 || j.dots == 1 && j.seg == 0 || j.dots == 4
		j.dots++
		j.seg = 0
	case r < utf8.RuneSelf && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r == '-' || r == '_'):
		j.seg++
	default:
		j.bad = true
	}
	j.n++
}

// whole reports whether the characters seen are one JWT.
func (j *jwtRun) whole() bool {
	return !j.bad && j.dots >= 1 && !(j.dots == 1 && j.seg == 0)
}
