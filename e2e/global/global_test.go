// Package global tests fleet-wide rate limits end to end: the compiled
// plugin, in two separate wazero "Envoys", asks a real envoyproxy/ratelimit
// service backed by a real Redis through its HTTP /json endpoint. The tests
// start and stop both; install.sh installs them.
package global

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
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

var instanceSeq atomic.Int64

// envoy is one started plugin: one "Envoy" with its own shared data and
// metric instance.
type envoy struct {
	p        *wasmhost.Plugin
	h        http.Handler
	hits     atomic.Int64
	instance string
}

func startEnvoy(t *testing.T, rateLimits string, clusters map[string]string) *envoy {
	t.Helper()
	e := &envoy{instance: fmt.Sprintf("fleet%d", instanceSeq.Add(1))}
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "vm-" + e.instance,
		Configuration: []byte(`{"telemetry": {"instance": "` + e.instance + `"}, "rate_limits": ` + rateLimits + `}`),
		Workers:       2, Clusters: clusters, AllowOnHeadersStopIteration: true,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	e.p = p
	e.h = p.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.hits.Add(1)
		io.WriteString(w, "ok")
	}))
	return e
}

func (e *envoy) get(t *testing.T, tenant string) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest("GET", "http://api.example/api/orders", nil)
	r.RemoteAddr = "192.0.2.1:40000"
	if tenant != "" {
		r.Header.Set("x-tenant", tenant)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return rec
}

func (e *envoy) counter(t *testing.T, labels ...string) uint64 {
	t.Helper()
	name := "apiguard." + e.instance + ".ratelimit." + strings.Join(labels, ".")
	v, ok := e.p.Stats().Counter(name)
	if !ok {
		t.Fatalf("no counter %s", name)
	}
	return v
}

func (e *envoy) decisions(t *testing.T, d verdict.Decision, r verdict.Reason) uint64 {
	return e.counter(t, "policy.fleet", "decision."+string(d), "reason."+string(r), "decisions_total")
}

// failureErrors sums the errors counted under every failure reason (the
// service's 400 is global_service_error, a stopped service Envoy's 503,
// global_unavailable).
func (e *envoy) failureErrors(t *testing.T) uint64 {
	var n uint64
	for _, r := range verdict.RateLimitFailures() {
		n += e.errors(t, string(r))
	}
	return n
}

// failures sums the decisions d taken on a failure of the service.
func (e *envoy) failures(t *testing.T, d verdict.Decision) uint64 {
	var n uint64
	for _, r := range verdict.RateLimitFailures() {
		n += e.decisions(t, d, r)
	}
	return n
}

func (e *envoy) errors(t *testing.T, reason string) uint64 {
	return e.counter(t, "policy.fleet", "reason."+reason, "errors_total")
}

// policyWith is the policy "fleet": one descriptor {tenant: <x-tenant>}
// sent to the service, with extra keys for the global block and the policy.
func policyWith(globalKeys, policyKeys string) string {
	return `[{"name": "fleet", "key": ["header:x-tenant"]` + policyKeys + `,
		"global": {"cluster": "rls", "domain": "apiguard", "timeout": "2s"` + globalKeys + `,
			"descriptors": [[{"key": "tenant", "from": "header:x-tenant"}]]}}]`
}

// awayFromTheMinute waits if the service's fixed minute window would roll
// over within the next 10 s, so a test's counts fall in one window.
func awayFromTheMinute() {
	if s := time.Now().Second(); s >= 50 {
		time.Sleep(time.Duration(61-s) * time.Second)
	}
}

func TestTwoEnvoysShareOneFleetBudget(t *testing.T) {
	s := startStack(t)
	clusters := map[string]string{"rls": s.serviceURL()}
	a := startEnvoy(t, policyWith("", ""), clusters)
	b := startEnvoy(t, policyWith("", ""), clusters)
	awayFromTheMinute()

	admitted := 0
	for i := range 10 {
		e := a
		if i%2 == 1 {
			e = b
		}
		rec := e.get(t, "acme")
		switch rec.Code {
		case 200:
			admitted++
			if got := rec.Header().Get("RateLimit-Policy"); got != `"fleet";q=6;w=60` {
				t.Errorf("admitted response RateLimit-Policy = %q", got)
			}
			if got, want := rec.Header().Get("RateLimit"), fmt.Sprintf(`"fleet";r=%d;`, 6-admitted); !strings.HasPrefix(got, want) {
				t.Errorf("request %d: RateLimit = %q, want prefix %q", i, got, want)
			}
		case 429:
			if ra, _ := strconv.Atoi(rec.Header().Get("Retry-After")); ra < 1 || ra > 60 {
				t.Errorf("refusal Retry-After = %q", rec.Header().Get("Retry-After"))
			}
			if got := rec.Header().Get("RateLimit"); !strings.HasPrefix(got, `"fleet";r=0;`) {
				t.Errorf("refusal RateLimit = %q", got)
			}
		default:
			t.Fatalf("request %d: %d %q", i, rec.Code, rec.Body.String())
		}
	}
	if admitted != 6 {
		t.Errorf("the two Envoys admitted %d requests of one tenant, want the fleet budget of 6", admitted)
	}
	if got := a.hits.Load() + b.hits.Load(); got != 6 {
		t.Errorf("upstreams saw %d requests, want 6", got)
	}
	for name, e := range map[string]*envoy{"A": a, "B": b} {
		if ok, lim := e.decisions(t, verdict.Allow, verdict.WithinLimit), e.decisions(t, verdict.Deny, verdict.RateLimited); ok != 3 || lim != 2 {
			t.Errorf("Envoy %s counted ok=%d limited=%d, want 3 and 2", name, ok, lim)
		}
	}
	// Another tenant has a budget of its own.
	if rec := b.get(t, "globex"); rec.Code != 200 {
		t.Errorf("another tenant: %d", rec.Code)
	}
}

