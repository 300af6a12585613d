package inventory

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"io"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/verdict"
)

func compressed(t testing.TB, coding string, doc []byte) []byte {
	t.Helper()
	var b bytes.Buffer
	var w io.WriteCloser
	switch coding {
	case "gzip":
		w = gzip.NewWriter(&b)
	case "deflate":
		w = zlib.NewWriter(&b)
	case "raw deflate":
		w, _ = flate.NewWriter(&b, flate.BestSpeed)
	}
	w.Write(doc)
	w.Close()
	return b.Bytes()
}

// TestCompressedBodiesAreObservedAsTheyPass: a gzip or deflate JSON body on
// an unfiltered route is decoded chunk by chunk as it passes, whatever the
// chunk size, and its card number is counted like an uncompressed body's.
func TestCompressedBodiesAreObservedAsTheyPass(t *testing.T) {
	w := newWorker(t, `{"classes": {"card_number": "observe"}}`)
	card := w.classifier.Index("card_number")
	doc := []byte(`{"id":1,"items":[` + strings.Repeat(`{"sku":"a-1","qty":2},`, 300) + `{"card":"4111 1111 1111 1111"}]}`)
	for _, coding := range []string{"gzip", "deflate", "raw deflate"} {
		body := compressed(t, coding, doc)
		ce := strings.TrimPrefix(coding, "raw ")
		for _, n := range []int{1, 7, 100, 4096, len(body)} {
			s := w.Start(true)
			if !s.Follow("application/json", ce) {
				t.Fatalf("%s: not followed", coding)
			}
			for i := 0; i < len(body); i += n {
				s.Write(body[i:min(i+n, len(body))], i+n >= len(body))
			}
			r := s.Finish()
			if r == nil || r.Values[card] != 1 || r.Incomplete || s.Unobserved() != "" {
				t.Fatalf("%s in chunks of %d: %v, unobserved %q", coding, n, r, s.Unobserved())
			}
			w.Put(s)
		}
	}
}

