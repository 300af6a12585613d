package ratelimit

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// BenchmarkCheck measures one rate-limit check of an admitted request on a
// hot key, natively over MemStore.
func BenchmarkCheck(b *testing.B) {
	// One unit per 10 µs, time advancing 1 µs per check: the key's state
	// stays live (the common case of a busy client) and never runs out.
	l, _ := mustLimiter(b, `[{"name":"p","key":["client_ip"],"limits":[{"requests":100000,"per":"1s","burst":1000000000}]}]`)
	r := req("192.0.2.1", nil)
	now := t0
	b.ReportAllocs()
	for b.Loop() {
		now = now.Add(time.Microsecond)
		if !l.Check(r, now).Allowed() {
			b.Fatal("refused")
		}
	}
}

// BenchmarkCheckContended runs 8 goroutines on one key (frozen clock and a
// budget that never runs out) and reports the CAS attempt distribution: the
// share of checks that needed 1, 2, 3-4 and 5+ attempts, and the share that
// exhausted them.
func BenchmarkCheckContended(b *testing.B) {
	l, _ := mustLimiter(b, `[{"name":"p","key":["client_ip"],"limits":[{"requests":1000000000,"per":"1s","burst":1000000000000}]}]`)
	r := req("192.0.2.1", nil)
	var hist [5]atomic.Int64 // 1, 2, 3-4, 5+, exhausted
	b.ReportAllocs()
	b.ResetTimer()
	var wg sync.WaitGroup
	const workers = 8
	per := b.N/workers + 1
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				o := l.Check(r, t0).Outcomes[0]
				switch {
				case o.Reason == ReasonContended:
					hist[4].Add(1)
				case o.Attempts <= 1:
					hist[0].Add(1)
				case o.Attempts == 2:
					hist[1].Add(1)
				case o.Attempts <= 4:
					hist[2].Add(1)
				default:
					hist[3].Add(1)
				}
			}
		}()
	}
	wg.Wait()
	total := float64(workers * per)
	for i, name := range []string{"attempts_1_%", "attempts_2_%", "attempts_3-4_%", "attempts_5+_%", "exhausted_%"} {
		b.ReportMetric(100*float64(hist[i].Load())/total, name)
	}
}
