package respfilter

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/apiguard/apiguard/internal/claims"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/verdict"
	"github.com/tidwall/gjson"
)

// Filter is a compiled response_filter section. It is immutable and safe for
// concurrent use.
type Filter struct {
	policies []*Policy
	// index selects the first policy that matches (route.Index).
	index       *route.Index
	headersHeld bool
}

// Policy is one compiled rule: what a matching request's response goes
// through.
type Policy struct {
	name     string
	matcher  *route.Matcher
	bypass   bool
	grants   []ClaimGrant
	granted  []*node // what each grant adds, compiled; nil allows nothing
	mask     []byte  // nil in remove mode
	statuses []Status
	limits   *limits

	baseList *allowlist // allow alone: callers no grant applies to

	mu    sync.Mutex
	lists map[uint64]*allowlist // by bitmask (non-zero) of the grants that apply
}

// limits are the section-wide settings every policy shares.
type limits struct {
	maxBody  int
	maxDepth int
	onError  OnError
	nonJSON  NonJSON
}

// maxCachedAllowlists bounds the per-policy cache of grant combinations; a
// combination past it is compiled per response.
const maxCachedAllowlists = 64

// New validates cfg and compiles every rule, or takes the allowlists that
// cfg.Validate compiled when the decoder called it (a Config from
// config.Decode), as long as cfg's allow lists are still the ones it
// compiled.
func New(cfg Config) (*Filter, error) {
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("respfilter: %w", err)
	}
	comp := cfg.compiled
	if comp == nil || comp.fingerprint != cfg.fingerprint() {
		var err error
		if comp, err = cfg.compile(); err != nil {
			return nil, fmt.Errorf("respfilter: %w", err)
		}
	}
	lim := &limits{
		maxBody:  cfg.MaxBodyBytes,
		maxDepth: cfg.MaxDepth,
		onError:  cfg.OnError,
		nonJSON:  cfg.NonJSON,
	}
	if lim.maxBody == 0 {
		lim.maxBody = DefaultMaxBodyBytes
	}
	if lim.maxDepth == 0 {
		lim.maxDepth = DefaultMaxDepth
	}
	if lim.onError == "" {
		lim.onError = OnErrorDeny
	}
	if lim.nonJSON == "" {
		lim.nonJSON = NonJSONDeny
	}
	f := &Filter{headersHeld: cfg.HeadersMode != HeadersStreamed}
	for i := range cfg.Rules {
		r := &cfg.Rules[i]
		m, err := route.Compile(r.Match)
		if err != nil {
			return nil, fmt.Errorf("respfilter: rules[%d].match: %w", i, err)
		}
		p := &Policy{
			name:     r.name(i),
			matcher:  m,
			bypass:   r.Bypass,
			grants:   append([]ClaimGrant(nil), r.AllowForClaims...),
			granted:  comp.rules[i].grants,
			baseList: comp.rules[i].base,
			statuses: append([]Status(nil), r.Statuses...),
			limits:   lim,
			lists:    make(map[uint64]*allowlist),
		}
		if r.Mode == ModeMask {
			p.mask = []byte(defaultMask)
			if r.MaskValue.IsSet() {
				p.mask = append([]byte(nil), r.MaskValue.raw...)
			}
		}
		f.policies = append(f.policies, p)
	}
	ms := make([]*route.Matcher, len(f.policies))
	for i, p := range f.policies {
		ms[i] = p.matcher
	}
	f.index = route.NewIndex(ms)
	return f, nil
}

// Match returns the policy for a request: the first rule that matches, or
// nil when the response is not filtered (no rule, or a bypass rule). Call it
// from the request-headers callback and keep the result for the response.
func (f *Filter) Match(r *route.Request) *Policy {
	i := f.index.First(r)
	if i < 0 || f.policies[i].bypass {
		return nil
	}
	return f.policies[i]
}

// HeadersHeld reports whether the config expects Envoy to hold response
// headers until the body is seen (headers_mode "held").
func (f *Filter) HeadersHeld() bool { return f.headersHeld }

// ModeNote is the sentence the plugin logs at start so an operator can check
// the Envoy side matches the config.
func (f *Filter) ModeNote() string {
	if f.headersHeld {
		return `response_filter: headers_mode "held": requires allow_on_headers_stop_iteration: true in the Envoy Wasm PluginConfig; every filter failure is answered with 502`
	}
	return `response_filter: headers_mode "streamed": response headers leave before the body is seen; failures found in the body replace it with an error document under the original status`
}

// Name is the rule's name for metrics and audit events.
func (p *Policy) Name() string { return p.name }

// MaxBodyBytes is how much body the plugin should buffer at most.
func (p *Policy) MaxBodyBytes() int { return p.limits.maxBody }

