package respfilter

import "github.com/apiguard/apiguard/internal/verdict"

// Inspector sees every value a filtering pass keeps, in the same pass
// (the response inventory classifies them at no extra parse). Without one,
// a kept value is only validated and copied.
type Inspector interface {
	// Kept is called for a kept value and then for every value inside it,
	// in document order. v and its slices are only valid during the call.
	// The answer keeps, masks or denies the value.
	Kept(v *KeptValue) Verdict
	// KeptKey is called for every member key the output carries, before
	// its value: v describes the member (Parent, Key; Kind is 0 and Site
	// -1). A key can be data (a map keyed by card numbers) and leaves as
	// plainly as a value. InspectMask replaces the key by SensitiveMask,
	// keeping the document valid JSON (two masked keys of one object are
	// then duplicates, which RFC 8259 allows); the value is judged on its
	// own. InspectDeny fails the response. Keys of removed members do not
	// leave and are not shown; in mask mode they leave, and are.
	KeptKey(v *KeptValue) Verdict
	// Passing is called when on_error or non_json "allow" would let a body
	// pass that the filter did not judge whole: a failure after some
	// values were shown (malformed JSON, too deep), text that is not JSON,
	// a body too large or in a coding it cannot read. body is the body as
	// the client reads it (decoded), nil when apiguard does not hold it or
	// could not decode it. A class policy must not depend on on_error:
	// InspectDeny refuses the body as ReasonSensitive (a masked or denied
	// value was seen, or is in body), InspectRefuse under the failure's
	// own reason (such a value could be in a body it cannot search).
	Passing(body []byte) Verdict
}

// KeptValue is one value the filter keeps. Its path is not built unless
// the Inspector asks (AppendPath): a value at a site seen before in this
// pass has the path it had then.
type KeptValue struct {
	// Site identifies the allowlist position of a value at the top of a
	// kept subtree, or of an element of an array there, when every value
	// reaching that position has the same path ("data.#.id", not
	// "users.*.id"): within one pass, one site is one path. -1 deeper
	// inside a kept value, or where paths vary. Sites are below twice the
	// allowlist's node count.
	Site int32
	// Parent is the path of the enclosing container in path syntax ("#"
	// for every array element, "" for the document), or the value's own
	// path when Self is set.
	Parent []byte
	Self   bool
	// Key is the member name of a value in an object; for an array
	// element (Elem set) the name of the member holding the array ("" at
	// the top), under which a name-made class (a password digest) holds.
	Key  string
	Elem bool
	// Kind is the first byte of the value; Content the bytes between the
	// quotes of a string (escapes as written) or the text of a number, nil
	// for other kinds; Escaped tells that a string holds escapes.
	Kind    byte
	Content []byte
	Escaped bool
}

// AppendKey appends an object key to dst as one segment of path syntax
// ('.', '\\', '*' and '#' escaped by a backslash, control characters as
// '?'), the form allow paths and reported paths use.
func AppendKey(dst []byte, key string) []byte { return escapeKey(dst, key) }

// AppendPath appends the value's path in path syntax to dst.
func (v *KeptValue) AppendPath(dst []byte) []byte {
	dst = append(dst, v.Parent...)
	if v.Self {
		return dst
	}
	if len(v.Parent) > 0 {
		dst = append(dst, '.')
	}
	if v.Elem {
		return append(dst, '#')
	}
	return escapeKey(dst, v.Key)
}

// Verdict is an Inspector's answer for one value.
type Verdict uint8

const (
	// InspectKeep lets the value through as it is.
	InspectKeep Verdict = iota
	// InspectMask replaces the value, whatever its type, by SensitiveMask.
	InspectMask
	// InspectDeny fails the response: it is denied (502) whatever on_error
	// says, because a policy asked for it, not because filtering failed.
	InspectDeny
	// InspectRefuse (Passing only) refuses a body that would pass unjudged,
	// under the failure's own reason.
	InspectRefuse
	// InspectQuiet (Kept and KeptKey, from a QuietInspector) keeps the
	// value and promises that, in this pass, showing the like of it again
	// would change nothing and be answered InspectKeep: from Kept, any
	// value at the same Site (>= 0) of the same JSON type that is a
	// container or a literal, or whose Content is shorter than QuietBelow
	// (a number, when its integer part is too: IntegerDigits),
	// or a string whose Content the QuietString function of a
	// StringQuieter accepts (the inside of a container is shown all the
	// same); from KeptKey, the same key under the same allowlist position.
	// The filter then keeps those without the call.
	InspectQuiet
)

