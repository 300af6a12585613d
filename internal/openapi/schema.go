package openapi

import (
	"slices"
	"sort"
	"strings"

	"github.com/pb33f/libopenapi/datamodel/high/base"
	"github.com/pb33f/libopenapi/orderedmap"
)

// Bounds of the schema walk. Real descriptions stay far below them; a
// hostile or broken one must not make the generator (or the filter's
// allowlist) unbounded.
const (
	// maxDepth is the deepest allow path written, in segments; the
	// filter's own bound is 64 (respfilter maxPathSegments).
	maxDepth = 32
	// maxPathsPerSchema bounds the paths one response schema yields.
	maxPathsPerSchema = 20000
	// maxUnroll is how many times a recursive $ref is followed along one
	// path before the walk stops there.
	maxUnroll = 2
)

// walkResult is the allow paths of one schema, relative to where it sits.
type walkResult struct {
	paths []string
	// rootScalar is set when the schema may be a scalar at its root, which
	// no path reaches.
	rootScalar bool
	// cut is set when a cycle or a bound stopped the walk, so the result
	// depends on the path that led here and is not memoized.
	cut bool
	// truncated is set when maxPathsPerSchema left paths out: only paths
	// then say what is allowed (uses would allow what was left out).
	truncated bool

	// The same paths, structured: own are those the schema declares
	// itself, uses the memoized $refs it reaches (whose paths are in paths
	// too), each at a path relative to this schema. ref is this result's
	// $ref when it is memoized.
	own  []string
	uses []refUse
	ref  string
}

// refUse is a memoized $ref reached at a path (segments joined with ".",
// "" for the schema itself).
type refUse struct{ ref, at string }

// schemaWalker collects the allow paths of response schemas.
type schemaWalker struct {
	note func(where, format string, args ...any)
	// memo holds complete results by $ref: GitHub's description reaches
	// the same component schemas from hundreds of operations.
	memo map[string]*walkResult
}

type walk struct {
	w     *schemaWalker
	where string
	stack []string // $refs being walked
	out   map[string]bool
	own   map[string]bool
	uses  map[refUse]bool
	res   walkResult
}

func newWalk(w *schemaWalker, where string, stack []string) *walk {
	return &walk{w: w, where: where, stack: stack, out: map[string]bool{}, own: map[string]bool{}, uses: map[refUse]bool{}}
}

// finish sets the result's paths from what the walk collected.
func (k *walk) finish() {
	k.res.paths = sortedPaths(k.out)
	k.res.own = sortedPaths(k.own)
	for u := range k.uses {
		k.res.uses = append(k.res.uses, u)
	}
	sortUses(k.res.uses)
}

func sortUses(uses []refUse) {
	slices.SortFunc(uses, func(a, b refUse) int {
		if c := strings.Compare(a.at, b.at); c != 0 {
			return c
		}
		return strings.Compare(a.ref, b.ref)
	})
}

// walk returns the allow paths of a response schema.
func (w *schemaWalker) walk(where string, sp *base.SchemaProxy) walkResult {
	k := newWalk(w, where, nil)
	k.schema(sp, nil)
	k.finish()
	return k.res
}

func sortedPaths(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for p := range m {
		out = append(out, p)
	}
	sort.Strings(out)
	return out
}

// emit records the path at as allowed; at is a list of segments already in
// the filter's path syntax.
func (k *walk) emit(at []string) { k.add(strings.Join(at, "."), true) }

// add records the path p; own says that this schema declares it, rather
// than a memoized $ref it uses.
func (k *walk) add(p string, own bool) {
	if len(k.out) >= maxPathsPerSchema {
		if !k.res.cut {
			k.w.note(k.where, "the response schema yields more than %d allow paths: the rest are left out, so those fields are removed", maxPathsPerSchema)
		}
		k.res.cut = true
		k.res.truncated = true
		return
	}
	k.out[p] = true
	if own {
		k.own[p] = true
	}
}

// anything allows whatever value sits at at, whole.
func (k *walk) anything(at []string) {
	if len(at) == 0 {
		k.w.note(k.where, "the response schema declares no properties: every top-level member and element is kept whole")
		k.emit([]string{"*"})
		k.emit([]string{"#"})
		return
	}
	k.emit(at)
}

func (k *walk) leaf(at []string) {
	if len(at) == 0 {
		k.res.rootScalar = true
		return
	}
	k.emit(at)
}