// Action says what the plugin does with a response.
type Action uint8

const (
	// ActionSkip: the response is not subject to filtering (status not
	// listed, no body, empty body); leave it alone.
	ActionSkip Action = iota
	// ActionFilter (headers time only): buffer the body to end of stream,
	// then call Process. With headers streamed, remove
	// the length, digests and etag now, before the headers leave; with headers
	// held, wait for the outcome.
	ActionFilter
	// ActionReplace (body time only): the body becomes the returned bytes.
	// With headers held, remove the length, digests and etag and set
	// content-length to the new length.
	ActionReplace
	// ActionPass: send the body unfiltered because the config opted in
	// (on_error "allow", or non_json "allow"); count it under Reason.
	ActionPass
	// ActionDeny: fail closed for Reason. While headers are held (or at
	// headers time) answer with DenyReply; once they have left, replace
	// the body with ErrorDocument.
	ActionDeny
)

var actionNames = [...]string{"skip", "filter", "replace", "pass", "deny"}

func (a Action) String() string {
	if int(a) < len(actionNames) {
		return actionNames[a]
	}
	return "unknown"
}

// ResponseMeta is what the response headers say, read by the plugin.
type ResponseMeta struct {
	Status        int    // the :status value
	RequestMethod string // the request's :method; HEAD responses have no body
	// RequestGRPC is true when the request's content-type is gRPC
	// (IsGRPCContentType): a gRPC response to it passes unfiltered.
	RequestGRPC bool
	ContentType string // "" when absent
	// ContentEncoding and ContentLength hold every value of a repeated
	// header joined with ",": a second copy must never go unseen, since the
	// client may honour it (a gzip body under "identity, gzip").
	ContentEncoding string // "" when absent
	ContentLength   string // the raw header value(s), "" when absent
}

// Decision is the headers-time verdict, kept by the plugin for Process.
type Decision struct {
	Action Action
	Reason Reason
	// JSONDeclared is true when the content type is application/json or
	// +json; the body is then filtered even when it does not start with '{'
	// or '['.
	JSONDeclared bool
	coding       coding
}

// DecideHeaders decides everything the response headers can tell. It never
// returns ActionReplace.
func (p *Policy) DecideHeaders(m ResponseMeta) Decision {
	if p == nil {
		return Decision{Action: ActionSkip}
	}
	if m.RequestMethod == "HEAD" || (m.Status >= 100 && m.Status < 200) || m.Status == 204 || m.Status == 304 {
		return Decision{Action: ActionSkip, Reason: ReasonNoBody}
	}
	if m.RequestGRPC && IsGRPCContentType(m.ContentType) {
		// Length-prefixed protobuf (or gRPC-Web) is not a JSON document:
		// filtering it would fail every call. Both sides must say gRPC, so
		// a JSON upstream cannot be talked into a gRPC content type to
		// skip the filter by a client's Accept header alone.
		return Decision{Action: ActionSkip, Reason: ReasonGRPC}
	}
	if !p.statusFiltered(m.Status) {
		return Decision{Action: ActionSkip, Reason: ReasonStatus}
	}
	c, ok := parseContentEncoding(m.ContentEncoding)
	if !ok {
		return p.fail(ReasonUnsupportedEncoding)
	}
	n, ok := parseContentLengths(m.ContentLength)
	if !ok {
		return p.fail(ReasonConflictingLength)
	}
	if n > int64(p.limits.maxBody) {
		return p.fail(ReasonTooLarge)
	}
	return Decision{Action: ActionFilter, JSONDeclared: IsJSONContentType(m.ContentType), coding: c}
}

func (p *Policy) statusFiltered(code int) bool {
	if len(p.statuses) == 0 {
		return true
	}
	for _, s := range p.statuses {
		if code >= s.lo && code <= s.hi {
			return true
		}
	}
	return false
}

// fail applies on_error to a failure.
func (p *Policy) fail(r Reason) Decision {
	if p.limits.onError == OnErrorAllow {
		return Decision{Action: ActionPass, Reason: r}
	}
	return Decision{Action: ActionDeny, Reason: r}
}

// Outcome is the body-time verdict.
type Outcome struct {
	Action Action // ActionReplace, ActionSkip, ActionPass or ActionDeny
	Reason Reason // why, for every action but ActionReplace
	Report        // what filtering removed (ActionReplace only)
}

// Process filters a complete response body under the headers-time decision
// d and the caller's verified claims (nil when there are none). With
// ActionReplace, out is the new body, encoded like the original; with any
// other action out is nil.
func (p *Policy) Process(d Decision, body []byte, verified map[string]any) (out []byte, o Outcome) {
	return p.AppendProcess(nil, d, body, verified)
}

