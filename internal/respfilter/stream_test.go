package respfilter

import (
	"errors"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// fakeHost is a response in flight: headers, a buffered body, and what the
// Stream did to them.
type fakeHost struct {
	headers  [][2]string
	body     []byte
	readErr  error
	replErr  error
	outcomes []Outcome
	replaced [][]byte
	sent     []byte // the last body the client was told it receives
	setCount int    // successful body replacements
	removals []string
}

func (f *fakeHost) ResponseHeaders() ([][2]string, error) { return f.headers, f.readErr }
func (f *fakeHost) RemoveResponseHeader(name string) {
	f.removals = append(f.removals, name)
	f.drop(name)
}

// drop removes every header named name, in any case, as a proxy does.
func (f *fakeHost) drop(name string) {
	kept := f.headers[:0]
	for _, kv := range f.headers {
		if !strings.EqualFold(kv[0], name) {
			kept = append(kept, kv)
		}
	}
	f.headers = kept
}
func (f *fakeHost) ReplaceResponseHeader(name, value string) {
	f.drop(name)
	f.headers = append(f.headers, [2]string{name, value})
}
func (f *fakeHost) ResponseBody(size int) ([]byte, error) {
	if f.readErr != nil {
		return nil, f.readErr
	}
	return f.body[:min(size, len(f.body))], nil
}
func (f *fakeHost) ReplaceResponseBody(body []byte) error {
	if f.replErr != nil {
		return f.replErr
	}
	f.replaced = append(f.replaced, append([]byte(nil), body...))
	f.setCount++
	return nil
}
func (f *fakeHost) Record(o Outcome)       { f.outcomes = append(f.outcomes, o) }
func (f *fakeHost) Replaced(body []byte)   { f.sent = append([]byte(nil), body...) }
func (f *fakeHost) Claims() map[string]any { return nil }
func (f *fakeHost) Inspector() Inspector   { return nil }

func (f *fakeHost) header(name string) (string, bool) {
	for _, kv := range f.headers {
		if strings.EqualFold(kv[0], name) {
			return kv[1], true
		}
	}
	return "", false
}

func jsonResponse(body string) *fakeHost {
	return &fakeHost{
		headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}, {"content-length", strconv.Itoa(len(body))}},
		body:    []byte(body),
	}
}

func streamFor(t *testing.T, mode string) *Stream {
	t.Helper()
	f := newFilter(t, `{"headers_mode": "`+mode+`", "rules": [{"match": {"prefix": "/users"}, "allow": ["id"]}]}`)
	var s Stream
	s.Begin(policyFor(t, f, "GET", "/users/1"), &Buffer{}, f.HeadersHeld())
	return &s
}

func TestStreamHeldBuffersFiltersAndSetsTheLength(t *testing.T) {
	s := streamFor(t, "held")
	h := jsonResponse(`{"id":1,"secret":"x"}`)
	if step, _ := s.Headers(h, "GET", "", false); step != StepPause {
		t.Fatalf("headers step = %v, want the headers held", step)
	}
	if step, _ := s.Body(h, 10, false); step != StepPause {
		t.Fatalf("partial body step = %v, want pause", step)
	}
	if step, _ := s.Body(h, len(h.body), true); step != StepContinue {
		t.Fatalf("last body step = %v", step)
	}
	if got := string(h.sent); got != `{"id":1}` {
		t.Fatalf("sent %q", got)
	}
	if cl, _ := h.header("content-length"); cl != "8" {
		t.Fatalf("content-length = %q, want 8", cl)
	}
	if len(h.outcomes) != 1 || h.outcomes[0].Action != ActionReplace {
		t.Fatalf("outcomes = %+v", h.outcomes)
	}
	if step, _ := s.Body(h, 5, true); step != StepContinue || h.setCount != 1 {
		t.Fatalf("a decided body was touched again: %v, %d replacements", step, h.setCount)
	}
}

func TestStreamHeldMalformedBodyIsADeny(t *testing.T) {
	s := streamFor(t, "held")
	h := jsonResponse(`{"id":`)
	s.Headers(h, "GET", "", false)
	if step, r := s.Body(h, len(h.body), true); step != StepDeny || r != ReasonMalformed {
		t.Fatalf("step %v reason %q, want a deny for malformed JSON", step, r)
	}
}

func TestStreamStreamedFailureSendsTheErrorDocumentAndDropsTheRest(t *testing.T) {
	s := streamFor(t, "streamed")
	h := jsonResponse(`{"id":`)
	if step, _ := s.Headers(h, "GET", "", false); step != StepContinue {
		t.Fatalf("headers step = %v, want them sent", step)
	}
	if _, ok := h.header("content-length"); ok {
		t.Fatal("the streamed headers kept a length the filtered body would contradict")
	}
	if step, _ := s.Body(h, len(h.body), true); step != StepContinue || len(h.sent) == 0 {
		t.Fatalf("step %v, sent %q: want the error document", step, h.sent)
	}
	if step, _ := s.Body(h, 100, false); step != StepContinue || string(h.replaced[len(h.replaced)-1]) != "" {
		t.Fatalf("the rest of the body was not dropped: %v", step)
	}
	h.replErr = errors.New("stream gone")
	if step, _ := s.Body(h, 100, false); step != StepFailClosed {
		t.Fatalf("a failed drop is %v, want fail closed", step)
	}
}

