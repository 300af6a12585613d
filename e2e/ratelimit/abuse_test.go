package ratelimit

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// The issue-11 scenario through 4 VMs: with max_keys 8 and a header key,
// 40 distinct keys used to switch limiting off for every new client
// (failure_mode allow on table_full). Now a client at its limit stays
// limited after 10 × max_keys other keys, each new client gets exactly its
// quota, and the evictions are counted.
func TestFilledTableStillLimitsNewClients(t *testing.T) {
	e := start(t, `[{"name": "per_k", "key": ["header:x-k"], "max_keys": 8, "limits": [{"requests": 2, "per": "3600s"}]}]`, opts{workers: 4})
	k := func(v string) req { return req{headers: map[string]string{"x-k": v}} }
	for range 2 {
		wantStatus(t, e.do(t, k("victim")), 200, "victim within its quota")
	}
	wantStatus(t, e.do(t, k("victim")), 429, "victim at its limit")
	for i := range 80 {
		wantStatus(t, e.do(t, k("filler-"+strconv.Itoa(i))), 200, "filler")
	}
	wantStatus(t, e.do(t, k("victim")), 429, "victim after 80 other keys")
	for i := range 10 {
		key := k("new-" + strconv.Itoa(i))
		got := []int{e.do(t, key).Code, e.do(t, key).Code, e.do(t, key).Code}
		if got[0] != 200 || got[1] != 200 || got[2] != 429 {
			t.Fatalf("new client %d after the fill: statuses %v, want [200 200 429]", i, got)
		}
	}
	if n := e.errors(t, "per_k", "table_full"); n != 0 {
		t.Errorf("table_full counted %d times: the full table still fell back to failure_mode", n)
	}
	if n := e.counter(t, "ratelimit", "policy.per_k", "evictions_total"); n == 0 {
		t.Error("no eviction counted after 90 keys into 8 slots")
	}
	if logs := strings.Join(e.p.LogsAt(wasmhost.LogWarn), "\n"); !strings.Contains(logs, "max_keys 8") {
		t.Errorf("no start-up warning about max_keys 8 for a 1 h window in the logs")
	}
}

// The issue-11 byte-budget scenario through 4 VMs: 60 parallel requests
// against 10,000 bytes per hour with 5 KB responses used to admit 24. The
// upstream holds every admitted response until all 60 requests were judged,
// so the streams really are concurrent.
func TestByteBudgetHoldsUnderParallelRequests(t *testing.T) {
	const budget, size, parallel = 10_000, 5_000, 60
	for _, c := range []struct {
		name     string
		estimate int
	}{{"defaults", 0}, {"estimated_bytes", 1000}} {
		t.Run(c.name, func(t *testing.T) {
			extra := ""
			if c.estimate > 0 {
				extra = `, "estimated_bytes": ` + strconv.Itoa(c.estimate)
			}
			e := start(t, `[{"name": "bytes", "cost": "response_bytes", "key": ["client_ip"]`+extra+`, "limits": [{"requests": 10000, "per": "3600s"}]}]`, opts{workers: 4})
			e.up.body = strings.Repeat("x", size)
			var judged sync.WaitGroup
			judged.Add(parallel)
			release := make(chan struct{})
			go func() { judged.Wait(); close(release) }()
			held := e.p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				judged.Done() // admitted: judged
				select {
				case <-release:
				case <-time.After(10 * time.Second):
				}
				e.up.ServeHTTP(w, r)
			}))
			codes := make([]int, parallel)
			var wg sync.WaitGroup
			for i := range parallel {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rec := doWith(held, req{})
					codes[i] = rec.Code
					if rec.Code != 200 {
						judged.Done() // refused: judged
					}
				}()
			}
			wg.Wait()
			admitted := 0
			for _, code := range codes {
				if code == 200 {
					admitted++
				}
			}
			delivered := admitted * size
			bound := 2 * budget
			if c.estimate > 0 {
				bound = budget + admitted*(size-c.estimate)
			}
			if admitted < 1 || delivered > bound {
				t.Fatalf("%d of %d admitted, %d bytes delivered: want at least 1 admitted and at most %d bytes", admitted, parallel, delivered, bound)
			}
			t.Logf("%d of %d admitted, %d bytes delivered (bound %d)", admitted, parallel, delivered, bound)
		})
	}
}
