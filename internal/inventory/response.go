package inventory

import (
	"strings"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/respfilter"
)

// Types is a set of JSON types seen at a path.
type Types uint8

const (
	TypeObject Types = 1 << iota
	TypeArray
	TypeString
	TypeNumber
	TypeBool
	TypeNull
)

var typeNames = [...]string{"object", "array", "string", "number", "boolean", "null"}

// Names lists the type names in s, in a fixed order.
func (t Types) Names() []string {
	var out []string
	for i, n := range typeNames {
		if t&(1<<i) != 0 {
			out = append(out, n)
		}
	}
	return out
}

// kindTypes maps the first byte of a JSON value to its type.
var kindTypes = func() (t [256]Types) {
	for c := range t {
		t[c] = TypeNumber
	}
	t['{'], t['['], t['"'], t['t'], t['f'], t['n'] = TypeObject, TypeArray, TypeString, TypeBool, TypeBool, TypeNull
	return t
}()

// Limits bound what one response adds and what a path may be.
const (
	// MaxPathBytes is the longest path recorded; a longer one is counted
	// in Response.Dropped instead.
	MaxPathBytes = 256
	// MaxResponseFields is the most distinct paths one response records.
	MaxResponseFields = 256
	// maxDepth is the deepest nesting the Observer follows.
	maxDepth = 64
	// maxValueBytes bounds what is classified of a string: a longer
	// value is classified by its first and its last maxValueBytes bytes,
	// invisible characters and the padding around it aside, and as a
	// JWT when it is one whole (longText).
	maxValueBytes = 1024
	// maxKeyBytes is the longest key kept; a longer one is data
	// (detect.IsDataKey takes nothing over 96 characters for a name).
	maxKeyBytes = 97
)

// Field is one path of a response, or of the inventory.
type Field struct {
	Path    string
	Types   Types
	Classes ClassSet
	// next predicts the field that follows this one (the elements of an
	// array repeat a sequence of paths), and raw is the response filter's
	// path that reached it: a right guess costs a comparison instead of a
	// map lookup.
	next, alt int32
	raw       string
}

// Response collects the fields of one response. It is reused (Reset) and
// not safe for concurrent use.
type Response struct {
	c      *Classifier
	fields []Field
	index  map[string]int
	// Values counts the values found of each class, by class index.
	Values [64]uint32
	// Found is every class found in this response.
	Found ClassSet
	// Action is the strictest policy of the classes found.
	Action Policy
	// Dropped counts fields not recorded: paths over MaxPathBytes, or
	// past MaxResponseFields.
	Dropped int
	// Incomplete is set when the body could not be followed to its end
	// (not JSON, nested deeper than the Observer follows).
	Incomplete bool
	// byRaw maps a path of the response filter (keys as they are) to its
	// field in this response (Inspector).
	byRaw map[string]int
	// intern and collapsed outlive a response, so a worker's usual paths
	// cost no allocation: the path strings, and the collapsed form of the
	// response filter's paths. Both are bounded (maxInterned).
	intern    map[string]string
	collapsed map[string]string
	segments  map[string]string // key → its path segment (appendKey)
	// Bytes held by each cache, for maxInternedBytes.
	internBytes, collapsedBytes, segmentBytes int
	// unesc holds a decoded string value; whole, a long one decoded whole
	// (keyPastPrefix), dropped by Reset past maxWholeBytes.
	unesc, whole []byte
	// text and dec follow a string longer than maxValueBytes: its parts
	// classified, and its escapes decoded on the way (longText).
	text longText
	dec  keySearch
	// last is the field recorded last, -1 at the start.
	last int32
	// bySite maps the response filter's sites (KeptValue.Site) to fields,
	// in this pass; raw is a scratch path.
	bySite []int32
	raw    []byte
}

// maxInternedBytes bounds the keys and values each of a Response's caches
// (intern, collapsed, segments) keeps across responses; a cache over it is
// dropped and starts again. With maxInterned entries it bounds what a
// Response holds whatever its upstream sends (docs/memory.md).
const (
	maxInternedBytes = 16 << 10
	maxInterned      = 512
)

// cacheFull reports whether a cache of n entries holding size bytes must be
// dropped before adding more.
func cacheFull(n, size int) bool { return n >= maxInterned || size >= maxInternedBytes }

// fieldIndex returns the index of the field at path in this response,
// adding it (false when the response holds MaxResponseFields already).
func (r *Response) fieldIndex(path []byte) (int, bool) {
	if r.last >= 0 {
		l := &r.fields[r.last]
		if n := l.next; n >= 0 && r.fields[n].Path == unsafeString(path) {
			return int(n), true
		}
		if n := l.alt; n >= 0 && r.fields[n].Path == unsafeString(path) {
			return int(n), true
		}
	}
	if i, ok := r.index[unsafeString(path)]; ok {
		return i, true
	}
	if len(r.fields) >= MaxResponseFields {
		return 0, false
	}
	p, ok := r.intern[unsafeString(path)]
	if !ok {
		p = string(path)
		if r.intern == nil || cacheFull(len(r.intern), r.internBytes) {
			r.intern, r.internBytes = make(map[string]string, 64), 0
		}
		r.intern[p] = p
		r.internBytes += len(p)
	}
	i := len(r.fields)
	r.index[p] = i
	r.fields = append(r.fields, Field{Path: p, next: -1, alt: -1})
	return i, true
}