// QuietInspector is an Inspector that may answer InspectQuiet: most kept
// values of an API (ids, flags, counts, short codes) are of no class and
// add nothing once their field and type are recorded, and a call per value
// costs as much as scanning it (notably in Wasm).
type QuietInspector interface {
	Inspector
	// QuietBelow is the Content length under which a string or number at
	// a quiet site is not shown again (read once per pass); a number is
	// shown when the integer a client reads for it is that long
	// (IntegerDigits: 42e14).
	QuietBelow() int
}

// StringQuieter is a QuietInspector that can tell from a string's
// content alone that showing it at a quiet site would change nothing:
// most long strings of an API (names, titles, cities) are of no class
// either, and each would cost a call.
type StringQuieter interface {
	QuietInspector
	// QuietString returns a function, read once per pass, that reports
	// whether a string value with this Content (escapes as written) is
	// one that InspectQuiet for a string at its site covers; nil when
	// there is none. It must not keep content.
	QuietString() func(content []byte) bool
}

// Quiet bits of a site or a key (filterRun.quiet): which values the
// Inspector said it need not see again in this pass (InspectQuiet).
const (
	quietString uint8 = 1 << iota
	quietNumber
	quietBool
	quietNull
	quietObject
	quietArray
	quietKey
)

// ReasonSensitive denies a response holding a value whose class is denied
// (response_inventory.classes).
const ReasonSensitive = verdict.SensitiveData

// SensitiveMask replaces a value whose class is masked: a JSON string of
// nine '*', as the audit trail masks (telemetry.Mask).
var SensitiveMask = []byte(`"*********"`)

var errSensitive = &Error{Reason: ReasonSensitive, msg: "a kept value is of a denied class"}

