package respfilter

import (
	"bytes"
	"math"
	"sync"
)

// MaxReportedPaths bounds Report.RemovedPaths so a document with many
// distinct keys (a map keyed by ids, say) cannot grow the audit event.
const MaxReportedPaths = 32

// maxReportedPathBytes bounds one reported path; longer ones are cut and end
// in "...".
const maxReportedPathBytes = 256

// Report says what filtering took out of a document. It holds paths and
// counts, never values.
type Report struct {
	Removed int // values dropped (mode remove)
	Masked  int // values replaced by the mask value (mode mask)
	// RemovedPaths lists the distinct paths that were dropped or masked, in
	// path syntax with "#" for every array index and "$" for the document
	// itself, in the order first seen, at most MaxReportedPaths of them.
	RemovedPaths   []string
	PathsTruncated bool // more distinct paths than MaxReportedPaths
}

// filterOptions are the per-rule knobs of one filtering pass.
type filterOptions struct {
	mask     []byte // compact JSON replacement; nil removes instead of masking
	maxDepth int    // deepest allowed nesting of arrays and objects
	// maxOutput bounds the filtered document (max_body_bytes): a mask
	// longer than the values it replaces makes the output larger than the
	// input, and a Wasm VM's memory never shrinks after such a peak.
	maxOutput int
	// insp sees every kept value (the response inventory); nil when none.
	insp Inspector
}

// filterRun is the state of one pass. It is reused through a pool so the
// steady state allocates only for new reported paths and escaped keys.
type filterRun struct {
	out   []byte
	mask  []byte
	limit int    // maxOutput: the output may not grow past it by replacements
	path  []byte // current path in path syntax
	rep   *Report
	// names holds the bytes of the paths this run reports, each once, at
	// pending's offsets: they become strings once the run succeeds, one
	// allocation for all of them (finishPaths).
	names   []byte
	pending [][2]int32
	// The scan (scan.go): the document, the read position, the current
	// nesting depth and its limit, the first failure, and the container
	// stack of skipValue.
	doc      []byte
	pos      int
	depth    int
	maxDepth int
	err      error
	stack    []byte
	// insp sees the kept values (inspect.go); copied is where the copy of
	// the kept value being inspected resumes after a masked value.
	insp   Inspector
	copied int
	kv     KeptValue
	kk     KeptValue // a member key shown to insp (writeKey)
	// valueKey is the key the value at pos is judged under when value
	// keeps it whole: a member's name, and for an array element the name
	// of the member holding the array, so that a key that makes a value
	// sensitive (a password digest) does so in a list too; "" at the top.
	valueKey string
	// quieted holds, per site (KeptValue.Site: node ids, then the
	// element sites), the kinds of value insp answered InspectQuiet for in
	// this pass, and per node whether its key was; quietBelow is insp's
	// QuietBelow, -1 when it is not a QuietInspector. nodes is the
	// allowlist's node count.
	quieted    []uint8
	quietBelow int
	quietStr   func([]byte) bool // a StringQuieter's QuietString, or noQuietString
	// lastQuiet holds, per node, the span in doc (quotes included) of
	// the last string quietStr accepted for a member there (quietKept),
	// {0, 0} for none: one equal to it is quiet without the check.
	lastQuiet [][2]int
	nodes     int32
	// memo holds, per fixed-path position id (node), member keys already reported as
	// removed below it, so the removals repeated in every element of an
	// array skip building and hashing the path.
	memo [][]string
}

// memoKeys bounds memo entries per node; past it removals take the slow
// path, which is still correct.
const memoKeys = 16