// NewResponse returns an empty response for classifier c.
func NewResponse(c *Classifier) *Response {
	return &Response{c: c, index: make(map[string]int, 16), last: -1}
}

// Reset empties r for the next response.
func (r *Response) Reset() {
	r.fields = r.fields[:0]
	clear(r.index)
	r.Values = [64]uint32{}
	r.Found, r.Action, r.Dropped, r.Incomplete = 0, Observe, 0, false
	r.last = -1
	for i := range r.bySite {
		r.bySite[i] = -1
	}
	if cap(r.whole) > maxWholeBytes {
		r.whole = nil
	}
	if len(r.byRaw) > MaxResponseFields {
		r.byRaw = nil
	} else {
		clear(r.byRaw)
	}
}

// maxWholeBytes is the largest buffer for a value decoded whole that a
// Response keeps from one body to the next.
const maxWholeBytes = 64 << 10

// Fields returns the fields recorded, in the order first seen.
func (r *Response) Fields() []Field { return r.fields }

// Classifier returns the classifier r records for.
func (r *Response) Classifier() *Classifier { return r.c }

// value records a value of kind (its first JSON byte) at the collapsed
// path, with key its member name ("" in an array) and str the content of a
// string or the text of a number (nil otherwise), and returns the policy of
// its classes; past are classes found in a long string past str (a
// private key after a certificate).
func (r *Response) value(path []byte, key string, kind byte, str []byte, past ClassSet) Policy {
	if len(path) == 0 {
		path = append(path, '$')
	}
	if len(path) > MaxPathBytes {
		r.Dropped++
		return r.found(r.classify(key, kind, str) | past)
	}
	i, ok := r.fieldIndex(path)
	if !ok {
		r.Dropped++
		return r.found(r.classify(key, kind, str) | past)
	}
	return r.update(i, key, kind, str, past)
}

// update records a value at field i, classifies it and returns the
// policy of its classes and past.
func (r *Response) update(i int, key string, kind byte, str []byte, past ClassSet) Policy {
	r.record(i, kind)
	classes := past
	if r.mayClassify(kind, str) {
		classes |= r.classify(key, kind, str)
	}
	if classes == 0 {
		return Observe
	}
	r.fields[i].Classes |= classes
	return r.found(classes)
}

// record notes a value of kind at field i.
func (r *Response) record(i int, kind byte) {
	if r.last >= 0 {
		// Two guesses: the end of an array's element is followed by the
		// next element or by what follows the array.
		if l := &r.fields[r.last]; l.next != int32(i) {
			l.alt, l.next = l.next, int32(i)
		}
	}
	r.last = int32(i)
	r.fields[i].Types |= kindTypes[kind]
}

// mayClassify reports whether a value of kind, str as written, can be of
// a class: a key class takes any value, a value class only strings and
// numbers of at least the classifier's shortest value, as a client reads
// a number (longNumber). Unescaping only shortens a string, so
// str may be its escaped content.
func (r *Response) mayClassify(kind byte, str []byte) bool {
	switch c := r.c; {
	case c == nil:
		return false
	case c.keyOnly:
		return true
	case len(str) < c.minValue && !c.longNumber(kind, str):
		return false
	}
	return kind == '"' || kind == '-' || kind >= '0' && kind <= '9'
}

// longNumber reports a number of kind shorter than the shortest value of
// a class as written but not as a client reads it: 42e14 is
// 4200000000000000 to JSON.parse, a card number. The response filter
// shows the Inspector such a number at a quiet site by the same measure
// (respfilter.IntegerDigits).
func (c *Classifier) longNumber(kind byte, num []byte) bool {
	return kind != '"' && respfilter.IntegerDigits(num) >= c.minValue
}

// classify returns the classes of a value.
func (r *Response) classify(key string, kind byte, str []byte) ClassSet {
	if r.c == nil {
		return 0
	}
	var classes ClassSet
	if r.c.keyOnly {
		classes = r.c.Key(key)
	}
	switch {
	case len(str) < r.c.minValue && !r.c.longNumber(kind, str):
	case kind == '"':
		if len(str) > maxValueBytes {
			// A long value: its head classified below, its tail and
			// whether it is a JWT here.
			r.text.reset()
			r.text.write(str)
			var more ClassSet
			str, more = r.longParts(&r.text)
			classes |= more
		}
		// Most strings are of no class: CanClassifyUnder, which
		// ClassifyUnder runs first too, says so without the calls that
		// lead there.
		part := unsafeString(str)
		if r.c.valueClasses || detect.CanClassifyUnder(key, part, r.c.builtins) {
			classes |= r.c.String(key, part)
		}
	case kind == '-' || kind >= '0' && kind <= '9':
		classes |= r.c.Number(key, unsafeString(str))
	}
	return classes
}

