package inventory

import (
	"bytes"
	"math"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/respfilter"
)

var _ respfilter.StringQuieter = (*Response)(nil)

// QuietBelow is the length under which a string or number is of no class
// (respfilter.QuietInspector), a number when the integer a client reads
// for it is that short too (longNumber, respfilter.IntegerDigits): a value
// Kept answers InspectQuiet for is recorded, and the like of it at its
// site would add nothing.
func (r *Response) QuietBelow() int {
	switch c := r.c; {
	case c == nil:
		return math.MaxInt
	case c.keyOnly:
		return 0
	}
	return r.c.minValue
}

// QuietString is the Classifier's test for a string that no class can
// take whatever its length, nil with custom classes
// (respfilter.StringQuieter): at a site where Kept answered InspectQuiet
// for a string, such a string (a name, a city: most long ones) is kept
// without the call.
func (r *Response) QuietString() func(content []byte) bool {
	if r.c == nil {
		return nil
	}
	return r.c.quietString
}

// Kept records a value the response filter keeps (respfilter.Inspector),
// so a filtered route is inventoried and classified in the filter's own
// pass, and answers the policy of its classes: mask or deny. It runs for
// every kept value, so what every value needs (its field, its type) is
// found first and cheaply: a site seen before in this pass, else the path
// expected next; a value that no class can take ends there, undecoded.
func (r *Response) Kept(v *respfilter.KeptValue) respfilter.Verdict {
	i := r.siteField(v.Site)
	if i < 0 {
		i = r.keptField(v)
	}
	if i >= 0 {
		r.record(i, v.Kind)
	} else {
		r.Dropped++
	}
	if !r.mayClassify(v.Kind, v.Content) {
		if i >= 0 && (r.c == nil || !r.c.keyOnly && !r.c.namesClass(v.Kind, v.Key)) {
			// Recorded, and of no class whatever its key: another such
			// value at this site would add nothing (QuietBelow,
			// QuietString).
			return respfilter.InspectQuiet
		}
		return respfilter.InspectKeep
	}
	if v.Kind == '"' && r.c.quietString != nil && len(v.Content) <= maxValueBytes && !detect.CanClassifyJSON(unsafeString(v.Content), r.c.builtins) && !detect.NameClassifies(v.Key, r.c.builtins) {
		// Most strings are of no class, and CanClassifyJSON says so
		// from their escaped form, without decoding (escapes, characters
		// outside ASCII) what the classification reads: a value this
		// short is classified whole, and unescaping only shortens it.
		// Neither the value nor its key is of a class, so the like of
		// it at this site would add nothing (QuietString).
		if i >= 0 {
			return respfilter.InspectQuiet
		}
		return respfilter.InspectKeep
	}
	content := v.Content
	var more ClassSet
	switch {
	case v.Kind == '"' && len(content) > maxValueBytes && v.Escaped:
		// A long value is decoded on the way to its parts (longText),
		// as Observer does: its head is classified as a short value is.
		r.dec.start(content, false, &r.text)
		r.dec.end()
		content, more = r.longParts(&r.text)
	case v.Escaped:
		// Only what is classified is decoded: the padding skipped.
		r.unesc = unescapePrefix(r.unesc[:0], content)
		content = r.unesc
	}
	classes := r.classify(v.Key, v.Kind, content) | more
	if v.Kind == '"' && len(v.Content) > maxValueBytes && r.c.builtins.Has(detect.PrivateKey) && classes&(1<<detect.PrivateKey) == 0 {
		// A key past the classified part: after a certificate, say.
		classes |= r.keyPastPrefix(v)
	}
	if classes == 0 {
		return respfilter.InspectKeep
	}
	if i >= 0 {
		r.fields[i].Classes |= classes
	}
	return r.verdict(classes)
}

// keyPastPrefix is the PrivateKey class when the long string value v
// holds a private key anywhere (detect.HoldsPrivateKey), written plain or
// escaped: only the filter's pass, which holds the whole value, can tell.
// Any escape may hide a header, not only \u: a \b (a backspace, which
// renders as nothing) inside "-----BEGIN\b RSA PRIVATE KEY-----".
func (r *Response) keyPastPrefix(v *respfilter.KeptValue) ClassSet {
	text := v.Content
	if !detect.HoldsPrivateKey(unsafeString(text)) {
		if !v.Escaped {
			return 0
		}
		r.whole = unescape(r.whole[:0], text)
		text = r.whole
		if !detect.HoldsPrivateKey(unsafeString(text)) {
			return 0
		}
	}
	return 1 << detect.PrivateKey
}

// KeptKey classifies a member key the filter's output carries
// (respfilter.Inspector): a key that is a sensitive value (a map keyed by
// card numbers or SSNs) is recorded at the member's path, collapsed to "*"
// like any data key, counted, and answered as a value of its classes is:
// masked (the key is replaced) or denied.
func (r *Response) KeptKey(v *respfilter.KeptValue) respfilter.Verdict {
	classes := r.keyClasses(v.Key)
	if classes == 0 {
		return respfilter.InspectQuiet // a key's classes are the key's alone
	}
	r.raw = v.AppendPath(r.raw[:0])
	if i := r.rawField(r.raw); i >= 0 {
		r.fields[i].Classes |= classes
	} else {
		r.Dropped++
	}
	return r.verdict(classes)
}

