package inventory

import (
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
)

func newWorker(t *testing.T, js string) *Worker {
	t.Helper()
	var c Config
	if err := config.Decode([]byte(js), &c); err != nil {
		t.Fatal(err)
	}
	w, err := NewWorker(&c, &castable.MemStore{}, "root")
	if err != nil {
		t.Fatal(err)
	}
	return w
}

func request(path string) func() *route.Request {
	return func() *route.Request {
		return &route.Request{Method: "GET", Path: path, Header: func(string) (string, bool) { return "", false }}
	}
}

func TestWorkerRouteIsTheFirstMatchingRouteElseTheFilterRuleElseTheRequestsRoute(t *testing.T) {
	w := newWorker(t, `{"routes": [{"name": "echo", "match": {"prefix": "/echo"}}, {"match": {"path_template": "/users/{id}"}}]}`)
	for path, want := range map[string][3]string{
		"/echo/1":  {"echo", "echo", "true"},
		"/users/7": {"/users/{id}", "users_id", "true"},
		"/other":   {"", "", "false"},
	} {
		name, label, ok := w.Route(request(path), "rule", "jwt_route")
		if got := [3]string{name, label, map[bool]string{true: "true", false: "false"}[ok]}; got != want {
			t.Errorf("%s: %v, want %v", path, got, want)
		}
	}
	w = newWorker(t, `{}`)
	unread := func() *route.Request { t.Fatal("the request was read without routes"); return nil }
	if name, label, ok := w.Route(unread, "users", "jwt_route"); name != "users" || label != "users" || !ok {
		t.Errorf("with a filter rule: %q %q %v", name, label, ok)
	}
	if name, _, ok := w.Route(unread, "", "jwt_route"); name != "jwt_route" || !ok {
		t.Errorf("without: %q %v", name, ok)
	}
}

func TestWorkerSamplesOnlyUnfilteredResponsesAndReusesABoundedFewStates(t *testing.T) {
	w := newWorker(t, `{"sample_rate": 0}`)
	if w.Start(false) != nil {
		t.Fatal("an unfiltered response was observed at sample rate 0")
	}
	var streams []*Stream
	for range maxFreeStreams + 2 {
		streams = append(streams, w.Start(true))
	}
	for _, s := range streams {
		w.Put(s)
	}
	if len(w.free) != maxFreeStreams {
		t.Fatalf("%d free states kept, want %d", len(w.free), maxFreeStreams)
	}
	if s := w.Start(true); s != streams[maxFreeStreams-1] {
		t.Fatal("a finished state was not reused")
	}
}

func TestStreamFollowsJSONInTheCodingsItDecodesAndCountsWhatItSaw(t *testing.T) {
	w := newWorker(t, `{}`)
	for _, c := range []struct {
		ct, ce string
		want   bool
	}{
		{"application/json", "", true},
		{"application/problem+json; charset=utf-8", "identity", true},
		{"Application/JSON", "IDENTITY", true},
		{"application/json", "gzip", true},
		{"application/json", "deflate", true},
		{"application/json", "br", false},
		{"application/json", "gzip, br", false},
		{"text/html", "", false},
	} {
		s := w.Start(true)
		if got := s.Follow(c.ct, c.ce); got != c.want {
			t.Errorf("%q %q: follow %v, want %v", c.ct, c.ce, got, c.want)
		}
		w.Put(s)
	}
	var none *Stream
	if none.Following() {
		t.Fatal("a nil stream follows")
	}

	s := w.Start(true)
	s.Follow("application/json", "")
	s.Write([]byte(`{"email":"ann@example.com",`), false)
	s.Write([]byte(`"id":1`), false) // the rest never comes: trailers or a reset
	r := s.Finish()
	if r == nil || len(r.Fields()) != 2 || s.Following() {
		t.Fatalf("finish = %v", r)
	}
	s = w.Start(true)
	s.Follow("application/json", "")
	s.Unreadable()
	if s.Following() || !s.Response().Incomplete || s.Finish() != nil {
		t.Fatal("an unreadable chunk did not end the following, marked incomplete")
	}
}

func TestWorkerExportsWhenDueAndTheInventoryChanged(t *testing.T) {
	w := newWorker(t, `{"export_interval": "10s"}`)
	now := time.Unix(1000, 0)
	if w.ExportDue(now) {
		t.Fatal("exported an inventory that never changed")
	}
	s := w.Start(true)
	s.Follow("application/json", "")
	s.Write([]byte(`{"email":"ann@example.com"}`), true)
	if _, _, err := w.Store.Merge("users", s.Finish()); err != nil {
		t.Fatal(err)
	}
	if !w.ExportDue(now) || w.ExportDue(now.Add(time.Second)) {
		t.Fatal("not exported once when due")
	}
	snap, err := w.Store.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	events, dropped := snap.Events(12<<10, now)
	if dropped != 0 || len(events) != 1 || events[0].Type != audit.EventInventory || events[0].Inventory.Route != "users" ||
		len(events[0].Inventory.Fields) != 2 || events[0].Inventory.Fields[1].Path != "email" {
		t.Fatalf("events %+v, dropped %d", events, dropped)
	}
}

func TestFindingEventCarriesTheSignalOnARoutesFirstClass(t *testing.T) {
	now := time.Unix(1000, 0)
	e := FindingEvent(Finding{Route: "users", Path: "email", Class: "email", FirstOnRoute: true}, now)
	if e.Type != audit.EventSensitiveField || e.Field != "email" || len(e.Signals) != 1 || e.Signals[0] != audit.SignalSensitiveDataExposed {
		t.Fatalf("event %+v", e)
	}
	if e := FindingEvent(Finding{Route: "users", Path: "card", Class: "card_number"}, now); len(e.Signals) != 0 {
		t.Fatalf("a later finding carries %v", e.Signals)
	}
}