func appendSeg(at []string, seg string) []string {
	return append(slices.Clip(at), seg)
}

// schema walks sp at at.
func (k *walk) schema(sp *base.SchemaProxy, at []string) {
	if sp == nil {
		k.anything(at)
		return
	}
	if len(at) >= maxDepth {
		k.w.note(k.where, "schemas nest deeper than %d levels: fields below %s are removed", maxDepth, strings.Join(at, "."))
		k.res.cut = true
		return
	}
	ref := ""
	if sp.IsReference() && !sp.IsTransformedRefWithSiblings() {
		ref = sp.GetReference()
		n := 0
		for _, r := range k.stack {
			if r == ref {
				n++
			}
		}
		if n >= maxUnroll {
			k.w.note(k.where, "the recursive schema %s is followed %d levels deep: fields below %s are removed", ref, maxUnroll, strings.Join(at, "."))
			k.res.cut = true
			return
		}
		if m := k.w.memo[ref]; m != nil {
			k.merge(m, at)
			return
		}
		// Walk the reference on its own, so that its result can be kept.
		// Findings inside it are reported against the reference, with
		// paths relative to it, once for every operation that uses it.
		sub := newWalk(k.w, ref, append(slices.Clip(k.stack), ref))
		sub.body(sp, nil, false)
		sub.finish()
		if !sub.res.cut {
			sub.res.ref = ref
			k.w.memo[ref] = &sub.res
		}
		k.merge(&sub.res, at)
		return
	}
	k.body(sp, at, false)
}

// part walks one schema of an allOf, oneOf or anyOf.
func (k *walk) part(sp *base.SchemaProxy, at []string, narrow bool) {
	plainRef := sp != nil && sp.IsReference() && !sp.IsTransformedRefWithSiblings()
	if narrow && sp != nil && !plainRef {
		k.body(sp, at, true)
		return
	}
	k.schema(sp, at)
}

// merge adds the relative result r at at: its paths, and for a memoized
// $ref the use of it.
func (k *walk) merge(r *walkResult, at []string) {
	if r.cut {
		k.res.cut = true
	}
	if r.truncated {
		k.res.truncated = true
	}
	if r.rootScalar {
		k.leaf(at)
	}
	prefix := strings.Join(at, ".")
	for _, p := range r.paths {
		k.add(joinPath(prefix, p), r.ref == "")
	}
	if r.ref != "" && len(r.paths) > 0 {
		k.uses[refUse{ref: r.ref, at: prefix}] = true
	}
}

// joinPath puts the relative path p below prefix; "" is the top for both.
func joinPath(prefix, p string) string {
	switch {
	case prefix == "":
		return p
	case p == "":
		return prefix
	}
	return prefix + "." + p
}

// body walks the schema sp stands for. narrow is set inside allOf, where a
// part without structure (only annotations, or a bare "type: object")
// constrains nothing and so adds nothing.
func (k *walk) body(sp *base.SchemaProxy, at []string, narrow bool) {
	s := sp.Schema()
	if sp.IsTransformedRefWithSiblings() {
		// OpenAPI 3.1: "$ref" with sibling keywords is allOf [siblings, $ref].
		s, _ = sp.BuildTransformedRefSemanticSchema(nil)
	}
	if s == nil {
		msg := "a schema could not be read"
		if err := sp.GetBuildError(); err != nil {
			msg += ": " + firstLine(err.Error())
		}
		k.w.note(k.where, "%s; its fields are removed", msg)
		return
	}
	if s.BooleanSchema != nil {
		if *s.BooleanSchema {
			k.anything(at)
		}
		return
	}
	composed := len(s.AllOf)+len(s.OneOf)+len(s.AnyOf) > 0
	for _, sub := range s.AllOf {
		k.part(sub, at, true)
	}
	for _, list := range [][]*base.SchemaProxy{s.OneOf, s.AnyOf} {
		for _, sub := range list {
			k.part(sub, at, narrow)
		}
	}
	k.unsupported(s, at)

	types := s.Type
	hasProps := orderedmap.Len(s.Properties) > 0
	isObject := slices.Contains(types, "object") || hasProps || s.AdditionalProperties != nil
	isArray := slices.Contains(types, "array") || s.Items != nil || len(s.PrefixItems) > 0
	isScalar := false
	for _, t := range types {
		switch t {
		case "string", "integer", "number", "boolean", "null":
			isScalar = true
		}
	}
	if !isObject && !isArray && !isScalar && len(types) == 0 && !composed {
		// No type, no structure: any value ({} or only annotations).
		if !narrow {
			k.anything(at)
		}
		return
	}
	if isScalar {
		k.leaf(at)
	}
	if isObject {
		k.object(s, at, hasProps, composed || narrow)
	}
	if isArray {
		k.array(s, at)
	}
}