// filterDocument appends to dst the filtered form of doc, a complete JSON
// text, in one pass (scan.go). doc must not be modified while the call
// runs. Errors carry a Reason: ReasonDepth when nesting exceeds
// opts.maxDepth, ReasonMalformed when doc is not valid JSON; on an error dst
// and rep are returned as they came.
func (a *allowlist) filterDocument(dst, doc []byte, opts filterOptions, rep *Report) ([]byte, error) {
	r := runPool.Get().(*filterRun)
	r.out, r.mask, r.rep = dst, opts.mask, rep
	r.doc, r.pos, r.depth, r.maxDepth, r.err = doc, 0, 0, opts.maxDepth, nil
	r.limit = opts.maxOutput
	r.insp, r.valueKey = opts.insp, ""
	if r.limit <= 0 {
		r.limit = math.MaxInt
	}
	if cap(r.memo) < a.nodes {
		r.memo = make([][]string, a.nodes)
	}
	r.memo = r.memo[:a.nodes]
	r.nodes = int32(a.nodes)
	if r.insp != nil {
		if cap(r.quieted) < 2*a.nodes {
			r.quieted = make([]uint8, 2*a.nodes)
		}
		r.quieted = r.quieted[:2*a.nodes]
		clear(r.quieted)
		if cap(r.lastQuiet) < a.nodes {
			r.lastQuiet = make([][2]int, a.nodes)
		}
		// The spans are offsets in the previous document.
		r.lastQuiet = r.lastQuiet[:a.nodes]
		clear(r.lastQuiet)
		r.quietBelow, r.quietStr = -1, noQuietString // InspectQuiet is then InspectKeep
		if q, ok := r.insp.(QuietInspector); ok {
			r.quietBelow = max(q.QuietBelow(), 0)
		}
		if q, ok := r.insp.(StringQuieter); ok {
			if f := q.QuietString(); f != nil {
				r.quietStr = f
			}
		}
	}
	saved := *rep
	r.skipSpace()
	r.value(a.root, 0)
	if r.err == nil {
		if r.skipSpace(); r.pos != len(doc) {
			r.syntax()
		}
	}
	err := r.err
	out := r.out
	if err == nil {
		r.finishPaths()
	}
	r.release()
	if err != nil {
		*rep = saved
		if err == errMalformed && !depthWithin(doc, opts.maxDepth) {
			// The reference checks the depth of the whole text first.
			err = errDepth
		}
		return dst, err
	}
	return out, nil
}

var nullJSON = []byte("null")

// writeReplacement appends the replacement of a dropped value (the mask, or
// null) unless the output would then pass its limit: the run then fails as
// too large (errOutputTooLarge) and writes no more replacements.
// Replacements are the only writes that can make the output larger than the
// input, so this is the one place the limit is checked: the output never
// exceeds maxOutput plus the input bytes copied.
func (r *filterRun) writeReplacement(b []byte) {
	if r.err != nil || len(r.out)+len(b) > r.limit {
		if r.err == nil {
			r.err = errOutputTooLarge
		}
		return
	}
	r.out = append(r.out, b...)
}

// runPool keeps the path buffers of finished runs.
var runPool = sync.Pool{New: func() any { return new(filterRun) }}

// release drops every reference to the caller's data and returns r to the
// pool.
func (r *filterRun) release() {
	r.out, r.mask, r.rep, r.doc, r.err, r.insp, r.quietStr = nil, nil, nil, nil, nil, nil, nil
	r.kv, r.kk, r.valueKey = KeptValue{}, KeptValue{}, "" // they view the document and the path
	r.path = r.path[:0]
	for i, m := range r.memo {
		clear(m) // the keys point into the caller's document
		r.memo[i] = m[:0]
	}
	r.names, r.pending = r.names[:0], r.pending[:0]
	runPool.Put(r)
}

func (r *filterRun) sep(first bool) []byte {
	if first {
		return r.out
	}
	return append(r.out, ',')
}

// pushKey sets the current path to the parent path (its first parentLen
// bytes) plus key.
func (r *filterRun) pushKey(parentLen int, key string) []byte {
	p := r.path[:parentLen]
	if parentLen > 0 {
		p = append(p, '.')
	}
	return escapeKey(p, key)
}

