package telemetry

import (
	"encoding/json"
	"net/url"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

const traceparent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

// Every request yields exactly one audit line at the default level (warn,
// which Istio's default proxy log level shows), with the query values
// redacted, the identity but not the token, masked headers and body, bytes
// and latency; nothing secret reaches any log or metric.
func TestLogSinkRecordsEveryRequestRedacted(t *testing.T) {
	e := start(t, `, "audit": {"sink": "log", "headers": ["user-agent", "authorization", "x-api-key"], "body_excerpt_bytes": 256, "key_hash_salt": "`+salt+`"}`, 100, 1, nil)
	alice := token(t, "alice")
	forged := alice[:strings.LastIndexByte(alice, '.')+1] + "c2lnbmF0dXJlLWZvcmdlZC1ieS10aGUtdGVzdA"
	body := `{"name":"ann","password":"` + password + `","card_number":"` + cardNumber + `"}`

	type want struct {
		status int
		path   string
	}
	wants := []want{
		{200, "/api/orders?password=REDACTED&card=REDACTED"},
		{401, "/api/orders"},
		{401, "/api/orders?api_key=REDACTED"},
		{200, "/public/form"},
		// A token location reaches the upstream only with a token verified
		// on this request: on the public route access_token is removed.
		{200, "/public"},
		{200, "/public/form"},
		{200, "/public/note"},
		{200, "/public/users/*********"},
	}
	got := []int{
		e.do(t, "GET", "/api/orders?password="+password+"&card="+cardNumber, "",
			"authorization", "Bearer "+alice, "user-agent", "probe/1", "x-api-key", apiKey, "traceparent", traceparent, "x-request-id", "req-1").StatusCode,
		e.do(t, "GET", "/api/orders", "", "x-request-id", "req-2").StatusCode,
		e.do(t, "GET", "/api/orders?api_key="+apiKey, "", "authorization", "Bearer "+forged).StatusCode,
		e.do(t, "POST", "/public/form", body, "content-type", "application/json").StatusCode,
		e.do(t, "GET", "/public?access_token="+alice, "").StatusCode,
		// Data under keys that do not name it, in a form and in JSON strings.
		e.do(t, "POST", "/public/form", "card="+cardNumber+"&cvv2=123&otp="+otpCode+"&contact="+url.QueryEscape(email),
			"content-type", "application/x-www-form-urlencoded").StatusCode,
		e.do(t, "POST", "/public/note", `{"note":"my card is `+noteCard+`","contact":"mail `+email+`"}`, "content-type", "application/json").StatusCode,
		e.do(t, "GET", "/public/users/"+email, "").StatusCode,
	}
	lines := e.auditLines(t, wasmhost.LogWarn)
	if len(lines) != len(wants) {
		t.Fatalf("%d audit lines for %d requests:\n%v", len(lines), len(wants), e.p.LogsAt(wasmhost.LogWarn))
	}
	for i, w := range wants {
		l := lines[i]
		if got[i] != w.status || l["status"] != float64(w.status) || l["path"] != w.path || l["type"] != "request" {
			t.Errorf("request %d: client got %d; event status %v path %v type %v; want %d %q", i, got[i], l["status"], l["path"], l["type"], w.status, w.path)
		}
		if l["client_ip"] != "127.0.0.1" || l["method"] == nil || l["latency_ms"] == nil || l["time"] == nil {
			t.Errorf("request %d: event lacks client_ip, method, latency or time: %v", i, l)
		}
	}

	first := lines[0]
	if first["request_id"] != "req-1" || first["trace_id"] != "4bf92f3577b34da6a3ce929d0e0e4736" {
		t.Errorf("request id / trace id: %v %v", first["request_id"], first["trace_id"])
	}
	if id, _ := first["jwt"].(map[string]any); id["iss"] != issuer || id["sub"] != "alice" || id["kid"] != "k1" {
		t.Errorf("jwt identity: %v", first["jwt"])
	}
	if first["bytes_out"] != float64(len(`{"ok":true,"items":[1,2,3]}`)) {
		t.Errorf("bytes_out %v", first["bytes_out"])
	}
	headers, _ := json.Marshal(first["headers"])
	for _, w := range []string{`{"name":"user-agent","value":"probe/1"}`, `{"name":"authorization","value":"Bearer *********"}`, `{"name":"x-api-key","value":"*********"}`} {
		if !strings.Contains(string(headers), w) {
			t.Errorf("headers %s lack %s", headers, w)
		}
	}
	if d := decisions(lines[1]); !strings.Contains(d, "authn/deny/missing") {
		t.Errorf("missing token decisions: %s", d)
	}
	if d := decisions(lines[2]); !strings.Contains(d, "authn/deny/") {
		t.Errorf("forged token decisions: %s", d)
	}
	if lines[3]["bytes_in"] != float64(len(body)) {
		t.Errorf("bytes_in %v, want %d", lines[3]["bytes_in"], len(body))
	}
	if ex, _ := lines[3]["body_excerpt"].(string); !strings.Contains(ex, `"name":"ann"`) || !strings.Contains(ex, "*****") {
		t.Errorf("body excerpt %q: want the name kept and the secrets masked", ex)
	}
	if n := e.counter(t, "audit.events_total"); n != uint64(len(wants)) {
		t.Errorf("audit.events_total = %d", n)
	}
	assertNoSecrets(t, e, []string{alice, forged})
}

// decisions renders an event's decisions as policy/decision/reason words.
func decisions(l map[string]any) string {
	var out []string
	ds, _ := l["decisions"].([]any)
	for _, d := range ds {
		m, _ := d.(map[string]any)
		p, _ := m["policy"].(string)
		dd, _ := m["decision"].(string)
		r, _ := m["reason"].(string)
		out = append(out, p+"/"+dd+"/"+r)
	}
	return strings.Join(out, " ")
}

// With sample_rate 0, allowed requests leave no event but every denial is
// still recorded; the log level is the operator's choice.
func TestDenialsAlwaysRecordedWhateverTheSampleRate(t *testing.T) {
	e := start(t, `, "audit": {"sink": "log", "sample_rate": 0, "log_level": "info"}`, 2, 1, nil)
	alice := token(t, "alice")
	statuses := []int{
		e.do(t, "GET", "/public", "").StatusCode,
		e.do(t, "GET", "/api/a", "", "authorization", "Bearer "+alice).StatusCode,
		e.do(t, "GET", "/api/a", "").StatusCode,                                   // 401
		e.do(t, "GET", "/api/a", "", "authorization", "Bearer "+alice).StatusCode, // second of 2
		e.do(t, "GET", "/api/a", "", "authorization", "Bearer "+alice).StatusCode, // 429
	}
	if want := []int{200, 200, 401, 200, 429}; !equalInts(statuses, want) {
		t.Fatalf("statuses %v, want %v", statuses, want)
	}
	if warn := e.auditLines(t, wasmhost.LogWarn); len(warn) != 0 {
		t.Errorf("%d lines at warn with log_level info", len(warn))
	}
	// The 401, the allowed request that used the last of the limit (it
	// carries the near_limit signal, which is always kept) and the 429.
	lines := e.auditLines(t, wasmhost.LogInfo)
	if len(lines) != 3 || lines[0]["status"] != float64(401) || lines[1]["status"] != float64(200) || lines[2]["status"] != float64(429) {
		t.Fatalf("want the 401, the near-limit 200 and the 429, got %v", lines)
	}
	if sig, _ := json.Marshal(lines[1]["signals"]); string(sig) != `["near_limit"]` {
		t.Errorf("near-limit event signals %s", sig)
	}
	if lines[0]["route"] != "api" || lines[2]["route"] != "api" {
		t.Errorf("route = %v, %v; want the jwt rule's name, api", lines[0]["route"], lines[2]["route"])
	}
	if !strings.Contains(decisions(lines[2]), "ratelimit.per_ip/deny/rate_limited") {
		t.Errorf("rate-limit denial: %v", lines[2])
	}
	if h, _ := lines[2]["ratelimit_key_hash"].(string); len(h) < 16 || strings.Contains(h, "127.0.0.1") {
		t.Errorf("rate-limit key hash %q: want a pseudonym, not the key", h)
	}
	if n := e.counter(t, "audit.sampled_out_total"); n != 2 {
		t.Errorf("sampled_out_total = %d, want 2", n)
	}
	assertNoSecrets(t, e, []string{alice})
}

// Failed credentials from one client become a burst: a counter and an
// audit event an alert can fire on. Missing tokens are not guesses and do
// not count. Near-limit requests are signalled too.
func TestSecuritySignals(t *testing.T) {
	e := start(t, `, "audit": {"sink": "log"}, "signals": {"auth_failure_threshold": 3, "near_limit_ratio": 0.75}`, 4, 1, nil)
	for range 2 {
		e.do(t, "GET", "/api/x", "")
	}
	forged := forgedToken(t)
	for range 4 {
		e.do(t, "GET", "/api/x", "", "authorization", "Bearer "+forged)
	}
	if n := e.counter(t, "security.auth_failure_bursts_total"); n != 1 {
		t.Errorf("auth_failure_bursts_total = %d, want 1 (reported once per window)", n)
	}
	var bursts []map[string]any
	for _, l := range e.auditLines(t, wasmhost.LogWarn) {
		if l["type"] == "auth_failure_burst" {
			bursts = append(bursts, l)
		}
	}
	if len(bursts) != 1 || bursts[0]["client_ip"] != "127.0.0.1" || bursts[0]["failures"] != float64(3) {
		t.Errorf("burst events: %v", bursts)
	}

	alice := token(t, "alice")
	for range 3 {
		e.do(t, "GET", "/api/x", "", "authorization", "Bearer "+alice)
	}
	if n := e.counter(t, "ratelimit.policy.per_ip.near_limit_total"); n != 1 {
		t.Errorf("near_limit_total = %d, want 1 (the 3rd of 4 allowed requests)", n)
	}
	var near int
	for _, l := range e.auditLines(t, wasmhost.LogWarn) {
		if sig, _ := json.Marshal(l["signals"]); strings.Contains(string(sig), "near_limit") {
			near++
		}
	}
	if near != 1 {
		t.Errorf("%d events carry the near_limit signal, want 1", near)
	}
}

// With several workers, the burst threshold applies to the client's failed
// credentials across all of them: a client spread over 4 workers is
// reported once the total crosses the threshold, not at 4x it.
func TestAuthFailureBurstCountsAcrossWorkers(t *testing.T) {
	e := start(t, `, "audit": {"sink": "log"}, "signals": {"auth_failure_threshold": 4}`, 100, 4, nil)
	if e.p.Workers() != 4 {
		t.Fatalf("%d workers", e.p.Workers())
	}
	forged := forgedToken(t)
	for range 8 { // two per worker, round-robin
		if resp := e.do(t, "GET", "/api/x", "", "authorization", "Bearer "+forged); resp.StatusCode != 401 {
			t.Fatalf("forged token: %d", resp.StatusCode)
		}
	}
	if n := e.counter(t, "security.auth_failure_bursts_total"); n != 1 {
		t.Errorf("auth_failure_bursts_total = %d, want 1 (the 4th failure across workers)", n)
	}
	var bursts []map[string]any
	for _, l := range e.auditLines(t, wasmhost.LogWarn) {
		if l["type"] == "auth_failure_burst" {
			bursts = append(bursts, l)
		}
	}
	if len(bursts) != 1 || bursts[0]["failures"] != float64(4) {
		t.Errorf("burst events: %v, want one at 4 failures", bursts)
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
