package wasmhost

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/hex"
	"io"
	mathrand "math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero/api"
)

// HTTP streams. Mirrors Envoy's HTTP filter manager
// (source/common/http/filter_manager.cc) for a chain holding this one Wasm
// filter, and Envoy source/extensions/common/wasm/context.cc for the
// callbacks: decodeHeaders/decodeData/decodeTrailers, encode*, log,
// onDestroy (on_done, on_delete), continueStream, sendLocalResponse,
// failStream.

// DetailsHeader carries Envoy's response code details (for example
// "wasm_fail_stream", "request_payload_too_large" or the plugin's own
// details) on responses the host or the plugin made, so tests can read them.
const DetailsHeader = "X-Wasmhost-Details"

// Envoy response code details used by the host.
const (
	detailsWasmFailStream    = "wasm_fail_stream"
	detailsRequestTooLarge   = "request_payload_too_large"
	detailsResponseTooLarge  = "response_payload_too_large"
	detailsStreamIdleTimeout = "stream_idle_timeout"
	detailsResponseTimeout   = "response_timeout"
	detailsUpstreamReset     = "upstream_reset_before_response_started{connection_termination}"
	bodyUpstreamReset        = "upstream connect error or disconnect/reset before headers. reset reason: connection termination"
)

const (
	fnContinueStream    = "proxy_continue_stream"
	fnCloseStream       = "proxy_close_stream"
	fnSendLocalResponse = "proxy_send_local_response"
)

// Middleware returns an http.Handler that runs every request through the
// plugin, in front of upstream.
func (p *Plugin) Middleware(upstream http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { p.serve(w, r, upstream) })
}

// localReply is a pending proxy_send_local_response or a host-made reply.
type localReply struct {
	code    int
	body    []byte
	headers []headerKV
	details string
	// grpcStatus is proxy_send_local_response's grpc_status when it named a
	// known code (hasGRPCStatus); host-made replies name none.
	grpcStatus    int
	hasGRPCStatus bool
	// grpc and head say the reply answers a gRPC (isGRPCRequest) or HEAD
	// request: a gRPC one becomes a trailers-only response (grpcreply.go).
	grpc, head bool
}

// forRequest records what of the request shapes the reply: Envoy decides
// gRPC and HEAD on the request headers as the filter received them.
func (lr *localReply) forRequest(r *http.Request) *localReply {
	lr.grpc, lr.head = isGRPCRequest(r), r.Method == http.MethodHead
	return lr
}

// sentBody is the body the client gets: none for a gRPC trailers-only reply.
func (lr *localReply) sentBody() []byte {
	if lr.grpc {
		return nil
	}
	return lr.body
}

// replaceAllEmptySpace mirrors Envoy's StringUtil::replaceAllEmptySpace:
// each of " \t\f\v\n\r" becomes "_".
func replaceAllEmptySpace(s string) string {
	if !strings.ContainsAny(s, " \t\f\v\n\r") {
		return s
	}
	return strings.Map(func(r rune) rune {
		switch r {
		case ' ', '\t', '\f', '\v', '\n', '\r':
			return '_'
		}
		return r
	}, s)
}

// stream is one HTTP request/response pair on one VM.
type stream struct {
	p        *Plugin
	v        *vm
	r        *http.Request
	w        http.ResponseWriter
	ctx      *hostContext
	ctxStore hostContext // ctx points here: pooled with the stream

	arena                                              []byte
	reqHeaders, reqTrailers, respHeaders, respTrailers headerMap
	reqBody, respBody                                  []byte
	reqBodyVisible, respBodyVisible                    bool // in the body callback
	// reqBuffering and respBuffering mirror Envoy's buffering_*_body_: the
	// filter paused a body callback, so the body buffered so far stays
	// readable and writable (Context::getBuffer), trailers callback included.
	reqBuffering, respBuffering bool
	// logPhase is set during on_log: header reads go to the access-log
	// copies (Context::log, getConstMap).
	logPhase                        bool
	bodyEOS                         bool           // the running body callback has end of stream
	upw                             upstreamWriter // the upstream handler's writer
	enc                             encoder        // the response passing through the filter
	upstreamBody                    bytes.Buffer
	reqBodyChanged, respBodyChanged bool

	// Deferred actions set by host calls while the VM lock is held; the
	// stream goroutine moves local and reset to gotLocal and gotReset under
	// the lock. Everything a host call can reach (header maps, bodies,
	// details) is touched by the stream goroutine only with the VM lock
	// held: a callout or queue callback on another goroutine may act on
	// this stream through proxy_set_effective_context.
	local                     *localReply
	continueReq, continueResp bool
	reset                     bool
	gotLocal                  *localReply
	gotReset                  bool
	wake                      chan struct{}

	origPath    string
	added       []headerKV // headers the connection manager added, canonical keys
	upReq       http.Request
	upHeader    http.Header // upReq's header map when the host had to build one
	upVals      []string    // values of the added headers in upHeader
	respSrc     http.Header // upstream response headers, for the unchanged fast path
	respStarted bool        // response headers went to the client
	details     string
	start       time.Time
	chunk       []byte
	br          *bufio.Reader
}

var streamPool = sync.Pool{New: func() any {
	return &stream{wake: make(chan struct{}, 1), chunk: nil}
}}

func (s *stream) wakeUp() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

