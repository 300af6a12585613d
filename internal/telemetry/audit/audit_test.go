package audit

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	commonpb "go.opentelemetry.io/proto/otlp/common/v1"
	logspb "go.opentelemetry.io/proto/otlp/logs/v1"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/telemetry/internal/telemetrytest"
	"github.com/apiguard/apiguard/internal/telemetry/otlp"
	"github.com/apiguard/apiguard/internal/verdict"
)

var t0 = time.Date(2026, 11, 28, 18, 0, 0, 123456789, time.UTC)

// sampleEvent is a denied request carrying every secret of the suite in
// the places a careless plugin would leak them.
func sampleEvent() *Event {
	m := NewMasker(nil)
	return &Event{
		Time:          t0,
		RequestID:     "7f1c2a9e-5b1d-4c1e-9a55-0f3c1e2d4b6a",
		TraceID:       "4bf92f3577b34da6a3ce929d0e0e4736",
		SpanID:        "00f067aa0ba902b7",
		Route:         "users",
		Method:        "POST",
		Path:          "/users/42?access_token=" + secretJWT + "&q=" + secretQuery + "#" + secretQuery,
		Status:        401,
		Decisions:     []Decision{{Policy: "authn", Decision: verdict.Deny, Reason: "expired"}, {Policy: "ratelimit.per_user", Decision: "ok"}},
		Identity:      &Identity{Issuer: "https://idp.example.com", Subject: "alice", KeyID: "k1"},
		ClientIP:      "203.0.113.7",
		RateLimitKey:  NewKeyHasher("salt").Hash("alice"),
		RemovedFields: []string{"email", "orders.#.card_number"},
		Signals:       []string{SignalNearLimit},
		Latency:       1250 * time.Microsecond,
		BytesIn:       512,
		BytesOut:      120,
		Headers: m.MaskHeaders([]Header{
			{"authorization", "Bearer " + secretJWT},
			{"x-api-key", secretAPIKey},
			{"cookie", "sid=" + secretCookie},
			{"user-agent", "curl/8.0"},
		}),
		BodyExcerpt: m.MaskBody("application/json", []byte(`{"user":"alice","password":"`+secretPassword+`","card_number":"`+secretCard+`","cvv":"`+secretCVV+`","ssn":"`+secretSSN+`"}`), 1024),
	}
}

func assertNoSecrets(t *testing.T, where string, data []byte) {
	t.Helper()
	for _, s := range allSecrets {
		if bytes.Contains(data, []byte(s)) {
			t.Errorf("%s contains secret %q", where, s)
		}
	}
}

func TestEncodeJSONLine(t *testing.T) {
	line, err := AppendLine(nil, sampleEvent())
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(line, []byte("\n")) {
		t.Fatalf("not one line: %q", line)
	}
	assertNoSecrets(t, "log line", line)
	var got map[string]any
	if err := json.Unmarshal(line, &got); err != nil {
		t.Fatal(err)
	}
	for k, want := range map[string]any{
		"type": "request", "time": "2026-11-28T18:00:00.123456789Z", "route": "users", "method": "POST",
		"path": "/users/42?access_token=REDACTED&q=REDACTED", "status": 401.0, "client_ip": "203.0.113.7",
		"latency_ms": 1.25, "bytes_in": 512.0, "bytes_out": 120.0,
	} {
		if got[k] != want {
			t.Errorf("%s = %v, want %v", k, got[k], want)
		}
	}
	jwt := got["jwt"].(map[string]any)
	if jwt["iss"] != "https://idp.example.com" || jwt["sub"] != "alice" || jwt["kid"] != "k1" || len(jwt) != 3 {
		t.Errorf("jwt = %v", jwt)
	}
	if h, _ := got["ratelimit_key_hash"].(string); !regexp.MustCompile(`^[0-9a-f]{16}$`).MatchString(h) || strings.Contains(string(line), `"alice"}`) && h == "alice" {
		t.Errorf("ratelimit_key_hash = %q", h)
	}
	if d := got["decisions"].([]any)[0].(map[string]any); d["policy"] != "authn" || d["reason"] != "expired" {
		t.Errorf("decisions = %v", got["decisions"])
	}
}