func (k *walk) object(s *base.Schema, at []string, hasProps, composed bool) {
	for name, prop := range s.Properties.FromOldest() {
		if prop != nil {
			if ps := prop.Schema(); ps != nil && ps.WriteOnly != nil && *ps.WriteOnly {
				// writeOnly: sent in requests, never in responses.
				continue
			}
		}
		if sensitiveName(name) {
			k.w.note(k.where, "declares %s, a name that often holds a secret: allowed as declared; check that responses should carry it", strings.Join(appendSeg(at, escapeKey(name)), "."))
		}
		k.schema(prop, appendSeg(at, escapeKey(name)))
	}
	ap := s.AdditionalProperties
	switch {
	case ap == nil:
		if !hasProps && !composed && orderedmap.Len(s.PatternProperties) == 0 {
			// "type: object" and nothing else: a free-form object.
			k.w.note(k.where, "a free-form object at %s: kept whole", display(at))
			if len(at) == 0 {
				k.emit([]string{"*"})
			} else {
				k.emit(at)
			}
		}
	case ap.IsA():
		k.schema(ap.A, appendSeg(at, "*"))
	case ap.IsB() && ap.B:
		k.w.note(k.where, "additionalProperties: true at %s: every member is kept whole", display(at))
		if len(at) == 0 {
			k.emit([]string{"*"})
		} else {
			k.emit(appendSeg(at, "*"))
		}
	}
}

func (k *walk) array(s *base.Schema, at []string) {
	elem := appendSeg(at, "#")
	for _, p := range s.PrefixItems {
		k.schema(p, elem)
	}
	switch {
	case s.Items == nil:
		if len(s.PrefixItems) == 0 {
			k.anything(elem)
		}
	case s.Items.IsA():
		k.schema(s.Items.A, elem)
	case s.Items.IsB() && s.Items.B:
		k.anything(elem)
	}
}

// unsupported reports the keywords that select members or values by a
// condition the allowlist cannot state; what they would add is removed.
func (k *walk) unsupported(s *base.Schema, at []string) {
	var kw []string
	if orderedmap.Len(s.PatternProperties) > 0 {
		kw = append(kw, "patternProperties")
	}
	if s.UnevaluatedProperties != nil && !(s.UnevaluatedProperties.IsB() && !s.UnevaluatedProperties.B) {
		kw = append(kw, "unevaluatedProperties")
	}
	if orderedmap.Len(s.DependentSchemas) > 0 {
		kw = append(kw, "dependentSchemas")
	}
	if s.If != nil || s.Then != nil || s.Else != nil {
		kw = append(kw, "if/then/else")
	}
	if len(kw) > 0 {
		k.w.note(k.where, "%s at %s cannot be expressed: the members they allow are removed", strings.Join(kw, ", "), display(at))
	}
}

func display(at []string) string {
	if len(at) == 0 {
		return "the top level"
	}
	return strings.Join(at, ".")
}

// escapeKey writes a member name in the filter's path syntax: '.', '*',
// '#' and '\' are escaped with '\' (respfilter's package documentation).
func escapeKey(name string) string {
	if !strings.ContainsAny(name, `.*#\`) {
		return name
	}
	var b strings.Builder
	for i := 0; i < len(name); i++ {
		switch name[i] {
		case '.', '*', '#', '\\':
			b.WriteByte('\\')
		}
		b.WriteByte(name[i])
	}
	return b.String()
}

// sensitiveNames are member names that usually hold credentials or
// regulated data, compared without case, '_' and '-'.
var sensitiveNames = []string{"password", "passwd", "secret", "clientsecret", "apikey", "privatekey",
	"accesstoken", "refreshtoken", "cardnumber", "creditcard", "cvv", "ssn"}

func sensitiveName(name string) bool {
	n := strings.ToLower(strings.NewReplacer("_", "", "-", "").Replace(name))
	return slices.Contains(sensitiveNames, n)
}
