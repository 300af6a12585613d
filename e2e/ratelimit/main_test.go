// Package ratelimit tests the compiled plugin's rate limits through the
// wazero Envoy stand-in: keys, shadow mode, the response-cost budget, the
// IETF headers, exactness across worker VMs and bounded shared memory.
package ratelimit

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/verdict"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var module *wasmhost.Module

func TestMain(m *testing.M) {
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogInfo}, &module))
}

// instanceSeq gives every plugin its own metric instance: the metric store
// is shared by the module, as Envoy's stats are by the process.
var instanceSeq atomic.Int64

// env is one started plugin (one "Envoy") with its frozen wall clock.
type env struct {
	p        *wasmhost.Plugin
	h        http.Handler
	up       *upstream
	clock    *clock
	instance string
	vmID     string
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// opts are the less common settings of a started plugin.
type opts struct {
	extra      string // spliced into the top-level configuration object
	workers    int    // default 1
	clusters   map[string]string
	properties map[string][]byte
	module     *wasmhost.Module // default: the shared one, logging at info
}

// start runs the plugin with rateLimits as its "rate_limits" JSON behind a
// frozen clock.
func start(t testing.TB, rateLimits string, o opts) *env {
	t.Helper()
	e := &env{
		up:       &upstream{body: `{"ok":true}`},
		clock:    &clock{t: time.Date(2026, 11, 28, 12, 0, 0, 0, time.UTC)},
		instance: fmt.Sprintf("rl%d", instanceSeq.Add(1)),
	}
	e.vmID = "apiguard-" + e.instance
	cfg := `{"telemetry": {"instance": "` + e.instance + `"}, "rate_limits": ` + rateLimits + o.extra + `}`
	m := module
	if o.module != nil {
		m = o.module
	}
	p, err := m.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: e.vmID,
		Configuration: []byte(cfg), Workers: max(o.workers, 1),
		AllowOnHeadersStopIteration: true,
		WallClock:                   e.clock.now,
		Clusters:                    o.clusters,
		Properties:                  o.properties,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	e.p = p
	e.h = p.Middleware(e.up)
	return e
}

// upstream is the protected API: it counts what reaches it and answers a
// body of the configured size.
type upstream struct {
	hits atomic.Int64
	body string
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.hits.Add(1)
	w.Header().Set("content-type", "application/json")
	io.WriteString(w, u.body)
}

// req describes one request.
type req struct {
	path    string
	from    string // client address, "ip:port"; default 192.0.2.1:40000
	headers map[string]string
	repeat  []string // name, value pairs added after headers
}

func (e *env) do(t testing.TB, r req) *httptest.ResponseRecorder {
	t.Helper()
	return doWith(e.h, r)
}

// doWith sends r through h.
func doWith(h http.Handler, r req) *httptest.ResponseRecorder {
	if r.path == "" {
		r.path = "/api/items"
	}
	hr := httptest.NewRequest("GET", "http://api.example"+r.path, nil)
	hr.RemoteAddr = "192.0.2.1:40000"
	if r.from != "" {
		hr.RemoteAddr = r.from
	}
	for k, v := range r.headers {
		hr.Header.Set(k, v)
	}
	for i := 0; i+1 < len(r.repeat); i += 2 {
		hr.Header.Add(r.repeat[i], r.repeat[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, hr)
	return rec
}

// counter reads one of the plugin's counters by its labels, e.g.
// counter("ratelimit", "policy.per_ip", "decision.deny", "reason.rate_limited", "decisions_total").
func (e *env) counter(t testing.TB, subsystem string, labels ...string) uint64 {
	t.Helper()
	name := "apiguard." + e.instance + "." + subsystem + "." + strings.Join(labels, ".")
	v, ok := e.p.Stats().Counter(name)
	if !ok {
		t.Fatalf("no counter %s; have:\n%s", name, strings.Join(e.p.Stats().Names(), "\n"))
	}
	return v
}

func (e *env) decisions(t testing.TB, policy string, d verdict.Decision, r verdict.Reason) uint64 {
	t.Helper()
	return e.counter(t, "ratelimit", "policy."+policy, "decision."+string(d), "reason."+string(r), "decisions_total")
}

// failures sums the decisions d taken on a failure (table full, contended,
// service errors) under the policy's failure mode.
func (e *env) failures(t testing.TB, policy string, d verdict.Decision) uint64 {
	t.Helper()
	var n uint64
	for _, r := range verdict.RateLimitFailures() {
		n += e.decisions(t, policy, d, r)
	}
	return n
}

func (e *env) errors(t testing.TB, policy, reason string) uint64 {
	t.Helper()
	return e.counter(t, "ratelimit", "policy."+policy, "reason."+reason, "errors_total")
}

// sharedBytes sums the keys and values of the plugin's shared data.
func (e *env) sharedBytes() (keys, bytes int) {
	sd := e.p.SharedData()
	for _, k := range sd.Keys() {
		v, _, _ := sd.Get(k)
		keys++
		bytes += len(k) + len(v)
	}
	return keys, bytes
}
