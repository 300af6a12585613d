package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/devproxy/demoapi"
	"github.com/apiguard/apiguard/internal/sdkabi/wasmbuild"
)

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := wasmbuild.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

var (
	guestOnce sync.Once
	guestPath string
	guestErr  error
)

// testGuest builds the small raw-ABI plugin of the V8 smoke test once: it
// denies "deny_path" with a 403 and adds x-guard: seen to other requests.
func testGuest(t *testing.T) string {
	t.Helper()
	guestOnce.Do(func() {
		dir, err := os.MkdirTemp("", "devproxy-guest")
		if err != nil {
			guestErr = err
			return
		}
		guestPath = filepath.Join(dir, "guest.wasm")
		cmd := exec.Command("go", // go test puts its GOROOT/bin first on PATH
			"build", "-buildmode=c-shared",
			"-o", guestPath, "./e2e/v8/testdata/guest")
		cmd.Dir = repoRoot(t)
		cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm")
		if out, err := cmd.CombinedOutput(); err != nil {
			guestErr = err
			guestPath = string(out)
		}
	})
	if guestErr != nil {
		t.Fatalf("building the test guest: %v\n%s", guestErr, guestPath)
	}
	return guestPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if guestPath != "" && guestErr == nil {
		os.RemoveAll(filepath.Dir(guestPath))
	}
	os.Exit(code)
}

// instance is devproxy running in-process.
type instance struct {
	addrs  addrs
	stdout *syncBuffer
	stderr *syncBuffer
	stop   func() error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs devproxy with args plus random ports, and waits until it serves.
func start(t *testing.T, args ...string) *instance {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	in := &instance{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	readyc := make(chan addrs, 1)
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0"}, args...),
			in.stdout, in.stderr, func(a addrs) { readyc <- a })
	}()
	select {
	case in.addrs = <-readyc:
	case err := <-done:
		cancel()
		t.Fatalf("devproxy exited before serving: %v\nstderr: %s", err, in.stderr.String())
	case <-time.After(180 * time.Second):
		cancel()
		t.Fatal("devproxy did not start within 180 s (it compiles the module for every worker VM: slow on a loaded machine)")
	}
	var once sync.Once
	var stopErr error
	in.stop = func() error {
		once.Do(func() {
			cancel()
			select {
			case stopErr = <-done:
			case <-time.After(10 * time.Second):
				t.Error("devproxy did not stop within 10 s of Ctrl-C")
			}
		})
		return stopErr
	}
	t.Cleanup(func() { in.stop() })
	return in
}

var client = &http.Client{Timeout: 10 * time.Second}

