// Package interleave runs several streams through one worker VM at once,
// interleaved callback by callback as an Envoy worker interleaves them, and
// checks that every policy keeps each stream's state apart: JWT verdicts and
// claim forwarding, response-byte budgets reserved and settled, two filtered
// bodies buffering side by side under different routes and claims, an own
// reply in the middle, each stream's audit event and metrics, and request
// bodies arriving interleaved into the worker's shared excerpt budget.
package interleave

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var module *wasmhost.Module

func TestMain(m *testing.M) {
	os.Exit(e2eutil.Run(m, wasmhost.Options{LogLevel: wasmhost.LogInfo}, &module))
}

const (
	issuer        = "https://idp.example.com"
	partnerIssuer = "https://partner.example"
	instance      = "interleave"
	// budget is each caller's response-byte budget per minute; the clock is
	// frozen, so nothing refills during the test.
	budget = 100000
)

// config: every request but /public needs a token whose sub goes upstream
// as x-user: a partner token under /partner, whose keys come from the idp
// cluster, a corp token elsewhere; each sub has its own response-byte
// budget; /users and /orders are filtered with different allowlists (/users
// shows email to admins only); every stream leaves an audit event.
func config(idp string) string {
	return fmt.Sprintf(`{
  "jwt": {"providers": {"corp": {"issuer": %q, "audiences": ["orders"], "local_jwks": %s,
                                 "claim_to_headers": [{"claim": "sub", "header": "x-user"}]},
                        "partner": {"issuer": %q, "audiences": ["orders"],
                                    "remote_jwks": {"cluster": "idp", "uri": %q, "timeout": "10s"},
                                    "claim_to_headers": [{"claim": "sub", "header": "x-user"}]}},
          "rules": [{"name": "public", "match": {"prefix": "/public"}},
                    {"name": "partner", "match": {"prefix": "/partner"}, "requires": {"provider": "partner"}},
                    {"name": "api", "match": {"prefix": "/"}, "requires": {"provider": "corp"}}]},
  "rate_limits": [{"name": "bytes", "cost": "response_bytes", "estimated_bytes": 1, "key": ["claim:sub"],
                   "limits": [{"requests": %d, "per": "60s"}]}],
  "response_filter": {"headers_mode": "held", "max_body_bytes": 65536, "rules": [
    {"name": "users", "match": {"prefix": "/users"}, "allow": ["id", "name", "orders.#.id"],
     "allow_for_claims": [{"claims": [{"claim": "scope", "contains": "admin"}], "allow": ["email"]}]},
    {"name": "orders", "match": {"prefix": "/orders"}, "allow": ["id", "total", "items.#.sku"]}]},
  "telemetry": {"instance": %q, "audit": {"sink": "log", "body_excerpt_bytes": 256}}
}`, issuer, e2eutil.RSAJWKS("k1"), partnerIssuer, idp+"/jwks", budget, instance)
}

func token(t testing.TB, iss, sub, scope string) string {
	t.Helper()
	s, err := e2eutil.RSAToken("k1", map[string]any{"iss": iss, "sub": sub, "aud": "orders", "scope": scope})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A stream is one request whose upstream answer the test writes piece by
// piece. The upstream handler runs on the stream's goroutine, and each of
// its flushed writes runs the plugin's response callbacks before it
// returns (wasmhost's streaming), so a step that has returned is a step
// whose callbacks have run.
type stream struct {
	name, path, sub, scope string
	issuer                 string   // default: the corp issuer
	body                   []string // the upstream body, in pieces

	arrived chan http.Header // the request as the upstream saw it
	steps   chan func(w http.ResponseWriter)
	stepped chan struct{}
	done    chan result
}

type result struct {
	code   int
	header http.Header
	body   string
	err    error
}

func (s *stream) upstreamBody() string { return strings.Join(s.body, "") }

func (s *stream) token(t testing.TB) string {
	iss := s.issuer
	if iss == "" {
		iss = issuer
	}
	return token(t, iss, s.sub, s.scope)
}

// upstream serves each stream's steps as the test sends them.
type upstream struct {
	mu      sync.Mutex
	streams map[string]*stream
}

func (u *upstream) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	u.mu.Lock()
	s := u.streams[r.Header.Get("x-stream")]
	u.mu.Unlock()
	if s == nil {
		http.Error(w, "unknown stream", http.StatusTeapot)
		return
	}
	if s.steps == nil { // a one-off request: a small document at once
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, `{"id":9}`)
		return
	}
	s.arrived <- r.Header.Clone()
	for step := range s.steps {
		step(w)
		s.stepped <- struct{}{}
	}
}

