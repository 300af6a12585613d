// Package grpc tests apiguard with real gRPC: a grpc-go server behind
// devproxy (the compiled plugin on wasmhost, HTTP/2 cleartext on both sides)
// and a grpc-go client. Every decision must reach the client as a gRPC
// status, the audit trail and metrics must still count it as apiguard's
// denial, and gRPC responses must pass the response filter untouched.
package grpc

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/credentials/insecure"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/types/known/wrapperspb"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

const issuer = "https://idp.example.com"

// sayLimit is the burst the Say rate limit admits per user.
const sayLimit = 5

func jwks() string { return e2eutil.RSAJWKS("k1") }

// token mints an RS256 token with golang-jwt, independent of the verifier.
func token(t testing.TB, sub, scope string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.MapClaims{
		"iss": issuer, "sub": sub, "aud": "echo", "scope": scope,
		"iat": now.Add(-time.Minute).Unix(), "exp": now.Add(time.Hour).Unix(),
	})
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(e2eutil.RSAKey())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// config protects the gRPC methods as an operator would: one jwt rule per
// method group (their names label metrics), a claim rule on the Admin
// service, a per-user limit on Say keyed by the method, and a response
// filter rule over the Echo service that must leave gRPC bodies alone.
func config() string {
	return fmt.Sprintf(`{
  "jwt": {
    "providers": {"corp": {"issuer": %q, "audiences": ["echo"], "local_jwks": %s}},
    "rules": [
      {"name": "admin", "match": {"prefix": "/apiguard.e2e.Admin"}, "requires": {"provider": "corp", "claims": [{"claim": "scope", "contains": "admin"}]}},
      {"name": "echo_say", "match": {"path": "/apiguard.e2e.Echo/Say"}, "requires": {"provider": "corp"}},
      {"name": "echo", "match": {"prefix": "/apiguard.e2e.Echo"}, "requires": {"provider": "corp"}}
    ]
  },
  "rate_limits": [
    {"name": "say_per_user", "match": {"path": "/apiguard.e2e.Echo/Say"}, "key": ["claim:sub", "path"], "limits": [{"requests": %d, "per": "3600s"}]}
  ],
  "response_filter": {"rules": [{"name": "echo_fields", "match": {"prefix": "/apiguard.e2e"}, "allow": ["id"]}]},
  "telemetry": {"audit": {"sink": "log"}}
}`, issuer, jwks(), sayLimit)
}

// env is one devproxy in front of one grpc-go server.
type env struct {
	conn  *grpc.ClientConn
	admin string
	mu    sync.Mutex
	logs  []string // devproxy's stderr: the plugin's log, audit events included
}

func start(t *testing.T) *env {
	t.Helper()
	root, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	wasm := wasmbuild.ForTest(t, "./plugin")
	dir := t.TempDir()
	bin := filepath.Join(dir, "devproxy")
	build := exec.Command("go", "build", "-o", bin, "./internal/devproxy")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build devproxy: %v\n%s", err, out)
	}
	cfg := filepath.Join(dir, "config.json")
	if err := os.WriteFile(cfg, []byte(config()), 0o600); err != nil {
		t.Fatal(err)
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := grpc.NewServer()
	srv.RegisterService(&echoDesc, struct{}{})
	srv.RegisterService(&adminDesc, struct{}{})
	go srv.Serve(ln)
	t.Cleanup(srv.Stop)

	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--wasm", wasm, "--config", cfg, "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0",
		"--upstream", "h2c://"+ln.Addr().String(), "--workers", "2")
	stdout, _ := cmd.StdoutPipe()
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	e := &env{}
	t.Cleanup(func() { cancel(); cmd.Wait() })
	go func() {
		sc := bufio.NewScanner(stderr)
		sc.Buffer(make([]byte, 64<<10), 1<<20)
		for sc.Scan() {
			e.mu.Lock()
			e.logs = append(e.logs, sc.Text())
			e.mu.Unlock()
		}
	}()
	listen := make(chan [2]string, 1)
	go func() {
		var a [2]string
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) >= 2 && f[0] == "listening" {
				a[0] = strings.TrimPrefix(f[1], "http://")
			}
			if len(f) >= 2 && f[0] == "admin" {
				a[1] = strings.TrimPrefix(f[1], "http://")
			}
			if a[0] != "" && a[1] != "" {
				listen <- a
				a = [2]string{}
			}
		}
		io.Copy(io.Discard, stdout)
	}()
	var addrs [2]string
	select {
	case addrs = <-listen:
	case <-time.After(2 * time.Minute):
		t.Fatalf("devproxy did not start:\n%s", strings.Join(e.lines(), "\n"))
	}
	e.admin = addrs[1]
	// The banner is printed before the plugin serves: wait for /ready.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		res, err := http.Get("http://" + e.admin + "/ready")
		if err == nil {
			body, _ := io.ReadAll(res.Body)
			res.Body.Close()
			if strings.Contains(string(body), "LIVE") {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("devproxy never ready:\n%s", strings.Join(e.lines(), "\n"))
		}
	}
	e.conn, err = grpc.NewClient("passthrough:///"+addrs[0], grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.conn.Close() })
	return e
}