func get(t *testing.T, url string) (*http.Response, string) {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp, string(b)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestServesThroughThePlugin runs real HTTP through a compiled plugin in
// front of an --upstream URL (the demo API on its own server) and reads the
// admin interface. TestApiguardDemo covers the built-in upstream.
func TestServesThroughThePlugin(t *testing.T) {
	up := httptest.NewServer(demoapi.New().Handler())
	defer up.Close()
	cfg := writeFile(t, "config.json", `{"deny_path": "/admin/stats", "note_password": "hunter2"}`)
	in := start(t, "--wasm", testGuest(t), "--config", cfg, "--workers", "2", "--cluster", "idp=http://127.0.0.1:1", "--upstream", up.URL)
	base := "http://" + in.addrs.Listen
	admin := "http://" + in.addrs.Admin

	if resp, body := get(t, base+"/healthz"); resp.StatusCode != 200 || body != "ok\n" {
		t.Errorf("GET /healthz: %d %q", resp.StatusCode, body)
	}
	// The plugin added x-guard before the request reached the demo API.
	resp, body := get(t, base+"/echo")
	var echo struct {
		Host    string            `json:"host"`
		Path    string            `json:"path"`
		Headers map[string]string `json:"headers"`
	}
	if err := json.Unmarshal([]byte(body), &echo); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET /echo: %d %q (%v)", resp.StatusCode, body, err)
	}
	if echo.Headers["x-guard"] != "seen" {
		t.Errorf("the upstream did not receive the plugin's header: %v", echo.Headers)
	}
	// Like Envoy without host_rewrite, the client's authority reaches the upstream.
	if echo.Host != in.addrs.Listen || echo.Path != "/echo" {
		t.Errorf("upstream saw host %q path %q, want %q /echo", echo.Host, echo.Path, in.addrs.Listen)
	}
	// The plugin's own reply, which passed back through its response callbacks.
	resp, body = get(t, base+"/admin/stats")
	if resp.StatusCode != 403 || body != "denied\n" || resp.Header.Get("X-Guard") != "v8guest" || resp.Header.Get("X-Own-Reply") != "1" {
		t.Errorf("GET /admin/stats: %d %q %v; want the plugin's 403", resp.StatusCode, body, resp.Header)
	}

	if resp, body := get(t, admin+"/ready"); resp.StatusCode != 200 || body != "LIVE\n" {
		t.Errorf("/ready: %d %q", resp.StatusCode, body)
	}
	_, stats := get(t, admin+"/stats?filter=%5Ewasmcustom%5C.")
	if !strings.Contains(stats, "wasmcustom.v8guest.requests: 3") {
		t.Errorf("/stats lacks the plugin's counter:\n%s", stats)
	}
	if strings.Contains(stats, "downstream_rq") {
		t.Errorf("/stats ignored the filter:\n%s", stats)
	}
	_, prom := get(t, admin+"/stats/prometheus")
	for _, want := range []string{"v8guest_requests{} 3", "envoy_http_ingress_http_downstream_rq_4xx{} 1",
		"envoy_http_ingress_http_downstream_rq_2xx{} 2", "envoy_wasm_runtime_wazero_active{} 2"} {
		if !strings.Contains(prom, want) {
			t.Errorf("/stats/prometheus lacks %q:\n%s", want, prom)
		}
	}

	// An unreachable upstream gets Envoy's 503, counted as 5xx.
	up.Close()
	if resp, _ := get(t, base+"/users/1"); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("unreachable upstream: %d, want 503", resp.StatusCode)
	}

	out := in.stdout.String()
	for _, want := range []string{"listening   http://" + in.addrs.Listen, "cluster     idp -> http://127.0.0.1:1", "upstream    " + up.URL,
		"not an apiguard config", "curl -si " + base + "/", "Ctrl-C"} {
		if !strings.Contains(out, want) {
			t.Errorf("banner lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "hunter2") {
		t.Error("the banner printed a secret-looking config value")
	}

	if err := in.stop(); err != nil {
		t.Errorf("stop: %v", err)
	}
	if !strings.Contains(in.stdout.String(), "shutting down") {
		t.Error("no shutdown message")
	}
	if _, err := client.Get(base + "/healthz"); err == nil {
		t.Error("still serving after Ctrl-C")
	}
}

func TestDemoAPIOnly(t *testing.T) {
	in := start(t, "--demo-api", "127.0.0.1:0")
	resp, body := get(t, "http://"+in.addrs.Listen+"/users/1")
	if resp.StatusCode != 200 || !strings.Contains(body, "password_hash") {
		t.Errorf("demo API: %d %s", resp.StatusCode, body)
	}
}

func TestStartupErrors(t *testing.T) {
	guest := testGuest(t)
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"missing wasm", []string{"--wasm", filepath.Join(t.TempDir(), "nope.wasm")}, "make build"},
		{"missing config", []string{"--wasm", guest, "--config", filepath.Join(t.TempDir(), "nope.json")}, "read the plugin config"},
		{"config not JSON", []string{"--wasm", guest, "--config", writeFile(t, "bad.json", "{")}, "not valid JSON"},
		{"config refused by the plugin", []string{"--wasm", guest, "--config", writeFile(t, "c.json", `{"deny_path": 5}`)}, "refused to start"},
		{"not a wasm module", []string{"--wasm", writeFile(t, "x.wasm", "nope"), "--config", writeFile(t, "c.json", "{}")}, "x.wasm"},
		{"listen address taken", []string{"--wasm", guest, "--config", writeFile(t, "c.json", "{}"), "--listen", taken.Addr().String()}, "listen"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			args := append([]string{"--admin", "", "--workers", "1"}, tc.args...)
			err := run(context.Background(), args, &stdout, &stderr, func(addrs) { t.Error("served despite the error") })
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one mentioning %q", err, tc.want)
			}
		})
	}
}