// AppendProcess is Process writing the new body into dst[:0]'s storage, so a
// plugin can reuse one buffer across responses once the host has copied the
// previous body. body and dst must not overlap.
func (p *Policy) AppendProcess(dst []byte, d Decision, body []byte, verified map[string]any) (out []byte, o Outcome) {
	return p.AppendProcessInspected(dst, d, body, verified, nil)
}

// AppendProcessInspected is AppendProcess showing every kept value to insp
// in the same pass (nil: none). A value insp denies fails the response
// with ReasonSensitive whatever on_error says.
func (p *Policy) AppendProcessInspected(dst []byte, d Decision, body []byte, verified map[string]any, insp Inspector) (out []byte, o Outcome) {
	if p == nil || d.Action != ActionFilter {
		return nil, Outcome{Action: d.Action, Reason: d.Reason}
	}
	if len(body) == 0 {
		return nil, Outcome{Action: ActionSkip, Reason: ReasonEmpty}
	}
	if len(body) > p.limits.maxBody {
		var held []byte
		if d.coding == codingIdentity {
			held = body
		}
		return nil, passing(p.failOutcome(ReasonTooLarge), held, insp)
	}
	doc := body
	var scratch *[]byte
	if d.coding != codingIdentity {
		scratch = getBuf()
		defer putBuf(scratch)
		var err error
		*scratch, d.coding, err = decodeBody((*scratch)[:0], body, d.coding, p.limits.maxBody)
		if err != nil {
			return nil, passing(p.failOutcome(ReasonOf(err)), nil, insp)
		}
		doc = *scratch
	}
	switch sniff(doc) {
	case sniffEmpty:
		return nil, Outcome{Action: ActionSkip, Reason: ReasonEmpty}
	case sniffOther:
		// Under a non-JSON type, a body that is a complete JSON scalar
		// ("secret", 42) is JSON too, so it cannot pass as text.
		if !d.JSONDeclared && !gjson.ValidBytes(doc) {
			if p.limits.nonJSON == NonJSONAllow {
				return nil, passing(Outcome{Action: ActionPass, Reason: ReasonNotJSON}, doc, insp)
			}
			return nil, Outcome{Action: ActionDeny, Reason: ReasonNotJSON}
		}
	}
	opts := filterOptions{mask: p.mask, maxDepth: p.limits.maxDepth, maxOutput: p.limits.maxBody, insp: insp}
	list := p.allowlistFor(verified)
	if d.coding == codingIdentity {
		if dst == nil {
			dst = make([]byte, 0, len(doc))
		}
		filtered, err := list.filterDocument(dst[:0], doc, opts, &o.Report)
		if err != nil {
			return nil, passing(p.processFailure(err), doc, insp)
		}
		o.Action = ActionReplace
		return filtered, o
	}
	tmp := getBuf()
	defer putBuf(tmp)
	filtered, err := list.filterDocument((*tmp)[:0], doc, opts, &o.Report)
	*tmp = filtered
	if err != nil {
		return nil, passing(p.processFailure(err), doc, insp)
	}
	enc := bytes.NewBuffer(dst[:0])
	enc.Grow(len(body))
	if err := encodeBody(enc, filtered, d.coding); err != nil {
		return nil, p.failOutcome(ReasonInternal)
	}
	o.Action = ActionReplace
	return enc.Bytes(), o
}

// Failure applies on_error to a failure the plugin found itself, such as a
// body growing past MaxBodyBytes before end of stream (ReasonTooLarge): the
// outcome is ActionDeny or, with on_error "allow", ActionPass. On a stream
// whose kept values insp sees (nil: none), a body on_error would let pass
// is first shown to insp (Passing, with a nil body: the plugin does not
// hold it whole), whose class policies may refuse it.
func (p *Policy) Failure(r Reason, insp Inspector) Outcome {
	return passing(p.failOutcome(r), nil, insp)
}

// DecideHeadersInspected is DecideHeaders on a stream whose kept values
// insp sees: a body that on_error would let pass unfiltered (an unknown
// coding, a declared length over the limit) is first shown to insp
// (Passing(nil)), whose class policies may refuse it.
func (p *Policy) DecideHeadersInspected(m ResponseMeta, insp Inspector) Decision {
	d := p.DecideHeaders(m)
	if d.Action == ActionPass {
		o := passing(Outcome{Action: d.Action, Reason: d.Reason}, nil, insp)
		d.Action, d.Reason = o.Action, o.Reason
	}
	return d
}

