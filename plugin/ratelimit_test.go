package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

func rateLimitHost(t *testing.T, policies string) proxytest.HostEmulator {
	t.Helper()
	host, status := newHost(t, `{"rate_limits": `+policies+`}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	return host
}

func rlRequest(host proxytest.HostEmulator, extra ...[2]string) (uint32, types.Action) {
	id := host.InitializeHttpContext()
	headers := append([][2]string{{":method", "GET"}, {":path", "/orders"}, {":authority", "api"}}, extra...)
	return id, host.CallOnRequestHeaders(id, headers, true)
}

func TestRateLimitAddsHeadersToAdmittedResponsesAndRefusesOverTheLimit(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "per_key", "key": ["header:x-key"], "limits": [{"requests": 1, "per": "60s"}]}]`)
	id, action := rlRequest(host, [2]string{"x-key", "k1"})
	if action != types.ActionContinue {
		t.Fatalf("first request: %v, reply %+v", action, host.GetSentLocalResponse(id))
	}
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
	if v, _ := header(host.GetCurrentResponseHeaders(id), "ratelimit-policy"); v != `"per_key";q=1;w=60` {
		t.Errorf("ratelimit-policy = %q", v)
	}

	id, action = rlRequest(host, [2]string{"x-key", "k1"})
	r := host.GetSentLocalResponse(id)
	if action != types.ActionPause || r == nil || r.StatusCode != 429 {
		t.Fatalf("second request: %v, reply %+v", action, r)
	}
	if v, _ := header(r.Headers, "retry-after"); v != "60" {
		t.Errorf("retry-after = %q, want 60", v)
	}
	// Envoy sends the refusal back through the response callbacks: it must
	// pass untouched (no second set of headers, no charge).
	if a := host.CallOnResponseHeaders(id, r.Headers, false); a != types.ActionContinue {
		t.Errorf("own reply response headers: %v", a)
	}
	host.CompleteHttpContext(id)
}

func TestGlobalLimitPausesUntilTheServiceAnswers(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "fleet", "key": ["header:x-key"],
		"global": {"cluster": "rls", "domain": "api", "timeout": "250ms"}}]`)
	for _, c := range []struct {
		status, body string
		want         uint32 // 0: continue
	}{
		{"200", `{"overallCode": "OK"}`, 0},
		{"429", `{"overallCode": "OVER_LIMIT"}`, 429},
		{"400", ``, 0}, // Redis down: failure_mode allow
		{"200", `{"overallCode": "UNKNOWN"}`, 0},
	} {
		id, action := rlRequest(host, [2]string{"x-key", "k1"})
		if action != types.ActionPause {
			t.Fatalf("%s: action %v, want pause for the callout", c.status, action)
		}
		calls := host.GetCalloutAttributesFromContext(id)
		if len(calls) != 1 || calls[0].Upstream != "rls" {
			t.Fatalf("callouts %+v", calls)
		}
		if p, _ := header(calls[0].Headers, ":path"); p != "/json" {
			t.Errorf("callout :path %q", p)
		}
		if !strings.Contains(string(calls[0].Body), `"domain":"api"`) || !strings.Contains(string(calls[0].Body), `"value":"k1"`) {
			t.Errorf("callout body %s", calls[0].Body)
		}
		host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", c.status}}, nil, []byte(c.body))
		r := host.GetSentLocalResponse(id)
		switch {
		case c.want == 0 && (r != nil || host.GetCurrentHttpStreamAction(id) != types.ActionContinue):
			t.Errorf("%s %s: reply %+v, action %v; want the request to continue", c.status, c.body, r, host.GetCurrentHttpStreamAction(id))
		case c.want != 0 && (r == nil || r.StatusCode != c.want):
			t.Errorf("%s %s: reply %+v, want %d", c.status, c.body, r, c.want)
		}
		host.CompleteHttpContext(id)
	}
}

func TestResponseBytesAreChargedWhenTheStreamCompletes(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "bytes", "cost": "response_bytes", "key": ["header:x-key"], "limits": [{"requests": 1000, "per": "3600s"}]}]`)
	page := make([]byte, 600)
	for i, want := range []uint32{0, 0, 429} {
		id, _ := rlRequest(host, [2]string{"x-key", "scraper"})
		r := host.GetSentLocalResponse(id)
		if want != 0 {
			if r == nil || r.StatusCode != want {
				t.Fatalf("request %d: reply %+v, want %d", i, r, want)
			}
			continue
		}
		if r != nil {
			t.Fatalf("request %d refused: %+v", i, r)
		}
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, false)
		host.CallOnResponseBody(id, page[:200], false)
		host.CallOnResponseBody(id, page[200:], true)
		host.CompleteHttpContext(id)
	}
}

func TestHugeKeyValuesAreSentToTheServiceHashed(t *testing.T) {
	host := rateLimitHost(t, `[{"name": "fleet", "key": ["header:x-key"], "global": {"cluster": "rls", "domain": "api"}}]`)
	huge := strings.Repeat("k", 70000)
	id, _ := rlRequest(host, [2]string{"x-key", huge})
	calls := host.GetCalloutAttributesFromContext(id)
	if len(calls) != 1 {
		t.Fatalf("callouts %+v", calls)
	}
	body := string(calls[0].Body)
	if strings.Contains(body, strings.Repeat("k", 257)) || !strings.Contains(body, `"value":"sha256:`) || len(body) > 512 {
		t.Errorf("callout body of %d bytes carries the raw value: %.200s", len(body), body)
	}
}

