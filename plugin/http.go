package main

import (
	"fmt"
	"net/netip"
	"strings"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/headerview"
	"github.com/apiguard/apiguard/internal/jwtauth"
	"github.com/apiguard/apiguard/internal/ratelimit"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/sdkabi/direct"
	"github.com/apiguard/apiguard/internal/sdkabi/localreply"
	"github.com/apiguard/apiguard/internal/telemetry"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/verdict"
)

var _ types.HttpContext = (*httpContext)(nil)

// stageResult is what a request stage decided.
type stageResult int

const (
	// stageNext: the stage passed; run the next one.
	stageNext stageResult = iota
	// stageWait: the stage is waiting for a callout or shared state; the
	// request stays paused and the stage runs again on resume().
	stageWait
	// stageReplied: the stage answered the stream itself.
	stageReplied
)

// numRequestStages is the number of request stages runStage knows.
const numRequestStages = 2

// runStage runs request stage i. Authentication comes first, so that
// rate-limit keys can use verified claims.
func (h *httpContext) runStage(i int) stageResult {
	switch i {
	case 0:
		return h.authenticate()
	case 1:
		return h.rateLimit()
	}
	return stageNext
}

// httpContext is one HTTP stream. Request callbacks run the request policies
// (authentication, then rate limits); response callbacks run the response
// policies, unless apiguard answered the stream itself.
type httpContext struct {
	types.DefaultHttpContext
	id     uint32
	plugin *pluginContext

	// ownReply is set when apiguard sent a local reply (400/401/403/429/502/503).
	// Envoy sends that reply back through this filter's response callbacks
	// (sendLocalReplyViaFilterChain), and it must not be filtered, charged or
	// judged again.
	ownReply bool
	// paused is set while the request waits in a stage.
	paused bool
	stage  int

	// start is when the request headers arrived, on the plugin's monotonic
	// clock (pluginContext.clock); the wall time is derived at stream end.
	start time.Duration
	path  string // the canonical path judged and forwarded (internal/canon)
	// bodiless: the request headers ended the stream; no body follows.
	bodiless bool
	// route is the name of the jwt rule the request matched, "" until
	// authentication ran (metrics.OtherRoute then).
	route string
	// method is read on first use (requestMethod): no policy of many
	// configurations looks at it, and every read value costs the guest an
	// allocation callback from the host.
	method     string
	methodRead bool
	// clientIP is resolved on first use (clientAddr): most configurations
	// never key on it, and resolving costs a host call per request.
	clientIP         netip.Addr
	clientIPResolved bool
	// clientText is clientIP as text once made (clientIPText).
	clientText string
	// fromSource is set when clientIP came from source.address: clientNet
	// and netKey (the rate limits' client key) are then the worker's
	// clientMemo's, copied (a paused stream keeps its own while other
	// streams change the memo).
	fromSource bool
	clientNet  netip.Prefix
	netKey     string
	headers    headerview.View // the request headers (requestHeaders)
	// pairsBuf is the backing array readRequest decodes the request
	// headers into, kept when the context is reused: the strings live in
	// the host's block, only the slice is the stream's.
	pairsBuf [][2]string
	// respPairsBuf is the same for the response headers the response
	// filter reads.
	respPairsBuf [][2]string
	props        streamProps // host properties read once (stream.go)
	// headerFn is requestHeader as a func value, made once per context
	// and kept when it is reused: a method value made per use allocates.
	headerFn func(name string) (string, bool)
	// The policies' views of the request, filled in place per use: a view
	// built per use would be allocated, for it goes to another package.
	authnReq jwtauth.Request
	rateReq  ratelimit.Request
	routeReq route.Request
	// stageNow is the wall time the request stages judge by in the
	// current run of them (stageTime); zero until read.
	stageNow time.Time
	// shared is set once something outside the stream's callbacks holds
	// the context (a callout's answer closure): it is then never reused.
	shared bool

	// event is the audit record every policy fills as the stream goes, set
	// by the first one (audit): a stream no policy acts on, with no audit
	// trail, never needs one. It points into records, which the pooled
	// context keeps from one stream to the next, so a record is allocated
	// once per context, not per request; nothing keeps it past on_log
	// (the auditor encodes it there).
	event   *audit.Event
	records *streamRecords
	// One field per policy, each owned by its file.
	jwtStream        jwtStream
	rateLimitStream  rateLimitStream
	respFilterStream respfilter.Stream
	inventoryStream  inventoryStream
	telemetryStream  telemetry.Stream
}

