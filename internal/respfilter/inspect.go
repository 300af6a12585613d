package respfilter

import "github.com/apiguard/apiguard/internal/verdict"

// Inspector sees every value a filtering pass keeps, in the same pass
// (the response inventory classifies them at no extra parse). Without one,
// a kept value is only validated and copied.
type Inspector interface {
	// Kept is called for a kept value and then for every value inside it,
	// in document order. path is the value's path in path syntax ("#" for
	// every array element, "" for the document itself; the slice is only
	// valid during the call), key its member name ("" for an element or the
	// document), kind its first byte, and content the bytes between the
	// quotes of a string (escapes as written) or the text of a number (nil
	// for other kinds). The answer keeps, masks or denies the value.
	Kept(path []byte, key string, kind byte, content []byte) Verdict
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
// for it and for every value inside it with its path, and moves r.pos past
// it. What is kept is copied later from r.copied; a masked value is
// written now, after the kept bytes before it.
func (r *filterRun) inspectValue(key string) {
	doc := r.doc
	i := r.pos
	if i >= len(doc) {
		r.syntax()
		return
	}
	start := i
	switch c := doc[i]; c {
	case '{', '[':
		if v := r.insp.Kept(r.path, key, c, nil); v != InspectKeep {
			if r.skipValue(); r.err == nil {
				r.sensitive(v, start)
			}
			return
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
		parentLen := len(r.path)
		if c == '[' {
			r.path = r.pushSeg(parentLen, "#")
		}
		for {
			member := ""
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
				keyRaw := doc[i:end]
				if i = skipSpace(doc, end); i >= len(doc) || doc[i] != ':' {
					r.syntax()
					return
				}
				i = skipSpace(doc, i+1)
				member = memberKey(keyRaw, escaped)
				r.path = r.pushKey(parentLen, member)
			}
			r.pos = i
			if r.inspectValue(member); r.err != nil {
				return
			}
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
				r.path = r.path[:parentLen]
				return
			}
			r.syntax()
			return
		}
	case '"':
		end, _ := scanString(doc, i+1)
		if end < 0 {
			r.syntax()
			return
		}
		r.pos = end
		if v := r.insp.Kept(r.path, key, c, doc[i+1:end-1]); v != InspectKeep {
			r.sensitive(v, start)
		}
	case 't', 'f', 'n':
		lit := "null"
		if c == 't' {
			lit = "true"
		} else if c == 'f' {
			lit = "false"
		}
		if i = scanLiteral(doc, i, lit); i < 0 {
			r.syntax()
			return
		}
		r.pos = i
		if v := r.insp.Kept(r.path, key, c, nil); v != InspectKeep {
			r.sensitive(v, start)
		}
	case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
		if i = scanNumber(doc, i); i < 0 {
			r.syntax()
			return
		}
		r.pos = i
		if v := r.insp.Kept(r.path, key, c, doc[start:i]); v != InspectKeep {
			r.sensitive(v, start)
		}
	default:
		r.syntax()
	}
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

// keepInspected copies the value at r.pos, which the allowlist keeps whole,
// showing it and every value inside it to r.insp.
func (r *filterRun) keepInspected(key string) {
	r.copied = r.pos
	if r.inspectValue(key); r.err == nil {
		r.out = append(r.out, r.doc[r.copied:r.pos]...)
	}
}