// TestCompressedBodiesThatDoNotDecodeAreNotObserved: a corrupt or
// truncated body is counted as not observed (decode_failed), a bomb stops
// at max_observed_bytes (default 1 MiB) (body_too_large), a coding apiguard does not decode
// is not followed (unsupported_encoding); a stream that ends mid-body
// leaves no decoding behind.
func TestCompressedBodiesThatDoNotDecodeAreNotObserved(t *testing.T) {
	w := newWorker(t, `{}`)
	doc := []byte(`{"card":"4111111111111111","pad":"` + strings.Repeat("x", 5000) + `"}`)
	gz := compressed(t, "gzip", doc)
	corrupt := bytes.Clone(gz)
	corrupt[len(corrupt)/2] ^= 0xff
	bomb := compressed(t, "gzip", append(append([]byte(`{"z":"`), make([]byte, DefaultMaxObservedBytes)...), `"}`...))
	for _, c := range []struct {
		name, ce string
		body     []byte
		want     verdict.Reason
	}{
		{"corrupt", "gzip", corrupt, verdict.DecodeFailed},
		{"truncated", "gzip", gz[:len(gz)-10], verdict.DecodeFailed},
		{"not gzip at all", "gzip", doc, verdict.DecodeFailed},
		{"a bomb", "gzip", bomb, verdict.BodyTooLarge},
	} {
		s := w.Start(true)
		s.Follow("application/json", c.ce)
		for i := 0; i < len(c.body); i += 512 {
			s.Write(c.body[i:min(i+512, len(c.body))], i+512 >= len(c.body))
		}
		s.Finish()
		if got := s.Unobserved(); got != c.want {
			t.Errorf("%s: unobserved %q, want %q", c.name, got, c.want)
		}
		w.Put(s)
	}
	s := w.Start(true)
	if s.Follow("application/json", "br") || s.Unobserved() != verdict.UnsupportedEncoding {
		t.Errorf("br: followed, or unobserved %q", s.Unobserved())
	}
	w.Put(s)

	// Streams cut short mid-body (a reset) leave no coroutine behind.
	before := runtime.NumGoroutine()
	for range 100 {
		s := w.Start(true)
		s.Follow("application/json", "gzip")
		s.Write(gz[:len(gz)/2], false)
		if s.Finish(); s.Unobserved() != "" {
			t.Fatalf("cut short: unobserved %q", s.Unobserved())
		}
		w.Put(s)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before+2 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before+2 {
		t.Errorf("%d goroutines after 100 streams cut short, %d before", n, before)
	}
}

// TestObservationStopsAtMaxObservedBytes: the reviewer's body, a 40 KB gzip
// of ~883k card numbers (~16 MB decoded), once held a worker ~15 s while
// every value was classified. Observation now stops after max_observed_bytes (default 1 MiB)
// of decoded body: the response is counted as not observed (body_too_large)
// and a field past the bound is never reached; an uncompressed body is
// bounded the same way; a body under the bound is observed to its end.
func TestObservationStopsAtMaxObservedBytes(t *testing.T) {
	w := newWorker(t, `{}`)
	late := `{"late":"x"}`
	var doc bytes.Buffer
	doc.WriteString(`[{"early":"y"}`)
	for range 883_000 {
		doc.WriteString(`,"4111111111111111"`)
	}
	doc.WriteString("," + late + "]")
	small := []byte(`[{"early":"y"},"4111111111111111",` + late + `]`)
	for _, c := range []struct {
		name, ce string
		body     []byte
		want     verdict.Reason
	}{
		{"gzip of 883k cards", "gzip", compressed(t, "gzip", doc.Bytes()), verdict.BodyTooLarge},
		{"uncompressed, 16 MB", "", doc.Bytes(), verdict.BodyTooLarge},
		{"small gzip", "gzip", compressed(t, "gzip", small), ""},
		{"small", "", small, ""},
	} {
		s := w.Start(true)
		s.Follow("application/json", c.ce)
		for i := 0; i < len(c.body); i += 16 << 10 {
			s.Write(c.body[i:min(i+16<<10, len(c.body))], i+16<<10 >= len(c.body))
		}
		r := s.Finish()
		if got := s.Unobserved(); got != c.want {
			t.Errorf("%s: unobserved %q, want %q", c.name, got, c.want)
		}
		paths := map[string]bool{}
		for _, f := range r.Fields() {
			paths[f.Path] = true
		}
		if !paths["#.early"] || paths["#.late"] != (c.want == "") {
			t.Errorf("%s: paths %v: want #.early, and #.late only when observed to the end", c.name, paths)
		}
		w.Put(s)
	}
}

// TestObservationStopsAtTheConfiguredBound: max_observed_bytes moves the
// bound, for uncompressed and compressed bodies alike (counted decoded): a
// 100 KiB body observed to its end under the default is body_too_large at
// 64 KiB, the field past the bound never reached, what came before counted;
// a body of exactly the bound is observed to its end.
func TestObservationStopsAtTheConfiguredBound(t *testing.T) {
	doc := func(n int) []byte { // n bytes: an early field, padding, a late field
		head, tail := `[{"early":"4111111111111111"},"`, `",{"late":"x"}]`
		return []byte(head + strings.Repeat("x", n-len(head)-len(tail)) + tail)
	}
	big, exact := doc(100<<10), doc(64<<10)
	for _, c := range []struct {
		name, config, ce string
		body             []byte
		want             verdict.Reason
	}{
		{"100 KiB, default bound", `{}`, "", big, ""},
		{"100 KiB gzip, default bound", `{}`, "gzip", compressed(t, "gzip", big), ""},
		{"100 KiB, bound 64 KiB", `{"max_observed_bytes": 65536}`, "", big, verdict.BodyTooLarge},
		{"100 KiB gzip, bound 64 KiB", `{"max_observed_bytes": 65536}`, "gzip", compressed(t, "gzip", big), verdict.BodyTooLarge},
		{"100 KiB deflate, bound 64 KiB", `{"max_observed_bytes": 65536}`, "deflate", compressed(t, "deflate", big), verdict.BodyTooLarge},
		{"64 KiB, bound 64 KiB", `{"max_observed_bytes": 65536}`, "", exact, ""},
		{"64 KiB gzip, bound 64 KiB", `{"max_observed_bytes": 65536}`, "gzip", compressed(t, "gzip", exact), ""},
	} {
		w := newWorker(t, c.config)
		card := w.classifier.Index("card_number")
		s := w.Start(true)
		s.Follow("application/json", c.ce)
		for i := 0; i < len(c.body); i += 4 << 10 {
			s.Write(c.body[i:min(i+4<<10, len(c.body))], i+4<<10 >= len(c.body))
		}
		r := s.Finish()
		if got := s.Unobserved(); got != c.want {
			t.Errorf("%s: unobserved %q, want %q", c.name, got, c.want)
		}
		paths := map[string]bool{}
		for _, f := range r.Fields() {
			paths[f.Path] = true
		}
		if r.Values[card] != 1 || paths["#.late"] != (c.want == "") {
			t.Errorf("%s: %d cards, paths %v: want the early card, and #.late only when observed to the end", c.name, r.Values[card], paths)
		}
		w.Put(s)
	}
}