func (e *env) lines() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]string(nil), e.logs...)
}

// withToken returns a context that sends tok as a bearer token.
func withToken(tok string) (context.Context, context.CancelFunc) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	if tok != "" {
		ctx = metadata.AppendToOutgoingContext(ctx, "authorization", "Bearer "+tok)
	}
	return ctx, cancel
}

// call makes one unary call and returns the reply, the status, and the
// headers and trailers the client got.
func (e *env) call(t *testing.T, method, tok, msg string) (string, *status.Status, metadata.MD) {
	t.Helper()
	ctx, cancel := withToken(tok)
	defer cancel()
	out := new(wrapperspb.StringValue)
	var hdr, trl metadata.MD
	err := e.conn.Invoke(ctx, method, wrapperspb.String(msg), out, grpc.Header(&hdr), grpc.Trailer(&trl))
	md := metadata.Join(hdr, trl)
	return out.GetValue(), status.Convert(err), md
}

// wantDenied checks a refusal as a gRPC client sees it: the code, the
// reason in metadata, and apiguard's JSON body in grpc-message.
func wantDenied(t *testing.T, st *status.Status, md metadata.MD, code codes.Code, reason string) {
	t.Helper()
	if st.Code() != code {
		t.Fatalf("got %v %q, want %v", st.Code(), st.Message(), code)
	}
	if got := md.Get("x-apiguard-reason"); len(got) != 1 || got[0] != reason {
		t.Errorf("x-apiguard-reason %q, want %s", got, reason)
	}
	if !strings.Contains(st.Message(), `"`+reason+`"`) {
		t.Errorf("grpc-message %q does not carry apiguard's body", st.Message())
	}
}