// longParts ends the long string value t followed and returns its head,
// which is classified as a short value is, and the built-in classes of
// the rest: those of its tail (the end of a display name's address, say),
// and JWT when the whole value is one.
func (r *Response) longParts(t *longText) ([]byte, ClassSet) {
	head, tail, jwt := t.parts()
	var classes ClassSet
	if r.c == nil {
		return head, 0
	}
	if jwt && r.c.builtins.Has(detect.JWT) {
		classes |= 1 << detect.JWT
	}
	if tail != nil {
		if dc, ok := detect.Classify(unsafeString(tail), r.c.builtins); ok {
			classes |= 1 << uint(dc)
		}
	}
	return head, classes
}

// classifiedPart is the part of a long object key that is classified: from
// its first character that is neither a space nor invisible, at most
// maxValueBytes. Skipping the padding first means no length of padding
// can push a value out of the classified part.
func classifiedPart(str []byte) []byte {
	if len(str) <= maxValueBytes {
		return str // inlined: most values
	}
	return classifiedPrefix(str)
}

// classifiedPrefix is classifiedPart of a value over maxValueBytes.
func classifiedPrefix(str []byte) []byte {
	str = str[detect.PaddingLen(str):]
	if len(str) > maxValueBytes {
		str = wholeRunes(str[:maxValueBytes])
	}
	return str
}

// keyClasses returns the classes of an object key read as a value: the
// built-in class it is whole and the custom value classes it matches. Keys
// are names as a rule, but a map keyed by card numbers exposes them.
func (r *Response) keyClasses(key string) ClassSet {
	if r.c == nil || len(key) < r.c.minValue || key == "" {
		return 0
	}
	if !r.c.valueClasses && !detect.CanClassify(key, r.c.builtins) {
		return 0 // most keys: ruled out without the calls to Classify
	}
	return r.c.String("", key)
}

// key records the classes of the key of the member at path (Observer).
func (r *Response) key(path []byte, key string) {
	classes := r.keyClasses(key)
	if classes == 0 {
		return
	}
	i, ok := -1, false
	if len(path) <= MaxPathBytes {
		i, ok = r.fieldIndex(path)
	}
	if ok {
		r.fields[i].Classes |= classes
	} else {
		r.Dropped++
	}
	r.found(classes)
}

// found counts the classes of one value and returns their policy.
func (r *Response) found(classes ClassSet) Policy {
	if classes == 0 {
		return Observe
	}
	r.Found |= classes
	p := r.c.Worst(classes)
	if p > r.Action {
		r.Action = p
	}
	for i := 0; classes != 0; i++ {
		if classes.Has(i) {
			r.Values[i]++
			classes &^= 1 << uint(i)
		}
	}
	return p
}

func allDigits(b string) bool {
	for _, c := range b {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// appendKey is appendSegment through a memo of the keys seen: a response
// repeats its keys in every element of its arrays, and deciding whether a
// key is data costs a scan.
func (r *Response) appendKey(dst []byte, key string) []byte {
	seg, ok := r.segments[key]
	if !ok {
		seg = string(appendSegment(nil, key))
		if r.segments == nil || cacheFull(len(r.segments), r.segmentBytes) {
			r.segments, r.segmentBytes = make(map[string]string, 64), 0
		}
		r.segments[strings.Clone(key)] = seg // key may view a reused buffer
		r.segmentBytes += len(key) + len(seg)
	}
	if len(dst) > 0 {
		dst = append(dst, '.')
	}
	return append(dst, seg...)
}

// appendSegment appends one collapsed path segment for an object key: "*"
// for a data-like key, else the key in the response filter's path syntax
// (respfilter.AppendKey), so that a path of the inventory is an allow path.
func appendSegment(dst []byte, key string) []byte {
	if len(dst) > 0 {
		dst = append(dst, '.')
	}
	if detect.IsDataKey(key) {
		return append(dst, '*')
	}
	return respfilter.AppendKey(dst, key)
}

// collapse returns the collapsed form of a path in the response filter's
// syntax (escaped keys, "#" for array elements), and the last key.
func collapse(dst []byte, raw string) ([]byte, string) {
	var key string
	var seg strings.Builder
	flush := func(escaped bool) {
		s := seg.String()
		seg.Reset()
		if s == "#" && !escaped {
			if len(dst) > 0 {
				dst = append(dst, '.')
			}
			dst = append(dst, '#')
			key = ""
			return
		}
		key = s
		dst = appendSegment(dst, s)
	}
	escaped := false
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch {
		case c == '\\' && i+1 < len(raw):
			i++
			seg.WriteByte(raw[i])
			escaped = true
		case c == '.':
			flush(escaped)
			escaped = false
		default:
			seg.WriteByte(c)
		}
	}
	if raw != "" {
		flush(escaped)
	}
	return dst, key
}
