package telemetry

import (
	"bytes"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/internal/telemetrytest"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/verdict"
)

// The suite's secrets (telemetrytest): every output is grepped for them.
const (
	secretJWT      = telemetrytest.SecretJWT
	secretPassword = telemetrytest.SecretPassword
	secretAPIKey   = telemetrytest.SecretAPIKey
	secretCVV      = telemetrytest.SecretCVV
	secretCookie   = telemetrytest.SecretCookie
	secretQuery    = telemetrytest.SecretQuery
)

var t0 = time.Date(2026, 11, 28, 18, 0, 0, 123456789, time.UTC)

// sampleEvent is a denied request carrying secrets in the places a careless
// plugin would leak them (the path's query, the identity's neighbours).
func sampleEvent() *audit.Event {
	return &audit.Event{
		Time:      t0,
		RequestID: "7f1c2a9e-5b1d-4c1e-9a55-0f3c1e2d4b6a",
		TraceID:   "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:    "00f067aa0ba902b7",
		Route:     "users",
		Method:    "POST",
		Path:      "/users/42?access_token=" + secretJWT + "&q=" + secretQuery,
		Status:    401,
		Decisions: []audit.Decision{{Policy: "authn", Decision: verdict.Deny, Reason: "expired"}},
		Identity:  &audit.Identity{Issuer: "https://idp.example.com", Subject: "alice", KeyID: "k1"},
		ClientIP:  "203.0.113.7",
		Latency:   1250 * time.Microsecond,
	}
}

func sampleInventory() metrics.Inventory {
	return metrics.Inventory{Instance: "orders", Routes: []string{"users"}, Providers: []string{"corp"},
		JWKSProviders: []string{"corp"}, Policies: []string{"per_user"}}
}

func assertNoSecrets(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, s := range telemetrytest.AllSecrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains secret %q", where, s)
		}
	}
}

// countingSink is the host's metric store as far as the Auditor's tests
// need it: counters by name (a name defined twice is one counter, as in
// Envoy); histograms are accepted and dropped.
type countingSink struct{ counters map[string]*counter }

type counter struct{ v uint64 }

func (c *counter) Add(d uint64) { c.v += d }

type histogram struct{}

func (histogram) Record(uint64) {}

func newFakeSink() *countingSink { return &countingSink{counters: map[string]*counter{}} }

func (s *countingSink) DefineCounter(name string) (metrics.Counter, error) {
	if c, ok := s.counters[name]; ok {
		return c, nil
	}
	c := &counter{}
	s.counters[name] = c
	return c, nil
}

func (s *countingSink) DefineHistogram(string) (metrics.Histogram, error) { return histogram{}, nil }

func (s *countingSink) counter(t *testing.T, name string) uint64 {
	t.Helper()
	c, ok := s.counters[name]
	if !ok {
		t.Fatalf("counter %s not defined", name)
	}
	return c.v
}