func TestParseOptions(t *testing.T) {
	o, err := parseOptions(nil, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if o.wasm != "build/apiguard.wasm" || o.config != "envoy/demo-config.json" || o.listen != "127.0.0.1:10000" || o.admin != "127.0.0.1:9901" || o.workers != 2 || o.maxMemory != 1<<30 {
		t.Errorf("defaults: %+v", o)
	}
	if o.envoy.Name != "1.35" {
		t.Errorf("default --envoy profile %q, want 1.35 (the oldest that runs the demo config's held mode)", o.envoy.Name)
	}
	if o, err := parseOptions([]string{"--envoy", "1.34"}, io.Discard); err != nil || o.envoy.Name != "1.33" || o.envoy.StopIterationKnob {
		t.Errorf("--envoy 1.34: %+v, %v", o.envoy, err)
	}
	for arg, want := range map[string]byteSize{"256MiB": 256 << 20, "1GiB": 1 << 30, "65536": 65536, "512KiB": 512 << 10} {
		if o, err := parseOptions([]string{"--max-memory", arg}, io.Discard); err != nil || o.maxMemory != want {
			t.Errorf("--max-memory %s: %d, %v; want %d", arg, o.maxMemory, err, want)
		}
	}
	o, err = parseOptions([]string{"--cluster", "idp=http://127.0.0.1:8081", "--cluster", "ratelimit=http://127.0.0.1:8080/"}, io.Discard)
	if err != nil || o.clusters["idp"] != "http://127.0.0.1:8081" || len(o.clusters) != 2 {
		t.Errorf("clusters: %v, %v", o.clusters, err)
	}
	for _, bad := range [][]string{
		{"--cluster", "idp"},
		{"--cluster", "=http://x"},
		{"--cluster", "idp=ftp://x"},
		{"--cluster", "id p=http://x"},
		{"--cluster", "idp=http://a", "--cluster", "idp=http://b"},
		{"--upstream", "localhost:8000"},
		{"--upstream", "http://x/?q=1"},
		{"--workers", "0"},
		{"--envoy", "1.32"},
		{"--max-memory", "0"},
		{"--max-memory", "5GiB"},
		{"--max-memory", "1GB"},
		{"extra"},
	} {
		if _, err := parseOptions(bad, io.Discard); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}

func TestMissingClusters(t *testing.T) {
	cfg := []byte(`{"jwt":{"providers":{"corp":{"remote_jwks":{"cluster":"idp"}}}},
		"rate_limits":[{"global":{"cluster":"ratelimit"}},{"global":{"cluster":"ratelimit"}}]}`)
	got := missingClusters(cfg, map[string]string{"ratelimit": "http://x"})
	if len(got) != 1 || got[0] != "idp" {
		t.Errorf("missingClusters = %v, want [idp]", got)
	}
}

// The banner summarises the config by names and never prints a value: a
// config may hold secrets.
func TestConfigSummary(t *testing.T) {
	got := strings.Join(configSummary([]byte(`{"jwt":{"providers":{"p":{"secret":"s3cr3t-s3cr3t-s3cr3t-s3cr3t-s3cr3t","algorithms":["HS256"],"issuer":"https://idp"}},
	  "rules":[{"name":"public","match":{"prefix":"/healthz"}},{"match":{"prefix":"/"},"requires":{"provider":"p"}}]},
	  "rate_limits":[{"name":"per_ip","key":["client_ip"],"limits":[{"requests":5,"per":"1s"}]}]}`)), "\n")
	for _, want := range []string{"providers p; routes public, route1", "rate_limits     per_ip", "response_filter (none: every response body passes unfiltered)", "audit           off"} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, "s3cr3t") || strings.Contains(got, "https://idp") {
		t.Errorf("summary prints values:\n%s", got)
	}
	if got := configSummary([]byte(`{"deny_path": "/x", "password": "hunter2"}`)); len(got) != 1 || strings.Contains(got[0], "hunter2") || !strings.Contains(got[0], "not an apiguard config") {
		t.Errorf("foreign config: %q", got)
	}
}

// Every worker VM logs the same start-up lines; the gateway shows each once.
func TestLogLinesOncePerMessage(t *testing.T) {
	var out bytes.Buffer
	w := newOncePerWorkers(&out)
	for _, worker := range []string{"-1", "0", "1"} {
		io.WriteString(w, "[wasm info] worker="+worker+" apiguard: configured instance \"demo\"\n")
	}
	io.WriteString(w, "[wasm warning] worker=0 apiguard: a\n[wasm warning] worker=0 apiguard: a\n")
	want := "[wasm info] apiguard: configured instance \"demo\"\n[wasm warning] apiguard: a\n[wasm warning] apiguard: a\n"
	if out.String() != want {
		t.Errorf("got\n%s\nwant\n%s", out.String(), want)
	}
}

// TestApiguardDemo runs what `make run` runs: the real plugin with the demo config.
func TestApiguardDemo(t *testing.T) {
	root := repoRoot(t)
	wasm := wasmbuild.ForTest(t, "./plugin")
	in := start(t, "--wasm", wasm, "--config", filepath.Join(root, "envoy", "demo-config.json"))
	base := "http://" + in.addrs.Listen
	if resp, body := get(t, base+"/healthz"); resp.StatusCode != 200 {
		t.Errorf("GET /healthz through apiguard: %d %q\nstderr: %s", resp.StatusCode, body, in.stderr.String())
	}
	resp, body := get(t, base+"/users/1")
	if resp.StatusCode == http.StatusServiceUnavailable {
		t.Errorf("GET /users/1: 503 %q (a trapped VM?)\nstderr: %s", body, in.stderr.String())
	}
	_, prom := get(t, "http://"+in.addrs.Admin+"/stats/prometheus")
	if !strings.Contains(prom, "envoy_http_ingress_http_downstream_rq_total{} 2") {
		t.Errorf("admin metrics:\n%s", prom)
	}
	t.Logf("GET /users/1: %d %s", resp.StatusCode, body)
}

func FuzzConfigSummary(f *testing.F) {
	f.Add([]byte(`{"jwt":{"providers":{"p":{"secret":"abc","issuer":"https://idp"}}}}`), "hunter2")
	f.Add([]byte(`[1,"x",null]`), "")
	f.Add([]byte(`{`), "***")
	f.Fuzz(func(t *testing.T, config []byte, secret string) {
		configSummary(config) // any input: no panic
		missingClusters(config, nil)
		if len(secret) < 4 {
			return
		}
		doc, err := json.Marshal(map[string]any{"jwt": map[string]any{"providers": map[string]any{"p": map[string]any{"secret": secret}}}})
		if err != nil {
			return
		}
		if got := strings.Join(configSummary(doc), "\n"); strings.Contains(got, secret) && !strings.Contains("providers p; routes not an apiguard config bytes", secret) {
			t.Errorf("secret %q printed: %s", secret, got)
		}
	})
}

func FuzzClusterFlag(f *testing.F) {
	f.Add("idp=http://127.0.0.1:8081")
	f.Add("=")
	f.Add("a=https://h/p?q")
	f.Fuzz(func(t *testing.T, v string) {
		c := clusterFlag{}
		if err := c.Set(v); err == nil {
			for name, u := range c {
				if !clusterName.MatchString(name) {
					t.Errorf("accepted cluster name %q", name)
				}
				if _, err := parseBaseURL(u); err != nil {
					t.Errorf("stored an invalid URL %q: %v", u, err)
				}
			}
		}
	})
}

func TestAdminBeforeThePluginStarts(t *testing.T) {
	state := &readiness{}
	h := adminHandler(&requestCounts{}, state, nil)
	for path, want := range map[string]int{"/ready": 503, "/stats": 200, "/stats/prometheus": 200} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != want {
			t.Errorf("%s before start: %d, want %d", path, rec.Code, want)
		}
		if path == "/ready" && rec.Body.String() != "PRE_INITIALIZING\n" {
			t.Errorf("/ready before start: %q", rec.Body.String())
		}
	}
	state.setDraining()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/ready", nil))
	if rec.Code != 503 || rec.Body.String() != "DRAINING\n" {
		t.Errorf("/ready while draining: %d %q", rec.Code, rec.Body.String())
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/stats?filter=(", nil))
	if rec.Code != 400 {
		t.Errorf("/stats with a bad regex: %d, want 400", rec.Code)
	}
}

// TestEdgeBehavesLikeEnvoy: devproxy puts nothing between the client and the
// plugin that Envoy would not. Paths reach the plugin and the upstream as
// sent (no ServeMux redirect), the peer is appended to x-forwarded-for as
// with use_remote_address, and the response code details go to the access
// log, never to the client.
func TestEdgeBehavesLikeEnvoy(t *testing.T) {
	type seen struct{ uri, xff string }
	got := make(chan seen, 16)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- seen{r.RequestURI, strings.Join(r.Header.Values("X-Forwarded-For"), "|")}
		io.WriteString(w, "upstream\n")
	}))
	defer up.Close()
	cfg := writeFile(t, "config.json", `{"deny_path": "/deny"}`)
	in := start(t, "--wasm", testGuest(t), "--config", cfg, "--upstream", up.URL)

	send := func(target string, extra string) (status string, headers string) {
		t.Helper()
		c, err := net.Dial("tcp", in.addrs.Listen)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.SetDeadline(time.Now().Add(10 * time.Second))
		io.WriteString(c, "GET "+target+" HTTP/1.1\r\nHost: api.test\r\n"+extra+"Connection: close\r\n\r\n")
		b, _ := io.ReadAll(c)
		head, _, _ := strings.Cut(string(b), "\r\n\r\n")
		status, headers, _ = strings.Cut(head, "\r\n")
		return status, headers
	}
	for _, target := range []string{"//x", "/./x", "/a/../x", "/a/%2e%2e/x", "/admin/..;/healthz", "/x//y/"} {
		status, _ := send(target, "")
		if !strings.Contains(status, " 200 ") {
			t.Errorf("GET %s: %q, want the upstream's 200 (no redirect in front of the plugin)", target, status)
			continue
		}
		if s := <-got; s.uri != target {
			t.Errorf("GET %s: the upstream saw %q", target, s.uri)
		}
	}
	send("/xff", "X-Forwarded-For: 203.0.113.7\r\n")
	if s := <-got; s.xff != "203.0.113.7,127.0.0.1" {
		t.Errorf("x-forwarded-for at the upstream = %q, want the peer appended as Envoy's appendXff does", s.xff)
	}
	send("/xff", "")
	if s := <-got; s.xff != "127.0.0.1" {
		t.Errorf("x-forwarded-for at the upstream = %q, want the peer", s.xff)
	}
	status, headers := send("/deny", "")
	if !strings.Contains(status, " 403 ") || strings.Contains(strings.ToLower(headers), "x-wasmhost") {
		t.Errorf("GET /deny: %q\n%s\nwant the plugin's 403 without host-internal headers", status, headers)
	}
	if out := in.stdout.String(); !strings.Contains(out, `"GET /deny HTTP/1.1" 403 v8guest_denied`) {
		t.Errorf("no access-log line with the response code details:\n%s", out)
	}
	// The access log holds no personal data: paths are logged redacted.
	send("/users/alice@example.com?card=4111111111111111", "")
	<-got
	if out := in.stdout.String(); strings.Contains(out, "alice@example.com") || strings.Contains(out, "4111111111111111") ||
		!strings.Contains(out, `"GET /users/*********?card=REDACTED HTTP/1.1" 200`) {
		t.Errorf("access log of a path with an email and a card number:\n%s", out)
	}
}