func (h *httpContext) OnHttpRequestHeaders(numHeaders int, endOfStream bool) (action types.Action) {
	h.start = h.plugin.clock()
	defer h.timed(telemetry.PhaseRequestHeaders, h.start)
	defer recoverCallback("request headers", func() { action = h.failClosed() })
	h.bodiless = endOfStream
	if !h.readRequest() {
		return types.ActionPause
	}
	return h.runStages()
}

// requestMethod is the :method pseudo-header, read on first use. Envoy
// releases the request headers once the request continues
// (Context::decodeHeaders, continueStream): from then on a read fails with
// BadArgument until on_log, which reads the access-log copy. So the first
// use must come from a request callback or from on_log: the response filter
// reads it in prepareResponseFilter, before the request continues, and the
// audit trail in on_log. No policy changes :method.
func (h *httpContext) requestMethod() string {
	if !h.methodRead {
		h.methodRead = true
		h.method, _ = proxywasm.GetHttpRequestHeader(":method")
	}
	return h.method
}

// clientAddr is the client IP (resolveClientIP), resolved on first use.
// The first use is in the first request stage that keys on it, before any
// stage changes the request headers, or in on_log for the audit trail, where
// Envoy serves the access-log copy of the request headers (never in a
// response callback: the request headers are released by then).
func (h *httpContext) clientAddr() netip.Addr {
	if !h.clientIPResolved {
		h.clientIPResolved = true
		h.clientIP = h.resolveClientIP()
	}
	return h.clientIP
}

// clientIPText is clientAddr as text, "" when unknown, made once per
// stream: the rate limits' client key and the audit event both use it.
func (h *httpContext) clientIPText() string {
	if h.clientText == "" {
		if ip := h.clientAddr(); ip.IsValid() {
			h.clientText = ip.String()
		}
	}
	return h.clientText
}

// clientNetwork is the client's network (clientip.Resolver.Network of
// clientAddr), the unit a lockout counts.
func (h *httpContext) clientNetwork() netip.Prefix {
	ip := h.clientAddr()
	if h.fromSource {
		return h.clientNet
	}
	return h.plugin.settings.ClientIP.Network(ip)
}

// sourceAddressPath is Envoy's source.address property, serialised once.
var sourceAddressPath = direct.NewPath("source", "address")

// resolveClientIP applies the configured trusted_hops to x-forwarded-for
// over the connection's source.address. An unknown address stays invalid;
// policies keyed on it fall back as they document. An address from
// source.address comes through the worker's clientMemo, with its network,
// text and key.
func (h *httpContext) resolveClientIP() netip.Addr {
	r := h.plugin.settings.ClientIP
	if r.TrustedHops > 0 {
		if v, ok := h.requestHeader("x-forwarded-for"); ok {
			// Resolve falls back to the source address only when
			// x-forwarded-for names no client; "" names none.
			if ip, err := r.Resolve("", []string{v}); err == nil {
				return ip
			}
		}
	}
	source, _ := direct.Property(sourceAddressPath)
	m := h.plugin.client.of(source, r)
	h.fromSource, h.clientNet, h.clientText, h.netKey = true, m.network, m.text, m.key
	return m.addr
}

// runStages runs the request stages from the current one until one waits or
// answers. It returns the action for the request headers callback.
func (h *httpContext) runStages() types.Action {
	h.stageNow = time.Time{} // a resumed run judges by its own time
	for h.stage < numRequestStages {
		switch h.runStage(h.stage) {
		case stageWait:
			h.paused = true
			return types.ActionPause
		case stageReplied:
			return types.ActionPause
		}
		h.stage++
	}
	h.prepareResponseFilter()
	h.prepareInventory()
	return types.ActionContinue
}

