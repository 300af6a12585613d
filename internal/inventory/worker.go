package inventory

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/verdict"
)

// Worker is the response inventory of one configuration on one worker: the
// routes responses are observed under, the per-stream state it reuses, the
// Store shared with the other workers, and the export schedule. The plugin
// drives it from its callbacks; nothing here calls the host.
type Worker struct {
	cfg        *Config
	classifier *Classifier
	Store      *Store
	// routes match the configured routes, in order, beside their names.
	routes []*route.Matcher
	names  []string
	labels []string // metric labels of names
	// free holds the per-stream state of finished streams for reuse.
	free       []*Stream
	lastExport time.Time
}

// NewWorker builds the inventory of c over the shared data in store, under
// the plugin root id's namespace. Its errors name the configuration path.
func NewWorker(c *Config, store castable.Store, rootID string) (*Worker, error) {
	cl, err := c.Classifier()
	if err != nil {
		return nil, fmt.Errorf("response_inventory: %w", err)
	}
	st, err := NewStore(store, StoreOptions{Namespace: Namespace(rootID), MaxEntries: c.Entries()})
	if err != nil {
		return nil, fmt.Errorf("response_inventory: %w", err)
	}
	w := &Worker{cfg: c, classifier: cl, Store: st, names: c.RouteNames()}
	for i, r := range c.Routes {
		m, err := route.Compile(r.Match)
		if err != nil {
			return nil, fmt.Errorf("response_inventory.routes[%d].match: %w", i, err)
		}
		w.routes = append(w.routes, m)
		w.labels = append(w.labels, MetricLabel(r))
	}
	return w, nil
}

// Route names the inventory route of a response and its metric label: the
// first configured route that matches req (none: ok is false, the response
// is not observed), or without routes the response_filter rule's name
// (rule), else fallback (the request's route). req is called only when
// routes are configured.
func (w *Worker) Route(req func() *route.Request, rule, fallback string) (name, label string, ok bool) {
	switch {
	case len(w.routes) > 0:
		r := req()
		for i, m := range w.routes {
			if m.Matches(r) {
				return w.names[i], w.labels[i], true
			}
		}
		return "", "", false
	case rule != "":
		return rule, rule, true
	}
	return fallback, fallback, true
}

// Start returns the state that observes a response, or nil when it is not
// observed: a filtered response is always classified, in the filter's pass;
// an unfiltered one is observed at the sample rate.
func (w *Worker) Start(filtered bool) *Stream {
	if !filtered && rand.Float64() >= w.cfg.Rate() {
		return nil
	}
	if n := len(w.free); n > 0 {
		s := w.free[n-1]
		w.free = w.free[:n-1]
		return s
	}
	r := NewResponse(w.classifier)
	return &Stream{resp: r, obs: NewObserver(r), limit: w.cfg.ObservedBytes()}
}

// maxFreeStreams bounds the reusable per-stream states a worker keeps.
const maxFreeStreams = 4

// Put gives back the state of a finished stream.
func (w *Worker) Put(s *Stream) {
	s.dec.close()
	s.resp.Reset()
	s.obs.Reset()
	s.following, s.decoding, s.unobserved, s.observed = false, false, "", 0
	if len(w.free) < maxFreeStreams {
		w.free = append(w.free, s)
	}
}

// ExportDue reports whether this worker exports the inventory now: it
// changed and export_interval has passed since this worker last did; one
// worker exports each change.
func (w *Worker) ExportDue(now time.Time) bool {
	if now.Sub(w.lastExport) < w.cfg.Interval() || !w.Store.ClaimExport() {
		return false
	}
	w.lastExport = now
	return true
}

// Stream is what one observed response records: the Response the filter's
// pass or the Observer fills.
type Stream struct {
	resp *Response
	obs  *Observer
	// following is set while an unfiltered body is followed chunk by chunk,
	// decoding while it is decoded on its way (a compressed body).
	following, decoding bool
	dec                 decoder
	// unobserved names why a body was not observed (Unobserved).
	unobserved verdict.Reason
	// observed counts the bytes of an uncompressed body observed, up to
	// limit (the decoder counts a compressed body's, decoded).
	observed int
	// limit is max_observed_bytes: past it (a decompression bomb, an
	// unusually large body, or a small gzip of many small values whose
	// classification would hold the worker for seconds) observation stops
	// and the response is counted as not observed (body_too_large), what
	// was seen before still counting; the body passes unchanged.
	limit int
}