// TestPoliciesKeepStreamsApartWhenInterleaved runs three authenticated
// streams on one worker, their response pieces interleaved one callback
// at a time, with a refused request in the middle, and checks each
// stream's verdict, forwarded claims, filtered body, byte charge, audit
// event and metrics against what it would have had alone.
func TestPoliciesKeepStreamsApartWhenInterleaved(t *testing.T) {
	p, up, srv, releaseJWKS := start(t, module, 0)

	// A and C share the /users route, A as an admin; B is on /orders.
	// Each body is cut mid-token, so a filter that mixed two streams'
	// buffers would produce invalid JSON or another stream's values.
	a := &stream{name: "A", path: "/users/1", sub: "alice", scope: "admin read", body: []string{
		`{"id":1,"name":"Ann","ema`, `il":"ann@example.com","password_hash":"$2b$12$aaaaaaaa",` + pad("a", 2000) + `,"orders":[{"id":11,"card`,
		`_number":"4111111111111111"},{"id":12}]}`}}
	b := &stream{name: "B", path: "/orders/2", sub: "bob", scope: "read", body: []string{
		`{"id":2,"total":9.5,"items":[{"sku":"b-1","co`, `st":3},{"sku":"b-2","cost":4}],` + pad("b", 700), `,"owner":"bob@example.com"}`}}
	c := &stream{name: "C", path: "/users/3", sub: "carol", scope: "read", body: []string{
		`{"id":3,"name":"Cy","email":"cy@exa`, `mple.com","password_hash":"$2b$12$cccccccc","orders":[{"id":31,"card_number":"5500`, `000000000004"}]}`}}
	// X and Y need the partner's keys, which the idp serves only when the
	// test releases them: both wait in authentication while the others
	// stream, then resume each with its own claims.
	x := &stream{name: "X", path: "/partner/1", sub: "xavier", scope: "read", issuer: partnerIssuer, body: []string{`{"partner":"x"}`}}
	y := &stream{name: "Y", path: "/partner/2", sub: "yara", scope: "read", issuer: partnerIssuer, body: []string{`{"partner":"y","more":"yyyy"}`}}
	streams := []*stream{a, b, c, x, y}
	for _, s := range streams {
		s.arrived = make(chan http.Header, 1)
		s.steps = make(chan func(w http.ResponseWriter))
		s.stepped = make(chan struct{})
		s.done = make(chan result, 1)
		up.mu.Lock()
		up.streams[s.name] = s
		up.mu.Unlock()
	}
	send := func(s *stream) {
		req, _ := http.NewRequest("GET", srv.URL+s.path, nil)
		req.Header.Set("authorization", "Bearer "+s.token(t))
		req.Header.Set("x-stream", s.name)
		go func() {
			resp, err := srv.Client().Do(req)
			if err != nil {
				s.done <- result{err: err}
				return
			}
			defer resp.Body.Close()
			body, err := io.ReadAll(resp.Body)
			s.done <- result{resp.StatusCode, resp.Header, string(body), err}
		}()
	}
	seen := map[string]http.Header{}
	var arrived func(*stream)
	arrive := func(s *stream) {
		send(s)
		arrived(s)
	}
	arrived = func(s *stream) {
		select {
		case h := <-s.arrived:
			seen[s.name] = h
		case r := <-s.done:
			t.Fatalf("stream %s ended before reaching the upstream: %d %q %v", s.name, r.code, r.body, r.err)
		case <-time.After(10 * time.Second):
			t.Fatalf("stream %s never reached the upstream", s.name)
		}
	}
	// piece writes the stream's i-th body piece (with the headers first)
	// and waits until the plugin's callbacks for it have run.
	piece := func(s *stream, i int) {
		s.steps <- func(w http.ResponseWriter) {
			if i == 0 {
				w.Header().Set("content-type", "application/json")
			}
			io.WriteString(w, s.body[i])
			w.(http.Flusher).Flush()
		}
		<-s.stepped
	}
	// end returns from the upstream handler (end of stream) and waits for
	// the client's whole response and the stream's audit event.
	events := 0
	end := func(s *stream) result {
		close(s.steps)
		r := <-s.done
		if r.err != nil {
			t.Fatalf("stream %s: %v", s.name, r.err)
		}
		events++
		waitAudit(t, p, events)
		return r
	}

	// What a caller with nothing spent has left after a request's
	// reservation.
	fresh := remaining(plainRequest(t, srv.URL, &stream{name: "D", path: "/users/5", sub: "dave", scope: "read"}, up).header.Get("RateLimit"))
	if fresh < budget-100 {
		t.Fatalf("a fresh caller has %d bytes left of %d", fresh, budget)
	}
	events++
	waitAudit(t, p, events)

	arrive(a)
	arrive(b)
	send(x)
	piece(a, 0)
	arrive(c)
	send(y)
	piece(b, 0)
	// A request without a valid token, answered by apiguard while three
	// streams are between their response pieces.
	refused := refusedRequest(t, srv.URL)
	events++
	waitAudit(t, p, events)
	piece(c, 0)
	for _, s := range []*stream{x, y} {
		select {
		case <-s.arrived:
			t.Fatalf("stream %s reached the upstream before its provider's keys were served", s.name)
		case r := <-s.done:
			t.Fatalf("stream %s ended while waiting for keys: %d %q", s.name, r.code, r.body)
		default:
		}
	}
	releaseJWKS()
	arrived(y)
	arrived(x)
	piece(y, 0)
	piece(a, 1)
	piece(x, 0)
	piece(c, 1)
	piece(b, 1)
	piece(a, 2)
	piece(c, 2)
	rc := end(c)
	piece(b, 2)
	ra := end(a)
	rb := end(b)
	ry := end(y)
	rx := end(x)
	for name, r := range map[string]result{"X": rx, "Y": ry} {
		if want := map[string]*stream{"X": x, "Y": y}[name].upstreamBody(); r.code != 200 || r.body != want {
			t.Errorf("stream %s: got %d %q, want 200 %q", name, r.code, r.body, want)
		}
	}

	// JWT: each stream's own verified claims reached the upstream.
	for _, s := range streams {
		if got := seen[s.name].Get("x-user"); got != s.sub {
			t.Errorf("stream %s: upstream saw x-user %q, want %q", s.name, got, s.sub)
		}
	}
	if refused.code != 401 {
		t.Errorf("the request without a token got %d", refused.code)
	}

	// Response filter: each body filtered by its own route and claims.
	wantBody := map[string]string{
		"A": `{"id":1,"name":"Ann","email":"ann@example.com","orders":[{"id":11},{"id":12}]}`,
		"B": `{"id":2,"total":9.5,"items":[{"sku":"b-1"},{"sku":"b-2"}]}`,
		"C": `{"id":3,"name":"Cy","orders":[{"id":31}]}`,
	}
	for name, r := range map[string]result{"A": ra, "B": rb, "C": rc} {
		if r.code != 200 || r.body != wantBody[name] {
			t.Errorf("stream %s: got %d %s\nwant 200 %s", name, r.code, r.body, wantBody[name])
		}
		if cl := r.header.Get("content-length"); cl != strconv.Itoa(len(r.body)) {
			t.Errorf("stream %s: content-length %q for %d bytes", name, cl, len(r.body))
		}
	}

	// Byte budgets: each stream reserved 1 byte; at its end it settled its
	// own upstream body. A new request of each caller sees what a fresh
	// caller sees, less its own stream's bytes, and nothing of the others'.
	for _, s := range streams {
		r := plainRequest(t, srv.URL, s, up)
		want := fresh - len(s.upstreamBody())
		if got := remaining(r.header.Get("RateLimit")); got != want {
			t.Errorf("stream %s's caller %s: %d bytes left (RateLimit %q), want %d = %d (a fresh caller) - %d (its body)",
				s.name, s.sub, got, r.header.Get("RateLimit"), want, fresh, len(s.upstreamBody()))
		}
	}

	// Audit: one event per stream, each with its own path, identity, status
	// and decisions.
	byPath := map[string]map[string]any{}
	for _, l := range auditLines(t, p) {
		if path := l["path"].(string); byPath[path] == nil { // the stream's, not its caller's budget check
			byPath[path] = l
		}
	}
	for _, s := range streams {
		l := byPath[s.path]
		if l == nil {
			t.Errorf("stream %s: no audit event for %s", s.name, s.path)
			continue
		}
		id, _ := l["jwt"].(map[string]any)
		if l["status"] != float64(200) || id["sub"] != s.sub {
			t.Errorf("stream %s: audit event status %v sub %v, want 200 %s: %v", s.name, l["status"], id["sub"], s.sub, l)
		}
		want := "authn/allow/verified ratelimit.bytes/allow/within_limit respfilter/allow/filtered"
		if s.issuer == partnerIssuer {
			want = "authn/allow/verified ratelimit.bytes/allow/within_limit"
		}
		if d := decisions(l); d != want {
			t.Errorf("stream %s: audit decisions %s", s.name, d)
		}
	}
	if l := byPath["/users/4"]; l == nil || l["status"] != float64(401) || l["jwt"] != nil {
		t.Errorf("the refused request's audit event: %v", l)
	}

	// Metrics: counted once per stream.
	names := p.Stats().Names()
	sum := func(parts ...string) uint64 {
		var n uint64
		for _, name := range names {
			ok := strings.Contains(name, ".apiguard."+instance+".")
			for _, part := range parts {
				ok = ok && strings.Contains(name, part)
			}
			if ok {
				v, _ := p.Stats().Counter(name)
				n += v
			}
		}
		return n
	}
	// 5 streams, the fresh caller and the 5 budget checks were allowed, all
	// but the partner's filtered; the refused request was denied, once.
	for _, c := range []struct {
		parts []string
		want  uint64
	}{
		{[]string{".authn.", "decision.allow.reason.verified.decisions_total"}, 11},
		{[]string{".authn.", "decision.deny.reason.missing_token.decisions_total"}, 1},
		{[]string{".ratelimit.", "policy.bytes.decision.allow.reason.within_limit.decisions_total"}, 11},
		{[]string{".respfilter.decision.allow.reason.filtered.responses_total"}, 7},
		{[]string{".audit.events_total"}, 12},
	} {
		if got := sum(c.parts...); got != c.want {
			t.Errorf("%v = %d, want %d", c.parts, got, c.want)
		}
	}
}

