package ratelimit

import (
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/ratelimit"
	"github.com/apiguard/apiguard/internal/verdict"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// hammer sends n requests from `from` on `parallel` goroutines and returns how
// many were admitted.
func (e *env) hammer(t *testing.T, n, parallel int, mk func(i int) req) int64 {
	t.Helper()
	var admitted, next atomic.Int64
	var wg sync.WaitGroup
	for range parallel {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				switch rec := e.do(t, mk(int(i))); rec.Code {
				case 200:
					admitted.Add(1)
				case 429:
				default:
					t.Errorf("request %d: status %d %q", i, rec.Code, rec.Body.String())
					return
				}
			}
		}()
	}
	wg.Wait()
	return admitted.Load()
}

// With the wall clock frozen, a key's GCRA admits exactly requests+burst,
// however many worker VMs race for it: every admission is a successful CAS.
func TestEightWorkerVMsAdmitExactlyTheDocumentedCapacity(t *testing.T) {
	for _, mode := range []string{"allow", "deny"} {
		t.Run("failure_mode_"+mode, func(t *testing.T) {
			e := start(t, `[{"name": "hot", "failure_mode": "`+mode+`", "key": ["header:x-tenant"],
				"limits": [{"requests": 50, "per": "60s", "burst": 10}]}]`, opts{workers: 8})
			tenant := req{headers: map[string]string{"x-tenant": "acme"}}
			got := e.hammer(t, 400, 32, func(int) req { return tenant })
			const capacity = 50 + 10
			if got != capacity {
				t.Errorf("admitted %d of 400 concurrent requests, want exactly %d", got, capacity)
			}
			if hits := e.up.hits.Load(); hits != capacity {
				t.Errorf("upstream saw %d requests, want %d", hits, capacity)
			}
			if c := e.errors(t, "hot", "store_contended"); c != 0 {
				t.Errorf("%d checks ran out of CAS attempts", c)
			}
			// Time moving on restores exactly one request per 1.2 s.
			e.clock.advance(6 * time.Second)
			if got := e.hammer(t, 50, 16, func(int) req { return tenant }); got != 5 {
				t.Errorf("after 6 s, admitted %d, want 5", got)
			}
		})
	}
}

var maxBytesLog = regexp.MustCompile(`at most (\d+) bytes of shared data`)

// The table is bounded: however many distinct clients come, the plugin's
// shared data stays within Limiter.MaxBytes. When every slot holds a live
// key, a new client evicts the entry with the least debt, counted, and is
// still checked; once keys rest, their slots are reused.
func TestDistinctClientsKeepSharedDataWithinTheDocumentedBound(t *testing.T) {
	clients := 100_000
	if testing.Short() {
		clients = 20_000
	}
	const policy = `[{"name": "per_ip", "max_keys": 2000, "key": ["client_ip"], "limits": [{"requests": 5, "per": "1s"}]}]`
	e := start(t, policy, opts{workers: 4})
	bound := logged(t, e.p)
	if want := nativeMaxBytes(t, policy, "apiguard/apiguard/v1"); bound != want {
		t.Fatalf("plugin reports a bound of %d bytes, the limiter computes %d", bound, want)
	}
	addr := func(i int) string {
		a := netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		return netip.AddrPortFrom(a, 1234).String()
	}
	batch := clients / 10
	maxSeen := 0
	for round := range 10 {
		base := round * batch
		got := e.hammer(t, batch, 8, func(i int) req { return req{from: addr(base + i)} })
		if got != int64(batch) {
			t.Fatalf("round %d: %d of %d first requests admitted", round, got, batch)
		}
		keys, bytes := e.sharedBytes()
		if bytes > bound {
			t.Fatalf("round %d: shared data holds %d bytes in %d keys, above the bound %d", round, bytes, keys, bound)
		}
		maxSeen = max(maxSeen, bytes)
		if round == 4 {
			// Everyone rests: every slot becomes reusable.
			e.clock.advance(2 * time.Second)
		}
	}
	keys, _ := e.sharedBytes()
	if keys > 2000+1 {
		t.Errorf("%d shared-data keys, want at most max_keys = 2000 and the policy's hash key", keys)
	}
	full := e.errors(t, "per_ip", "table_full")
	allowed := e.failures(t, "per_ip", verdict.Allow)
	evicted := e.counter(t, "ratelimit", "policy.per_ip", "evictions_total")
	if full != 0 || allowed != 0 || evicted == 0 {
		t.Errorf("table_full = %d, failures allowed = %d, evictions = %d: clients beyond a full table of live keys must evict the least-indebted entry, counted, and never pass unchecked", full, allowed, evicted)
	}
	t.Logf("%d clients: at most %d bytes of shared data (bound %d), %d keys, %d live entries evicted", clients, maxSeen, bound, keys, evicted)
}

// A million distinct clients through the limiter itself, over a store with
// the Proxy-Wasm shared-data semantics: the same bound holds. (Through the
// compiled plugin this would take minutes on CI; the test above drives 100k.)
func TestAMillionDistinctClientsStayWithinTheBoundNatively(t *testing.T) {
	if testing.Short() {
		t.Skip("a million checks")
	}
	const policy = `[{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 5, "per": "1s"}]}]`
	var cfg ratelimit.Config
	if err := config.Decode([]byte(policy), &cfg); err != nil {
		t.Fatal(err)
	}
	store := &castable.MemStore{}
	l, err := ratelimit.New(cfg, store, "apiguard/apiguard/v1")
	if err != nil {
		t.Fatal(err)
	}
	bound := l.MaxBytes()
	now := time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)
	full := 0
	r := &ratelimit.Request{Method: "GET", Path: "/"}
	for i := range 1_000_000 {
		r.ClientIP = netip.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
		now = now.Add(10 * time.Microsecond) // 100k new clients a second
		o := l.Check(r, now).Outcomes[0]
		switch {
		case o.Reason == ratelimit.ReasonTableFull:
			full++
		case o.Decision != ratelimit.Allowed:
			t.Fatalf("client %d: %+v", i, o)
		}
		if i%100_000 == 0 && store.Bytes() > bound {
			t.Fatalf("after %d clients: %d bytes, above the bound %d", i, store.Bytes(), bound)
		}
	}
	if store.Bytes() > bound || store.Len() > 10_000+1 {
		t.Errorf("%d bytes in %d keys; bound %d bytes in 10000 slots and a hash key", store.Bytes(), store.Len(), bound)
	}
	t.Logf("1e6 clients: %d bytes in %d keys (bound %d), %d passed on a full table", store.Bytes(), store.Len(), bound, full)
}

func logged(t *testing.T, p *wasmhost.Plugin) int {
	t.Helper()
	for _, line := range p.LogsAt(wasmhost.LogInfo) {
		if m := maxBytesLog.FindStringSubmatch(line); m != nil {
			n, _ := strconv.Atoi(m[1])
			return n
		}
	}
	t.Fatalf("the plugin did not log its shared-data bound; logs: %v", p.LogsAt(wasmhost.LogInfo))
	return 0
}

func nativeMaxBytes(t *testing.T, policy, namespace string) int {
	t.Helper()
	var cfg ratelimit.Config
	if err := config.Decode([]byte(policy), &cfg); err != nil {
		t.Fatal(err)
	}
	l, err := ratelimit.New(cfg, &castable.MemStore{}, namespace)
	if err != nil {
		t.Fatal(fmt.Errorf("limiter: %w", err))
	}
	return l.MaxBytes()
}
