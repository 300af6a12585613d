package jsonenc

import (
	"math"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// Audit events are encoded on every request, and encoding/json's
// reflection costs several times more than the rest of the telemetry in a
// Wasm VM. These appenders write the same bytes encoding/json would for the
// same values (HTML-safe string escaping, invalid UTF-8 as \ufffd, float
// formatting); the tests hold them to byte equality with json.Marshal.

const hexDigits = "0123456789abcdef"

// AppendString appends s as a JSON string, escaped as encoding/json does.
func AppendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	var p unsafe.Pointer
	if len(s) >= 8 {
		p = unsafe.Pointer(unsafe.StringData(s))
	}
	for i := 0; i < len(s); {
		// Eight plain bytes a step: in Wasm a byte loop costs a trip
		// through the function's dispatch loop per byte.
		for i+8 <= len(s) && plain8(*(*uint64)(unsafe.Add(p, i))) {
			i += 8
		}
		if i >= len(s) {
			break
		}
		c := s[i]
		if c < utf8.RuneSelf {
			if c >= 0x20 && c != '"' && c != '\\' && c != '<' && c != '>' && c != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default: // other control characters, and <, >, & for HTML safety
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

const (
	lsb8 = 0x0101010101010101
	msb8 = 0x8080808080808080
)

// plain8 reports whether the eight bytes in v are ASCII that AppendString
// copies as they are: no control byte, quote, backslash, '<', '>' or '&'
// (the "has a byte less than n" and "has a zero byte" tests of Bit Twiddling
// Hacks; exact as to whether such a byte exists).
func plain8(v uint64) bool {
	quote, backslash := v^(lsb8*'"'), v^(lsb8*'\\')
	lt, gt, amp := v^(lsb8*'<'), v^(lsb8*'>'), v^(lsb8*'&')
	hit := (v-lsb8*0x20)&^v |
		(quote-lsb8)&^quote | (backslash-lsb8)&^backslash |
		(lt-lsb8)&^lt | (gt-lsb8)&^gt | (amp-lsb8)&^amp
	return (hit|v)&msb8 == 0
}

// AppendFloat appends f as encoding/json does (ES6 number formatting).
// NaN and infinities, which JSON cannot carry, become 0.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return append(dst, '0')
	}
	abs := math.Abs(f)
	format := byte('f')
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	start := len(dst)
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// clean up e-09 to e-9
		n := len(dst) - start
		if n >= 4 && dst[len(dst)-4] == 'e' && dst[len(dst)-3] == '-' && dst[len(dst)-2] == '0' {
			dst[len(dst)-2] = dst[len(dst)-1]
			dst = dst[:len(dst)-1]
		}
	}
	return dst
}

// AppendThousandths appends n/1000 exactly as AppendFloat(float64(n)/1000)
// does, with integer arithmetic: shortest float formatting (strconv's) is
// among the most expensive steps of an audit line in Wasm, and a latency in
// milliseconds from whole microseconds needs none of it. A decimal of at
// most 15 significant digits is the shortest form of its nearest double, so
// the digits of n with the point moved three places and trailing zeros
// dropped are that form; larger magnitudes take AppendFloat.
func AppendThousandths(dst []byte, n int64) []byte {
	const exact = 1e15 // 15 significant digits
	if n <= -exact || n >= exact {
		return AppendFloat(dst, float64(n)/1000)
	}
	if n < 0 {
		dst = append(dst, '-')
		n = -n
	}
	dst = strconv.AppendInt(dst, n/1000, 10)
	frac := n % 1000
	if frac == 0 {
		return dst
	}
	digits := [3]byte{byte('0' + frac/100), byte('0' + frac/10%10), byte('0' + frac%10)}
	end := 3
	for digits[end-1] == '0' {
		end--
	}
	dst = append(dst, '.')
	return append(dst, digits[:end]...)
}

// Object writes the members of one JSON object, handling the commas.
type Object struct {
	B     []byte
	first bool
}

func (o *Object) Open()  { o.B = append(o.B, '{'); o.first = true }
func (o *Object) Close() { o.B = append(o.B, '}'); o.first = false }

func (o *Object) Key(k string) {
	if !o.first {
		o.B = append(o.B, ',')
	}
	o.first = false
	o.B = append(o.B, '"')
	o.B = append(o.B, k...) // keys are constants that need no escaping
	o.B = append(o.B, '"', ':')
}

func (o *Object) Str(k, v string) {
	o.Key(k)
	o.B = AppendString(o.B, v)
}

// strOmitEmpty writes k only when v is not empty, like `json:",omitempty"`.
func (o *Object) StrOmitEmpty(k, v string) {
	if v != "" {
		o.Str(k, v)
	}
}

func (o *Object) Int(k string, v int64) {
	o.Key(k)
	o.B = strconv.AppendInt(o.B, v, 10)
}

func (o *Object) Uint(k string, v uint64) {
	o.Key(k)
	o.B = strconv.AppendUint(o.B, v, 10)
}

func (o *Object) Float(k string, v float64) {
	o.Key(k)
	o.B = AppendFloat(o.B, v)
}

// Thousandths writes n/1000 (AppendThousandths).
func (o *Object) Thousandths(k string, n int64) {
	o.Key(k)
	o.B = AppendThousandths(o.B, n)
}

func (o *Object) StrArray(k string, vs []string) {
	o.Key(k)
	o.B = append(o.B, '[')
	for i, v := range vs {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.B = AppendString(o.B, v)
	}
	o.B = append(o.B, ']')
}

// AppendQuotedInt writes an int64 as a JSON string, as OTLP/JSON requires
// for 64-bit integers.
func AppendQuotedInt(dst []byte, v int64) []byte {
	dst = append(dst, '"')
	dst = strconv.AppendInt(dst, v, 10)
	return append(dst, '"')
}

// AppendStrValue writes an AnyValue holding a string ({} for "", as
// encoding/json's omitempty would).
func AppendStrValue(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, '{', '}')
	}
	dst = append(dst, `{"stringValue":`...)
	dst = AppendString(dst, s)
	return append(dst, '}')
}

// Attrs writes a KeyValue list; empty strings are left out.
type Attrs struct {
	B []byte
	n int
}

func (a *Attrs) Begin(k string) {
	if a.n > 0 {
		a.B = append(a.B, ',')
	}
	a.n++
	a.B = append(a.B, `{"key":`...)
	a.B = AppendString(a.B, k)
	a.B = append(a.B, `,"value":`...)
}

func (a *Attrs) End() { a.B = append(a.B, '}') }

func (a *Attrs) Str(k, v string) {
	if v == "" {
		return
	}
	a.Begin(k)
	a.B = AppendStrValue(a.B, v)
	a.End()
}

func (a *Attrs) Int(k string, v int64) {
	a.Begin(k)
	a.B = append(a.B, `{"intValue":`...)
	a.B = AppendQuotedInt(a.B, v)
	a.B = append(a.B, '}')
	a.End()
}

// strArray writes an array of strings, leaving out empty ones.
func (a *Attrs) StrArray(k string, vs ...string) {
	a.Begin(k)
	a.B = append(a.B, `{"arrayValue":{"values":[`...)
	first := true
	for _, v := range vs {
		if v == "" {
			continue
		}
		if !first {
			a.B = append(a.B, ',')
		}
		first = false
		a.B = AppendStrValue(a.B, v)
	}
	a.B = append(a.B, `]}}`...)
	a.End()
}