// passing asks insp whether a body that o lets pass unjudged may pass
// (Inspector.Passing): class policies hold whatever on_error and non_json
// say.
func passing(o Outcome, body []byte, insp Inspector) Outcome {
	if o.Action != ActionPass || insp == nil {
		return o
	}
	switch insp.Passing(body) {
	case InspectDeny:
		return Outcome{Action: ActionDeny, Reason: ReasonSensitive}
	case InspectRefuse, InspectMask:
		return Outcome{Action: ActionDeny, Reason: o.Reason}
	}
	return o
}

// processFailure is the outcome of a failed filtering pass: on_error
// decides, except for a denied sensitive value, which is always denied.
func (p *Policy) processFailure(err error) Outcome {
	if r := ReasonOf(err); r == ReasonSensitive {
		return Outcome{Action: ActionDeny, Reason: r}
	}
	return p.failOutcome(ReasonOf(err))
}

func (p *Policy) failOutcome(r Reason) Outcome {
	d := p.fail(r)
	return Outcome{Action: d.Action, Reason: d.Reason}
}

// allowlistFor returns the allowlist for a caller: the rule's allow plus the
// paths of every grant whose conditions hold for the claims.
func (p *Policy) allowlistFor(verified map[string]any) *allowlist {
	var key uint64
	if verified != nil {
		for i := range p.grants {
			if claims.All(p.grants[i].Claims, verified) {
				key |= 1 << uint(i)
			}
		}
	}
	if key == 0 {
		return p.baseList
	}
	p.mu.Lock()
	l := p.lists[key]
	p.mu.Unlock()
	if l != nil {
		return l
	}
	c := newCompiler()
	var root *node
	if p.baseList.root.serial != 0 { // an empty allowlist's root is not interned
		root = p.baseList.root
	}
	for i := range p.granted {
		if key&(1<<uint(i)) != 0 {
			root = c.merge(root, p.granted[i])
		}
	}
	l, err := c.allowlist(root)
	if err != nil {
		// Validate compiled the union of all paths, so this cannot happen;
		// if it did, fall back to the base allowlist (fail closed).
		return p.baseList
	}
	p.mu.Lock()
	if len(p.lists) < maxCachedAllowlists {
		p.lists[key] = l
	}
	p.mu.Unlock()
	return l
}

// bufPool recycles decode and filter buffers of compressed bodies.
var bufPool = sync.Pool{New: func() any { b := make([]byte, 0, 64<<10); return &b }}

func getBuf() *[]byte { return bufPool.Get().(*[]byte) }

func putBuf(b *[]byte) {
	if cap(*b) > 4<<20 {
		return // do not pin a huge buffer
	}
	*b = (*b)[:0]
	bufPool.Put(b)
}

// MetaFromHeaders is the ResponseMeta of the response header pairs and the
// request's method and content-type. A repeated header's values are joined
// with "," (canon.JoinHeaders): reading only the first would let
// "content-encoding: identity" hide a following "content-encoding: gzip"
// that the client decodes, so a gzip body would pass as not JSON. A list of
// codings is then unsupported and differing lengths conflict, and on_error
// decides.
//
// One pass over the pairs, no map: in a Wasm guest a map of the response
// headers cost more than everything else this does. Only a repeated header
// allocates (its joined value).
func MetaFromHeaders(pairs [][2]string, requestMethod, requestContentType string) ResponseMeta {
	m := ResponseMeta{
		RequestMethod: requestMethod,
		RequestGRPC:   IsGRPCContentType(requestContentType),
	}
	var status string
	var seen [4]bool // content-type, content-encoding, content-length, :status
	for _, kv := range pairs {
		var field *string
		var i int
		switch strings.ToLower(kv[0]) {
		case "content-type":
			field, i = &m.ContentType, 0
		case "content-encoding":
			field, i = &m.ContentEncoding, 1
		case "content-length":
			field, i = &m.ContentLength, 2
		case ":status":
			field, i = &status, 3
		default:
			continue
		}
		if seen[i] {
			*field += "," + kv[1]
			continue
		}
		seen[i], *field = true, kv[1]
	}
	m.Status, _ = strconv.Atoi(status)
	return m
}

// Verdict is the outcome in the one vocabulary (metrics, audit, filter
// state): a replaced body is allowed as filtered, an opted-in pass is
// allowed with its reason, a denial is denied with its reason. counted is
// false for an outcome not subject to filtering (an empty body).
func (o Outcome) Verdict() (decision verdict.Decision, reason verdict.Reason, counted bool) {
	switch o.Action {
	case ActionReplace:
		return verdict.Allow, verdict.Filtered, true
	case ActionPass:
		return verdict.Allow, o.Reason, true
	case ActionDeny:
		return verdict.Deny, o.Reason, true
	}
	return "", "", false
}