func (s *stream) bodyChanged(t bufferType) {
	if t == bufferHTTPRequestBody {
		s.reqBodyChanged = true
	} else {
		s.respBodyChanged = true
	}
}

func (p *Plugin) serve(w http.ResponseWriter, r *http.Request, upstream http.Handler) {
	v := p.pickVM()
	if v == nil {
		p.serveWithoutVM(w, r, upstream)
		return
	}
	s := streamPool.Get().(*stream)
	s.p, s.v, s.r, s.w, s.start = p, v, r, w, time.Now()
	defer func() {
		if rec := recover(); rec != nil {
			// A reset (http.ErrAbortHandler): Envoy still logs and destroys
			// the filter. The stream is not reused.
			if s.ctx != nil {
				s.finish()
			}
			panic(rec)
		}
		s.release()
	}()
	s.run(upstream)
}

// serveWithoutVM applies the failure policy when no healthy VM is available.
// Mirrors Envoy wasm_filter.cc createFilter: fail open skips the filter;
// fail closed adds an empty context whose callbacks fail the stream.
func (p *Plugin) serveWithoutVM(w http.ResponseWriter, r *http.Request, upstream http.Handler) {
	if p.cfg.FailurePolicy == FailOpen {
		upstream.ServeHTTP(w, r)
		return
	}
	writeDirect(w, (&localReply{code: http.StatusServiceUnavailable, details: detailsWasmFailStream}).forRequest(r))
}

func (s *stream) release() {
	s.reqHeaders.reset()
	s.reqTrailers.reset()
	s.respHeaders.reset()
	s.respTrailers.reset()
	s.upstreamBody.Reset()
	if s.upstreamBody.Cap() > 1<<20 {
		s.upstreamBody = bytes.Buffer{}
	}
	wake, chunk, br := s.wake, s.chunk, s.br
	select {
	case <-wake:
	default:
	}
	if br != nil {
		br.Reset(nil)
	}
	// The arena is reused: strings in it never leave the stream (keys are
	// re-canonicalised into new strings before reaching net/http).
	arena := s.arena[:0]
	if cap(arena) > 64<<10 {
		arena = nil
	}
	// set_property values: the map is kept, emptied, for the next stream.
	props := s.ctxStore.props
	if len(props) > 64 {
		props = nil
	}
	clear(props)
	upHeader, upVals := s.upHeader, s.upVals[:0]
	clear(upHeader)
	clear(s.upVals[:cap(s.upVals)])
	upw := upstreamWriter{header: s.upw.header, buf: s.upw.buf[:0]}
	if cap(upw.buf) > 64<<10 {
		upw.buf = nil
	}
	*s = stream{wake: wake, chunk: chunk, br: br, upw: upw, added: s.added[:0], arena: arena,
		upHeader: upHeader, upVals: upVals, ctxStore: hostContext{props: props},
		reqHeaders: headerMap{kv: s.reqHeaders.kv}, respHeaders: headerMap{kv: s.respHeaders.kv},
		upstreamBody: s.upstreamBody}
	streamPool.Put(s)
}

// invoke calls one stream callback with the VM lock held and reports the
// action; ok is false if the VM trapped (the stream is then failed).
func (s *stream) invoke(fn api.Function, body *bool, args ...uint64) (action, bool) {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	s.continueReq, s.continueResp = false, false
	if body != nil {
		*body = true
		defer func() { *body = false }()
	}
	copy(v.stack[:], args)
	res, err := v.callback(s.ctx, fn, 0)
	s.takePending()
	if err != nil {
		return actionContinue, false
	}
	if s.gotLocal != nil {
		// sendLocalResponse sets stopNextIteration: the callback's answer is ignored.
		return actionPause, true
	}
	return action(uint32(res)), true
}

// invokeHeaders calls a headers or trailers callback with m live, as
// Envoy's decodeHeaders/encodeHeaders/decodeTrailers/encodeTrailers point
// request_headers_ (...) at the map for the call, and reset the pointer
// when the callback returns Continue: from then on the guest can neither
// read nor change the map.
func (s *stream) invokeHeaders(m *headerMap, fn api.Function, args ...uint64) (action, bool) {
	s.locked(func() { m.live = true })
	act, ok := s.invoke(fn, nil, args...)
	if ok && act == actionContinue {
		s.locked(func() { m.live = false })
	}
	return act, ok
}

// takePending moves deferred actions to the stream goroutine. Caller holds v.mu.
func (s *stream) takePending() {
	if s.local != nil {
		s.gotLocal, s.local = s.local, nil
	}
	if s.reset {
		s.gotReset, s.reset = true, false
	}
}

// locked runs f with the VM lock held.
func (s *stream) locked(f func()) {
	s.v.mu.Lock()
	defer s.v.mu.Unlock()
	f()
}