// A client cannot pad its request until its denial leaves the audit trail:
// oversized parts are cut or left out, and the decision stays.
func TestOversizedEventsAreTruncatedNotLost(t *testing.T) {
	e := sampleEvent()
	e.RequestID = strings.Repeat("r", 5000)
	e.Identity = &Identity{Issuer: strings.Repeat("i", 5000), Subject: "alice"}
	e.RemovedFields = strings.Split(strings.Repeat("a.field,", 1000), ",")
	for i := 0; i < 40; i++ {
		e.Headers = append(e.Headers, Header{Name: "x-pad", Value: strings.Repeat("\x01", 4000)})
	}
	line, err := AppendLine(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := EncodeOTLPRecord(e, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, out := range [][]byte{line, rec} {
		if len(out) > MaxEventBytes || !bytes.Contains(out, []byte("expired")) || !bytes.Contains(out, []byte("truncated")) ||
			bytes.Contains(out, []byte("x-pad")) || bytes.Contains(out, []byte(strings.Repeat("r", maxIDBytes))) {
			t.Errorf("%d bytes: %.300s", len(out), out)
		}
	}
	var v map[string]any
	if err := json.Unmarshal(line, &v); err != nil || v["truncated"] != true || len(v["request_id"].(string)) > maxIDBytes {
		t.Errorf("line %v %v", v["truncated"], err)
	}
	// Within bounds, nothing is marked truncated.
	small, _ := AppendLine(nil, sampleEvent())
	if bytes.Contains(small, []byte(`"truncated"`)) {
		t.Error("small event marked truncated")
	}
	// Only an event that cannot fit even reduced is refused.
	e.Decisions = make([]Decision, 2000)
	for i := range e.Decisions {
		e.Decisions[i] = Decision{Policy: "ratelimit.p", Decision: "ok"}
	}
	if _, err := AppendLine(nil, e); err != ErrEventTooLarge {
		t.Errorf("Encode: %v", err)
	}
	if _, err := EncodeOTLPRecord(e, 0); err != ErrEventTooLarge {
		t.Errorf("EncodeOTLPRecord: %v", err)
	}
}

func TestSamplerAlwaysKeepsDenials(t *testing.T) {
	s := NewSampler(0, SamplerKey(""))
	if !s.Keep(true, "x") || s.Keep(false, "x") {
		t.Fatal("rate 0")
	}
	s = NewSampler(0.25, SamplerKey(""))
	kept := 0
	for i := 0; i < 20000; i++ {
		id := "req-" + strings.Repeat("x", i%7) + string(rune('a'+i%26)) + strconv.Itoa(i)
		if s.Keep(false, id) {
			kept++
		}
		if first, again := s.Keep(false, id), s.Keep(false, id); first != again {
			t.Fatal("same request id sampled differently")
		}
		if !s.Keep(true, id) {
			t.Fatal("denial dropped")
		}
	}
	if kept < 4500 || kept > 5500 {
		t.Errorf("kept %d of 20000 at rate 0.25", kept)
	}
	anon := 0
	for i := 0; i < 4000; i++ {
		if s.Keep(false, "") {
			anon++
		}
	}
	if anon < 800 || anon > 1200 {
		t.Errorf("kept %d of 4000 requests without id", anon)
	}
}

func TestEventDenied(t *testing.T) {
	for _, c := range []struct {
		e    Event
		want bool
	}{
		{Event{Status: 200, Decisions: []Decision{{Policy: "authn", Decision: verdict.Allow}}}, false},
		{Event{Status: 200, Decisions: []Decision{{Policy: "ratelimit.p", Decision: verdict.Deny, Reason: verdict.RateLimited}}}, true},
		{Event{Status: 200, Decisions: []Decision{{Policy: "ratelimit.p", Decision: verdict.Allow, Reason: verdict.ShadowRateLimited}}}, false},
		{Event{Status: 429}, true},
		{Event{Status: 502, Decisions: []Decision{{Policy: "respfilter", Decision: verdict.Deny, Reason: verdict.MalformedJSON}}}, true},
	} {
		if got := c.e.Denied(); got != c.want {
			t.Errorf("%+v: Denied() = %v", c.e, got)
		}
	}
}

func TestKeyHasher(t *testing.T) {
	plain, salted := NewKeyHasher(""), NewKeyHasher("pepper")
	a, b := plain.Hash("203.0.113.7"), salted.Hash("203.0.113.7")
	if a == b || len(a) != 16 || len(b) != 16 || a != plain.Hash("203.0.113.7") {
		t.Errorf("hashes %q %q", a, b)
	}
	if plain.Hash("") != "" {
		t.Error("empty key hashed")
	}
}

func attrs(r *logspb.LogRecord) map[string]*commonpb.AnyValue {
	out := map[string]*commonpb.AnyValue{}
	for _, kv := range r.GetAttributes() {
		out[kv.GetKey()] = kv.GetValue()
	}
	return out
}

func TestOTLPExportThroughARealReceiver(t *testing.T) {
	recv := &telemetrytest.OTLPReceiver{}
	srv := httptest.NewServer(recv)
	defer srv.Close()

	b := otlp.NewBatcher(otlp.BatcherConfig{BatchSize: 3, MaxBuffered: 10, FlushInterval: 5 * time.Second, InitialBackoff: time.Second, MaxBackoff: 4 * time.Second, MaxRetries: 2})
	now := t0
	events := []*Event{sampleEvent(), {Time: t0, Method: "GET", Path: "/healthz", Status: 200, GRPCStatus: 0, HasGRPCStatus: true, Decisions: []Decision{{Policy: "authn", Decision: verdict.Allow, Reason: "not_required"}}},
		BurstEvent(Burst{Failures: 10, Window: time.Minute}, t0), {Time: t0, Method: "GET", Path: "/x?y=1", Status: 200, TraceID: "00000000000000000000000000000000"}}
	for _, e := range events {
		rec, err := EncodeOTLPRecord(e, now.UnixNano())
		if err != nil {
			t.Fatal(err)
		}
		if !b.Add(rec, now) {
			t.Fatal("buffer full")
		}
	}
	res := otlp.Resource{ServiceName: "apiguard", Instance: "orders", ScopeVersion: "0.1.0"}
	sent := 0
	for i := 0; i < 3; i++ {
		batch := b.Next(now)
		if batch == nil {
			now = now.Add(5 * time.Second) // the partial batch leaves on the flush interval
			continue
		}
		payload, err := otlp.Payload(res, batch)
		if err != nil {
			t.Fatal(err)
		}
		assertNoSecrets(t, "otlp payload", payload)
		telemetrytest.CheckOTLPJSONSpec(t, payload)
		status, body := telemetrytest.Post(t, srv.URL, payload)
		if dropped := b.Done(otlp.ClassifyExport(status, body, false), now); dropped != 0 {
			t.Fatalf("dropped %d", dropped)
		}
		sent += len(batch)
	}
	if sent != 4 || b.Len() != 0 {
		t.Fatalf("sent %d, %d left", sent, b.Len())
	}
	if len(recv.Errs) > 0 {
		t.Fatalf("receiver: %v", recv.Errs)
	}
	if len(recv.Requests) != 2 {
		t.Fatalf("%d export calls", len(recv.Requests))
	}
	rl := recv.Requests[0].GetResourceLogs()[0]
	if got := protojson.Format(rl.GetResource()); !strings.Contains(got, `"apiguard"`) || !strings.Contains(got, `"orders"`) {
		t.Errorf("resource %s", got)
	}
	sl := rl.GetScopeLogs()[0]
	if sl.GetScope().GetName() != "apiguard" || sl.GetScope().GetVersion() != "0.1.0" || len(sl.GetLogRecords()) != 3 {
		t.Fatalf("scope logs %v", sl)
	}
	r := sl.GetLogRecords()[0]
	if r.GetTimeUnixNano() != uint64(t0.UnixNano()) || r.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_WARN ||
		r.GetEventName() != "apiguard.request" || r.GetBody().GetStringValue() != "POST /users/42 401 authn=deny(expired) ratelimit.per_user=ok" {
		t.Errorf("record %v", protojson.Format(r))
	}
	a := attrs(r)
	for k, want := range map[string]int64{"http.response.status_code": 401, "http.request.body.size": 512, "http.response.body.size": 120} {
		if a[k].GetIntValue() != want {
			t.Errorf("attribute %s = %v, want %d", k, a[k], want)
		}
	}
	for k, want := range map[string]string{
		"url.path":         "/users/42",
		"url.query":        "access_token=REDACTED&q=REDACTED",
		"apiguard.jwt.iss": "https://idp.example.com",
		"apiguard.jwt.sub": "alice",
		"apiguard.jwt.kid": "k1",
		"client.address":   "203.0.113.7",
	} {
		if a[k].GetStringValue() != want {
			t.Errorf("attribute %s = %v, want %q", k, a[k], want)
		}
	}
	if d := a["apiguard.decisions"].GetArrayValue().GetValues(); len(d) != 2 || d[0].GetKvlistValue().GetValues()[2].GetValue().GetStringValue() != "expired" {
		t.Errorf("decisions %v", a["apiguard.decisions"])
	}
	if rf := a["apiguard.removed_fields"].GetArrayValue().GetValues(); len(rf) != 2 || rf[1].GetStringValue() != "orders.#.card_number" {
		t.Errorf("removed fields %v", a["apiguard.removed_fields"])
	}
	if a["apiguard.latency_ms"].GetDoubleValue() != 1.25 {
		t.Errorf("latency %v", a["apiguard.latency_ms"])
	}
	// The raw ids are hex on the wire (protojson would have read them as base64).
	if !bytes.Contains(recv.Raw[0], []byte(`"traceId":"4bf92f3577b34da6a3ce929d0e0e4736","spanId":"00f067aa0ba902b7"`)) {
		t.Errorf("trace context missing from %s", recv.Raw[0])
	}
	if healthz := sl.GetLogRecords()[1]; healthz.GetSeverityNumber() != logspb.SeverityNumber_SEVERITY_NUMBER_INFO || len(healthz.GetTraceId()) != 0 {
		t.Errorf("allowed request record %v", protojson.Format(healthz))
	}
	if g, ok := attrs(sl.GetLogRecords()[1])["rpc.grpc.status_code"]; !ok || g.GetIntValue() != 0 {
		t.Errorf("a gRPC OK lacks rpc.grpc.status_code: %v", g)
	}
	if _, ok := a["rpc.grpc.status_code"]; ok {
		t.Error("a request that is not gRPC has rpc.grpc.status_code")
	}
	last := recv.Requests[1].GetResourceLogs()[0].GetScopeLogs()[0].GetLogRecords()[0]
	if len(last.GetTraceId()) != 0 {
		t.Error("all-zero trace id exported")
	}
}

func BenchmarkEncodeAuditEvent(b *testing.B) {
	e := sampleEvent()
	b.Run("jsonl", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := AppendLine(nil, e); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("otlp", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := EncodeOTLPRecord(e, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func FuzzEncodeEvent(f *testing.F) {
	f.Add("GET", "/a?b=c", "rid", "4bf92f3577b34da6a3ce929d0e0e4736", "iss", "sub", "field", "h", "v", 200)
	f.Add("", "", "", "", "", "", "", "", "", 0)
	f.Fuzz(func(t *testing.T, method, path, rid, trace, iss, sub, field, hn, hv string, status int) {
		e := &Event{Time: t0, Method: method, Path: path, RequestID: rid, TraceID: trace, SpanID: trace, Status: status,
			Decisions: []Decision{{Policy: "authn", Decision: verdict.Decision(sub), Reason: verdict.Reason(iss)}}, Identity: &Identity{Issuer: iss, Subject: sub},
			RemovedFields: []string{field}, Headers: []Header{{hn, hv}}, BodyExcerpt: hv}
		if line, err := AppendLine(nil, e); err == nil {
			var v map[string]any
			if json.Unmarshal(line, &v) != nil {
				t.Fatalf("invalid JSON line %q", line)
			}
		}
		rec, err := EncodeOTLPRecord(e, 1)
		if err != nil {
			return
		}
		payload, err := otlp.Payload(otlp.Resource{Instance: "x"}, [][]byte{rec})
		if err != nil {
			t.Fatal(err)
		}
		var msg logspb.LogsData
		if err := protojson.Unmarshal(payload, &msg); err != nil {
			t.Fatalf("protojson rejects %s: %v", payload, err)
		}
		telemetrytest.CheckOTLPJSONSpec(t, payload)
	})
}

func TestLongRequestIDWithATokenIsMaskedBeforeItIsCut(t *testing.T) {
	longHeader := "eyJ" + strings.Repeat("A", 300)
	e := &Event{Time: t0, RequestID: longHeader + ".eyJzdWIiOiJ4In0.c2ln", Status: 401}
	line, err := AppendLine(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(line, []byte("AAAA")) {
		t.Errorf("token prefix logged: %s", line)
	}
}

// A gRPC request's event carries the code the client got, OK included;
// other events have none.
func TestEncodeGRPCStatus(t *testing.T) {
	e := sampleEvent()
	line, _ := AppendLine(nil, e)
	if strings.Contains(string(line), "grpc_status") {
		t.Errorf("grpc_status on a request that is not gRPC: %s", line)
	}
	for _, code := range []int{0, 16} {
		e.GRPCStatus, e.HasGRPCStatus = code, true
		line, _ = AppendLine(nil, e)
		if !strings.Contains(string(line), `"grpc_status":`+strconv.Itoa(code)+`,`) {
			t.Errorf("no grpc_status %d in %s", code, line)
		}
	}
}

func TestRemovedFieldPathsCarryNoData(t *testing.T) {
	in := []string{
		"cards.4111111111111111.cvv", "users.alice@example\\.com.ssn", "users.bob@example\\.com.ssn",
		"orders.#.items.550e8400-e29b-41d4-a716-446655440000.price", "profile.email", "$", "a.b\\.c.d",
		"tokens.9f8e7d6c5b4a3f2e1d0c", "x." + strings.Repeat("k", 300),
		// Random tokens as keys (the attacker review's F5).
		"sessions.vKtQpZrXbYwVmNcLdFgHjAsE", "sessions.Zm9vYmFyYmF6cXV4c2VjcmV0.ip", "reset_tokens.rst-KqWmZpXnVbTyLr",
	}
	got, changed := safeFieldPaths(in)
	want := []string{"cards.*.cvv", "users.*.ssn", "orders.#.items.*.price", "profile.email", "$", "a.*.d", "tokens.*", "x.*",
		"sessions.*", "sessions.*.ip", "reset_tokens.*"}
	if !changed || !slices.Equal(got, want) {
		t.Errorf("safeFieldPaths = %q, want %q", got, want)
	}
	// Many distinct paths: capped with a marker, each cut to its bound.
	many := make([]string, 100)
	for i := range many {
		many[i] = "f" + strings.Repeat("x", i%7) + "_" + strconv.Itoa(i) + ".v" + strings.Repeat("y", 400)
	}
	got, _ = safeFieldPaths(many)
	if len(got) != maxRemovedFields+1 || got[maxRemovedFields] != truncMarker {
		t.Fatalf("%d paths kept, want %d and a marker", len(got), maxRemovedFields)
	}
	for _, p := range got {
		if len(p) > maxFieldPathBytes {
			t.Errorf("path of %d bytes kept", len(p))
		}
	}
	// Identifier paths pass untouched, without a copy.
	plain := []string{"email", "orders.#.card_number", "meta.@type"}
	if got, changed := safeFieldPaths(plain); changed || &got[0] != &plain[0] {
		t.Errorf("plain paths rewritten: %q", got)
	}
	// The encoded event carries the safe paths only.
	e := &Event{Type: EventRequest, RemovedFields: in}
	enc, err := AppendLine(nil, e)
	if err != nil {
		t.Fatal(err)
	}
	out := string(enc)
	for _, leak := range []string{"4111111111111111", "alice", "550e8400", "9f8e7d6c", "vKtQpZ", "Zm9vYmFy", "rst-Kq"} {
		if strings.Contains(out, leak) {
			t.Errorf("encoded event holds %q: %s", leak, out)
		}
	}
}

// referenceSafeFieldPath is safeFieldPath as first written, segment by
// segment through string builders: the reference the allocation-free one is
// fuzzed against.
func referenceSafeFieldPath(p string) string {
	var b strings.Builder
	var seg strings.Builder // the segment unescaped
	start, dirty := 0, false
	flush := func(end int) {
		raw := p[start:end]
		if raw != "#" && raw != "$" && detect.IsDataKey(seg.String()) {
			if !dirty {
				dirty = true
				b.WriteString(p[:start])
			}
			b.WriteByte('*')
		} else if dirty {
			b.WriteString(raw)
		}
		seg.Reset()
	}
	for i := 0; i < len(p); i++ {
		switch c := p[i]; {
		case c == '\\' && i+1 < len(p):
			i++
			seg.WriteByte(p[i])
		case c == '.':
			flush(i)
			if dirty {
				b.WriteByte('.')
			}
			start = i + 1
		default:
			seg.WriteByte(c)
		}
	}
	flush(len(p))
	out := p
	if dirty {
		out = b.String()
	}
	return capString(out, maxFieldPathBytes)
}

func FuzzSafeFieldPathMatchesReference(f *testing.F) {
	for _, p := range []string{"", ".", "..", "a.b", "cards.4111111111111111.cvv", "users.alice@example\\.com.ssn", "a\\", "a\\.", "\\\\.x",
		"orders.#.items.550e8400-e29b-41d4-a716-446655440000.price", "$", "$.a", "#", "x." + strings.Repeat("k", 300), "a.b\\.c.d", "tokens.9f8e7d6c5b4a3f2e1d0c",
		"k\\." + strings.Repeat("4", 70) + ".v"} {
		f.Add(p)
	}
	f.Fuzz(func(t *testing.T, p string) {
		if got, want := safeFieldPath(p), referenceSafeFieldPath(p); got != want {
			t.Fatalf("safeFieldPath(%q) = %q, reference %q", p, got, want)
		}
	})
}

// Field paths of names, the usual case, cost no allocation.
func TestPlainFieldPathsDoNotAllocate(t *testing.T) {
	paths := []string{"email", "password_hash", "card_number", "orders.#.internal_note", "activity", "meta.@type", "a_b.c"}
	if n := testing.AllocsPerRun(100, func() {
		if _, changed := safeFieldPaths(paths); changed {
			t.Fatal("plain paths changed")
		}
	}); n != 0 {
		t.Fatalf("%v allocations per call, want 0", n)
	}
}

func BenchmarkSafeFieldPaths(b *testing.B) {
	paths := []string{"email", "password_hash", "card_number", "orders.#.internal_note", "activity", "profile.addresses.#.line2"}
	b.ReportAllocs()
	for b.Loop() {
		safeFieldPaths(paths)
	}
}

func TestVerdictIsTheFirstDenial(t *testing.T) {
	var none *Event
	if d, id := none.Verdict(); d.Decision != verdict.Allow || d.Policy != "" || id != nil {
		t.Errorf("no event: %+v %v", d, id)
	}
	who := &Identity{Subject: "alice"}
	e := &Event{Identity: who, Decisions: []Decision{
		{Policy: "authn", Decision: verdict.Allow, Reason: "verified"},
		{Policy: "ratelimit.per_user", Decision: verdict.Deny, Reason: "over_limit"},
		{Policy: "respfilter", Decision: verdict.Deny, Reason: "too_large"},
	}}
	if d, id := e.Verdict(); d.Policy != "ratelimit.per_user" || d.Reason != "over_limit" || id != who {
		t.Errorf("Verdict = %+v %v", d, id)
	}
	e.AddSignal(SignalNearLimit)
	e.AddSignal(SignalNearLimit)
	if len(e.Signals) != 1 {
		t.Errorf("signals %q: want near_limit once", e.Signals)
	}
}