// Response is what the stream recorded; the response filter shows it the
// values it keeps.
func (s *Stream) Response() *Response { return s.resp }

// Follow decides from an unfiltered response's headers whether its body is
// followed as it passes: a JSON body, in a coding the response filter
// decodes (none, gzip, deflate), a compressed one decoded chunk by chunk
// as it passes (decoder); never held. A JSON body in another coding (br,
// zstd, stacked codings) is not followed: Unobserved says so.
func (s *Stream) Follow(contentType, contentEncoding string) bool {
	s.following, s.decoding = false, false
	if !isJSONType(contentType) {
		return false
	}
	ok, identity := respfilter.Decodable(contentEncoding)
	if !ok {
		s.unobserved = verdict.UnsupportedEncoding
		return false
	}
	s.following, s.decoding = true, !identity
	if s.decoding {
		s.dec.start(contentEncoding, s.obs, s.limit)
	}
	return true
}

// Unobserved names why the response's body was not observed, "" when it
// was: unsupported_encoding (a coding apiguard does not decode),
// decode_failed (a compressed body that does not decode), body_too_large
// (one longer than max_observed_bytes, decoded: observation stopped there).
// Values seen before a failure still count.
func (s *Stream) Unobserved() verdict.Reason {
	if s.unobserved == "" && s.decoding {
		return s.dec.failed
	}
	return s.unobserved
}

// Following reports whether the body is being followed; false on nil.
func (s *Stream) Following() bool { return s != nil && s.following }

// Write follows a chunk of the body as it passes; end is the body's end.
func (s *Stream) Write(chunk []byte, end bool) {
	switch {
	case s.decoding:
		s.dec.write(chunk, end)
	case s.unobserved != "": // past the limit: passes unobserved
	case s.observed+len(chunk) > s.limit:
		s.obs.Write(chunk[:s.limit-s.observed])
		s.observed, s.unobserved = s.limit, verdict.BodyTooLarge
	default:
		s.observed += len(chunk)
		s.obs.Write(chunk)
	}
	if end {
		s.obs.Close()
		s.following = false
	}
}

// Unreadable stops following a body a chunk of which could not be read:
// what was seen counts, marked incomplete.
func (s *Stream) Unreadable() {
	s.resp.Incomplete = true
	s.following = false
}

// Finish ends the stream (trailers or a reset end a followed body: what was
// seen counts) and returns its Response, nil when it saw no field.
func (s *Stream) Finish() *Response {
	if s.following {
		s.dec.close()
		s.obs.Close()
		s.following = false
	}
	if len(s.resp.Fields()) == 0 {
		return nil
	}
	return s.resp
}

// isJSONType reports application/json and the +json types.
func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	mt = strings.ToLower(strings.TrimSpace(mt))
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}

// FindingEvent is the audit event of a class first seen at a path, with the
// security signal when it is the route's first class.
func FindingEvent(f Finding, now time.Time) *audit.Event {
	e := &audit.Event{Type: audit.EventSensitiveField, Time: now, Route: f.Route, Field: f.Path, Class: f.Class}
	if f.FirstOnRoute {
		e.Signals = []string{audit.SignalSensitiveDataExposed}
	}
	return e
}

// Events are the audit events that export the inventory, one per route
// part of at most partBytes, and the number of fields too large for a part.
func (e Export) Events(partBytes int, now time.Time) (events []*audit.Event, dropped int) {
	parts, dropped := e.Parts(partBytes)
	for _, part := range parts {
		ip := &audit.InventoryPart{Route: part.Route, Fields: make([]audit.InventoryField, len(part.Fields))}
		for i, f := range part.Fields {
			ip.Fields[i] = audit.InventoryField{Path: f.Path, Types: f.Types, Classes: f.Classes}
		}
		events = append(events, &audit.Event{Type: audit.EventInventory, Time: now, Route: part.Route, Inventory: ip})
	}
	return events, dropped
}