func TestOversizedServiceAnswerIsABadAnswer(t *testing.T) {
	for _, c := range []struct {
		mode, status string
		want         uint32 // 0: continue
	}{
		// A 429 padded past the cap is not believed: failure_mode allow admits.
		{"allow", "429", 0},
		// An OK padded past the cap is not believed either: deny refuses.
		{"deny", "200", 429},
	} {
		t.Run(c.mode+"/"+c.status, func(t *testing.T) { // one emulator at a time
			host := rateLimitHost(t, `[{"name": "fleet", "key": ["header:x-key"],
				"global": {"cluster": "rls", "domain": "api", "failure_mode": "`+c.mode+`"}}]`)
			id, _ := rlRequest(host, [2]string{"x-key", "k1"})
			calls := host.GetCalloutAttributesFromContext(id)
			if len(calls) != 1 {
				t.Fatalf("callouts %+v", calls)
			}
			body := []byte(`{"overallCode": "OK"}` + strings.Repeat(" ", 64<<10))
			host.CallOnHttpCallResponse(calls[0].CalloutID, [][2]string{{":status", c.status}}, nil, body)
			r := host.GetSentLocalResponse(id)
			switch {
			case c.want == 0 && (r != nil || host.GetCurrentHttpStreamAction(id) != types.ActionContinue):
				t.Errorf("reply %+v, want the request to continue", r)
			case c.want != 0 && (r == nil || r.StatusCode != c.want):
				t.Errorf("reply %+v, want %d", r, c.want)
			}
		})
	}
}

const auditedRateLimit = `"rate_limits": [{"name": "per_key", "key": ["header:x-key"], "limits": [{"requests": 5, "per": "60s"}]}]`

func TestUnsaltedAuditOfClientKeysWarnsAtConfigure(t *testing.T) {
	for _, c := range []struct {
		name, cfg string
		warn      bool
	}{
		{"unsalted", `{` + auditedRateLimit + `, "telemetry": {"audit": {"sink": "log"}}}`, true},
		{"salted", `{` + auditedRateLimit + `, "telemetry": {"audit": {"sink": "log", "key_hash_salt": "pepper"}}}`, false},
		{"no audit trail", `{` + auditedRateLimit + `}`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			host, status := newHost(t, c.cfg)
			if status != types.OnPluginStartStatusOK {
				t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
			}
			logs := strings.Join(host.GetWarnLogs(), "\n")
			if got := strings.Contains(logs, `"per_key"`) && strings.Contains(logs, "key_hash_salt"); got != c.warn {
				t.Errorf("warn logs %q: warning given %v, want %v", logs, got, c.warn)
			}
		})
	}
}

var keyHashPattern = regexp.MustCompile(`"ratelimit_key_hash":"([0-9a-f]+)"`)

// auditedKeyHash sends one request and returns the key hash of its audit line.
func auditedKeyHash(t *testing.T, salt string) (hash string) {
	t.Helper()
	t.Run(salt, func(t *testing.T) { hash = auditedKeyHashOnce(t, salt) }) // one emulator at a time
	return hash
}

func auditedKeyHashOnce(t *testing.T, salt string) string {
	host, status := newHost(t, `{`+auditedRateLimit+`, "telemetry": {"audit": {"sink": "log", "key_hash_salt": "`+salt+`"}}}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	id, _ := rlRequest(host, [2]string{"x-key", "alice"})
	host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, true)
	host.CompleteHttpContext(id)
	logs := strings.Join(host.GetWarnLogs(), "\n")
	m := keyHashPattern.FindStringSubmatch(logs)
	if m == nil {
		t.Fatalf("no ratelimit_key_hash in the audit log %q", logs)
	}
	if strings.Contains(logs, "alice") {
		t.Errorf("the audit log carries the raw key: %q", logs)
	}
	return m[1]
}

func TestAuditKeyHashUsesTheConfiguredSalt(t *testing.T) {
	a, b := auditedKeyHash(t, "pepper"), auditedKeyHash(t, "salt")
	if a == b {
		t.Errorf("the same key hashed to %s under two salts", a)
	}
	if again := auditedKeyHash(t, "pepper"); again != a {
		t.Errorf("the same key and salt hashed to %s then %s: workers would disagree", a, again)
	}
}

// Two clients whose keys have the same length, one after the other on one
// worker: each audit line carries its own client's pseudonym. (A worker
// reuses the buffer a key is built in, so a hasher that remembered the
// previous key by reference saw the new key as the old one.)
func TestAuditKeyHashIsEachClientsOwn(t *testing.T) {
	host, status := newHost(t, `{`+auditedRateLimit+`, "telemetry": {"audit": {"sink": "log", "key_hash_salt": "pepper"}}}`)
	if status != types.OnPluginStartStatusOK {
		t.Fatalf("plugin start = %v: %v", status, host.GetCriticalLogs())
	}
	var hashes []string
	for _, client := range []string{"alice", "carol", "alice"} {
		before := len(host.GetWarnLogs())
		id, _ := rlRequest(host, [2]string{"x-key", client})
		host.CallOnResponseHeaders(id, [][2]string{{":status", "200"}}, true)
		host.CompleteHttpContext(id)
		m := keyHashPattern.FindStringSubmatch(strings.Join(host.GetWarnLogs()[before:], "\n"))
		if m == nil {
			t.Fatalf("no ratelimit_key_hash in the audit log of %s", client)
		}
		hashes = append(hashes, m[1])
	}
	if hashes[0] == hashes[1] {
		t.Errorf("alice and carol share the pseudonym %s", hashes[0])
	}
	if hashes[0] != hashes[2] {
		t.Errorf("alice's pseudonym changed from %s to %s", hashes[0], hashes[2])
	}
}
