package telemetry

import (
	"time"

	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/verdict"
)

// Stream is what one HTTP stream measures for its audit event and the
// processing-time histograms. The plugin feeds it from its callbacks; it
// holds numbers and the excerpt, never calls the host.
type Stream struct {
	phases [len(streamPhases)]time.Duration
	ran    uint8     // bit i set: streamPhases[i] ran at least once
	In     BodyCount // request-body bytes
	Out    BodyCount // upstream response-body bytes seen
	// bodySent, when bodyReplaced, is the size of the body apiguard sent
	// instead of the upstream's (a filtered body, an error document, its own
	// reply): bytes_out counts what the client received.
	bodySent     int64
	bodyReplaced bool
	excerpt      []byte    // first request-body bytes, only when body_excerpt_bytes > 0
	overflow     bool      // the request body was larger than the excerpt buffer
	overBudget   bool      // the worker's excerpt budget was in use: nothing kept
	published    published // the filter state last set, to set it only on change
	// nilPublished: published is the verdict of a stream with no event
	// (no policy acted), which FilterState then knows unchanged at once.
	nilPublished bool
}

// The phases a Stream times, as indexes for Stream.Timed.
const (
	PhaseRequestHeaders = iota
	PhaseRequestBody
	PhaseResponseHeaders
	PhaseResponseBody
)

// streamPhases names Stream.phases in metrics.
var streamPhases = [...]metrics.Phase{
	metrics.PhaseRequestHeaders, metrics.PhaseRequestBody,
	metrics.PhaseResponseHeaders, metrics.PhaseResponseBody,
}

// Timed adds d of apiguard's own time to phase i (Phase*).
func (s *Stream) Timed(i int, d time.Duration) {
	s.phases[i] += d
	s.ran |= 1 << i
}

// RecordPhases records the time of every phase that ran.
func (s *Stream) RecordPhases(m *metrics.Metrics) {
	for i, p := range streamPhases {
		if s.ran&(1<<i) != 0 {
			m.Processing(p, s.phases[i])
		}
	}
}

// BodyReplaced records that the client receives body instead of the
// upstream's response body.
func (s *Stream) BodyReplaced(body []byte) {
	s.bodySent, s.bodyReplaced = int64(len(body)), true
}

// BodyCount counts a body's bytes across its callbacks. Envoy hands each
// body callback everything buffered since the last Continue, so the bytes
// released by an earlier Continue are kept in flushed and the rest are
// counted again.
type BodyCount struct {
	flushed int64 // released by a Continue
	seen    int64 // flushed plus what the last callback was handed
}

// Add takes a body callback's size and whether it let the body continue.
func (c *BodyCount) Add(size int, continued bool) {
	c.seen = c.flushed + int64(size)
	if continued {
		c.flushed = c.seen
	}
}

// Seen is every byte of the body seen so far.
func (c *BodyCount) Seen() int64 { return c.seen }

// ExcerptBudget bounds the request-body bytes one worker holds for audit
// excerpts across all its streams in flight: the one body cost that grows
// with the number of streams a worker multiplexes.
type ExcerptBudget struct{ used int }

// excerptBudget is ExcerptBudget's bound: 128 bodies at the capture limit,
// or thousands of small ones. A body arriving while the budget is in use is
// not kept: its excerpt says so, and audit.body_budget_refusals_total counts
// it.
const excerptBudget = 8 << 20

// maxExcerptCapture bounds the request-body bytes kept for the masked
// excerpt: the masker refuses larger inputs, and a body cut short cannot be
// parsed (so it is not logged), hence the whole body up to this size.
const maxExcerptCapture = 64 << 10

// RequestBody counts a request-body callback of size bytes (everything
// buffered since the last Continue) and, when keep is set (the operator asked
// for excerpts), keeps the body's new bytes, which read returns from the
// buffered body. It reports whether the worker's budget refused the body.
func (s *Stream) RequestBody(b *ExcerptBudget, size int, continued, keep bool, read func(offset, n int) ([]byte, error)) (refused bool) {
	total := s.In.flushed + int64(size)
	if keep && !s.overflow && total > int64(len(s.excerpt)) {
		switch grow := int(total) - len(s.excerpt); {
		case total > maxExcerptCapture:
			s.ReleaseExcerpt(b)
			s.overflow = true
		case b.used+grow > excerptBudget:
			s.ReleaseExcerpt(b)
			s.overflow, s.overBudget, refused = true, true, true
		default:
			if chunk, err := read(len(s.excerpt)-int(s.In.flushed), grow); err == nil {
				s.excerpt = append(s.excerpt, chunk...)
				b.used += len(chunk)
			}
		}
	}
	s.In.Add(size, continued)
	return refused
}

// ReleaseExcerpt gives the stream's excerpt bytes back to the worker's
// budget and drops them.
func (s *Stream) ReleaseExcerpt(b *ExcerptBudget) {
	b.used = max(b.used-len(s.excerpt), 0) // a reconfigure starts from 0
	s.excerpt = nil
}

// FillBodies sets the event's byte counts and, when excerpts are configured
// (excerptMax > 0), its excerpt: the bytes kept, to be masked by the Auditor
// while the stream still holds them, or why there are none. contentType is
// the request's.
func (s *Stream) FillBodies(e *audit.Event, excerptMax int, contentType string) {
	out := s.Out.seen
	if s.bodyReplaced {
		out = s.bodySent
	}
	e.BytesIn, e.BytesOut = uint64(max(s.In.seen, 0)), uint64(max(out, 0))
	if excerptMax <= 0 {
		return
	}
	switch {
	case s.overBudget:
		e.BodyExcerpt = audit.BodyOverBudget
	case s.overflow:
		e.BodyExcerpt = audit.BodyTooLarge
	case len(s.excerpt) > 0:
		e.Captured.ContentType = contentType
		e.Captured.Body, e.Captured.BodyMax = s.excerpt, excerptMax
	}
}

// published is the verdict last exposed as filter state. The issuer and
// subject come from the stream's one Identity, set once by the JWT policy,
// so its pointer stands for them.
type published struct {
	set, deny bool
	policy    string
	reason    verdict.Reason
	identity  *audit.Identity
}

// FilterStateProperties are the filter-state properties FilterState gives
// the values of, in its order.
var FilterStateProperties = [...]string{
	audit.PropertyDecision, audit.PropertyPolicy, audit.PropertyReason, audit.PropertyIssuer, audit.PropertySubject,
}

// FilterState is the verdict of the stream's event as the values of
// FilterStateProperties, and whether it changed since the last call: the
// plugin sets them only on change, and an empty value not at all.
func (s *Stream) FilterState(e *audit.Event) ([len(FilterStateProperties)]string, bool) {
	if e == nil && s.nilPublished {
		return [len(FilterStateProperties)]string{}, false
	}
	s.nilPublished = e == nil
	d, identity := e.Verdict()
	now := published{set: true, deny: d.Decision == verdict.Deny, policy: d.Policy, reason: d.Reason, identity: identity}
	if now == s.published {
		return [len(FilterStateProperties)]string{}, false
	}
	s.published = now
	var iss, sub string
	if identity != nil {
		iss, sub = identity.Issuer, identity.Subject
	}
	return [len(FilterStateProperties)]string{string(d.Decision), d.Policy, string(d.Reason), iss, sub}, true
}