// Passing decides whether a body the filter did not judge whole may pass
// because on_error or non_json says "allow" (respfilter.Inspector): class
// policies hold whatever those say. It is refused when a value of a masked
// or denied class was seen in the part judged (the body would pass whole,
// the value unmasked), or when the body, read as text with its JSON
// escapes decoded, holds one (detect's search of free text, and of the
// numbers in it: a card number inside HTML or broken JSON, in any
// notation, is still a card number). A body apiguard does
// not hold, or an enforcing custom class (an anchored pattern cannot be
// searched for in text), is refused under the failure's own reason: it
// cannot be shown free of them.
func (r *Response) Passing(body []byte) respfilter.Verdict {
	if r.c == nil {
		return respfilter.InspectKeep
	}
	if r.Action >= Mask {
		return respfilter.InspectDeny
	}
	builtins, custom := r.c.enforced()
	switch {
	case builtins == 0 && !custom:
		return respfilter.InspectKeep
	case body == nil || custom:
		return respfilter.InspectRefuse
	}
	text := body
	if bytes.IndexByte(body, '\\') >= 0 {
		text = unescape(make([]byte, 0, len(body)), body)
	}
	if detect.Contains(unsafeString(text), builtins) {
		return respfilter.InspectDeny
	}
	return respfilter.InspectKeep
}

// keptField returns the field of a kept value whose site is unknown in
// this pass, adding it, and remembers it for the value's site; -1 when the
// value's path cannot be recorded.
func (r *Response) keptField(v *respfilter.KeptValue) int {
	r.raw = v.AppendPath(r.raw[:0])
	i := r.rawField(r.raw)
	if i >= 0 && v.Site >= 0 {
		for len(r.bySite) <= int(v.Site) {
			r.bySite = append(r.bySite, -1)
		}
		r.bySite[v.Site] = int32(i)
	}
	return i
}

// siteField is the field of a site in this pass, -1 when unknown.
func (r *Response) siteField(site int32) int {
	if site < 0 || int(site) >= len(r.bySite) {
		return -1
	}
	return int(r.bySite[site])
}

// rawField returns the field of a path of the filter (keys as they are),
// adding it; -1 when the response cannot take more fields.
func (r *Response) rawField(raw []byte) int {
	if n := r.predicted(raw); n >= 0 {
		return n
	}
	if i, ok := r.byRaw[unsafeString(raw)]; ok {
		r.fields[i].raw = r.rawOf(i, raw)
		return i
	}
	// A raw path over maxRawBytes (deep data-like keys) is collapsed every
	// time and never kept, so what a Response holds stays bounded.
	keep := len(raw) <= maxRawBytes
	c, ok := r.collapsed[unsafeString(raw)]
	if !ok {
		b, _ := collapse(nil, string(raw))
		c = string(b)
		if keep {
			if r.collapsed == nil || cacheFull(len(r.collapsed), r.collapsedBytes) {
				r.collapsed, r.collapsedBytes = make(map[string]string, 64), 0
			}
			r.collapsed[string(raw)] = c
			r.collapsedBytes += len(raw) + len(c)
		}
	}
	path := unsafeBytes(c)
	if len(path) == 0 {
		path = []byte{'$'}
	}
	if len(path) > MaxPathBytes {
		return -1
	}
	i, ok := r.fieldIndex(path)
	switch {
	case !ok:
		return -1
	case !keep:
		return i
	}
	r.fields[i].raw = r.rawOf(i, raw)
	if len(r.byRaw) < MaxResponseFields {
		if r.byRaw == nil {
			r.byRaw = make(map[string]int, 16)
		}
		r.byRaw[r.fields[i].raw] = i
	}
	return i
}

// maxRawBytes is the longest path of the filter a Response remembers.
const maxRawBytes = 2 * MaxPathBytes

// predicted is the field expected next if the filter's path is its, else -1.
func (r *Response) predicted(path []byte) int {
	if r.last < 0 {
		return -1
	}
	l := &r.fields[r.last]
	if n := l.next; n >= 0 && r.fields[n].raw == unsafeString(path) {
		return int(n)
	}
	if n := l.alt; n >= 0 && r.fields[n].raw == unsafeString(path) {
		return int(n)
	}
	return -1
}

// rawOf returns the filter's path of field i as a string, reusing the one
// it has when equal (the usual case: no allocation).
func (r *Response) rawOf(i int, path []byte) string {
	if f := &r.fields[i]; f.raw == unsafeString(path) {
		return f.raw
	} else if f.Path == unsafeString(path) {
		return f.Path
	}
	return string(path)
}

// verdict counts classes found in the response and answers with the
// strictest of their policies.
func (r *Response) verdict(classes ClassSet) respfilter.Verdict {
	switch r.found(classes) {
	case Mask:
		return respfilter.InspectMask
	case Deny:
		return respfilter.InspectDeny
	}
	return respfilter.InspectKeep
}