func TestGRPCClientsGetGRPCStatuses(t *testing.T) {
	e := start(t)
	alice := token(t, "alice", "read")

	t.Run("no token: UNAUTHENTICATED", func(t *testing.T) {
		_, st, md := e.call(t, methodSay, "", "hi")
		wantDenied(t, st, md, codes.Unauthenticated, "missing_token")
		if got := md.Get("www-authenticate"); len(got) != 1 || !strings.HasPrefix(got[0], "Bearer") {
			t.Errorf("www-authenticate %q", got)
		}
	})
	t.Run("bad token: UNAUTHENTICATED", func(t *testing.T) {
		forged := alice[:strings.LastIndexByte(alice, '.')+1] + "c2lnbmF0dXJl"
		_, st, md := e.call(t, methodSay, forged, "hi")
		wantDenied(t, st, md, codes.Unauthenticated, "bad_signature")
	})
	t.Run("valid token passes", func(t *testing.T) {
		got, st, _ := e.call(t, methodSay, alice, "hi")
		// The provider does not forward the token (forward: false).
		if st.Code() != codes.OK || got != "echo: hi (authorization 0)" {
			t.Fatalf("got %q %v", got, st)
		}
	})
	t.Run("claim rule: PERMISSION_DENIED", func(t *testing.T) {
		_, st, md := e.call(t, methodStats, alice, "")
		wantDenied(t, st, md, codes.PermissionDenied, "claims_failed")
		got, st, _ := e.call(t, methodStats, token(t, "root", "read admin"), "")
		if st.Code() != codes.OK || got != `{"id":1,"secret":"admin only"}` {
			t.Fatalf("admin: got %q %v, want the upstream's message untouched by the response filter", got, st)
		}
	})
	t.Run("burst: RESOURCE_EXHAUSTED after exactly the limit", func(t *testing.T) {
		bob := token(t, "bob", "read")
		for i := 1; i <= sayLimit; i++ {
			if _, st, _ := e.call(t, methodSay, bob, "x"); st.Code() != codes.OK {
				t.Fatalf("call %d of %d: %v", i, sayLimit, st)
			}
		}
		_, st, md := e.call(t, methodSay, bob, "x")
		wantDenied(t, st, md, codes.ResourceExhausted, "rate_limited")
		if len(md.Get("retry-after")) != 1 {
			t.Errorf("no retry-after in %v", md)
		}
		// The key is the user and the method: Count is not Say's budget.
		if _, err := e.serverStream(bob, 1); err != nil {
			t.Errorf("another method after Say's limit: %v", err)
		}
	})
	t.Run("server streaming passes through untouched", func(t *testing.T) {
		got, err := e.serverStream(alice, 50)
		if err != nil {
			t.Fatal(err)
		}
		if len(got) != 50 || got[0] != "1" || got[49] != "50" {
			t.Fatalf("got %d messages: %v", len(got), got)
		}
	})
	t.Run("server streaming without a token: UNAUTHENTICATED", func(t *testing.T) {
		_, err := e.serverStream("", 3)
		if status.Code(err) != codes.Unauthenticated {
			t.Fatalf("got %v", err)
		}
	})
	t.Run("client streaming passes through untouched", func(t *testing.T) {
		ctx, cancel := withToken(alice)
		defer cancel()
		cs, err := e.conn.NewStream(ctx, &grpc.StreamDesc{ClientStreams: true}, methodCollect)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{"a", "b", "c"} {
			if err := cs.SendMsg(wrapperspb.String(s)); err != nil {
				t.Fatal(err)
			}
		}
		if err := cs.CloseSend(); err != nil {
			t.Fatal(err)
		}
		out := new(wrapperspb.StringValue)
		if err := cs.RecvMsg(out); err != nil || out.GetValue() != "a+b+c" {
			t.Fatalf("got %q %v", out.GetValue(), err)
		}
	})

	t.Run("audit events and metrics name the method and count the denials", func(t *testing.T) {
		e.wantAudit(t)
		e.wantMetrics(t)
	})
}

// serverStream calls Count(n) and returns the messages, checking the
// upstream's trailer arrived.
func (e *env) serverStream(tok string, n int) ([]string, error) {
	ctx, cancel := withToken(tok)
	defer cancel()
	cs, err := e.conn.NewStream(ctx, &grpc.StreamDesc{ServerStreams: true}, methodCount)
	if err != nil {
		return nil, err
	}
	if err := cs.SendMsg(wrapperspb.String(fmt.Sprint(n))); err != nil {
		return nil, err
	}
	if err := cs.CloseSend(); err != nil {
		return nil, err
	}
	var got []string
	for {
		out := new(wrapperspb.StringValue)
		err := cs.RecvMsg(out)
		if err == io.EOF {
			break
		}
		if err != nil {
			return got, err
		}
		got = append(got, out.GetValue())
	}
	if tr := cs.Trailer().Get("x-counted"); len(tr) != 1 || tr[0] != fmt.Sprint(n) {
		return got, fmt.Errorf("the upstream's trailer x-counted is %q", tr)
	}
	return got, nil
}

