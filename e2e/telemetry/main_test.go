// Package telemetry tests apiguard's audit trail, OTLP export, metrics and
// security signals through the compiled plugin in the wazero host (the
// Envoy stand-in), with real HTTP in front, a real upstream behind, and a
// real OTLP/HTTP receiver reached through a cluster.
package telemetry

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/telemetry/envoystats"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var module *wasmhost.Module

func TestMain(m *testing.M) {
	// LogTrace: every guest line is captured, so the secret scan sees all.
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogTrace}, &module))
}

// The secrets the suite sends. None may appear in any log, export or metric.
const (
	password   = "hunter2-s3cret"
	cardNumber = "4111111111111111"
	apiKey     = "ak_live_9f8e7d6c5b4a"
	issuer     = "https://idp.example.com"
	// Personal data sent under keys that do not say so, and config secrets.
	noteCard = "4012888888881881"
	email    = "alice.doe@example.com"
	otpCode  = "654321"
	salt     = "pepper-4f1d9a0c7e"
)

func jwks() string { return e2eutil.RSAJWKS("k1") }

// token mints an RS256 token for sub with golang-jwt.
func token(t testing.TB, sub string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": issuer, "sub": sub, "aud": "orders", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(e2eutil.RSAKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// forgedToken names the right kid but is signed with another key: a
// failed credential (bad_signature).
func forgedToken(t testing.TB) string {
	t.Helper()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": issuer, "sub": "mallory", "aud": "orders", "iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(other)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// config protects /api with a JWT provider, rate-limits /api per client IP
// (limit requests per minute) and sets the telemetry section.
func config(instance, telemetryExtra string, limit int) string {
	return fmt.Sprintf(`{
  "jwt": {"providers": {"corp": {"issuer": %q, "audiences": ["orders"], "local_jwks": %s}},
          "rules": [{"name": "api", "match": {"prefix": "/api"}, "requires": {"provider": "corp"}}]},
  "rate_limits": [{"name": "per_ip", "match": {"prefix": "/api"}, "key": ["client_ip"], "limits": [{"requests": %d, "per": "60s"}]}],
  "telemetry": {"instance": %q %s}
}`, issuer, jwks(), limit, instance, telemetryExtra)
}

var instanceSeq atomic.Int64

type env struct {
	p        *wasmhost.Plugin
	srv      *httptest.Server
	instance string
}

func start(t testing.TB, telemetryExtra string, limit, workers int, clusters map[string]string) *env {
	t.Helper()
	inst := fmt.Sprintf("tel%d", instanceSeq.Add(1))
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard-" + inst,
		Configuration: []byte(config(inst, telemetryExtra, limit)), Workers: workers,
		Clusters: clusters, AllowOnHeadersStopIteration: true,
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	upstream := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, `{"ok":true,"items":[1,2,3]}`)
	})
	e := &env{p: p, srv: httptest.NewServer(p.Middleware(upstream)), instance: inst}
	t.Cleanup(func() { e.srv.Close(); p.Close() })
	return e
}

// do sends one request; headers are name, value pairs.
func (e *env) do(t testing.TB, method, path string, body string, headers ...string) *http.Response {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, e.srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp
}

// counter reads a plugin counter by its name without the wasmcustom. prefix
// and the apiguard.<instance>. head.
func (e *env) counter(t testing.TB, name string) uint64 {
	t.Helper()
	v, ok := e.p.Stats().Counter("apiguard." + e.instance + "." + name)
	if !ok {
		t.Fatalf("no counter apiguard.%s.%s", e.instance, name)
	}
	return v
}

func (e *env) histogram(t testing.TB, name string) []uint64 {
	t.Helper()
	v, ok := e.p.Stats().Histogram("apiguard." + e.instance + "." + name)
	if !ok {
		t.Fatalf("no histogram apiguard.%s.%s", e.instance, name)
	}
	return v
}

// auditLines returns the log-sink lines (JSON objects) logged at level.
func (e *env) auditLines(t testing.TB, level wasmhost.LogLevel) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, l := range e.p.LogsAt(level) {
		if !strings.HasPrefix(l, `{"type":`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(l), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v\n%s", err, l)
		}
		out = append(out, m)
	}
	return out
}

// prometheus renders the plugin's metrics as Envoy's /stats/prometheus does
// with envoy.yaml's stats_tags.
func (e *env) prometheus(t testing.TB) string {
	t.Helper()
	x, err := envoystats.NewExtractor(append(envoystats.DefaultSpecs(), metrics.StatsTags(metrics.DefaultPrefix)...))
	if err != nil {
		t.Fatal(err)
	}
	st := e.p.Stats()
	var ms []envoystats.Metric
	for _, full := range st.Names() {
		name := strings.TrimPrefix(full, "wasmcustom.")
		if v, ok := st.Counter(name); ok {
			ms = append(ms, envoystats.Metric{Name: full, Type: envoystats.TypeCounter, Value: v})
		} else if g, ok := st.Gauge(name); ok {
			ms = append(ms, envoystats.Metric{Name: full, Type: envoystats.TypeGauge, Value: g})
		} else if h, ok := st.Histogram(name); ok {
			ms = append(ms, envoystats.Metric{Name: full, Type: envoystats.TypeHistogram, Samples: h})
		}
	}
	var b strings.Builder
	if err := envoystats.WritePrometheus(&b, x, ms, nil); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// assertNoSecrets greps every captured log line, the metric names and the
// given exports for the suite's secrets and the tokens it sent.
func assertNoSecrets(t testing.TB, e *env, tokens []string, exports ...string) {
	t.Helper()
	var all strings.Builder
	for _, l := range e.p.Logs() {
		all.WriteString(l.Message + "\n")
	}
	for _, tr := range e.p.Traps() {
		all.WriteString(tr + "\n")
	}
	all.WriteString(e.prometheus(t))
	all.WriteString(strings.Join(e.p.Stats().Names(), "\n"))
	for _, x := range exports {
		all.WriteString(x)
	}
	text := all.String()
	secrets := append([]string{password, cardNumber, apiKey, noteCard, email, url.QueryEscape(email), otpCode, salt}, tokens...)
	for _, tok := range tokens {
		// A token's signature alone is a secret too.
		secrets = append(secrets, tok[strings.LastIndexByte(tok, '.')+1:])
	}
	for _, s := range secrets {
		if strings.Contains(text, s) {
			t.Errorf("a secret (%d bytes, starting %q) appears in the logs, metrics or exports", len(s), s[:4])
		}
	}
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t testing.TB, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