// stageTime is the wall clock the request stages judge by (token expiry,
// lockouts, rate-limit buckets), read once per run of the stages in one
// host call (direct.Wall): time.Now costs two, and each stage read it.
func (h *httpContext) stageTime() time.Time {
	if h.stageNow.IsZero() {
		h.stageNow = direct.Wall()
	}
	return h.stageNow
}

// resume continues a paused request after a callout or shared-state change
// the current stage waited for. The caller has made this stream the
// effective context.
func (h *httpContext) resume() {
	defer h.timed(telemetry.PhaseRequestHeaders, h.plugin.clock())
	defer recoverCallback("resume", func() { h.failClosed() })
	if !h.paused || h.ownReply {
		return
	}
	if h.runStages() == types.ActionContinue {
		h.paused = false
		if err := proxywasm.ResumeHttpRequest(); err != nil {
			proxywasm.LogErrorf("apiguard: resume request: %v", err)
		}
	}
}

// OnHttpRequestBody holds the body while a request stage is still deciding,
// and otherwise only measures (bytes, time, the masked audit excerpt).
//
// With allow_on_headers_stop_iteration (every example envoy.yaml), PAUSE from
// the headers callback is StopIteration: Envoy still calls the body callback,
// and a Continue from it would send the held headers and the body upstream
// while authentication or a rate-limit callout is still pending. Pausing here
// makes Envoy buffer the body (up to its limit, then 413) until resume().
func (h *httpContext) OnHttpRequestBody(bodySize int, endOfStream bool) (action types.Action) {
	defer h.timed(telemetry.PhaseRequestBody, h.plugin.clock())
	defer recoverCallback("request body", func() { action = h.failClosed() })
	action = h.requestAction()
	h.onRequestBody(bodySize, action)
	return action
}

// OnHttpRequestTrailers removes what must not reach the upstream in a
// trailer (canon.Guard.TrailerRemovals: protected headers, credentials,
// overrides), and holds the trailers while a stage is deciding, for the same
// reason as OnHttpRequestBody. Envoy's request trailer map is writable in
// this callback (Context::decodeTrailers sets request_trailers_).
func (h *httpContext) OnHttpRequestTrailers(numTrailers int) (action types.Action) {
	defer recoverCallback("request trailers", func() { action = h.failClosed() })
	if h.ownReply {
		return types.ActionPause
	}
	if err := h.cleanRequestTrailers(); err != nil {
		// The upstream must not get a forged claim header or an unverified
		// token, even in a trailer.
		proxywasm.LogErrorf("apiguard: request trailers: %v", err)
		return h.failClosed()
	}
	return h.requestAction()
}

// cleanRequestTrailers removes the trailers the guard names.
func (h *httpContext) cleanRequestTrailers() error {
	pairs, err := proxywasm.GetHttpRequestTrailers()
	if err != nil {
		return fmt.Errorf("read: %w", err)
	}
	for _, name := range h.plugin.guard.TrailerRemovals(pairs) {
		if err := proxywasm.RemoveHttpRequestTrailer(name); err != nil {
			return fmt.Errorf("remove %q: %w", name, err)
		}
	}
	return nil
}

// requestAction is the answer of the request body and trailers callbacks:
// pause until every request stage has passed, and never let a request that
// apiguard answered go on.
func (h *httpContext) requestAction() types.Action {
	if h.ownReply || h.stage < numRequestStages {
		return types.ActionPause
	}
	return types.ActionContinue
}

func (h *httpContext) OnHttpResponseHeaders(numHeaders int, endOfStream bool) (action types.Action) {
	defer h.timed(telemetry.PhaseResponseHeaders, h.plugin.clock())
	defer recoverCallback("response headers", func() {
		if !h.ownReply {
			action = h.failClosed()
		}
	})
	h.publishDecision() // before Envoy's access logs run
	if h.ownReply {
		return types.ActionContinue
	}
	h.addRateLimitHeaders()
	action = h.filterResponseHeaders(endOfStream)
	h.observeResponseHeaders(endOfStream)
	return action
}