// audit returns the audit events devproxy's stderr carries so far.
func (e *env) audit() []map[string]any {
	var out []map[string]any
	for _, l := range e.lines() {
		i := strings.Index(l, `{"type":"request"`)
		if i < 0 {
			continue
		}
		var ev map[string]any
		if json.Unmarshal([]byte(l[i:]), &ev) == nil {
			out = append(out, ev)
		}
	}
	return out
}

// wantAudit finds each call's event: it names the method as path and route,
// records apiguard's decision and reason, the status Envoy sent (200, for a
// denial a trailers-only gRPC response) and the grpc-status the client got.
func (e *env) wantAudit(t *testing.T) {
	t.Helper()
	want := []struct {
		path, route, decision string
		grpcStatus            codes.Code
	}{
		{methodSay, "echo_say", "authn/deny/missing_token", codes.Unauthenticated},
		{methodSay, "echo_say", "authn/deny/bad_signature", codes.Unauthenticated},
		{methodStats, "admin", "authn/deny/claims_failed", codes.PermissionDenied},
		{methodSay, "echo_say", "ratelimit.say_per_user/deny/rate_limited", codes.ResourceExhausted},
		{methodCount, "echo", "authn/deny/missing_token", codes.Unauthenticated},
		{methodCount, "echo", "authn/allow/verified", codes.OK},
		{methodCollect, "echo", "authn/allow/verified", codes.OK},
	}
	var evs []map[string]any
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if evs = e.audit(); len(evs) >= 12 {
			break
		}
	}
	for _, w := range want {
		found := false
		for _, ev := range evs {
			if ev["path"] == w.path && ev["route"] == w.route && strings.Contains(decisions(ev), w.decision) {
				found = true
				if ev["status"] != float64(200) || ev["grpc_status"] != float64(w.grpcStatus) {
					t.Errorf("%s %s: status %v grpc_status %v, want 200 (what Envoy sends a gRPC client) and %d", w.path, w.decision, ev["status"], ev["grpc_status"], w.grpcStatus)
				}
			}
		}
		if !found {
			t.Errorf("no audit event for %s on %s (route %s) in %d events", w.decision, w.path, w.route, len(evs))
		}
	}
	for _, ev := range evs {
		if ev["path"] == methodCount && strings.Contains(decisions(ev), "respfilter") {
			t.Errorf("the response filter judged a gRPC response: %v", ev["decisions"])
		}
	}
}

func decisions(ev map[string]any) string {
	var out []string
	ds, _ := ev["decisions"].([]any)
	for _, d := range ds {
		m, _ := d.(map[string]any)
		out = append(out, fmt.Sprintf("%v/%v/%v", m["policy"], m["decision"], m["reason"]))
	}
	return strings.Join(out, " ")
}

// wantMetrics reads /stats/prometheus: the denials are counted under their
// reasons and routes, as for any client.
func (e *env) wantMetrics(t *testing.T) {
	t.Helper()
	res, err := http.Get("http://" + e.admin + "/stats/prometheus")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	prom := string(body)
	for _, w := range [][]string{
		{"apiguard_authn_decisions_total{", `decision="deny"`, `reason="missing_token"`},
		{"apiguard_authn_decisions_total{", `decision="deny"`, `reason="claims_failed"`},
		{"apiguard_ratelimit_decisions_total{", `policy="say_per_user"`, `decision="deny"`, `reason="rate_limited"`},
		{"apiguard_http_requests_total{", `route="echo_say"`},
		{"apiguard_http_requests_total{", `route="admin"`},
		{"apiguard_http_requests_total{", `route="echo"`},
	} {
		if !hasSample(prom, w) {
			t.Errorf("/stats/prometheus has no non-zero sample with %q", w)
		}
	}
	if t.Failed() {
		t.Logf("apiguard metrics:\n%s", grepLines(prom, "apiguard_"))
	}
}

func hasSample(prom string, parts []string) bool {
	for _, l := range strings.Split(prom, "\n") {
		if !strings.HasPrefix(l, parts[0]) || strings.HasSuffix(l, " 0") {
			continue
		}
		ok := true
		for _, p := range parts[1:] {
			ok = ok && strings.Contains(l, p)
		}
		if ok {
			return true
		}
	}
	return false
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
