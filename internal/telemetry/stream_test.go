package telemetry

import (
	"bytes"
	"testing"

	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/verdict"
)

func TestBodyCountCountsBytesReleasedByAContinueOnce(t *testing.T) {
	var c BodyCount
	c.Add(10, false) // paused: the next callback is handed these again
	c.Add(25, true)  // everything so far, released
	c.Add(5, false)  // only what came after the Continue
	if got := c.Seen(); got != 30 {
		t.Fatalf("seen = %d, want 30", got)
	}
}

// body is a buffered request body read the way the host serves it.
func body(b []byte) func(offset, n int) ([]byte, error) {
	return func(offset, n int) ([]byte, error) { return b[offset : offset+n], nil }
}

func TestExcerptKeepsTheBodyAcrossCallbacksAndGivesItsBytesBack(t *testing.T) {
	var b ExcerptBudget
	var s Stream
	all := []byte(`{"user":"ann","password":"x"}`)
	s.RequestBody(&b, 10, false, true, body(all))
	s.RequestBody(&b, len(all), true, true, body(all))
	if b.used != len(all) {
		t.Fatalf("budget used = %d, want %d", b.used, len(all))
	}
	var e audit.Event
	s.FillBodies(&e, 100, "application/json")
	if !bytes.Equal(e.Captured.Body, all) || e.Captured.ContentType != "application/json" || e.BytesIn != uint64(len(all)) {
		t.Fatalf("event = %+v", e)
	}
	s.ReleaseExcerpt(&b)
	if b.used != 0 {
		t.Fatalf("budget used after release = %d", b.used)
	}
}

func TestExcerptOverTheCaptureLimitOrTheBudgetIsNotKept(t *testing.T) {
	big := make([]byte, maxExcerptCapture+1)
	var b ExcerptBudget
	var s Stream
	if s.RequestBody(&b, len(big), true, true, body(big)) {
		t.Fatal("a body over the capture limit counted as a budget refusal")
	}
	var e audit.Event
	s.FillBodies(&e, 100, "")
	if e.BodyExcerpt != audit.BodyTooLarge || b.used != 0 {
		t.Fatalf("excerpt %q, budget used %d", e.BodyExcerpt, b.used)
	}

	b.used = excerptBudget // other streams hold the whole budget
	var s2 Stream
	if !s2.RequestBody(&b, 10, true, true, body(make([]byte, 10))) {
		t.Fatal("a body over the worker's budget was not refused")
	}
	var e2 audit.Event
	s2.FillBodies(&e2, 100, "")
	if e2.BodyExcerpt != audit.BodyOverBudget || b.used != excerptBudget {
		t.Fatalf("excerpt %q, budget used %d", e2.BodyExcerpt, b.used)
	}
}

func TestBytesOutIsWhatTheClientReceived(t *testing.T) {
	var s Stream
	s.Out.Add(1000, true)
	var e audit.Event
	s.FillBodies(&e, 0, "")
	if e.BytesOut != 1000 {
		t.Fatalf("bytes_out = %d, want the upstream's 1000", e.BytesOut)
	}
	s.BodyReplaced([]byte(`{"id":1}`))
	s.FillBodies(&e, 0, "")
	if e.BytesOut != 8 {
		t.Fatalf("bytes_out = %d, want the replacement's 8", e.BytesOut)
	}
}

func TestFilterStateChangesOnlyWithTheVerdict(t *testing.T) {
	var s Stream
	e := &audit.Event{}
	props, changed := s.FilterState(e)
	if !changed || FilterStateProperties[0] != audit.PropertyDecision || props[0] != string(verdict.Allow) || props[3] != "" {
		t.Fatalf("first = %v, %v", props, changed)
	}
	if _, changed := s.FilterState(e); changed {
		t.Fatal("an unchanged verdict was published again")
	}
	e.Identity = &audit.Identity{Issuer: "https://idp", Subject: "ann"}
	e.Decisions = append(e.Decisions, audit.Decision{Policy: "ratelimit.per_user", Decision: verdict.Deny, Reason: "rate_limited"})
	props, changed = s.FilterState(e)
	if !changed || props[1] != "ratelimit.per_user" || props[2] != "rate_limited" || props[4] != "ann" {
		t.Fatalf("after a deny = %v, %v", props, changed)
	}
}

// A stream no policy acted on has no event: its allow is published once,
// and a later event's deny still is.
func TestFilterStateOfAStreamWithoutEvent(t *testing.T) {
	var s Stream
	props, changed := s.FilterState(nil)
	if !changed || props[0] != string(verdict.Allow) || props[1] != "" {
		t.Fatalf("first = %v, %v", props, changed)
	}
	if _, changed := s.FilterState(nil); changed {
		t.Fatal("an unchanged verdict was published again")
	}
	e := &audit.Event{Decisions: []audit.Decision{{Policy: "request", Decision: verdict.Deny, Reason: "non_canonical_path"}}}
	if props, changed = s.FilterState(e); !changed || props[0] != string(verdict.Deny) || props[2] != "non_canonical_path" {
		t.Fatalf("after a deny = %v, %v", props, changed)
	}
	if _, changed := s.FilterState(e); changed {
		t.Fatal("an unchanged deny was published again")
	}
}

func TestPhasesRecordOnlyThoseThatRan(t *testing.T) {
	var s Stream
	s.Timed(PhaseRequestHeaders, 3)
	s.Timed(PhaseRequestHeaders, 4)
	if s.phases[PhaseRequestHeaders] != 7 || s.ran != 1<<PhaseRequestHeaders {
		t.Fatalf("phases %v, ran %b", s.phases, s.ran)
	}
}

func TestCaptureHeadersKeepsTheConfiguredOnesThatArePresent(t *testing.T) {
	sent := map[string]string{"user-agent": "curl", "x-other": "no"}
	get := func(name string) (string, bool) { v, ok := sent[name]; return v, ok }
	a := NewAuditor(resolved(t, `{"audit":{"sink":"log","headers":["user-agent","x-api-key"]}}`), nil, "v")
	hs, ok := a.CaptureHeaders(get)
	if !ok || len(hs) != 1 || hs[0] != (audit.Header{Name: "user-agent", Value: "curl"}) {
		t.Fatalf("captured %v, %v", hs, ok)
	}
	for _, js := range []string{`{"audit":{"sink":"log"}}`, `{"audit":{"sink":"off","headers":["user-agent"]}}`} {
		if hs, ok := NewAuditor(resolved(t, js), nil, "v").CaptureHeaders(get); ok || hs != nil {
			t.Errorf("%s: captured %v", js, hs)
		}
	}
}