func (h *httpContext) OnHttpResponseBody(bodySize int, endOfStream bool) (action types.Action) {
	defer h.onResponseBody(h.plugin.clock(), bodySize, &action)
	if h.ownReply {
		return types.ActionContinue
	}
	defer recoverCallback("response body", func() { direct.ReleaseResponseBody(); action = h.failClosed() })
	action = h.filterResponseBody(bodySize, endOfStream)
	if action == types.ActionContinue {
		h.observeResponseBody(bodySize, endOfStream)
	}
	return action
}

// OnHttpResponseTrailers ends a response body that has trailers: its last
// body callback did not see end of stream, so a buffered body is decided here.
func (h *httpContext) OnHttpResponseTrailers(numTrailers int) (action types.Action) {
	defer h.timed(telemetry.PhaseResponseBody, h.plugin.clock())
	if h.ownReply {
		return types.ActionContinue
	}
	defer recoverCallback("response trailers", func() { direct.ReleaseResponseBody(); action = h.failClosed() })
	return h.filterResponseTrailers()
}

func (h *httpContext) OnHttpStreamDone() {
	defer recoverCallback("stream done", nil)
	h.plugin.forgetStream(h.id)
	h.chargeResponseCost()
	h.observe()
	h.finishInventory()
	h.releaseExcerpt()
	h.collectAfterLargeBody()
	// on_log is the stream's last callback; its context goes back to the
	// plugin's pool (not after a panic above: a context left half-finished
	// is not reused).
	ranPolicy := h.event != nil
	h.plugin.recycle(h)
	h.plugin.yieldToCollector(ranPolicy)
}

// reset makes a recycled context a new stream's: every field zero but the
// plugin, the reusable header buffers and the audit record's storage.
func (h *httpContext) reset(contextID uint32) {
	*h = httpContext{id: contextID, plugin: h.plugin, pairsBuf: h.pairsBuf[:0], respPairsBuf: h.respPairsBuf[:0],
		headers: h.headers.Reuse(), headerFn: h.headerFn, records: h.records}
}

// streamRecords is the storage of a stream's audit record: the event, its
// identity and room for the usual request's decisions (authn, two rate
// limits, a response filter).
type streamRecords struct {
	event     audit.Event
	identity  audit.Identity
	decisions [4]audit.Decision
}

// audit returns the stream's audit record, starting it on first use.
func (h *httpContext) audit() *audit.Event {
	if h.event == nil {
		if h.records == nil {
			h.records = &streamRecords{}
		} else {
			*h.records = streamRecords{} // drop the last stream's record
		}
		h.event = &h.records.event
		h.event.Decisions = h.records.decisions[:0]
	}
	return h.event
}

// setIdentity sets the audit record's identity.
func (h *httpContext) setIdentity(id audit.Identity) {
	e := h.audit()
	h.records.identity = id
	e.Identity = &h.records.identity
}

// addDecision appends a policy's decision to the audit record.
func (h *httpContext) addDecision(d audit.Decision) {
	e := h.audit()
	e.Decisions = append(e.Decisions, d)
}

// reply answers the stream with a small JSON error, as apiguard's own reply
// for a request that no policy could judge (PolicyRequest) or that apiguard
// failed closed on (PolicyInternal). These are counted here; the policies
// count their own decisions.
func (h *httpContext) reply(policy verdict.Policy, status uint32, reason verdict.Reason, message string, extra ...[2]string) types.Action {
	h.plugin.metrics.Refused(reason)
	h.addDecision(audit.Decision{Policy: string(policy), Decision: verdict.Deny, Reason: reason})
	body := verdict.ReplyBody(reason, message)
	headers := append([][2]string{{"content-type", "application/json"}}, extra...)
	return h.sendOwnReply(status, reason, headers, body)
}

// grpcRequest reports whether the request is gRPC as Envoy judges it
// (verdict.IsGRPCRequest).
func (h *httpContext) grpcRequest() bool {
	ct, _ := h.requestHeader("content-type")
	return verdict.IsGRPCRequest(ct)
}

