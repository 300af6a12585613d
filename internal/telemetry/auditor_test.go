package telemetry

import (
	"bytes"
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/internal/telemetrytest"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/verdict"
)

func resolved(t testing.TB, js string) Config {
	t.Helper()
	c, err := decodeConfig(js)
	if err != nil {
		t.Fatal(err)
	}
	r, err := c.Resolve("orders")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestNoSecretLeaks runs secret-laden requests through both sinks, end to
// end into a real OTLP receiver, and greps every log line, every export
// payload and every error for the suite's secrets.
func TestNoSecretLeaks(t *testing.T) {
	recv := &telemetrytest.OTLPReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()

	var outputs [][]byte
	for _, sink := range []string{SinkLog, SinkOTLP} {
		cfg := resolved(t, `{"instance":"orders","audit":{"sink":"`+sink+`","headers":["authorization","x-api-key","cookie","user-agent"],
		  "body_excerpt_bytes":1024,"key_hash_salt":"`+secretCookie+`"},"otlp":{"cluster":"otel","batch_size":2}}`)
		sinkMetrics := newFakeSink()
		m, err := metrics.Define(metrics.Inventory{Instance: "orders", Routes: []string{"users"}, Providers: []string{"corp"}, Policies: []string{"per_user"}}, sinkMetrics)
		if err != nil {
			t.Fatal(err)
		}
		a := NewAuditor(cfg, m, "test")
		now := t0
		for i := 0; i < 5; i++ {
			e := sampleEvent()
			e.RateLimitKey = a.HashKey(secretAPIKey)
			// As the plugin captures them: unmasked until the Auditor keeps the event.
			e.Headers, e.BodyExcerpt = nil, ""
			e.Captured = audit.Captured{Headers: []audit.Header{{Name: "authorization", Value: "Bearer " + secretJWT}, {Name: "x-api-key", Value: secretAPIKey}, {Name: "cookie", Value: "sid=" + secretCookie}},
				ContentType: "application/x-www-form-urlencoded", Body: []byte("password=" + secretPassword + "&cvv=" + secretCVV), BodyMax: a.BodyExcerptBytes()}
			if line := a.Record(e, now); line != nil {
				outputs = append(outputs, line)
			}
			if burst := a.Record(audit.BurstEvent(audit.Burst{Failures: 10, Window: time.Minute}, now), now); burst != nil {
				outputs = append(outputs, burst)
			}
			for {
				call, ok := a.NextExport(now)
				if !ok {
					break
				}
				outputs = append(outputs, call.Body)
				status, body := telemetrytest.Post(t, srv.URL, call.Body)
				a.ExportDone(status, body, false, now)
			}
		}
		for name := range sinkMetrics.counters {
			outputs = append(outputs, []byte(name))
		}
	}
	outputs = append(outputs, recv.Raw...)
	if len(recv.Raw) != 5 || len(recv.Errs) != 0 {
		t.Fatalf("receiver got %d payloads, errors %v", len(recv.Raw), recv.Errs)
	}
	for _, js := range []string{`{"audit":{"sink":"` + secretPassword + `"}}`, `{"audit":{"headers":["` + secretAPIKey + `"]}}`} {
		if _, err := decodeConfig(js); err != nil {
			outputs = append(outputs, []byte(err.Error()))
		}
	}
	all := bytes.Join(outputs, []byte("\n"))
	assertNoSecrets(t, "telemetry output", all)
	for _, s := range []string{secretCVV, secretCookie} { // short or salt: check as JSON values
		if bytes.Contains(all, []byte(`"`+s+`"`)) || bytes.Contains(all, []byte("="+s)) {
			t.Errorf("secret %q in output", s)
		}
	}
	if !bytes.Contains(all, []byte(`"sub":"alice"`)) || !bytes.Contains(all, []byte("Bearer "+audit.Mask)) {
		t.Error("the identity and the masked scheme should still be visible")
	}
}

// Captured headers and bodies are masked only for events the Auditor keeps,
// and no encoder ever reads them unmasked.
func TestCapturedValuesAreMaskedOnlyWhenKept(t *testing.T) {
	a := NewAuditor(resolved(t, `{"audit":{"sink":"log","sample_rate":0,"headers":["x-api-key"],"body_excerpt_bytes":256}}`), nil, "v")
	captured := func() audit.Captured {
		return audit.Captured{Headers: []audit.Header{{Name: "x-api-key", Value: secretAPIKey}, {Name: "user-agent", Value: "card " + telemetrytest.SecretCard}},
			ContentType: "application/json", Body: []byte(`{"note":"card ` + telemetrytest.SecretCard + `"}`), BodyMax: 256}
	}
	sampledOut := &audit.Event{Time: t0, Method: "GET", Path: "/", Status: 200, Captured: captured()}
	if a.Record(sampledOut, t0) != nil {
		t.Fatal("allowed request recorded at sample rate 0")
	}
	if sampledOut.Headers != nil || sampledOut.BodyExcerpt != "" || sampledOut.Captured.Body == nil {
		t.Error("a sampled-out event was masked")
	}
	kept := &audit.Event{Time: t0, Method: "GET", Path: "/", Status: 401, Captured: captured(),
		Decisions: []audit.Decision{{Policy: "authn", Decision: verdict.Deny, Reason: "expired"}}}
	line := a.Record(kept, t0)
	if !bytes.Contains(line, []byte(`"x-api-key"`)) || !bytes.Contains(line, []byte(`"body_excerpt"`)) {
		t.Fatalf("kept event without its captured header and excerpt: %s", line)
	}
	assertNoSecrets(t, "kept event", line)
	// Encoders never read the captured values, whoever forgets to mask.
	raw := &audit.Event{Time: t0, Status: 200, Captured: captured()}
	enc, err := audit.AppendLine(nil, raw)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := audit.EncodeOTLPRecord(raw, 1)
	if err != nil {
		t.Fatal(err)
	}
	assertNoSecrets(t, "encoded unmasked capture", append(enc, rec...))
}

func TestAuditorLogSinkSamplesAndCounts(t *testing.T) {
	cfg := resolved(t, `{"audit":{"sink":"log","sample_rate":0,"log_level":"info"}}`)
	fs := newFakeSink()
	m, _ := metrics.Define(metrics.Inventory{Instance: "orders"}, fs)
	a := NewAuditor(cfg, m, "v")
	if !a.Enabled() || a.LogLevel() != "info" {
		t.Fatal("log sink")
	}
	allowed := &audit.Event{Time: t0, Method: "GET", Path: "/", Status: 200, RequestID: "r1"}
	if a.Record(allowed, t0) != nil {
		t.Error("allowed request recorded at sample rate 0")
	}
	denied := &audit.Event{Time: t0, Method: "GET", Path: "/", Status: 401, Decisions: []audit.Decision{{Policy: "authn", Decision: verdict.Deny, Reason: "expired"}}}
	if line := a.Record(denied, t0); !bytes.Contains(line, []byte(`"reason":"expired"`)) {
		t.Errorf("denial line %s", line)
	}
	near := &audit.Event{Time: t0, Method: "GET", Path: "/", Status: 200, RequestID: "r2", Signals: []string{audit.SignalNearLimit}}
	if line := a.Record(near, t0); !bytes.Contains(line, []byte(`"signals":["near_limit"]`)) {
		t.Errorf("near-limit event sampled out: %s", line)
	}
	huge := &audit.Event{Time: t0, Status: 403, Decisions: make([]audit.Decision, 3000)}
	if a.Record(huge, t0) != nil {
		t.Error("oversized event written")
	}
	for name, want := range map[string]uint64{
		"apiguard.orders.audit.sampled_out_total":              1,
		"apiguard.orders.audit.events_total":                   2,
		"apiguard.orders.audit.reason.too_large.dropped_total": 1,
	} {
		if got := fs.counter(t, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
	off := NewAuditor(resolved(t, `{}`), m, "v")
	if off.Enabled() || off.Record(denied, t0) != nil {
		t.Error("sink off still records")
	}
}

func TestAuditorOTLPSinkRetriesAndDrops(t *testing.T) {
	cfg := resolved(t, `{"audit":{"sink":"otlp"},"otlp":{"cluster":"otel","authority":"collector:4318","batch_size":2,"max_buffered_events":4,
	  "retry_initial_backoff":"1s","max_retries":1,"timeout":"3s"}}`)
	fs := newFakeSink()
	m, _ := metrics.Define(metrics.Inventory{Instance: "orders"}, fs)
	a := NewAuditor(cfg, m, "v")
	for i := 0; i < 6; i++ {
		a.Record(&audit.Event{Time: t0, Status: 401, Method: "GET", Path: "/"}, t0)
	}
	call, ok := a.NextExport(t0)
	if !ok || call.Cluster != "otel" || call.Timeout != 3*time.Second {
		t.Fatalf("call %+v", call)
	}
	want := [][2]string{{":method", "POST"}, {":path", "/v1/logs"}, {":authority", "collector:4318"}, {"content-type", "application/json"}}
	if fmt.Sprint(call.Headers) != fmt.Sprint(want) {
		t.Errorf("headers %v", call.Headers)
	}
	a.ExportDone(503, []byte("upstream connect error"), false, t0)
	if _, ok := a.NextExport(t0.Add(500 * time.Millisecond)); ok {
		t.Error("retry before backoff")
	}
	if _, ok := a.NextExport(t0.Add(time.Second)); !ok {
		t.Fatal("no retry after backoff")
	}
	a.ExportDone(0, nil, true, t0.Add(time.Second)) // second failure: max_retries 1 exceeded
	if _, ok := a.NextExport(t0.Add(2 * time.Second)); !ok {
		t.Fatal("next batch not sent")
	}
	a.ExportDone(200, []byte(`{"partialSuccess":{"rejectedLogRecords":"1"}}`), false, t0.Add(2*time.Second))
	for name, want := range map[string]uint64{
		"apiguard.orders.audit.reason.buffer_full.dropped_total":            2,
		"apiguard.orders.audit.reason.gave_up.dropped_total":                3,
		"apiguard.orders.otlp.reason.http_status.export_failures_total":     1,
		"apiguard.orders.otlp.reason.call_failed.export_failures_total":     1,
		"apiguard.orders.otlp.reason.partial_success.export_failures_total": 1,
		"apiguard.orders.otlp.exports_total":                                1,
		"apiguard.orders.otlp.exported_events_total":                        1,
	} {
		if got := fs.counter(t, name); got != want {
			t.Errorf("%s = %d, want %d", name, got, want)
		}
	}
}

func TestAuditorSurvivesAWedgedCollector(t *testing.T) {
	cfg := resolved(t, `{"audit":{"sink":"otlp"},"otlp":{"cluster":"otel","batch_size":1,"timeout":"1s"}}`)
	a := NewAuditor(cfg, nil, "v")
	a.Record(&audit.Event{Time: t0, Status: 401}, t0)
	if _, ok := a.NextExport(t0); !ok {
		t.Fatal("no export")
	}
	// no ExportDone ever arrives
	if _, ok := a.NextExport(t0.Add(1500 * time.Millisecond)); ok {
		t.Fatal("second call while the first may still answer")
	}
	a.NextExport(t0.Add(2 * time.Second)) // the call is overdue: counted as failed, retried after backoff
	if _, ok := a.NextExport(t0.Add(3 * time.Second)); !ok {
		t.Fatal("lost call never retried")
	}
}

func BenchmarkAuditPerRequest(b *testing.B) {
	for _, sink := range []string{SinkOff, SinkLog, SinkOTLP} {
		b.Run(sink, func(b *testing.B) {
			cfg := resolved(b, `{"audit":{"sink":"`+sink+`","headers":["user-agent"]},"otlp":{"cluster":"otel","batch_size":100}}`)
			m, _ := metrics.Define(sampleInventory(), newFakeSink())
			a := NewAuditor(cfg, m, "v")
			e := sampleEvent()
			now := t0
			b.ReportAllocs()
			for b.Loop() {
				a.Record(e, now)
				if call, ok := a.NextExport(now); ok {
					_ = call
					a.ExportDone(200, nil, false, now)
				}
			}
		})
	}
}

// A client chooses its x-request-id. Ids that one plugin start samples out
// (which a client could find offline with an unkeyed hash) are sampled at
// the configured rate by another start: the hash is keyed with a secret. With
// the same key_hash_salt, two proxies agree on every request.
func TestAuditSamplingCannotBeSteeredByTheRequestID(t *testing.T) {
	kept := func(a *Auditor, id string) bool {
		return a.Record(&audit.Event{Time: t0, Method: "GET", Path: "/", Status: 200, RequestID: id}, t0) != nil
	}
	const cfg = `{"audit":{"sink":"log","sample_rate":0.5}}`
	first, second := NewAuditor(resolved(t, cfg), nil, "v"), NewAuditor(resolved(t, cfg), nil, "v")
	var dropped []string
	for i := 0; len(dropped) < 2000; i++ {
		if id := fmt.Sprintf("chosen-%d", i); !kept(first, id) {
			dropped = append(dropped, id)
		}
	}
	n := 0
	for _, id := range dropped {
		if kept(second, id) {
			n++
		}
	}
	if n < 800 || n > 1200 {
		t.Errorf("another plugin start kept %d of 2000 ids the first one sampled out, want about 1000", n)
	}

	const salted = `{"audit":{"sink":"log","sample_rate":0.5,"key_hash_salt":"fleet-secret"}}`
	a, b := NewAuditor(resolved(t, salted), nil, "v"), NewAuditor(resolved(t, salted), nil, "v")
	for i := range 2000 {
		if id := fmt.Sprintf("req-%d", i); kept(a, id) != kept(b, id) {
			t.Fatalf("two proxies with the same salt disagree on %s", id)
		}
	}
}
