// Package respfilter tests the response field allowlist through the compiled
// plugin in the wazero host (the Envoy stand-in), with a real upstream HTTP
// server behind a reverse proxy and a real client in front, in both of
// Envoy's response-header modes.
package respfilter

import (
	"bytes"
	"cmp"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var module *wasmhost.Module

func TestMain(m *testing.M) {
	// LogTrace: every guest log line is captured, so tests can check that
	// no removed value ever reaches the logs.
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogTrace}, &module))
}

// The sensitive values of the demo records: none may ever reach a client
// that is not allowed them, nor any log line.
const (
	cardNumber   = "4111111111111111"
	passwordHash = "$2b$12$abcdefghijklmnopqrstuv"
	adminEmail   = "ann@example.com"
)

// userDoc is a user record with sensitive fields at several depths.
const userDoc = `{"id":7,"name":"Ann \u00e9\"q\"","email":"` + adminEmail + `","password_hash":"` + passwordHash +
	`","card_number":"` + cardNumber + `","internal":{"flag":true,"score":3},` +
	`"big":12345678901234567890123,"orders":[{"id":1,"total":12.50,"card_number":"` + cardNumber + `"},{"id":2,"total":-0.0}]}`

// userFiltered is userDoc through the /users rule for a caller without grants.
const userFiltered = `{"id":7,"name":"Ann \u00e9\"q\"","big":12345678901234567890123,"orders":[{"id":1},{"id":2}]}`

// baseConfig filters /users (with an admin grant), masks /masked, and leaves
// /public alone. extra is spliced into the response_filter section.
func baseConfig(mode, extra string) string {
	return `{"response_filter": {
  "headers_mode": "` + mode + `",
  "max_body_bytes": 65536` + extra + `,
  "rules": [
    {"name": "users", "match": {"prefix": "/users"}, "allow": ["id", "name", "big", "orders.#.id"],
     "allow_for_claims": [{"claims": [{"claim": "scope", "contains": "admin"}], "allow": ["email"]}]},
    {"name": "masked", "match": {"prefix": "/masked"}, "allow": ["id", "orders.#.id"], "mode": "mask", "mask_value": "[redacted]"},
    {"name": "public", "match": {"prefix": "/public"}, "bypass": true}
  ]}}`
}

// env is one started plugin between a client and a real upstream server.
type env struct {
	plugin   *wasmhost.Plugin
	instance string           // the metric instance segment, unique per env
	front    *httptest.Server // the client talks to this: the plugin in front of the upstream
	upstream *httptest.Server
	client   *http.Client

	mu   sync.Mutex
	seen []http.Header // request headers the upstream received
}

var instances atomic.Int64

// auditEvent is what these tests read of an audit line: a request event's
// path and removed fields, an inventory event's route export; line is the
// line as logged.
type auditEvent struct {
	Type          string          `json:"type"`
	Path          string          `json:"path"`
	RemovedFields []string        `json:"removed_fields"`
	Inventory     json.RawMessage `json:"inventory"`
	line          string
}

// auditEvents decodes the audit lines (JSON objects at warn level) the
// plugin has logged so far.
func (e *env) auditEvents() []auditEvent {
	var events []auditEvent
	for _, l := range e.plugin.LogsAt(wasmhost.LogWarn) {
		ev := auditEvent{line: l}
		if json.Unmarshal([]byte(l), &ev) == nil {
			events = append(events, ev)
		}
	}
	return events
}

type opts struct {
	held        bool // AllowOnHeadersStopIteration
	chunkSize   int
	bufferLimit int
	timeout     time.Duration // StreamTimeout; default 5 s
	telemetry   string        // more keys of the "telemetry" section
}

// start runs the plugin with config, in front of a real upstream serving
// handler through a reverse proxy that neither adds nor removes codings.
func start(t testing.TB, config string, o opts, handler http.HandlerFunc) *env {
	t.Helper()
	// Metric names are process-wide in the Module's store: a unique
	// instance segment keeps each test's counters apart.
	e := &env{instance: fmt.Sprintf("rf%d", instances.Add(1))}
	config = `{"telemetry": {"instance": "` + e.instance + `"` + o.telemetry + `}, ` + strings.TrimPrefix(strings.TrimSpace(config), "{")
	e.upstream = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.seen = append(e.seen, r.Header.Clone())
		e.mu.Unlock()
		handler(w, r)
	}))
	t.Cleanup(e.upstream.Close)
	target, _ := url.Parse(e.upstream.URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	proxy.Transport = &http.Transport{DisableCompression: true}
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard",
		Configuration:               []byte(config),
		AllowOnHeadersStopIteration: o.held,
		ChunkSize:                   o.chunkSize,
		BufferLimit:                 o.bufferLimit,
		StreamTimeout:               cmp.Or(o.timeout, 5*time.Second),
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	e.plugin = p
	e.front = httptest.NewServer(p.Middleware(proxy))
	t.Cleanup(e.front.Close)
	// The client sees raw bytes: no transparent decompression.
	e.client = &http.Client{Transport: &http.Transport{DisableCompression: true}}
	return e
}