// sendOwnReply sends every answer apiguard makes itself (400, 401, 403, 429,
// 502, 503). It marks the stream so that the response callbacks Envoy still
// runs on the reply (sendLocalReplyViaFilterChain) neither filter, charge nor
// judge it again, stops any wait, and tags it with the reason: in the
// x-apiguard-reason header and in Envoy's response code details. The reply
// carries the reason's gRPC code (verdict.GRPCStatus); sendOwnReplyGRPC
// names another.
func (h *httpContext) sendOwnReply(status uint32, reason verdict.Reason, headers [][2]string, body []byte) types.Action {
	return h.sendOwnReplyGRPC(status, reason, verdict.ReplyGRPCCode(reason), headers, body)
}

// sendOwnReplyGRPC is sendOwnReply with an explicit gRPC code, which Envoy
// uses only when the request is gRPC: it then answers HTTP 200 trailers-only
// with grpc-status this code (docs/vocabulary.md, "gRPC codes"). The stream
// is still apiguard's own reply and its deny, whatever status goes out.
func (h *httpContext) sendOwnReplyGRPC(status uint32, reason verdict.Reason, grpc verdict.GRPCCode, headers [][2]string, body []byte) types.Action {
	h.ownReply = true
	h.paused = false
	if h.grpcRequest() {
		h.telemetryStream.BodyReplaced(nil) // trailers-only: the body leaves as grpc-message
	} else {
		h.telemetryStream.BodyReplaced(body)
	}
	headers = append(headers, [2]string{verdict.ReplyHeader, string(reason)})
	if err := localreply.Send(status, verdict.Details(reason), headers, body, int32(grpc)); err != nil {
		proxywasm.LogErrorf("apiguard: send local reply: %v", err)
	}
	return types.ActionPause
}

// requestHeader is one request header as the upstream would get it now,
// by lower-case name: the one view of the request headers per request
// (headerview), read in one host call and kept up to date as the plugin
// changes headers.
func (h *httpContext) requestHeader(name string) (string, bool) {
	if !h.headers.Load(proxywasm.GetHttpRequestHeaders) {
		return "", false
	}
	return h.headers.Get(name)
}

// requestHeaderIs reports whether the held header view has name once, with
// value: then setting it to value changes nothing, and the host call is
// saved. A value with no ',' that the view holds came from one header (the
// view joins repeats with ',').
func (h *httpContext) requestHeaderIs(name, value string) bool {
	if !h.headers.Held() || strings.IndexByte(value, ',') >= 0 {
		return false
	}
	v, ok := h.headers.Get(name)
	return ok && v == value
}

// mayHaveRequestHeader answers from the held header view, and otherwise
// says name may be there: removing a header the view does not hold is a
// host call that changes nothing.
func (h *httpContext) mayHaveRequestHeader(name string) bool {
	if !h.headers.Held() {
		return true
	}
	_, ok := h.headers.Get(name)
	return ok
}

// editRequestHeader makes one change to the request headers through the host
// and, once the host accepted it, to the header view; after a refusal the
// view is dropped. value is unused by remove. A failure is logged under
// policy (what the change was for).
func (h *httpContext) editRequestHeader(policy string, op headerOp, name, value string) error {
	var err error
	switch op {
	case opRemove:
		err = proxywasm.RemoveHttpRequestHeader(name)
	case opReplace:
		err = proxywasm.ReplaceHttpRequestHeader(name, value)
	default:
		err = proxywasm.AddHttpRequestHeader(name, value)
	}
	if err != nil {
		proxywasm.LogWarnf("apiguard: %s: %s request header %q: %v", policy, op, name, err)
		h.headers.Drop()
		return err
	}
	switch op {
	case opRemove:
		h.headers.Remove(name)
	case opReplace:
		h.headers.Replace(name, value)
	default:
		h.headers.Add(name, value)
	}
	return nil
}

// headerOp is a change to a header map, named as in logs.
type headerOp string

const (
	opRemove  headerOp = "remove"
	opReplace headerOp = "set"
	opAdd     headerOp = "add"
)

// failClosed answers a stream whose processing hit an internal error: the
// request never reaches the upstream unchecked.
func (h *httpContext) failClosed() types.Action {
	if h.ownReply {
		return types.ActionPause
	}
	return h.reply(verdict.PolicyInternal, 503, verdict.InternalError, "apiguard could not process the request")
}