// inspectValue validates the value at r.pos exactly as skipValue does (the
// same scanners, the same depth check at the same place), calling r.insp
// for it (described by r.kv, set by the caller) and for every value inside
// it, and moves r.pos past it. What is kept is copied later from r.copied;
// a masked value is written now, after the kept bytes before it.
func (r *filterRun) inspectValue() {
	doc := r.doc
	i := r.pos
	if i >= len(doc) {
		r.syntax()
		return
	}
	start := i
	kv := &r.kv
	switch c := doc[i]; c {
	case '{', '[':
		bit := quietObject
		if c == '[' {
			bit = quietArray
		}
		if !r.quiet(kv.Site, bit) {
			kv.Kind, kv.Content, kv.Escaped = c, nil, false
			switch v := r.insp.Kept(kv); v {
			case InspectKeep:
			case InspectQuiet:
				r.settle(kv.Site, bit)
			default:
				if r.skipValue(); r.err == nil {
					r.sensitive(v, start)
				}
				return
			}
		}
		if r.depth++; r.depth > r.maxDepth {
			r.err = errDepth
			return
		}
		i = skipSpace(doc, i+1)
		if i < len(doc) && doc[i] == c+2 {
			r.pos = i + 1
			r.depth--
			return
		}
		// The members' parent is this container's path. kv.Parent is
		// always r.path's first len(kv.Parent) bytes (the caller's path, or
		// the enclosing container's), so the path grows in place; it is
		// built for the first member or element shown to the Inspector
		// (an array of quiet elements needs none).
		saved, self, elem, key := len(kv.Parent), kv.Self, kv.Elem, kv.Key
		var own []byte
		built := false
		// The elements of an array at a site share a path: they are the
		// site's element site (KeptValue.Site).
		site := int32(-1)
		if c == '[' && kv.Site >= 0 && kv.Site < r.nodes {
			site = kv.Site + r.nodes
		}
		for {
			// An element the Inspector need not see (InspectQuiet at the
			// element site, shorter than QuietBelow), a plain string or an
			// integer, is skipped here: an array of them costs no call per
			// element. Others go to inspectScalar, which would find them
			// quiet too, or inspectValue.
			r.pos = i
			if site >= 0 && i < len(doc) {
				switch d := doc[i]; {
				case d == '"' && r.quieted[site]&quietString != 0:
					if end := stringEnd(doc, i+1); end >= 0 && r.quietString(doc, i, end) {
						r.pos = end
						goto next
					}
				case d >= '1' && d <= '9' && r.quieted[site]&quietNumber != 0:
					j := i + 1
					for j < len(doc) && isDigit(doc[j]) {
						j++
					}
					if j-i < r.quietBelow && j < len(doc) && doc[j] != '.' && doc[j]|0x20 != 'e' {
						r.pos = j
						goto next
					}
				}
			}
			if !built {
				if !self {
					r.path = r.path[:saved]
					if saved > 0 {
						r.path = append(r.path, '.')
					}
					if elem {
						r.path = append(r.path, '#')
					} else {
						r.path = escapeKey(r.path, key)
					}
				}
				own, built = r.path, true
			}
			// An element is judged under the name of the member holding
			// its array (key; nested arrays pass it on), as the filter's
			// own elements are (filterRun.valueKey).
			kv.Site, kv.Parent, kv.Self, kv.Elem = site, own, false, c == '['
			if kv.Key = ""; kv.Elem {
				kv.Key = key
			}
			if c == '{' {
				if i >= len(doc) || doc[i] != '"' {
					r.syntax()
					return
				}
				end, escaped := scanString(doc, i+1)
				if end < 0 {
					r.syntax()
					return
				}
				keyStart, keyRaw := i, doc[i:end]
				if i = skipSpace(doc, end); i >= len(doc) || doc[i] != ':' {
					r.syntax()
					return
				}
				i = skipSpace(doc, i+1)
				kv.Key = memberKey(keyRaw, escaped)
				kv.Kind, kv.Content, kv.Escaped = 0, nil, false
				switch r.insp.KeptKey(kv) {
				case InspectDeny:
					r.err = errSensitive
					return
				case InspectMask:
					r.out = append(r.out, doc[r.copied:keyStart]...)
					if r.writeReplacement(SensitiveMask); r.err != nil {
						return
					}
					r.copied = end
				}
			}
			if r.pos = i; i < len(doc) && doc[i] != '{' && doc[i] != '[' {
				r.inspectScalar() // a call less per scalar inside
			} else {
				r.inspectValue()
			}
			if r.err != nil {
				return
			}
		next:
			if i = skipSpace(doc, r.pos); i >= len(doc) {
				r.syntax()
				return
			}
			switch doc[i] {
			case ',':
				i = skipSpace(doc, i+1)
				continue
			case c + 2:
				r.pos = i + 1
				r.depth--
				r.path = r.path[:saved]
				return
			}
			r.syntax()
			return
		}
	default:
		r.inspectScalar()
	}
}

