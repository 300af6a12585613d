// Package perfscenario defines the request lifecycles apiguard's cost is
// measured on (issue 12), so the wazero, V8 and native benchmarks run the
// same requests: a pass-through request under the empty configuration, and
// the demo configuration (envoy/demo-config.json: a cached RS256 token, two
// rate limits, a filtered JSON record, the audit log) with a 400-byte and a
// 10 KiB record.
package perfscenario

import (
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Paths of the inputs, relative to the repository root.
const (
	DemoConfigPath = "envoy/demo-config.json"
	DemoKeyPath    = "envoy/demo/demo-rsa-private.pem"
)

// Path is the demo request's path: the demo config's "users" rule filters
// its response and its per_user limit counts it.
const Path = "/users/1"

// Sizes of the filtered records: the demo record and the 10 KiB chain.
const (
	SmallRecord = 400
	LargeRecord = 10 << 10
)

// DemoConfig returns the demo configuration with every rate limit raised
// out of reach, so a benchmark's requests are all allowed and all pay for
// both checks and the RateLimit headers. The response inventory, which the
// demo turns on to show it, is left out: the demo request is the one issue
// 12 defines (a token, two rate limits, a filtered record, the audit log),
// so its figures stay comparable; the inventory has its own benchmarks
// (internal/inventory, inventorybench).
func DemoConfig(demo []byte) ([]byte, error) {
	var cfg map[string]any
	if err := json.Unmarshal(demo, &cfg); err != nil {
		return nil, fmt.Errorf("perfscenario: demo config: %w", err)
	}
	delete(cfg, "response_inventory")
	policies, _ := cfg["rate_limits"].([]any)
	if len(policies) != 2 {
		return nil, errors.New("perfscenario: demo config: want 2 rate limits")
	}
	for _, p := range policies {
		for _, l := range p.(map[string]any)["limits"].([]any) {
			l.(map[string]any)["requests"] = 1_000_000_000
			l.(map[string]any)["per"] = "1s"
		}
	}
	return json.Marshal(cfg)
}

// Token returns a demo token, RS256 under the demo key, valid for a day.
func Token(keyPEM []byte, now time.Time) (string, error) {
	block, _ := pem.Decode(keyPEM)
	if block == nil {
		return "", errors.New("perfscenario: demo key: no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return "", fmt.Errorf("perfscenario: demo key: %w", err)
	}
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": "https://demo.apiguard.local", "aud": "demo-api", "sub": "bench-user-0042",
		"scope": "read orders:read profile", "name": "Bench User", "email": "bench.user@example.com",
		"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix(),
	})
	t.Header["kid"] = "demo-2026"
	return t.SignedString(key)
}

// RequestHeaders are the demo request's headers, pseudo-headers first, as
// Envoy hands them to the filter.
func RequestHeaders(token string) [][2]string {
	return [][2]string{
		{":method", "GET"}, {":path", Path}, {":authority", "api.example.com"}, {":scheme", "https"},
		{"accept", "application/json"}, {"user-agent", "bench/1.0"}, {"accept-encoding", "gzip"},
		{"authorization", "Bearer " + token}, {"x-request-id", "7f1c2b1e-6a43-4d7e-9d0b-3c2f0f3a9b11"},
		{"x-forwarded-proto", "https"},
	}
}

// Record returns a user record of about size bytes (at least one order):
// fields the demo rule keeps (id, name, role, orders, kept whole), and
// fields it removes (email without the admin scope, secrets, an activity
// log as long as the orders).
func Record(size int) []byte {
	b := make([]byte, 0, size+256)
	b = append(b, `{"id":1,"name":"Ada Lovelace","email":"ada@example.com","role":"user",`...)
	b = append(b, `"password_hash":"$2b$12$abcdefghijklmnopqrstuv\/wxyz0123456789ABCDEFGHIJ","card_number":"4111111111111111",`...)
	b = append(b, `"orders":[`...)
	orders := len(b)
	for i := 0; ; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"id":`...)
		b = strconv.AppendInt(b, int64(1000+i), 10)
		b = append(b, `,"total":19.99,"items":[{"sku":"A-1","qty":2}]}`...)
		if len(b)-orders >= (size-200)/2 {
			break
		}
	}
	b = append(b, `],"activity":[`...)
	for i := 0; len(b) < size-40 || i == 0; i++ {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"at":"2026-11-28T18:00:00Z","ip":"203.0.113.`...)
		b = strconv.AppendInt(b, int64(i%250), 10)
		b = append(b, `","ok":true}`...)
	}
	return append(b, `],"internal":{"score":-0.5e1,"notes":"\u00e9l\u00e8ve"}}`...)
}
