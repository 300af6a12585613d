package respfilter

import "strconv"

// Host is the response in flight as a Stream sees it. The plugin implements
// it over the proxy's header map and body and logs the failures it returns;
// a header change that fails costs only that header.
type Host interface {
	ResponseHeaders() ([][2]string, error)
	RemoveResponseHeader(name string)
	ReplaceResponseHeader(name, value string)
	// ResponseBody reads the buffered body, at most size bytes.
	ResponseBody(size int) ([]byte, error)
	ReplaceResponseBody(body []byte) error
	// Record counts an outcome and adds it to the stream's audit event.
	Record(o Outcome)
	// Replaced says the client receives body instead of the upstream's.
	Replaced(body []byte)
	// Claims are the verified token's claims, nil without one.
	Claims() map[string]any
	// Inspector is shown the values the filter keeps, or nil.
	Inspector() Inspector
}

// Step is what the plugin does next with the response.
type Step uint8

const (
	// StepContinue lets the headers or body go on.
	StepContinue Step = iota
	// StepPause holds them (the proxy buffers the body).
	StepPause
	// StepDeny answers the stream with DenyReply of the reason instead of
	// the upstream's response.
	StepDeny
	// StepFailClosed: the body could not be replaced after the headers left;
	// the stream must fail closed.
	StepFailClosed
)

// phase is where a filtered response stands.
type phase uint8

const (
	// idle: not filtered (no policy, or decided without buffering).
	idle phase = iota
	// buffering: the body is paused until end of stream.
	buffering
	// discarding: the headers have left (streamed mode) and the body was
	// replaced by an error document; the rest of the upstream body is dropped.
	discarding
	// done: the body has been decided.
	done
)

// Buffer is one worker's output buffer, reused for every filtered body:
// the host copies a replaced body, so the storage is free again once the
// call returns.
type Buffer struct{ b []byte }

// keepOutputBytes is the largest output buffer a worker keeps between
// responses, and the body size from which Stream.TakeLarge reports a large
// body.
const keepOutputBytes = 256 << 10

// Stream is the response filter's state machine for one stream: what the
// headers decide, buffering the body, filtering it at its end, and failing
// closed as the headers mode allows. The plugin drives it from its response
// callbacks through a Host.
type Stream struct {
	policy   *Policy // nil when the response is not filtered
	out      *Buffer
	held     bool // headers_mode "held"
	decision Decision
	phase    phase
	// headersHeld is set while the response headers are paused: the status
	// can still change.
	headersHeld bool
	// large is set when filtering handled a large body.
	large bool
	// present marks which of responseHeadersToRemove the response
	// carried (contradicting): only those are removed, a host call each.
	// Nothing but the plugin changes the response headers while it holds
	// them, and it never adds one of these but content-length, after the
	// removal.
	present uint8
}

// Begin filters the response under p, with the worker's output buffer; held
// is the filter's headers mode (Filter.HeadersHeld).
func (s *Stream) Begin(p *Policy, out *Buffer, held bool) {
	s.policy, s.out, s.held = p, out, held
}

// Policy is the response's policy, nil when it is not filtered.
func (s *Stream) Policy() *Policy { return s.policy }

// Takes reports whether the filter takes the response body: a policy
// applies and the headers did not leave the body alone (a status the rule
// does not list, an opted-in pass).
func (s *Stream) Takes() bool {
	return s.policy != nil && s.decision.Action != ActionSkip && s.decision.Action != ActionPass
}

// TakeLarge reports, once, that filtering handled a large body: its input,
// decoded form and output are garbage now, which the worker may collect.
func (s *Stream) TakeLarge() bool {
	l := s.large
	s.large = false
	return l
}

// Headers decides all the response headers can tell. In held mode it pauses
// the headers until the body is decided; in streamed mode it drops the
// headers that a changed body would contradict before they leave.
// reqContentType is the request's content-type.
func (s *Stream) Headers(h Host, method, reqContentType string, endOfStream bool) (Step, Reason) {
	if s.policy == nil {
		return StepContinue, ReasonNone
	}
	all, err := h.ResponseHeaders()
	if err != nil {
		// Headers that cannot be read cannot be judged: fail closed.
		h.Record(Outcome{Action: ActionDeny, Reason: ReasonInternal})
		return s.deny(ReasonInternal)
	}
	s.present = contradicting(all)
	meta := MetaFromHeaders(all, method, reqContentType)
	s.decision = s.policy.DecideHeadersInspected(meta, h.Inspector())
	switch s.decision.Action {
	case ActionDeny:
		h.Record(Outcome{Action: ActionDeny, Reason: s.decision.Reason})
		return s.deny(s.decision.Reason)
	case ActionPass:
		h.Record(Outcome{Action: ActionPass, Reason: s.decision.Reason})
	case ActionFilter:
		if endOfStream {
			return StepContinue, ReasonNone // no body: nothing to filter
		}
		s.phase = buffering
		if s.held {
			s.headersHeld = true
			return StepPause, ReasonNone
		}
		s.removeHeaders(h)
	case ActionSkip:
		if meta.RequestMethod == "HEAD" {
			// No body to filter, but the upstream's length and digests
			// describe the unfiltered GET body: they would tell how long
			// the removed fields are.
			s.removeHeaders(h)
		}
	}
	return StepContinue, ReasonNone
}