// response is what a client received, body read in full.
type response struct {
	status int
	header http.Header
	body   []byte
	err    error // a read error: a reset or a body shorter than content-length
}

func (e *env) get(t testing.TB, path string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest("GET", e.front.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := e.client.Do(req)
	if err != nil {
		return response{err: err}
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body, err: err}
}

// lastSeen returns the request headers of the upstream's last request.
func (e *env) lastSeen() http.Header {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.seen) == 0 {
		return nil
	}
	return e.seen[len(e.seen)-1]
}

// checkLogsClean fails if a secret value appears in any guest log line.
func (e *env) checkLogsClean(t testing.TB) {
	t.Helper()
	for _, l := range e.plugin.Logs() {
		s := fmt.Sprint(l)
		for _, secret := range []string{cardNumber, passwordHash, adminEmail} {
			if strings.Contains(s, secret) {
				t.Errorf("a removed value appears in the plugin log: %q", s)
			}
		}
	}
}

// serve answers with body under the given headers (key, value pairs).
// flush makes the upstream send it chunked, without a content-length.
func serve(body []byte, flush bool, header ...string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		for i := 0; i+1 < len(header); i += 2 {
			w.Header().Set(header[i], header[i+1])
		}
		if !flush {
			w.Header().Set("content-length", strconv.Itoa(len(body)))
			w.Write(body)
			return
		}
		for len(body) > 0 {
			n := min(len(body), 100)
			w.Write(body[:n])
			w.(http.Flusher).Flush()
			body = body[n:]
		}
	}
}

// checkLength fails when a content-length the client got does not match
// the body it read.
func checkLength(t testing.TB, r response) {
	t.Helper()
	if r.err != nil {
		t.Fatalf("reading the response: %v", r.err)
	}
	if cl := r.header.Get("content-length"); cl != "" && cl != strconv.Itoa(len(r.body)) {
		t.Errorf("content-length %s for a %d-byte body", cl, len(r.body))
	}
}

func gzipBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func gunzip(t testing.TB, b []byte) []byte {
	t.Helper()
	r, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the client cannot gunzip the body: %v", err)
	}
	out, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("the client cannot gunzip the body: %v", err)
	}
	return out
}

func zlibBytes(t testing.TB, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zlib.NewWriter(&buf)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// inflate decodes a deflate body, zlib-wrapped or raw, as browsers do.
func inflate(t testing.TB, b []byte) []byte {
	t.Helper()
	if r, err := zlib.NewReader(bytes.NewReader(b)); err == nil {
		if out, err := io.ReadAll(r); err == nil {
			return out
		}
	}
	out, err := io.ReadAll(flate.NewReader(bytes.NewReader(b)))
	if err != nil {
		t.Fatalf("the client cannot inflate the body: %v", err)
	}
	return out
}

// Tokens for allow_for_claims, minted with golang-jwt against a local JWKS.
var signer = sync.OnceValue(func() *ecdsa.PrivateKey {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	return k
})

const issuer = "https://idp.example"

func jwksJSON() string {
	pub := signer().PublicKey
	b64 := base64.RawURLEncoding
	p, err := pub.Bytes() // the uncompressed point 0x04 || X || Y
	if err != nil {
		panic(err)
	}
	keys := map[string]any{"keys": []any{map[string]any{"kty": "EC", "kid": "k1", "crv": "P-256", "alg": "ES256",
		"x": b64.EncodeToString(p[1:33]), "y": b64.EncodeToString(p[33:])}}}
	b, _ := json.Marshal(keys)
	return string(b)
}

func token(t testing.TB, scope string) string {
	t.Helper()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{
		"iss": issuer, "aud": "users", "sub": "u1", "scope": scope,
		"exp": time.Now().Add(time.Hour).Unix(), "iat": time.Now().Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(signer())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// jwtSection requires a token on /users; other paths are public.
func jwtSection() string {
	return `"jwt": {"providers": {"corp": {"issuer": "` + issuer + `", "audiences": ["users"], "local_jwks": ` + jwksJSON() + `}},
  "rules": [{"match": {"prefix": "/users"}, "requires": {"provider": "corp"}}, {"match": {}}]}`
}