// start runs the plugin with config on one worker behind a frozen wall
// clock (no budget refills during a test).
// The returned func releases the idp's keys; until then the idp holds
// every request for them.
func start(t *testing.T, m *wasmhost.Module, chunkSize int) (*wasmhost.Plugin, *upstream, *httptest.Server, func()) {
	t.Helper()
	release := make(chan struct{})
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
			return
		}
		w.Header().Set("content-type", "application/json")
		io.WriteString(w, e2eutil.RSAJWKS("k1"))
	}))
	t.Cleanup(idp.Close)
	var once sync.Once
	wall := time.Now()
	p, err := m.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard-" + t.Name(),
		Configuration: []byte(config(idp.URL)), Workers: 1, ChunkSize: chunkSize,
		Clusters:                    map[string]string{"idp": idp.URL},
		AllowOnHeadersStopIteration: true,
		WallClock:                   func() time.Time { return wall },
	})
	if err != nil {
		t.Fatalf("start: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	up := &upstream{streams: map[string]*stream{}}
	srv := httptest.NewServer(p.Middleware(up))
	t.Cleanup(srv.Close)
	releaseOnce := func() { once.Do(func() { close(release) }) }
	t.Cleanup(releaseOnce)
	return p, up, srv, releaseOnce
}

// TestRequestBodiesInterleaved sends two request bodies piece by piece,
// each piece one body callback, alternating between the streams; each
// stream's audit event holds its own body's size and excerpt, though the
// worker's excerpts share one in-flight budget.
func TestRequestBodiesInterleaved(t *testing.T) {
	const chunk = 64
	var bodyCalls atomic.Int64
	m, err := e2eutil.Compile(wasmhost.Options{LogLevel: wasmhost.LogInfo,
		ProfileHook: func(name string, guest bool, _ time.Duration) {
			if guest && name == "proxy_on_request_body" {
				bodyCalls.Add(1)
			}
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(context.Background()) })
	p, up, srv, _ := start(t, m, chunk)
	type post struct {
		name, body string
		w          *io.PipeWriter
		done       chan error
	}
	posts := []*post{{name: "E"}, {name: "F"}}
	for _, q := range posts {
		// Three pieces of one chunk each, a marker of the stream in every one.
		q.body = fmt.Sprintf(`{"stream":%q,"note":"%s"}`, q.name, strings.Repeat(strings.ToLower(q.name), 3*chunk-len(`{"stream":"E","note":""}`)))
		up.mu.Lock()
		up.streams[q.name] = &stream{name: q.name}
		up.mu.Unlock()
		r, w := io.Pipe()
		q.w, q.done = w, make(chan error, 1)
		req, _ := http.NewRequest("POST", srv.URL+"/public/form", r)
		req.Header.Set("content-type", "application/json")
		req.Header.Set("x-stream", q.name)
		go func() {
			resp, err := srv.Client().Do(req)
			if err == nil {
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					err = fmt.Errorf("status %d", resp.StatusCode)
				}
			}
			q.done <- err
		}()
	}
	want := int64(0)
	for i := 0; i < 3; i++ {
		for _, q := range posts {
			if _, err := io.WriteString(q.w, q.body[i*chunk:(i+1)*chunk]); err != nil {
				t.Fatal(err)
			}
			want++
			for deadline := time.Now().Add(10 * time.Second); bodyCalls.Load() < want; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("piece %d of %s: %d body callbacks, want %d", i, q.name, bodyCalls.Load(), want)
				}
			}
		}
	}
	for _, q := range posts {
		q.w.Close()
		if err := <-q.done; err != nil {
			t.Fatalf("%s: %v", q.name, err)
		}
	}
	waitAudit(t, p, 2)
	for _, l := range auditLines(t, p) {
		ex, _ := l["body_excerpt"].(string)
		mine := strings.Contains(ex, `"stream":"E"`)
		other, wantBytes := "F", len(posts[0].body)
		if !mine {
			other, wantBytes = "E", len(posts[1].body)
		}
		if strings.Contains(ex, strings.Repeat(strings.ToLower(other), 8)) || !strings.Contains(ex, `"stream":"`) {
			t.Errorf("excerpt %q mixes the streams", ex)
		}
		if l["bytes_in"] != float64(wantBytes) {
			t.Errorf("bytes_in %v, want %d: %v", l["bytes_in"], wantBytes, l)
		}
	}
}