func boolArg(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// run drives the whole stream. Any path that ends the stream early returns
// once the reply went out.
func (s *stream) run(upstream http.Handler) {
	v := s.v
	v.mu.Lock()
	if v.isFailed() || v.closed || v.root == nil {
		v.mu.Unlock()
		s.p.serveWithoutVM(s.w, s.r, upstream)
		return
	}
	s.ctxStore = hostContext{id: v.allocID(), rootID: v.root.id, s: s, props: s.ctxStore.props}
	s.ctx = &s.ctxStore
	v.contexts[s.ctx.id] = s.ctx
	v.root.streams++
	v.stack[0], v.stack[1] = uint64(s.ctx.id), uint64(s.ctx.rootID)
	_, err := v.callback(s.ctx, v.fn.contextCreate, 0)
	if err != nil {
		delete(v.contexts, s.ctx.id)
		v.mu.Unlock()
		s.failStream()
		return
	}
	v.mu.Unlock()
	s.decode(upstream)
	s.finish()
}

// decode runs the request callbacks, then the upstream, then encode.
func (s *stream) decode(upstream http.Handler) {
	r, v := s.r, s.v
	s.locked(s.fillRequestHeaders)
	eos := r.Body == nil || r.Body == http.NoBody || r.ContentLength == 0
	act, ok := s.invokeHeaders(&s.reqHeaders, v.fn.requestHeaders, uint64(s.ctx.id), uint64(len(s.reqHeaders.kv)), boolArg(eos))
	if !s.check(ok, true) {
		return
	}
	held := false
	if act == actionPause {
		if eos || !s.p.cfg.AllowOnHeadersStopIteration {
			// StopAllIterationAndWatermark: the body is not read (watermark)
			// and no body callback runs until the guest continues.
			if !s.wait(streamRequest) {
				return
			}
		} else {
			held = true // StopIteration: body callbacks still run
		}
	}
	if !eos {
		if !s.decodeBody(held) {
			return
		}
	}
	s.callUpstream(upstream)
}

// decodeBody feeds the request body in chunks; PAUSE buffers
// (StopIterationAndBuffer) up to BufferLimit, past which Envoy answers 413.
func (s *stream) decodeBody(held bool) bool {
	v, r := s.v, s.r
	if s.br == nil {
		s.br = bufio.NewReaderSize(r.Body, 4096)
	} else {
		s.br.Reset(r.Body)
	}
	if cap(s.chunk) < s.p.cfg.ChunkSize {
		s.chunk = make([]byte, s.p.cfg.ChunkSize)
	}
	for {
		// Like Envoy's HTTP/1 codec (ServerConnectionImpl::onBody,
		// onMessageComplete), data comes without end of stream, and the end
		// as an empty chunk of its own.
		n, err := io.ReadFull(s.br, s.chunk[:s.p.cfg.ChunkSize])
		eos := n == 0 && err != nil
		if err != nil && err != io.EOF && err != io.ErrUnexpectedEOF {
			// The client went away mid-body: a downstream reset.
			s.resetStream()
			return false
		}
		if eos && len(r.Trailer) > 0 {
			s.locked(func() { s.fillTrailers(&s.reqTrailers, r.Trailer) })
		}
		hasTrailers := s.reqTrailers.present && len(s.reqTrailers.kv) > 0
		if s.reqBuffering {
			s.reqBody = append(s.reqBody, s.chunk[:n]...)
			if len(s.reqBody) > s.p.cfg.BufferLimit {
				s.localViaFilterChain(&localReply{code: http.StatusRequestEntityTooLarge,
					body: []byte("Payload Too Large"), details: detailsRequestTooLarge})
				return false
			}
		} else {
			s.reqBody = s.chunk[:n:n]
		}
		if n > 0 || (eos && !hasTrailers) {
			s.locked(func() { s.bodyEOS = eos && !hasTrailers })
			act, ok := s.invoke(v.fn.requestBody, &s.reqBodyVisible, uint64(s.ctx.id), uint64(len(s.reqBody)), boolArg(eos && !hasTrailers))
			s.locked(func() { s.bodyEOS = false })
			if !s.check(ok, true) {
				return false
			}
			if act == actionContinue {
				s.upstreamBody.Write(s.reqBody)
				held = false
				s.locked(func() { s.reqBody, s.reqBuffering = nil, false })
			} else if !s.reqBuffering {
				s.locked(func() {
					s.reqBuffering = true
					s.reqBody = append([]byte(nil), s.reqBody...)
				})
			}
		}
		if eos {
			break
		}
		if err != nil {
			// A short read is the last data; the empty end follows.
			continue
		}
	}
	if s.reqTrailers.present && len(s.reqTrailers.kv) > 0 {
		act, ok := s.invokeHeaders(&s.reqTrailers, v.fn.requestTrailers, uint64(s.ctx.id), uint64(len(s.reqTrailers.kv)))
		if !s.check(ok, true) {
			return false
		}
		// Continue from trailers releases what the filter held
		// (ActiveStreamFilterBase::commonHandleAfterTrailersCallback).
		held = act == actionPause
	} else if s.reqBuffering {
		held = true
	}
	if held {
		if !s.wait(streamRequest) {
			return false
		}
	}
	if len(s.reqBody) > 0 {
		s.upstreamBody.Write(s.reqBody)
	}
	s.locked(func() { s.reqBody, s.reqBuffering = nil, false })
	return true
}

// check handles what a callback left behind: a trap, a local reply or a
// reset. It reports whether the stream goes on.
func (s *stream) check(ok, decoding bool) bool {
	if !ok {
		s.failStream()
		return false
	}
	if s.gotReset {
		s.resetStream()
		return false
	}
	if s.gotLocal != nil {
		lr := s.gotLocal
		s.gotLocal = nil
		if decoding {
			s.localViaFilterChain(lr)
		} else {
			s.localDirect(lr)
		}
		return false
	}
	return true
}

// wait blocks, without the VM lock, until the guest continues the paused
// direction, replies locally, the VM traps, the client leaves or the
// stream times out.
func (s *stream) wait(dir streamType) bool {
	timer := time.NewTimer(s.p.cfg.StreamTimeout)
	defer timer.Stop()
	decoding := dir == streamRequest
	for {
		cont, ok := s.pendingActions(decoding)
		if !ok {
			return false
		}
		if cont {
			return true
		}
		select {
		case <-s.wake:
		case <-timer.C:
			s.timedOut(decoding)
			return false
		case <-s.r.Context().Done():
			s.resetStream()
			return false
		}
	}
}

// timedOut answers a stream that waited past StreamTimeout: Envoy's stream
// idle timeout while decoding (408 through the filter chain), its route
// timeout while encoding (504, or a reset once the response started).
func (s *stream) timedOut(decoding bool) {
	if decoding {
		s.localViaFilterChain(&localReply{code: http.StatusRequestTimeout,
			body: []byte("stream timeout"), details: detailsStreamIdleTimeout})
		return
	}
	s.localDirect(&localReply{code: http.StatusGatewayTimeout,
		body: []byte("upstream request timeout"), details: detailsResponseTimeout})
}

// waitResponse is wait for the response direction.
func (s *stream) waitResponse() bool { return s.wait(streamResponse) }

// pendingResponseActions is pendingActions for the response direction.
func (s *stream) pendingResponseActions() (cont, ok bool) { return s.pendingActions(false) }

// pendingActions acts on what other contexts left for this stream while it
// waited: a trap fails it, a local reply or reset ends it (ok false); cont
// reports a continue_stream of the direction.
func (s *stream) pendingActions(decoding bool) (cont, ok bool) {
	v := s.v
	v.mu.Lock()
	failed := v.isFailed()
	cont = s.continueReq
	if !decoding {
		cont = s.continueResp
	}
	s.takePending()
	pending := s.gotLocal != nil || s.gotReset
	if cont {
		s.continueReq, s.continueResp = false, false
	}
	v.mu.Unlock()
	switch {
	case failed:
		s.failStream()
		return false, false
	case pending:
		s.check(true, decoding)
		return false, false
	}
	return cont, true
}

func (s *stream) fillRequestHeaders() {
	r := s.r
	h := &s.reqHeaders
	h.present = true
	// An absolute-form target ("http://host/p") becomes :path "/p", as
	// Envoy's HTTP/1 codec does.
	path := r.RequestURI
	if path == "" || path[0] != '/' {
		path = r.URL.RequestURI()
	}
	s.origPath = path
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	h.add(":authority", r.Host)
	h.add(":path", path)
	h.add(":method", r.Method)
	h.add(":scheme", scheme)
	s.arena = h.fillFromHTTP(r.Header, s.arena)
	if s.p.cfg.NoConnectionManagerHeaders {
		return
	}
	// Envoy's connection manager (ConnectionManagerUtility::
	// mutateRequestHeaders) adds these before any filter runs.
	if _, ok := h.get("x-forwarded-proto"); !ok {
		h.add("x-forwarded-proto", scheme)
		s.added = append(s.added, headerKV{"X-Forwarded-Proto", scheme})
	}
	if _, ok := h.get("x-request-id"); !ok {
		id := newRequestID()
		h.add("x-request-id", id)
		s.added = append(s.added, headerKV{"X-Request-Id", id})
	}
	if s.p.cfg.UseRemoteAddress {
		s.appendXFF(h)
	}
}

// appendXFF appends the peer address to x-forwarded-for, as Envoy's
// connection manager does with use_remote_address: true
// (ConnectionManagerUtility::mutateRequestHeaders → Utility::appendXff):
// the address goes after a ',' (no space) on the first x-forwarded-for
// entry, or becomes a new entry. The map is marked changed so the upstream
// gets the entries as the filter saw them.
func (s *stream) appendXFF(h *headerMap) {
	host, _, err := net.SplitHostPort(s.r.RemoteAddr)
	if err != nil {
		return // not an IP peer: Envoy appends nothing
	}
	h.dirty = true
	for i := range h.kv {
		if h.kv[i].k == "x-forwarded-for" {
			h.kv[i].v += "," + host
			return
		}
	}
	h.add("x-forwarded-for", host)
}

// newRequestID returns a random (version 4) UUID, as Envoy's default
// request ID extension makes.
func newRequestID() string {
	// Envoy's UUIDs come from a buffered random generator, not a syscall
	// per request; the runtime's ChaCha8 source is the Go equivalent.
	var b [16]byte
	binary.LittleEndian.PutUint64(b[:8], mathrand.Uint64())
	binary.LittleEndian.PutUint64(b[8:], mathrand.Uint64())
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	var out [36]byte
	hex.Encode(out[0:8], b[0:4])
	out[8] = '-'
	hex.Encode(out[9:13], b[4:6])
	out[13] = '-'
	hex.Encode(out[14:18], b[6:8])
	out[18] = '-'
	hex.Encode(out[19:23], b[8:10])
	out[23] = '-'
	hex.Encode(out[24:], b[10:])
	return string(out[:])
}

func (s *stream) fillTrailers(m *headerMap, t http.Header) {
	m.present = true
	for k, vs := range t {
		var lk string
		lk, s.arena = lowerInto(s.arena, k)
		for _, v := range vs {
			m.add(lk, v)
		}
	}
}

// upstreamRequest builds the request the upstream sees, copying headers
// only if the guest changed them.
//
// The request, its header map and the added headers' value slices belong to
// the pooled stream and are reused by later streams: like net/http's own
// request, they are the upstream's only until its ServeHTTP returns.
func (s *stream) upstreamRequest() *http.Request {
	r := s.r
	r2 := &s.upReq
	*r2 = *r
	if !s.reqHeaders.dirty && len(s.added) > 0 {
		// A map sharing the value slices: the request's own map stays untouched.
		h := s.upstreamHeader()
		for k, vs := range r.Header {
			h[k] = vs
		}
		s.upVals = s.upVals[:0]
		for _, kv := range s.added {
			s.upVals = append(s.upVals, kv.v)
		}
		for i, kv := range s.added {
			h[kv.k] = s.upVals[i : i+1 : i+1] // capped: an append copies
		}
		r2.Header = h
	}
	if s.reqHeaders.dirty {
		h := s.upstreamHeader()
		s.reqHeaders.toHTTP(h)
		r2.Header = h
		if m, ok := s.reqHeaders.get(":method"); ok {
			r2.Method = m
		}
		if a, ok := s.reqHeaders.get(":authority"); ok {
			r2.Host = a
		}
		if p, ok := s.reqHeaders.get(":path"); ok && p != s.origPath {
			if u, err := url.ParseRequestURI(p); err == nil {
				r2.URL, r2.RequestURI = u, p
			}
		}
	}
	if r.Body == nil || r.Body == http.NoBody {
		r2.Body = http.NoBody
	} else {
		r2.Body = io.NopCloser(bytes.NewReader(s.upstreamBody.Bytes()))
		r2.ContentLength = int64(s.upstreamBody.Len())
	}
	if s.reqTrailers.present {
		t := make(http.Header, len(s.reqTrailers.kv))
		s.reqTrailers.toHTTP(t)
		r2.Trailer = t
	}
	return r2
}

// upstreamHeader returns the stream's reusable upstream header map, empty.
func (s *stream) upstreamHeader() http.Header {
	if s.upHeader == nil {
		s.upHeader = make(http.Header, 16)
	}
	clear(s.upHeader)
	return s.upHeader
}

// callUpstream runs the upstream handler, which drives the response
// callbacks as it writes (upstreamWriter), as Envoy's router hands each
// piece of an upstream response to the filter chain when it arrives. An
// upstream that resets before its headers is Envoy's router local reply,
// 503, which passes through the filter chain (Router::Filter::
// onUpstreamReset, sendLocalReply); after them, the stream is reset.
func (s *stream) callUpstream(upstream http.Handler) {
	var r2 *http.Request
	s.locked(func() { r2 = s.upstreamRequest() })
	w := &s.upw
	h := w.header
	if h == nil {
		h = make(http.Header)
	}
	clear(h)
	*w = upstreamWriter{s: s, header: h, head: r2.Method == http.MethodHead, declared: -1}
	ok := s.serveUpstream(upstream, r2, w)
	switch {
	case w.gone:
		// The stream ended while the upstream wrote; a reset that Flush
		// stopped unwinds from here, the handler's goroutine.
		if s.gotReset {
			panic(http.ErrAbortHandler)
		}
	case !ok:
		w.reset()
	default:
		w.returned()
	}
}

// serveUpstream runs the handler. A panic is an upstream reset, unless it is
// this stream's own reset unwinding through the handler.
func (s *stream) serveUpstream(upstream http.Handler, r2 *http.Request, w *upstreamWriter) (ok bool) {
	defer func() {
		if rec := recover(); rec != nil {
			if s.gotReset {
				panic(rec)
			}
			ok = false
		}
	}()
	upstream.ServeHTTP(w, r2)
	return true
}

// localViaFilterChain mirrors FilterManager::sendLocalReplyViaFilterChain:
// a reply made while decoding passes through this filter's own encode
// callbacks, so the plugin sees it.
func (s *stream) localViaFilterChain(lr *localReply) {
	lr.forRequest(s.r)
	s.locked(func() {
		s.details = lr.details
		s.respHeaders.reset()
		s.respTrailers.reset()
		s.respHeaders.present = true
		s.respSrc = nil
		s.respHeaders.setLocalReply(lr)
	})
	body := lr.sentBody()
	s.encode(len(body) == 0, body)
}

// setLocalReply fills m with the headers of a local reply as Envoy's
// Utility::prepareLocalReply builds them for a non-gRPC reply without a
// local_reply_config (source/common/http/utility.cc): :status, then the
// plugin's headers as given (modify_headers, lower-cased keys), then, only
// when there is a body, content-length set to its size and content-type
// text/plain unless the plugin gave one. A reply without a body carries
// neither header, even if the plugin gave them. A reply to a gRPC request is
// built by setGRPCLocalReply instead.
func (m *headerMap) setLocalReply(lr *localReply) {
	if lr.grpc {
		m.setGRPCLocalReply(lr)
		return
	}
	m.present = true
	m.add(":status", statusText(lr.code))
	for _, h := range lr.headers {
		m.add(strings.ToLower(h.k), h.v)
	}
	if len(lr.body) == 0 {
		m.remove("content-length")
		m.remove("content-type")
		return
	}
	m.replace("content-length", strconv.Itoa(len(lr.body)))
	if _, ok := m.get("content-type"); !ok {
		m.add("content-type", "text/plain")
	}
}

// localDirect mirrors FilterManager::sendDirectLocalReply: a reply made
// while encoding skips the filters; once headers went out, Envoy resets.
func (s *stream) localDirect(lr *localReply) {
	if s.respStarted {
		s.resetStream()
		return
	}
	lr.forRequest(s.r)
	s.locked(func() {
		s.details = lr.details
		// What Envoy's access log then shows as the response headers.
		s.respHeaders.reset()
		s.respTrailers.reset()
		s.respSrc = nil
		s.respHeaders.setLocalReply(lr)
	})
	s.respStarted = true
	writeDirect(s.w, lr)
}

func writeDirect(w http.ResponseWriter, lr *localReply) {
	if lr.code < 100 || lr.code > 999 {
		// No valid :status to send: what Envoy's codec checks answer.
		lr = &localReply{code: http.StatusBadGateway, body: []byte(msgMissingStatus), details: detailsMissingStatus,
			grpc: lr.grpc, head: lr.head}
	}
	h := w.Header()
	clear(h)
	var m headerMap
	m.setLocalReply(lr)
	m.toHTTP(h)
	if lr.details != "" {
		h.Set(DetailsHeader, lr.details)
	}
	code, _ := responseStatus(&m)
	w.WriteHeader(code)
	_, _ = w.Write(lr.sentBody())
}

// encode runs the response callbacks over a local reply whose headers are
// in s.respHeaders, as Envoy's filter manager does for this one filter, and
// writes to the client as the filter releases it: Envoy's sendLocalReply
// encodes the headers, then the whole body at once with end of stream.
func (s *stream) encode(headersEOS bool, body []byte) {
	e := &s.enc
	*e = encoder{s: s}
	if !e.headers(headersEOS) || headersEOS {
		return
	}
	if e.stopAll {
		// The reply is complete: the filter manager holds it all.
		e.pending, e.pendingEnd = body, true
		if s.waitResponse() {
			e.resumeStopAll()
		}
		return
	}
	if e.body(body, true) {
		e.finish()
	}
}

// encoder is the state of one response passing through the filter.
type encoder struct {
	s       *stream
	held    bool // headers held (StopIteration); body callbacks run
	stopAll bool // StopAllIterationAndWatermark: nothing reaches the filter
	// pending is what the filter manager buffered while stopAll held the
	// filter; pendingEnd is set when the response ended meanwhile.
	pending    []byte
	pendingEnd bool
	trailers   bool // the response ended with trailers
	released   bool // the trailers callback continued: nothing is held
	// flush sends body chunks on at once: the upstream flushed them (the
	// last write of a handler goes out with the end of the response).
	flush bool
}

// headers runs on_response_headers over s.respHeaders (eos: no body
// follows). It reports whether the stream goes on; with eos it also
// finishes the response.
func (e *encoder) headers(eos bool) bool {
	s, v := e.s, e.s.v
	act, ok := s.invokeHeaders(&s.respHeaders, v.fn.responseHeaders, uint64(s.ctx.id), uint64(len(s.respHeaders.kv)), boolArg(eos))
	if !s.check(ok, false) {
		return false
	}
	if act == actionPause {
		if eos || !s.p.cfg.AllowOnHeadersStopIteration {
			e.stopAll = true // StopAllIterationAndWatermark
		} else {
			e.held = true // StopIteration: body callbacks still run
		}
	} else if !s.sendHeaders() {
		return false
	}
	if eos {
		if e.stopAll && !s.waitResponse() {
			return false
		}
		return s.sendHeaders()
	}
	return true
}

// data takes one piece of the upstream's body. While the filter holds
// everything, the filter manager buffers it, up to BufferLimit (watermark:
// past it the upstream waits, here inside its write, until the filter
// continues).
func (e *encoder) data(b []byte) bool {
	s := e.s
	if e.stopAll {
		cont, ok := s.pendingResponseActions()
		if !ok {
			return false
		}
		if !cont {
			e.pending = append(e.pending, b...)
			if len(e.pending) < s.p.cfg.BufferLimit {
				return true
			}
			if !s.waitResponse() {
				return false
			}
			return e.resumeStopAll()
		}
		if !e.resumeStopAll() {
			return false
		}
	}
	for off := 0; off < len(b); {
		end := min(off+s.p.cfg.ChunkSize, len(b))
		if !e.body(b[off:end:end], false) {
			return false
		}
		off = end
	}
	return true
}

// end takes the end of the upstream response: its trailers, or an empty
// end-of-stream body chunk.
func (e *encoder) end(trailers http.Header) bool {
	s := e.s
	if len(trailers) > 0 {
		s.locked(func() { s.fillTrailers(&s.respTrailers, trailers) })
		e.trailers = true
	}
	if e.stopAll {
		e.pendingEnd = true
		if !s.waitResponse() {
			return false
		}
		return e.resumeStopAll()
	}
	if e.trailers {
		if !e.trailersCallback() {
			return false
		}
	} else if !e.body(nil, true) {
		return false
	}
	e.finish()
	return true
}

// resumeStopAll mirrors ActiveStreamFilterBase::commonContinue after
// StopAll: the headers go on, then the filter gets what was buffered in one
// body callback (CanStartFromCurrent), then the trailers.
func (e *encoder) resumeStopAll() bool {
	s := e.s
	e.stopAll = false
	if !s.sendHeaders() {
		return false
	}
	pending, end := e.pending, e.pendingEnd
	e.pending = nil
	if len(pending) > 0 || (end && !e.trailers) {
		if !e.body(pending, end && !e.trailers) {
			return false
		}
	}
	if end {
		if e.trailers && !e.trailersCallback() {
			return false
		}
		e.finish()
	}
	return true
}

// body runs one response body callback; PAUSE buffers
// (StopIterationAndBuffer) up to BufferLimit, past which Envoy answers 500,
// or resets a response that already started.
func (e *encoder) body(chunk []byte, eos bool) bool {
	s, v := e.s, e.s.v
	if s.respBuffering {
		s.respBody = append(s.respBody, chunk...)
		if len(s.respBody) > s.p.cfg.BufferLimit {
			s.localDirect(&localReply{code: http.StatusInternalServerError,
				body: []byte("Internal Server Error"), details: detailsResponseTooLarge})
			return false
		}
	} else {
		s.respBody = chunk
	}
	s.locked(func() { s.bodyEOS = eos })
	act, ok := s.invoke(v.fn.responseBody, &s.respBodyVisible, uint64(s.ctx.id), uint64(len(s.respBody)), boolArg(eos))
	s.locked(func() { s.bodyEOS = false })
	if !s.check(ok, false) {
		return false
	}
	if act == actionContinue {
		if e.held {
			if !s.sendHeaders() {
				return false
			}
			e.held = false
		}
		s.writeBody(s.respBody)
		if e.flush && !eos && len(s.respBody) > 0 {
			s.flushBody()
		}
		s.locked(func() { s.respBody, s.respBuffering = nil, false })
	} else if !s.respBuffering {
		s.locked(func() {
			s.respBuffering = true
			// Capped chunks: a copy, so a guest append cannot write over
			// the upstream's next write.
			s.respBody = append([]byte(nil), s.respBody...)
		})
	}
	return true
}

// trailersCallback runs on_response_trailers. A body the filter buffered is
// readable and writable there (Context::getBuffer with
// buffering_response_body_).
func (e *encoder) trailersCallback() bool {
	s, v := e.s, e.s.v
	act, ok := s.invokeHeaders(&s.respTrailers, v.fn.responseTrailers, uint64(s.ctx.id), uint64(len(s.respTrailers.kv)))
	if !s.check(ok, false) {
		return false
	}
	// Continue from trailers releases the held headers and the buffered
	// body (ActiveStreamFilterBase::commonHandleAfterTrailersCallback).
	e.held = act == actionPause
	e.released = !e.held
	return true
}

// finish waits for the filter to release what it still holds at the end of
// the response, then sends it.
func (e *encoder) finish() {
	s := e.s
	if e.held || (s.respBuffering && !e.released) {
		if !s.waitResponse() {
			return
		}
	}
	if !s.sendHeaders() {
		return
	}
	if len(s.respBody) > 0 {
		s.writeBody(s.respBody)
	}
	s.locked(func() { s.respBody, s.respBuffering = nil, false })
	if len(s.respTrailers.kv) > 0 { // from the upstream, or added by the plugin
		s.locked(func() {
			h := s.w.Header()
			for _, kv := range s.respTrailers.kv {
				h.Add(http.TrailerPrefix+kv.k, kv.v)
			}
		})
	}
}

// sendHeaders writes the (possibly changed) response headers to the client.
func (s *stream) sendHeaders() bool {
	if s.respStarted {
		return true
	}
	s.v.mu.Lock()
	code, ok := responseStatus(&s.respHeaders)
	if !ok {
		// Mirrors FilterManager::encodeHeaders' checkRequiredResponseHeaders.
		s.v.mu.Unlock()
		s.localDirect(&localReply{code: http.StatusBadGateway, body: []byte(msgMissingStatus), details: detailsMissingStatus})
		return false
	}
	s.respStarted = true
	h := s.w.Header()
	if s.respSrc != nil && !s.respHeaders.dirty {
		for k, vs := range s.respSrc {
			h[k] = vs
		}
	} else {
		s.respHeaders.toHTTP(h)
	}
	if s.details != "" {
		h.Set(DetailsHeader, s.details)
	}
	// HTTP/1.1 trailers need chunked encoding: declare them up front.
	for _, kv := range s.respTrailers.kv {
		h.Add("Trailer", http.CanonicalHeaderKey(kv.k))
	}
	chunked := s.upw.sentHeaders && len(h["Content-Length"]) == 0
	s.v.mu.Unlock()
	s.w.WriteHeader(code)
	if chunked {
		// A response without a length streams chunked, as Envoy sends it
		// on; trailers known only at its end can then follow.
		s.flushBody()
	}
	return true
}

// Envoy's answer when a filter removed or broke :status.
const (
	msgMissingStatus     = "missing required header: :status"
	detailsMissingStatus = "filter_removed_required_response_headers{missing_required_header:_:status}"
)

// statusStrings caches the :status values of common codes.
var statusStrings = func() (t [600]string) {
	for c := 100; c < len(t); c++ {
		t[c] = strconv.Itoa(c)
	}
	return t
}()

func statusText(code int) string {
	if code >= 100 && code < len(statusStrings) {
		return statusStrings[code]
	}
	return strconv.Itoa(code)
}

// responseStatus reads a valid :status (three digits, 100-999).
func responseStatus(h *headerMap) (int, bool) {
	st, ok := h.get(":status")
	if !ok || len(st) != 3 {
		return 0, false
	}
	c, err := strconv.Atoi(st)
	return c, err == nil && c >= 100
}

func (s *stream) writeBody(b []byte) {
	if len(b) > 0 {
		_, _ = s.w.Write(b)
	}
}

// flushBody sends a streamed chunk on to the client now, as Envoy does.
func (s *stream) flushBody() {
	if f, ok := s.w.(http.Flusher); ok {
		f.Flush()
	}
}

// failStream mirrors Envoy Context::failStream after a trap: 503 with
// details wasm_fail_stream, without the plugin's encode callbacks
// (failure_local_reply_sent_); a started response is reset instead.
func (s *stream) failStream() {
	s.localDirect(&localReply{code: http.StatusServiceUnavailable, details: detailsWasmFailStream})
}

// resetStream aborts the client connection, as an Envoy stream reset does.
func (s *stream) resetStream() {
	s.gotReset = true
	panic(http.ErrAbortHandler)
}

// finish runs on_log, on_done and on_delete, in that order: Envoy logs
// before destroying filters, and Context::onDestroy calls onDone then
// onDelete.
func (s *stream) finish() {
	v := s.v
	v.mu.Lock()
	defer v.mu.Unlock()
	id := s.ctx.id
	if !v.isFailed() && !v.closed {
		for i, fn := range []api.Function{v.fn.log, v.fn.done, v.fn.delete} {
			v.stack[0] = uint64(id)
			s.logPhase = i == 0
			_, err := v.callback(s.ctx, fn, 0)
			s.logPhase = false
			if err != nil {
				break
			}
		}
	}
	delete(v.contexts, id)
	if root := v.contexts[s.ctx.rootID]; root != nil {
		root.streams--
		if root.retired && root.streams == 0 && !v.isFailed() && !v.closed {
			v.shutdownRoot(root) // the last stream of a replaced configuration
		}
	}
	s.local, s.reset, s.gotLocal, s.gotReset = nil, false, nil, false
}

func streamFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnContinueStream, params: i32s(1), results: resultI32, fn: hostContinueStream, doc: spec + fnContinueStream},
		{name: fnCloseStream, params: i32s(1), results: resultI32, fn: hostCloseStream, doc: spec + fnCloseStream},
		{name: fnSendLocalResponse, params: i32s(8), results: resultI32, fn: hostSendLocalResponse, doc: spec + fnSendLocalResponse},
	}
}