func TestServiceDownFollowsTheFailureMode(t *testing.T) {
	s := startStack(t)
	clusters := map[string]string{"rls": s.serviceURL()}
	allow := startEnvoy(t, policyWith("", ""), clusters)
	deny := startEnvoy(t, policyWith(`, "failure_mode": "deny"`, ""), clusters)
	awayFromTheMinute()
	for _, e := range []*envoy{allow, deny} {
		if rec := e.get(t, "acme"); rec.Code != 200 {
			t.Fatalf("with the service up: %d", rec.Code)
		}
	}
	check := func(phase string, allowed, denied, errs uint64) {
		t.Helper()
		if got := allow.failures(t, verdict.Allow); got != allowed {
			t.Errorf("%s: failure_allowed = %d, want %d", phase, got, allowed)
		}
		if got := deny.failures(t, verdict.Deny); got != denied {
			t.Errorf("%s: failure_denied = %d, want %d", phase, got, denied)
		}
		if a, d := allow.failureErrors(t), deny.failureErrors(t); a != errs || d != errs {
			t.Errorf("%s: service failures counted %d and %d times, want %d each", phase, a, d, errs)
		}
		if got := deny.hits.Load(); got != 1 {
			t.Errorf("%s: failure_mode deny let %d requests through, want only the first", phase, got-1)
		}
	}
	try := func(phase string) {
		t.Helper()
		if rec := allow.get(t, "acme"); rec.Code != 200 {
			t.Errorf("%s, failure_mode allow: %d, want 200", phase, rec.Code)
		}
		rec := deny.get(t, "acme")
		if rec.Code != 429 || rec.Header().Get("Retry-After") == "" {
			t.Errorf("%s, failure_mode deny: %d (Retry-After %q), want 429 with Retry-After", phase, rec.Code, rec.Header().Get("Retry-After"))
		}
	}

	// Redis is down: the service answers 400, neither a pass nor "limited".
	s.redis.stop()
	for range 2 {
		try("Redis down")
	}
	check("Redis down", 2, 2, 2)

	// The service is stopped: Envoy answers the callout 503.
	s.rls.stop()
	for range 3 {
		try("service stopped")
	}
	check("service stopped", 5, 5, 5)
	if got := allow.decisions(t, verdict.Allow, verdict.WithinLimit); got != 1 {
		t.Errorf("ok = %d, want 1", got)
	}
}

func TestSlowServiceTimesOutIntoTheFailureMode(t *testing.T) {
	// A service that accepts and never answers.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		var held []net.Conn
		defer func() {
			for _, c := range held {
				c.Close()
			}
		}()
		for {
			c, err := l.Accept()
			if err != nil {
				return // closed by the cleanup
			}
			held = append(held, c)
		}
	}()
	e := startEnvoy(t, `[{"name": "fleet", "key": ["header:x-tenant"],
		"global": {"cluster": "rls", "domain": "apiguard", "timeout": "100ms"}}]`,
		map[string]string{"rls": "http://" + l.Addr().String()})
	start := time.Now()
	if rec := e.get(t, "acme"); rec.Code != 200 {
		t.Errorf("timed-out callout with failure_mode allow: %d", rec.Code)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("the request waited %v for a 100 ms callout timeout", d)
	}
	if got := e.errors(t, "global_timeout"); got != 1 {
		t.Errorf("global_timeout = %d, want 1", got)
	}
	if got := e.failures(t, verdict.Allow); got != 1 {
		t.Errorf("failure_allowed = %d, want 1", got)
	}
}

func TestLocalPreLimitShedsLoadBeforeTheCallout(t *testing.T) {
	s := startStack(t)
	e := startEnvoy(t, policyWith("", `, "limits": [{"requests": 2, "per": "60s"}]`), map[string]string{"rls": s.serviceURL()})
	awayFromTheMinute()
	for i := range 5 {
		want := 200
		if i >= 2 {
			want = 429
		}
		if rec := e.get(t, "big"); rec.Code != want {
			t.Errorf("request %d: %d, want %d", i, rec.Code, want)
		}
	}
	// The service saw only the two requests the pre-limit admitted.
	if left := remaining(t, s, "big"); left != 1000-2-1 {
		t.Errorf("the service has %d left for tenant big, want 997: the pre-limit did not shed the refused requests", left)
	}
}

// remaining asks the service directly (counting one more hit).
func remaining(t *testing.T, s *stack, tenant string) int {
	t.Helper()
	body := `{"domain": "apiguard", "descriptors": [{"entries": [{"key": "tenant", "value": "` + tenant + `"}]}]}`
	resp, err := http.Post(s.serviceURL()+"/json", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var r struct {
		Statuses []struct {
			LimitRemaining int `json:"limitRemaining"`
		} `json:"statuses"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || len(r.Statuses) != 1 {
		t.Fatalf("service answer: %v %+v", err, r)
	}
	return r.Statuses[0].LimitRemaining
}