// devproxy speaks HTTP/2 cleartext (prior knowledge, as gRPC clients do) on
// its port beside HTTP/1.1, and to an h2c:// upstream; trailers reach an
// HTTP/2 client, as gRPC needs.
func TestServesHTTP2Cleartext(t *testing.T) {
	up := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Trailer", "X-Upstream-Trailer")
		io.WriteString(w, "upstream saw "+r.Proto)
		w.Header().Set("X-Upstream-Trailer", "done")
	}))
	up.Config.Protocols = cleartextProtocols(false) // h2c only: HTTP/1.1 would fail
	up.Start()
	defer up.Close()
	cfg := writeFile(t, "config.json", `{}`)
	in := start(t, "--wasm", testGuest(t), "--config", cfg, "--upstream", "h2c://"+up.Listener.Addr().String())

	tr := &http.Transport{Protocols: cleartextProtocols(false)}
	defer tr.CloseIdleConnections()
	h2 := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for name, c := range map[string]*http.Client{"HTTP/2.0": h2, "HTTP/1.1": client} {
		resp, err := c.Get("http://" + in.addrs.Listen + "/anything")
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.Proto != name || resp.StatusCode != 200 || string(body) != "upstream saw HTTP/2.0" {
			t.Errorf("%s client: %s %d %q", name, resp.Proto, resp.StatusCode, body)
		}
		// HTTP/1.1 carries trailers only in chunked bodies, and this one has
		// a length: gRPC needs HTTP/2 anyway.
		if got := resp.Trailer.Get("X-Upstream-Trailer"); name == "HTTP/2.0" && got != "done" {
			t.Errorf("%s client: trailer %q, want the upstream's", name, got)
		}
	}
	if _, err := parseOptions([]string{"--upstream", "h2c://x/?q=1"}, io.Discard); err == nil {
		t.Error("an h2c upstream with a query was accepted")
	}
	if _, err := parseOptions([]string{"--cluster", "idp=h2c://x"}, io.Discard); err == nil {
		t.Error("an h2c cluster was accepted: callouts speak HTTP/1.1")
	}
}

// The access log masks what a client puts in the method and the user agent
// as it masks the path: card numbers and emails never reach the log.
func TestAccessLogMasksTheUserAgentAndMethod(t *testing.T) {
	r := httptest.NewRequest("GET", "/pii/users/alice@example.com", nil)
	r.Method = "4111111111111111"
	r.Header.Set("User-Agent", "card 4012888888881881 of bob@example.org")
	var out bytes.Buffer
	writeAccessLog(&out, r, 200, &statusWriter{}, time.Millisecond)
	line := out.String()
	for _, leak := range []string{"4111111111111111", "4012888888881881", "bob@example.org", "alice@example.com"} {
		if strings.Contains(line, leak) {
			t.Errorf("access log holds %q: %s", leak, line)
		}
	}
	if !strings.Contains(line, `"card ********* of *********"`) {
		t.Errorf("user agent not logged masked: %s", line)
	}
}