func (r *filterRun) pushSeg(parentLen int, seg string) []byte {
	p := r.path[:parentLen]
	if parentLen > 0 {
		p = append(p, '.')
	}
	return append(p, seg...)
}

// count counts one removed or masked value.
func (r *filterRun) count() {
	if r.mask != nil {
		r.rep.Masked++
	} else {
		r.rep.Removed++
	}
}

// dropMember counts and records the removal of member key of an object that
// the allowlist reaches at position at (-1 when the path to it varies), at
// the path given by r.path[:parentLen].
func (r *filterRun) dropMember(at int32, parentLen int, key string) {
	if at >= 0 {
		if r.memoized(at, key) {
			return
		}
		if m := r.memo[at]; len(m) < memoKeys {
			r.memo[at] = append(m, key)
		}
	}
	r.path = r.pushKey(parentLen, key)
	r.drop()
}

// memoized counts the removal of member key below the fixed-path position
// id if it was reported already, and reports whether it was.
func (r *filterRun) memoized(id int32, key string) bool {
	for _, k := range r.memo[id] {
		if k == key {
			r.count()
			return true
		}
	}
	return false
}

// drop counts the value at the current path as removed or masked and
// records the path.
func (r *filterRun) drop() {
	r.count()
	p := r.path
	if len(p) == 0 {
		p = append(p, '$')
		r.path = p[:0]
	}
	if len(p) > maxReportedPathBytes {
		p = append(p[:maxReportedPathBytes-3:maxReportedPathBytes-3], "..."...)
	}
	if r.reported(p) {
		return
	}
	if len(r.rep.RemovedPaths)+len(r.pending) >= MaxReportedPaths {
		r.rep.PathsTruncated = true
		return
	}
	start := len(r.names)
	r.names = append(r.names, p...)
	r.pending = append(r.pending, [2]int32{int32(start), int32(len(r.names))})
}

// reported reports whether path p is reported already, by this run or, in
// the Report, by an earlier document. There are at most MaxReportedPaths,
// so a scan costs less than hashing p would.
func (r *filterRun) reported(p []byte) bool {
	for _, s := range r.rep.RemovedPaths {
		if s == string(p) {
			return true
		}
	}
	for _, at := range r.pending {
		if bytes.Equal(r.names[at[0]:at[1]], p) {
			return true
		}
	}
	return false
}

// finishPaths adds the paths this run reported to the Report, as strings
// that share one copy of their bytes.
func (r *filterRun) finishPaths() {
	if len(r.pending) == 0 {
		return
	}
	all := string(r.names)
	if r.rep.RemovedPaths == nil {
		r.rep.RemovedPaths = make([]string, 0, max(len(r.pending), 8))
	}
	for _, at := range r.pending {
		r.rep.RemovedPaths = append(r.rep.RemovedPaths, all[at[0]:at[1]])
	}
}

// isSpace reports JSON insignificant whitespace (RFC 8259 section 2).
func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// depthWithin reports whether no array or object in doc nests deeper than
// max. It only tracks string boundaries and brackets; validity is gjson's
// job afterwards, so on malformed input the answer may be either.
func depthWithin(doc []byte, max int) bool {
	depth := 0
	for i := 0; i < len(doc); i++ {
		switch doc[i] {
		case '"':
			// Jump to the closing quote: the next one not escaped by an odd
			// run of backslashes. IndexByte is the fast path on every engine.
			for {
				j := bytes.IndexByte(doc[i+1:], '"')
				if j < 0 {
					return true // unterminated string: gjson refuses it
				}
				i += j + 1
				if !escapedQuote(doc, i) {
					break
				}
			}
		case '{', '[':
			depth++
			if depth > max {
				return false
			}
		case '}', ']':
			depth--
		}
	}
	return true
}

// escapedQuote reports whether the quote at doc[i] is preceded by an odd
// number of backslashes.
func escapedQuote(doc []byte, i int) bool {
	n := 0
	for j := i - 1; j >= 0 && doc[j] == '\\'; j-- {
		n++
	}
	return n%2 == 1
}