// Body buffers a filtered body (the proxy keeps it while the callback
// pauses) and decides it at end of stream. size is everything buffered so
// far.
func (s *Stream) Body(h Host, size int, endOfStream bool) (Step, Reason) {
	switch s.phase {
	case discarding:
		if size > 0 && h.ReplaceResponseBody(nil) != nil {
			return StepFailClosed, ReasonNone // the error document is out; the rest must not follow it
		}
		return StepContinue, ReasonNone
	case idle, done:
		return StepContinue, ReasonNone
	}
	if size > s.policy.MaxBodyBytes() {
		// Stop early: waiting for the rest would only hit the proxy's buffer limit.
		return s.finish(h, nil, s.policy.Failure(ReasonTooLarge, h.Inspector()))
	}
	if !endOfStream {
		return StepPause, ReasonNone
	}
	return s.process(h, size)
}

// Trailers ends a body that has trailers: its last body callback did not see
// end of stream. A body that cannot be read here is never let through
// unfiltered.
func (s *Stream) Trailers(h Host) (Step, Reason) {
	if s.phase != buffering {
		return StepContinue, ReasonNone
	}
	return s.process(h, s.policy.MaxBodyBytes()+1)
}

// process reads the buffered body (at most size bytes) and filters it.
func (s *Stream) process(h Host, size int) (Step, Reason) {
	var body []byte
	if size > 0 {
		var err error
		if body, err = h.ResponseBody(size); err != nil {
			return s.finish(h, nil, Outcome{Action: ActionDeny, Reason: ReasonInternal})
		}
	}
	out, o := s.policy.AppendProcessInspected(s.out.b, s.decision, body, h.Claims(), h.Inspector())
	if o.Action == ActionReplace {
		s.out.b = out[:0]
	}
	step, r := s.finish(h, out, o)
	// The host has copied the new body. A buffer grown by one large body
	// is not kept for the next: the heap may reuse it, and a worker's
	// steady state stays that of its usual bodies.
	s.large = len(body) >= keepOutputBytes || cap(out) > keepOutputBytes ||
		o.Reason == ReasonTooLarge || o.Reason == ReasonDecodeFailed
	if cap(s.out.b) > keepOutputBytes {
		s.out.b = nil
	}
	return step, r
}

// finish applies a body-time outcome.
func (s *Stream) finish(h Host, out []byte, o Outcome) (Step, Reason) {
	s.phase = done
	h.Record(o)
	switch o.Action {
	case ActionReplace:
		if h.ReplaceResponseBody(out) != nil {
			return s.failure(h, ReasonInternal)
		}
		h.Replaced(out)
		if s.headersHeld {
			s.removeHeaders(h)
			h.ReplaceResponseHeader("content-length", strconv.Itoa(len(out)))
		}
	case ActionDeny:
		return s.failure(h, o.Reason)
	}
	return StepContinue, ReasonNone // replaced, skipped (empty body) or an opted-in pass
}

// failure fails a response closed once its body showed the failure: a real
// 502 while the headers are held, else the body becomes the error document
// under the status already sent, and the rest of the body is dropped.
func (s *Stream) failure(h Host, r Reason) (Step, Reason) {
	if s.headersHeld {
		return s.deny(r)
	}
	doc := ErrorDocument(s.decision, r)
	if h.ReplaceResponseBody(doc) != nil {
		return StepFailClosed, ReasonNone // the proxy resets a stream whose headers left
	}
	h.Replaced(doc)
	s.phase = discarding
	return StepContinue, ReasonNone
}

// deny ends filtering with the filter's own reply.
func (s *Stream) deny(r Reason) (Step, Reason) {
	s.phase, s.headersHeld = done, false
	return StepDeny, r
}

// removeHeaders drops the headers a changed body would contradict, those
// of them the response carried.
func (s *Stream) removeHeaders(h Host) {
	for i, name := range responseHeadersToRemove {
		if s.present&(1<<i) != 0 {
			h.RemoveResponseHeader(name)
		}
	}
}

// Failed reports an outcome the filter-error metric counts: the filter
// could not do its job. A denied sensitive class is a policy's decision,
// not an error.
func (o Outcome) Failed() bool { return o.Reason != ReasonNone && o.Reason != ReasonSensitive }