// hostContinueStream implements proxy_continue_stream(type), deferred until
// the current VM call returns, as Envoy's addAfterVmCallAction.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_continue_stream
func hostContinueStream(v *vm, s []uint64) {
	t := streamType(uint32(s[0]))
	c := v.context()
	switch {
	case t > streamUpstream:
		s[0] = uint64(statusBadArgument)
		return
	case t == streamUpstream:
		s[0] = uint64(statusUnimplemented)
		return
	}
	if c != nil && c.s != nil {
		switch t {
		case streamRequest:
			c.s.continueReq = true
		case streamResponse:
			c.s.continueResp = true
		}
		// Envoy Context::continueStream resets request_headers_,
		// request_body_buffer_ and request_trailers_ at once, for either
		// direction (the response case falls through to the same lines);
		// response_headers_ stays.
		c.s.reqHeaders.live, c.s.reqTrailers.live, c.s.reqBodyVisible = false, false, false
		v.touched = append(v.touched, c.s)
	}
	s[0] = uint64(statusOK)
}

// hostCloseStream implements proxy_close_stream(type): the stream is reset
// after the call returns.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_close_stream
func hostCloseStream(v *vm, s []uint64) {
	t := streamType(uint32(s[0]))
	if t > streamUpstream {
		s[0] = uint64(statusBadArgument)
		return
	}
	if c := v.context(); c != nil && c.s != nil && t <= streamResponse {
		c.s.reset = true
		v.touched = append(v.touched, c.s)
	}
	s[0] = uint64(statusOK)
}

// hostSendLocalResponse implements proxy_send_local_response(code, details,
// body, headers, grpc_status); the reply is sent after the call returns.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_send_local_response
func hostSendLocalResponse(v *vm, s []uint64) {
	details, ok1 := v.readString(uint32(s[1]), uint32(s[2]))
	body, ok2 := v.read(uint32(s[3]), uint32(s[4]))
	hdrs, ok3 := v.read(uint32(s[5]), uint32(s[6]))
	if !ok1 || !ok2 || !ok3 {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	pairs, _ := decodePairs(hdrs)
	c := v.context()
	if c != nil && c.s != nil {
		// Envoy Context::sendLocalResponse: the code passes unchanged,
		// details have whitespace replaced, and a grpc_status outside
		// 0..16 (the SDKs' -1) means none.
		grpcStatus, hasGRPCStatus := grpcStatusArg(uint32(s[7]))
		c.s.local = &localReply{code: int(uint32(s[0])), body: append([]byte(nil), body...), headers: pairs,
			details: replaceAllEmptySpace(details), grpcStatus: grpcStatus, hasGRPCStatus: hasGRPCStatus}
		v.touched = append(v.touched, c.s)
	}
	s[0] = uint64(statusOK)
}