// inspectScalar is inspectValue for a value that is not a container: a
// small function, as most kept values are scalars and a call to
// inspectValue, with its frame for containers, costs more than the scan
// (notably in Wasm).
func (r *filterRun) inspectScalar() {
	doc := r.doc
	i := r.pos
	start := i
	kv := &r.kv
	switch c := doc[i]; c {
	case '"':
		end, escaped := stringEnd(doc, i+1), false // inlined: most strings are plain
		if end < 0 {
			if end, escaped = scanEscaped(doc, i+1); end < 0 {
				r.syntax()
				return
			}
		}
		r.pos = end
		if r.quiet(kv.Site, quietString) && r.quietString(doc, i, end) {
			return
		}
		kv.Kind, kv.Content, kv.Escaped = c, doc[i+1:end-1], escaped
		if v := r.insp.Kept(kv); v != InspectKeep {
			r.judged(v, start, quietString)
		}
	case 't', 'f', 'n':
		lit, bit := "null", quietNull
		if c == 't' {
			lit, bit = "true", quietBool
		} else if c == 'f' {
			lit, bit = "false", quietBool
		}
		if i = scanLiteral(doc, i, lit); i < 0 {
			r.syntax()
			return
		}
		r.pos = i
		if r.quiet(kv.Site, bit) {
			return
		}
		kv.Kind, kv.Content, kv.Escaped = c, nil, false
		if v := r.insp.Kept(kv); v != InspectKeep {
			r.judged(v, start, bit)
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		// An integer not starting with '0' is scanned here, as skipValue does.
		j := i + 1
		for j < len(doc) && isDigit(doc[j]) {
			j++
		}
		plain := true // an integer: as long as a client shows it
		if c == '-' || c == '0' || j < len(doc) && (doc[j] == '.' || doc[j]|0x20 == 'e') {
			j, plain = scanNumber(doc, i), false
		}
		if i = j; i < 0 {
			r.syntax()
			return
		}
		r.pos = i
		if i-start < r.quietBelow && r.quiet(kv.Site, quietNumber) && (plain || IntegerDigits(doc[start:i]) < r.quietBelow) {
			return
		}
		kv.Kind, kv.Content, kv.Escaped = c, doc[start:i], false
		if v := r.insp.Kept(kv); v != InspectKeep {
			r.judged(v, start, quietNumber)
		}
	default:
		r.syntax()
	}
}

// quietElements reports whether the array at doc[pos], kept whole at
// position at and quiet for arrays there, holds only elements its element
// site is quiet for (strings and integers that go unshown: quietString,
// QuietBelow), and then moves r.pos past it: inspectValue would show
// none of it, and this costs no call per element nor its setup. False
// (anything else, an error included) leaves r.pos alone, for
// inspectValue.
func (r *filterRun) quietElements(at int32, pos int) bool {
	if at >= r.nodes || r.depth >= r.maxDepth {
		return false
	}
	q := r.quieted[at+r.nodes]
	doc := r.doc
	i := skipSpace(doc, pos+1)
	if i < len(doc) && doc[i] == ']' {
		r.pos = i + 1
		return true
	}
	for i < len(doc) {
		switch d := doc[i]; {
		case d == '"' && q&quietString != 0:
			end := stringEnd(doc, i+1)
			if end < 0 || !r.quietString(doc, i, end) {
				return false
			}
			i = end
		case d >= '1' && d <= '9' && q&quietNumber != 0:
			j := i + 1
			for j < len(doc) && isDigit(doc[j]) {
				j++
			}
			if j-i >= r.quietBelow || j >= len(doc) || doc[j] == '.' || doc[j]|0x20 == 'e' {
				return false
			}
			i = j
		default:
			return false
		}
		if i = skipSpace(doc, i); i >= len(doc) {
			return false
		}
		switch doc[i] {
		case ',':
			i = skipSpace(doc, i+1)
		case ']':
			r.pos = i + 1
			return true
		default:
			return false
		}
	}
	return false
}

// kindQuiet maps the first byte of a scalar to its quiet bit (0: not a
// scalar).
var kindQuiet = [256]uint8{'"': quietString, '-': quietNumber, '0': quietNumber, '1': quietNumber, '2': quietNumber,
	'3': quietNumber, '4': quietNumber, '5': quietNumber, '6': quietNumber, '7': quietNumber, '8': quietNumber,
	'9': quietNumber, 't': quietBool, 'f': quietBool, 'n': quietNull}

// quietKept validates the scalar at doc[pos] of the kind bit stands for,
// the value of a member kept at the position at (a node), quiet for its
// key and that kind (object), as skipValue does, and reports whether it
// goes unshown (quietShort, sameAsQuiet, r.quietStr, whose acceptance it
// remembers in lastQuiet): r.pos is then past it. False with r.err set
// is a syntax error; without, the value is to be shown (r.pos is
// undefined). It does in one call what skipValue and the test would do
// in two or three: a call from object, which holds many live values,
// costs more in Wasm than the scan of a short value, and the call to
// r.quietStr is made from here, a small function, instead.
func (r *filterRun) quietKept(at int32, bit uint8, pos int) bool {
	doc := r.doc
	end := -1
	switch c := doc[pos]; {
	case c == '"':
		if end = stringEnd(doc, pos+1); end < 0 {
			end, _ = scanEscaped(doc, pos+1)
		}
	case c-'0' <= 9:
		end = numberEnd(doc, pos)
	case c == '-':
		end = scanNumber(doc, pos)
	default: // a literal: skipValue's word compare
		r.pos = pos
		r.skipValue()
		return r.err == nil
	}
	if end < 0 {
		r.syntax()
		return false
	}
	r.pos = end
	switch {
	case bit == quietNumber:
		// Short, and short to a client too: 42e14 is not (IntegerDigits).
		return r.quietShort(bit, end-pos) && (!hasExponent(doc[pos:end]) || IntegerDigits(doc[pos:end]) < r.quietBelow)
	case r.quietShort(bit, end-pos):
		return true
	case bit != quietString:
		return false
	case r.sameAsQuiet(at, pos, end):
		return true
	case r.quietStr(doc[pos+1 : end-1]):
		r.lastQuiet[at] = [2]int{pos, end}
		return true
	}
	return false
}

// sameAsQuiet reports whether the string doc[pos:end] is, byte for byte,
// the last one r.quietStr accepted at the position at in this pass
// (lastQuiet): it is then quiet too, as r.quietStr reads content alone.
// An API repeats many values at a position (a status, a currency, a
// city), and the comparison costs less than the check, without a call
// where the string is at most 16 bytes: its first and last eight bytes.
func (r *filterRun) sameAsQuiet(at int32, pos, end int) bool {
	last := r.lastQuiet[at]
	n := end - pos
	if last[1]-last[0] != n || n < 8 {
		return false // none yet (0, 0), another length, or too short to compare by words
	}
	doc := r.doc
	return load64(doc, last[0]) == load64(doc, pos) && load64(doc, last[1]-8) == load64(doc, end-8) &&
		(n <= 16 || string(doc[last[0]+8:last[1]-8]) == string(doc[pos+8:end-8]))
}

// quietShort reports whether a scalar of the kind bit stands for, n bytes
// long (quotes included), goes unshown once its kind is quiet at its
// site by its kind and length alone: a literal always, a number or a
// string's content shorter than QuietBelow. A longer string is quiet if
// r.quietStr says so (quietString). It is inlined: most kept scalars of an
// API are quiet, and in Wasm a call costs more than the test.
func (r *filterRun) quietShort(bit uint8, n int) bool {
	return bit > quietNumber || n-2*int(bit&quietString) < r.quietBelow
}

// hasExponent reports a number written with an exponent.
func hasExponent(num []byte) bool {
	for _, c := range num {
		if c|0x20 == 'e' {
			return true
		}
	}
	return false
}

// IntegerDigits bounds from above the digits of the integer part of the
// JSON number num as a client shows it: a number is quiet (QuietInspector)
// when that is short too, not only its text, since 42e14 is five bytes
// and 4200000000000000 (a card number) to JSON.parse. It is the digits of
// the integer part as written, leading zeros aside, plus a positive
// exponent.
func IntegerDigits(num []byte) int {
	n, i := 0, 0
	for ; i < len(num) && num[i]|0x20 != 'e'; i++ {
		switch c := num[i]; {
		case c == '.':
			for i+1 < len(num) && num[i+1]|0x20 != 'e' {
				i++
			}
		case c >= '1' && c <= '9' || c == '0' && n > 0:
			n++
		}
	}
	exp := 0
	for i++; i < len(num); i++ {
		switch c := num[i]; {
		case c == '-':
			return n
		case c >= '0' && c <= '9' && exp < 1<<20:
			exp = exp*10 + int(c-'0')
		}
	}
	return n + exp
}

// quietString reports whether the string doc[start:end] (quotes included)
// goes unshown once strings are quiet at its site: its content is shorter
// than QuietBelow, or the StringQuieter's function accepts it. It is small
// enough to be inlined (r.quietStr is never nil: noQuietString stands for
// none), so a short string, most of them, costs no call: in Wasm a call
// costs more than the test.
func (r *filterRun) quietString(doc []byte, start, end int) bool {
	return end-start-2 < r.quietBelow || r.quietStr(doc[start+1:end-1])
}

// noQuietString is filterRun.quietStr when the Inspector is no
// StringQuieter: no string is quiet by its content.
func noQuietString([]byte) bool { return false }

// quiet reports whether the Inspector said values of the kind bit stands
// for need not be shown again at site in this pass (InspectQuiet).
func (r *filterRun) quiet(site int32, bit uint8) bool {
	return site >= 0 && r.quieted[site]&bit != 0
}

// settle notes an InspectQuiet answer for a value of the kind bit stands
// for at site (nothing inside a kept value, whose site is -1).
func (r *filterRun) settle(site int32, bit uint8) {
	if site >= 0 && r.quietBelow >= 0 {
		r.quieted[site] |= bit
	}
}

// judged applies the Inspector's verdict, not InspectKeep, on the scalar
// doc[start:r.pos] of the kind bit stands for.
func (r *filterRun) judged(v Verdict, start int, bit uint8) {
	if v == InspectQuiet {
		r.settle(r.kv.Site, bit)
		return
	}
	r.sensitive(v, start)
}

// sensitive applies a mask or deny verdict to the value doc[start:r.pos].
func (r *filterRun) sensitive(v Verdict, start int) {
	if v == InspectDeny {
		r.err = errSensitive
		return
	}
	r.out = append(r.out, r.doc[r.copied:start]...)
	r.copied = r.pos
	r.writeReplacement(SensitiveMask)
}

// keepInspected copies the value at r.pos, which the allowlist keeps whole
// at position at (its KeptValue.Site), showing it and every value inside it to r.insp. The value is the
// member key of the container at r.path[:parentLen], or, with self, the
// value at r.path itself (an array element or the document).
func (r *filterRun) keepInspected(at int32, parentLen int, key string, self bool) {
	r.setKept(at, parentLen, key, self)
	if i := r.pos; i < len(r.doc) && r.doc[i] != '{' && r.doc[i] != '[' {
		r.inspectScalar()
	} else {
		r.inspectValue()
	}
	if r.err == nil {
		r.out = append(r.out, r.doc[r.copied:r.pos]...)
	}
}

// keyShown reports whether the key of a member at the allowlist position
// keyAt (-1: a "*" member, none, or a path that varies) is shown to the
// Inspector: it is unless the Inspector answered InspectQuiet for the key
// at that position in this pass. It is inlined where a member's key is
// written, so a quiet key costs no call.
func (r *filterRun) keyShown(keyAt int32) bool {
	return r.insp != nil && (keyAt < 0 || r.quieted[keyAt]&quietKey == 0)
}

// writeKey appends the member key keyRaw of the object at
// r.path[:parentLen], judged by the Inspector (KeptKey; keyShown): a
// masked key becomes SensitiveMask, a denied one fails the run (false).
// keyAt is the position of a named member (every member there has this
// key), else -1: an InspectQuiet answer holds for it.
func (r *filterRun) writeKey(keyRaw []byte, key string, parentLen int, keyAt int32) bool {
	if r.keyShown(keyAt) {
		r.kk.Site, r.kk.Parent, r.kk.Key = -1, r.path[:parentLen], key
		v := r.insp.KeptKey(&r.kk)
		r.kk.Parent, r.kk.Key = nil, ""
		switch v {
		case InspectQuiet:
			if keyAt >= 0 && r.quietBelow >= 0 {
				r.quieted[keyAt] |= quietKey
			}
		case InspectDeny:
			r.err = errSensitive
			return false
		case InspectMask:
			r.writeReplacement(SensitiveMask)
			return r.err == nil
		}
	}
	r.out = append(r.out, keyRaw...)
	return true
}

// setKept describes the value at r.pos, kept whole at position at, in r.kv for the
// inspection that follows (keepInspected), field by field: a struct
// literal is built aside and then copied, which costs more than the rest
// of a short value's inspection. It is small enough to be inlined, so
// object, where most kept values are, inspects a scalar member with one
// call (inspectScalar), which matters in Wasm.
func (r *filterRun) setKept(at int32, parentLen int, key string, self bool) {
	kv := &r.kv
	kv.Site = at
	kv.Parent, kv.Self, kv.Key, kv.Elem = r.path[:parentLen], self, key, false
	r.copied = r.pos
}