func TestStreamUnreadableHeadersOrBodyFailClosed(t *testing.T) {
	s := streamFor(t, "held")
	h := jsonResponse(`{}`)
	h.readErr = errors.New("gone")
	if step, r := s.Headers(h, "GET", "", false); step != StepDeny || r != ReasonInternal {
		t.Fatalf("unreadable headers: %v %q", step, r)
	}

	s = streamFor(t, "held")
	h = jsonResponse(`{"id":1}`)
	s.Headers(h, "GET", "", false)
	h.readErr = errors.New("gone")
	if step, r := s.Trailers(h); step != StepDeny || r != ReasonInternal {
		t.Fatalf("unreadable body at the trailers: %v %q", step, r)
	}
}

func TestStreamOverTheLimitStopsEarly(t *testing.T) {
	f := newFilter(t, `{"max_body_bytes": 16, "rules": [{"match": {"prefix": "/"}, "allow": ["id"]}]}`)
	var s Stream
	s.Begin(policyFor(t, f, "GET", "/x"), &Buffer{}, true)
	h := &fakeHost{headers: [][2]string{{":status", "200"}, {"content-type", "application/json"}}}
	s.Headers(h, "GET", "", false)
	if step, r := s.Body(h, 17, false); step != StepDeny || r != ReasonTooLarge {
		t.Fatalf("over the limit: %v %q", step, r)
	}
}

func TestStreamWithoutPolicyPassesEverything(t *testing.T) {
	var s Stream
	h := jsonResponse(`{"secret":1}`)
	for _, step := range []Step{
		first(s.Headers(h, "GET", "", false)), first(s.Body(h, len(h.body), true)), first(s.Trailers(h)),
	} {
		if step != StepContinue {
			t.Fatalf("step %v", step)
		}
	}
	if len(h.outcomes) != 0 || h.setCount != 0 || s.TakeLarge() {
		t.Fatal("an unfiltered response was judged")
	}
}

func first(s Step, _ Reason) Step { return s }

func TestStreamTakesOnlyABodyItJudges(t *testing.T) {
	s := streamFor(t, "held")
	s.Headers(jsonResponse(`{"id":1}`), "GET", "", false)
	if !s.Takes() {
		t.Fatal("a filtered JSON response is not taken")
	}
	s = streamFor(t, "held")
	s.Headers(jsonResponse(`{"id":1}`), "HEAD", "", false)
	if s.Takes() {
		t.Fatal("a HEAD response the filter skips is taken")
	}
	if (&Stream{}).Takes() {
		t.Fatal("an unfiltered response is taken")
	}
}

func TestOutcomeFailedLeavesOutPolicyDecisions(t *testing.T) {
	for _, c := range []struct {
		o    Outcome
		want bool
	}{
		{Outcome{Action: ActionReplace}, false},
		{Outcome{Action: ActionDeny, Reason: ReasonSensitive}, false},
		{Outcome{Action: ActionDeny, Reason: ReasonMalformed}, true},
		{Outcome{Action: ActionDeny, Reason: ReasonTooLarge}, true},
		{Outcome{Action: ActionPass, Reason: ReasonDecodeFailed}, true},
	} {
		if c.o.Failed() != c.want {
			t.Errorf("%+v: failed %v", c.o, !c.want)
		}
	}
}

// A filtered response loses every header its changed body would
// contradict, in whatever case the upstream spelled it, in both headers
// modes; the headers it did not carry cost no removal.
func TestStreamRemovesTheContradictingHeadersItCarries(t *testing.T) {
	for _, mode := range []string{"held", "streamed"} {
		s := streamFor(t, mode)
		body := `{"id":1,"secret":"x"}`
		h := &fakeHost{body: []byte(body), headers: [][2]string{{":status", "200"}, {"content-type", "application/json"},
			{"Content-Length", strconv.Itoa(len(body))}, {"ETag", `"abc"`}, {"digest", "sha-256=x"}, {"x-other", "kept"}}}
		s.Headers(h, "GET", "", false)
		s.Body(h, len(body), true)
		for _, name := range responseHeadersToRemove {
			if v, ok := h.header(name); ok && !(mode == "held" && name == "content-length" && v == "8") {
				t.Errorf("%s: %s: %q left in the response", mode, name, v)
			}
		}
		if _, ok := h.header("x-other"); !ok {
			t.Errorf("%s: an unrelated header was removed", mode)
		}
		if want := []string{"content-length", "digest", "etag"}; !slices.Equal(h.removals, want) {
			t.Errorf("%s: removed %q, want %q", mode, h.removals, want)
		}
	}
}