// pad is a JSON member named name of n bytes of filler, so bodies differ in
// size.
func pad(name string, n int) string {
	return fmt.Sprintf("%q:%q", "pad_"+name, strings.Repeat(name, n))
}

// refusedRequest sends a request without a token and returns its answer.
func refusedRequest(t *testing.T, url string) result {
	t.Helper()
	resp, err := http.Get(url + "/users/4")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return result{code: resp.StatusCode, header: resp.Header, body: string(body)}
}

// plainRequest sends one more request of s's caller on s's route, answered
// at once with a small document.
func plainRequest(t *testing.T, url string, s *stream, up *upstream) result {
	t.Helper()
	name := s.name + "-again"
	up.mu.Lock()
	up.streams[name] = &stream{name: name}
	up.mu.Unlock()
	req, _ := http.NewRequest("GET", url+s.path, nil)
	req.Header.Set("authorization", "Bearer "+s.token(t))
	req.Header.Set("x-stream", name)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("%s: %d", name, resp.StatusCode)
	}
	return result{code: resp.StatusCode, header: resp.Header}
}

var remainingRE = regexp.MustCompile(`\br=(\d+)`)

// remaining is the r= item of a RateLimit header (-1 if none).
func remaining(h string) int {
	m := remainingRE.FindStringSubmatch(h)
	if m == nil {
		return -1
	}
	n, _ := strconv.Atoi(m[1])
	return n
}

// auditLines are the audit events the log sink wrote, in order.
func auditLines(t *testing.T, p *wasmhost.Plugin) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, e := range p.Logs() {
		if !strings.HasPrefix(e.Message, `{"type":`) {
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(e.Message), &m); err != nil {
			t.Fatalf("audit line is not JSON: %v\n%s", err, e.Message)
		}
		out = append(out, m)
	}
	return out
}

// waitAudit waits until n audit events were written: on_log of the stream
// that just ended has run before the next step.
func waitAudit(t *testing.T, p *wasmhost.Plugin, n int) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if len(auditLines(t, p)) >= n {
			return
		}
	}
	t.Fatalf("%d audit events, want %d", len(auditLines(t, p)), n)
}

// decisions renders an event's decisions as policy/decision/reason words.
func decisions(l map[string]any) string {
	var out []string
	ds, _ := l["decisions"].([]any)
	for _, d := range ds {
		m, _ := d.(map[string]any)
		out = append(out, fmt.Sprintf("%v/%v/%v", m["policy"], m["decision"], m["reason"]))
	}
	return strings.Join(out, " ")
}
