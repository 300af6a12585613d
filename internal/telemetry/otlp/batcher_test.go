package otlp

import (
	"testing"
	"time"
)

var t0 = time.Date(2026, 11, 28, 18, 0, 0, 123456789, time.UTC)

func rec(s string) []byte { return []byte(`{"body":"` + s + `"}`) }

func testBatcher() *Batcher {
	return NewBatcher(BatcherConfig{BatchSize: 2, MaxBuffered: 4, FlushInterval: 10 * time.Second, CallTimeout: time.Second,
		InitialBackoff: time.Second, MaxBackoff: 4 * time.Second, MaxRetries: 3})
}

func TestBatcherSendsFullBatchesAtOnceAndPartialOnesOnTheInterval(t *testing.T) {
	b := testBatcher()
	b.Add(rec("a"), t0)
	if got := b.Next(t0.Add(time.Second)); got != nil {
		t.Fatalf("partial batch sent early: %q", got)
	}
	b.Add(rec("b"), t0)
	got := b.Next(t0.Add(time.Second))
	if len(got) != 2 {
		t.Fatalf("full batch not sent: %q", got)
	}
	b.Add(rec("c"), t0)
	if b.Next(t0.Add(time.Hour)) != nil {
		t.Fatal("second batch while one is in flight")
	}
	b.Done(ExportResult{Accepted: true}, t0.Add(2*time.Second))
	if b.Next(t0.Add(5*time.Second)) != nil {
		t.Fatal("partial batch before the flush interval")
	}
	if got := b.Next(t0.Add(12 * time.Second)); len(got) != 1 || string(got[0]) != string(rec("c")) {
		t.Fatalf("partial batch after interval: %q", got)
	}
}

func TestBatcherIsBoundedAndCountsDrops(t *testing.T) {
	b := testBatcher()
	for i := 0; i < 4; i++ {
		if !b.Add(rec("x"), t0) {
			t.Fatalf("add %d refused", i)
		}
	}
	if b.Add(rec("y"), t0) {
		t.Fatal("add beyond max_buffered accepted")
	}
	b.Next(t0) // 2 in flight, 2 queued: still full
	if b.Add(rec("y"), t0) || b.Len() != 4 {
		t.Fatalf("in-flight records not counted against the bound (len %d)", b.Len())
	}
	small := NewBatcher(BatcherConfig{BatchSize: 10, MaxBuffered: 10, MaxBytes: 40})
	if !small.Add(make([]byte, 30), t0) || small.Add(make([]byte, 11), t0) {
		t.Fatal("byte bound not enforced")
	}
}

func TestBatcherRetriesWithExponentialBackoffThenGivesUp(t *testing.T) {
	b := testBatcher()
	b.Add(rec("a"), t0)
	b.Add(rec("b"), t0)
	now := t0
	batch := b.Next(now)
	fail := ExportResult{Retryable: true, Reason: "http_status"}
	var waits []time.Duration
	for attempt := 0; attempt < 3; attempt++ {
		if d := b.Done(fail, now); d != 0 {
			t.Fatalf("dropped after %d failures", attempt+1)
		}
		// find when the retry leaves
		start := now
		for b.Next(now) == nil {
			now = now.Add(250 * time.Millisecond)
			if now.Sub(start) > time.Minute {
				t.Fatal("no retry")
			}
		}
		waits = append(waits, now.Sub(start))
	}
	want := []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}
	for i := range want {
		if waits[i] != want[i] {
			t.Fatalf("backoffs %v, want %v", waits, want)
		}
	}
	if d := b.Done(fail, now); d != len(batch) {
		t.Fatalf("gave up with %d dropped, want %d", d, len(batch))
	}
	if b.Len() != 0 || b.Next(now.Add(time.Hour)) != nil {
		t.Fatal("batch not dropped")
	}
}

func TestBatcherDropsNonRetryableAndExpiresLostCalls(t *testing.T) {
	b := testBatcher()
	b.Add(rec("a"), t0)
	b.Add(rec("b"), t0)
	b.Next(t0)
	if d := b.Done(ExportResult{Reason: "http_status"}, t0); d != 2 {
		t.Fatalf("400 answer dropped %d", d)
	}
	b.Add(rec("c"), t0)
	b.Add(rec("d"), t0)
	b.Next(t0)
	if _, expired := b.Expire(t0.Add(1500 * time.Millisecond)); expired {
		t.Fatal("expired before 2x the call timeout")
	}
	if d, expired := b.Expire(t0.Add(2 * time.Second)); !expired || d != 0 {
		t.Fatalf("lost call: expired %v dropped %d", expired, d)
	}
	if got := b.Next(t0.Add(3 * time.Second)); len(got) != 2 {
		t.Fatalf("lost batch not retried: %q", got)
	}
	for range 2 {
		if b.Done(ExportResult{Accepted: true}, t0) != 0 {
			t.Fatal("Done without a batch in flight")
		}
	}
}

func BenchmarkBatcherCycle(b *testing.B) {
	bt := NewBatcher(BatcherConfig{BatchSize: 100, MaxBuffered: 1000, FlushInterval: time.Second})
	r := rec("x")
	b.ReportAllocs()
	for b.Loop() {
		for i := 0; i < 100; i++ {
			bt.Add(r, t0)
		}
		bt.Next(t0)
		bt.Done(ExportResult{Accepted: true}, t0)
	}
}
