// Package differential sends one generated corpus of requests through the
// compiled plugin (in wasmhost, as Envoy would run it) to three real
// upstream routers: Go's net/http.ServeMux with method and wildcard
// patterns, express from npm (pinned in package.json), and nginx from
// Debian with location blocks. Each upstream reports the route it
// dispatched and the method, host and credentials it saw.
//
// The oracle: every upstream route R has a protecting policy P(R) in the
// test configuration (a JWT requirement, or a rate-limit policy named after
// R, whose name apiguard reports in RateLimit-Policy). A case passes only if
// apiguard refused it, or the upstream dispatched nothing, or apiguard
// applied exactly P(R) for the route R the upstream reports.
package differential

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/verdict"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

var module *wasmhost.Module

func TestMain(m *testing.M) { os.Exit(e2eutil.Run(m, wasmhost.Options{}, &module)) }

// config protects the upstream routes: admin (/admin, /admin/...) and the
// admin.local virtual host need a token; users_get, users_delete and health
// are rate limited under their own names; other routes have no policy.
const config = `{
  "jwt": {
    "providers": {"corp": {"issuer": "https://idp.example", "secret": "differential-test-secret-0123456789-0123456789-0123456789-0123456789", "algorithms": ["HS256"],
      "from_headers": [{"name": "authorization", "value_prefix": "Bearer "}],
      "claim_to_headers": [{"claim": "sub", "header": "x-user"}]}},
    "rules": [
      {"name": "vhost", "match": {"headers": [{"name": ":authority", "exact": "admin.local"}]}, "requires": {"provider": "corp"}},
      {"name": "admin", "match": {"prefix": "/admin"}, "requires": {"provider": "corp"}},
      {"name": "rest", "match": {"prefix": "/"}, "requires": {"allow_missing": true}}
    ]
  },
  "rate_limits": [
    {"name": "users_get", "match": {"regex": "/users/[^/]+", "methods": ["GET"]}, "key": ["header:x-api-key"], "headers": "draft", "limits": [{"requests": 1000000000, "per": "1s"}]},
    {"name": "users_delete", "match": {"regex": "/users/[^/]+", "methods": ["DELETE"]}, "key": ["header:x-api-key"], "headers": "draft", "limits": [{"requests": 1000000000, "per": "1s"}]},
    {"name": "health", "match": {"path": "/healthz"}, "key": ["method"], "headers": "draft", "limits": [{"requests": 1000000000, "per": "1s"}]}
  ]
}`

// protectedByToken are the routes whose policy is a token requirement: the
// corpus has no valid token, so reaching them is a bypass.
var protectedByToken = map[string]bool{"admin": true, "vhost": true}

// limitedAs is P(R) for the other routes: the rate-limit policies apiguard
// must have applied, and nothing else.
var limitedAs = map[string][]string{"users_get": {"users_get"}, "users_delete": {"users_delete"}, "health": {"health"}, "other": nil}

type testCase struct {
	method, target, host string
	headers              [][2]string
	body                 string // sent with its Content-Length when not empty
}

func (c testCase) String() string {
	return fmt.Sprintf("%s %q host %q headers %q", c.method, c.target, c.host, c.headers)
}

// corpus generates the cases: targets built from route bases, dot segments
// in every spelling, parameters, encodings, case and separators; methods in
// standard, case-variant and custom spellings; hosts in canonical and
// non-canonical forms; and header variants (repeats, underscores, forged
// identity headers, credentials in other schemes, method overrides).
func corpus(frontPort int) []testCase {
	bases := []string{"/admin", "/admin/", "/admin/x", "/healthz", "/users/1", "/users/1/", "/public", "/", "/adminx", "/users"}
	var targets []string
	targets = append(targets, bases...)
	for _, a := range []string{"/admin", "/public", "/users"} {
		for _, b := range []string{"healthz", "users/1", "admin"} {
			for _, sep := range []string{"/../", "/..;/", "/%2e%2e/", "/%2E%2E/", "/.%2e/", "/%2e./", "/..%2F", "/..%2f", "/./", "//", "%2F", `/..\`, ";x/", "/.;/", "/..;x=1/", "/%252e%252e/"} {
				targets = append(targets, a+sep+b)
			}
		}
	}
	for _, b := range bases {
		if b == "/" {
			continue
		}
		first := b[1:2]
		targets = append(targets,
			strings.ToUpper(b), strings.ToUpper(b[:2])+b[2:],
			"/%"+strconv.FormatInt(int64(first[0]), 16)+b[2:], "/%"+strings.ToUpper(strconv.FormatInt(int64(first[0]), 16))+b[2:],
			b+";", b+";jsessionid=1", b+"%3B", b+"%00", b+"/.", b+"/", b+"//", "/"+b, b+"?_method=DELETE", b+"?x=1&%5Fmethod=GET", b+"?x=1",
			"/x/.."+b, "/x/%2e%2e"+b, b+"%20", b+"%2Fx", b+"%5Cx",
		)
	}
	methods := []string{"GET", "HEAD", "DELETE", "POST", "get", "head", "Delete", "PATCH", "FOO", "OPTIONS", "dElEtE", "Get"}
	hosts := []string{"api.local", "admin.local", "ADMIN.local", "admin.local.", "admin.local:" + strconv.Itoa(frontPort), "Admin.Local:80", "api.local:80", "API.LOCAL."}
	variants := [][][2]string{
		nil,
		{{"x-api-key", "k1"}, {"x-api-key", "k1"}},
		{{"x-api-key", "k1"}, {"X_Api_Key", "k2"}},
		{{"X_User", "root"}},
		{{"x-user", "root"}},
		{{"Authorization", "Bearer\tforged.x.y"}},
		{{"Authorization", "forged.x.y"}},
		{{"Authorization", "JWT forged.x.y"}},
		{{"X-HTTP-Method-Override", "DELETE"}},
		{{"x-method-override", "GET"}},
		{{"Authorization", "Bearer forged.x.y"}},
	}
	var out []testCase
	// Every base with every method, and with every header variant: mostly
	// canonical requests, which apiguard must forward and judge right.
	for _, t := range bases {
		for _, m := range methods {
			out = append(out, testCase{method: m, target: t, host: "api.local"})
		}
		for j, v := range variants {
			out = append(out, testCase{method: "GET", target: t, host: hosts[j%len(hosts)], headers: v})
		}
	}
	// Every target, each with three rotating methods, hosts and variants.
	i := 0
	for _, t := range targets {
		for k := 0; k < 3; k++ {
			out = append(out, testCase{
				method:  methods[(i*7+k)%len(methods)],
				target:  t,
				host:    hosts[(i*3+k)%len(hosts)],
				headers: variants[(i+k*5)%len(variants)],
			})
			i++
		}
	}
	return out
}

// outcome is what one case did.
type outcome struct {
	status   int
	reason   string // x-apiguard-reason: apiguard answered itself
	route    string // x-route: the upstream's dispatched route
	method   string
	host     string
	user     string
	auth     string
	keys     string
	policies []string // RateLimit-Policy items
}

func TestUpstreamsActOnlyOnWhatApiguardJudged(t *testing.T) {
	upstreams := map[string]string{
		"go-servemux": startGoUpstream(t),
		"express":     startExpress(t),
		"nginx":       startNginx(t),
	}
	for _, mode := range []string{"refuse", "rewrite"} {
		t.Run("path_normalization="+mode, func(t *testing.T) { runCorpus(t, upstreams, mode, false) })
	}
	// Over HTTP/2 (h2c, as devproxy and Envoy accept it), methods and
	// header names arrive as sent, without an HTTP/1 codec in between.
	t.Run("h2c", func(t *testing.T) { runCorpus(t, upstreams, "refuse", true) })
}

func runCorpus(t *testing.T, upstreams map[string]string, mode string, h2 bool) {
	cfg := strings.Replace(config, "{", `{"path_normalization": "`+mode+`", `, 1)
	p, err := module.Start(context.Background(), wasmhost.PluginConfig{
		Name: "apiguard", RootID: "apiguard", VMID: "apiguard-differential-" + mode,
		Configuration: []byte(cfg), Workers: 2, AllowOnHeadersStopIteration: true,
	})
	if err != nil {
		t.Fatalf("start plugin: %v", err)
	}
	t.Cleanup(func() { p.Close() })

	names := slices.Sorted(func(yield func(string) bool) {
		for n := range upstreams {
			if !yield(n) {
				return
			}
		}
	})
	total, refused, undispatched, failures := 0, 0, 0, 0
	byReason := map[string]int{}
	dispatched := map[string]int{}
	for _, name := range names {
		front := httptest.NewUnstartedServer(p.Middleware(router(upstreams[name])))
		if h2 {
			front.Config.Protocols = h2cProtocols()
		}
		front.Start()
		_, portStr, _ := net.SplitHostPort(front.Listener.Addr().String())
		port, _ := strconv.Atoi(portStr)
		cases := corpus(port)
		client := h2cClient()
		for _, c := range cases {
			var o outcome
			var err error
			if h2 {
				o, err = sendH2(client, front.Listener.Addr().String(), c)
				if errors.Is(err, errClientRefused) {
					continue // Go's HTTP/2 client will not send it
				}
			} else {
				o, err = send(front.Listener.Addr().String(), c)
			}
			if err != nil {
				t.Fatalf("%s: %s: %v", name, c, err)
			}
			total++
			switch {
			case o.reason != "":
				refused++
				byReason[o.reason]++
				continue
			case o.route == "":
				undispatched++
				continue
			}
			dispatched[name+" "+o.route]++
			if msg := judge(c, o); msg != "" {
				failures++
				if failures <= 40 {
					t.Errorf("%s: %s: %s (status %d, route %q, method %q, host %q, policies %v)", name, c, msg, o.status, o.route, o.method, o.host, o.policies)
				}
			}
		}
		front.Close()
	}
	reasons := make([]string, 0, len(byReason))
	for r, n := range byReason {
		reasons = append(reasons, fmt.Sprintf("%s=%d", r, n))
	}
	sort.Strings(reasons)
	t.Logf("%d cases across %d upstreams: %d refused by apiguard (%s), %d not dispatched by the upstream, %d forwarded and judged as dispatched, %d failures",
		total, len(upstreams), refused, strings.Join(reasons, " "), undispatched, total-refused-undispatched, failures)
	proto := "HTTP/1.1"
	if h2 {
		proto = "h2c"
	}
	fmt.Printf("differential (%s, path_normalization %s): %d cases, %d refusals, %d forwarded, %d failures\n", proto, mode, total, refused, total-refused, failures)
	// The oracle is not vacuous: canonical requests reach every route.
	for _, name := range names {
		for _, route := range []string{"users_get", "users_delete", "health", "other"} {
			if dispatched[name+" "+route] == 0 {
				t.Errorf("%s: no case was forwarded to route %s", name, route)
			}
		}
	}
	if total < 500 {
		t.Errorf("only %d cases; the corpus must cover hundreds", total)
	}
}

// judge applies the oracle to a forwarded case the upstream dispatched.
func judge(c testCase, o outcome) string {
	if protectedByToken[o.route] {
		return "reached a route that requires a token, without one"
	}
	want, known := limitedAs[o.route]
	if !known {
		return "unknown route"
	}
	got := slices.Clone(o.policies)
	sort.Strings(got)
	if !slices.Equal(got, want) {
		return fmt.Sprintf("apiguard applied %v, the upstream's route needs exactly %v", got, want)
	}
	if o.user != "" && o.user != "0" {
		return "the upstream saw a client-sent identity header"
	}
	if o.auth != "" && o.auth != "0" {
		return "the upstream saw a credential apiguard did not verify"
	}
	if n, _ := strconv.Atoi(o.keys); n > 1 {
		return "the upstream saw the rate-limit key header more than once"
	}
	if o.method != c.method && !(o.method == "GET" && c.method == "HEAD") {
		return "the upstream acted on another method"
	}
	return ""
}

// send writes one request as raw HTTP/1.1 bytes, as a client may.
func send(addr string, c testCase) (outcome, error) {
	o, _, err := sendWithBody(addr, c)
	return o, err
}

func sendWithBody(addr string, c testCase) (outcome, string, error) {
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		return outcome{}, "", err
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", c.method, c.target, c.host)
	for _, kv := range c.headers {
		fmt.Fprintf(&b, "%s: %s\r\n", kv[0], kv[1])
	}
	if c.body != "" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(c.body))
	}
	b.WriteString("Connection: close\r\n\r\n")
	b.WriteString(c.body)
	if _, err := io.WriteString(conn, b.String()); err != nil {
		return outcome{}, "", err
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: c.method})
	if err != nil {
		return outcome{}, "", err
	}
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return readOutcome(resp), string(raw), nil
}

func readOutcome(resp *http.Response) outcome {
	h := resp.Header
	o := outcome{
		status: resp.StatusCode, reason: h.Get(verdict.ReplyHeader), route: h.Get("x-route"),
		method: h.Get("x-seen-method"), host: h.Get("x-seen-host"),
		user: h.Get("x-seen-user"), auth: h.Get("x-seen-auth"), keys: h.Get("x-seen-keys"),
	}
	for _, v := range h.Values("ratelimit-policy") {
		for item := range strings.SplitSeq(v, ",") {
			name, _, _ := strings.Cut(strings.TrimSpace(item), ";")
			if name = strings.Trim(name, `"`); name != "" {
				o.policies = append(o.policies, name)
			}
		}
	}
	return o
}

func h2cProtocols() *http.Protocols {
	var p http.Protocols
	p.SetHTTP1(true)
	p.SetUnencryptedHTTP2(true)
	return &p
}

func h2cClient() *http.Client {
	var p http.Protocols
	p.SetUnencryptedHTTP2(true)
	return &http.Client{
		Transport:     &http.Transport{Protocols: &p},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		Timeout:       20 * time.Second,
	}
}

var errClientRefused = errors.New("the client refused the request")

// sendH2 sends one case over HTTP/2 cleartext, with its :path bytes as
// they are (URL.Opaque) and its header names and repeats as they are.
func sendH2(client *http.Client, addr string, c testCase) (outcome, error) {
	req, err := http.NewRequest(c.method, "http://"+addr+"/", nil)
	if err != nil {
		return outcome{}, errClientRefused
	}
	req.URL.Opaque = c.target
	req.Host = c.host
	for _, kv := range c.headers {
		req.Header[kv[0]] = append(req.Header[kv[0]], kv[1])
	}
	resp, err := client.Do(req)
	if err != nil {
		if strings.Contains(err.Error(), "invalid") || strings.Contains(err.Error(), "malformed") {
			return outcome{}, errClientRefused
		}
		return outcome{}, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.ProtoMajor != 2 {
		return outcome{}, fmt.Errorf("answered over %s, not HTTP/2", resp.Proto)
	}
	return readOutcome(resp), nil
}

// router is Envoy's router in this stand-in: it sends the request exactly as
// the filter chain left it (method, :path bytes, :authority, every header
// copy) to the upstream, as raw HTTP/1.1.
func router(upstream string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := net.DialTimeout("tcp", upstream, 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer conn.Close()
		conn.SetDeadline(time.Now().Add(20 * time.Second))
		var b strings.Builder
		fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", r.Method, r.RequestURI, r.Host)
		for k, vs := range r.Header {
			for _, v := range vs {
				fmt.Fprintf(&b, "%s: %s\r\n", k, v)
			}
		}
		b.WriteString("Connection: close\r\nContent-Length: 0\r\n\r\n")
		if _, err := io.WriteString(conn, b.String()); err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		resp, err := http.ReadResponse(bufio.NewReader(conn), &http.Request{Method: r.Method})
		if err != nil {
			http.Error(w, err.Error(), http.StatusServiceUnavailable)
			return
		}
		defer resp.Body.Close()
		for k, vs := range resp.Header {
			w.Header()[k] = vs
		}
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	})
}

// startGoUpstream serves a ServeMux with method and wildcard patterns.
func startGoUpstream(t *testing.T) string {
	mux := http.NewServeMux()
	mux.HandleFunc("admin.local/", report("vhost"))
	mux.HandleFunc("/admin", report("admin"))
	mux.HandleFunc("/admin/", report("admin"))
	mux.HandleFunc("GET /users/{id}", report("users_get"))
	mux.HandleFunc("DELETE /users/{id}", report("users_delete"))
	mux.HandleFunc("/healthz", report("health"))
	mux.HandleFunc("/", report("other"))
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

func report(route string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		count := func(name string) string {
			n := 0
			for k, vs := range r.Header {
				if strings.ReplaceAll(strings.ToLower(k), "_", "-") == name {
					n += len(vs)
				}
			}
			return strconv.Itoa(n)
		}
		host, _, err := net.SplitHostPort(r.Host)
		if err != nil {
			host = r.Host
		}
		h := w.Header()
		h.Set("x-route", route)
		h.Set("x-seen-method", r.Method)
		h.Set("x-seen-host", host)
		h.Set("x-seen-user", count("x-user"))
		h.Set("x-seen-auth", count("authorization"))
		h.Set("x-seen-keys", count("x-api-key"))
		h.Set("content-type", "application/json")
		fmt.Fprintf(w, `{"route":%q,"secret":"upstream-data"}`, route)
	}
}

// startExpress runs upstream.js under node, installing express with npm ci
// first when node_modules is missing.
func startExpress(t *testing.T) string {
	if _, err := exec.LookPath("node"); err != nil {
		t.Fatalf("node is not installed (.ci/run installs it): %v", err)
	}
	if _, err := os.Stat("node_modules/express"); err != nil {
		out, err := exec.Command("npm", "ci", "--no-audit", "--no-fund").CombinedOutput()
		if err != nil {
			t.Fatalf("npm ci: %v\n%s", err, out)
		}
	}
	portFile := filepath.Join(t.TempDir(), "port")
	cmd := exec.Command("node", "upstream.js", portFile)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start node: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return "127.0.0.1:" + waitForFile(t, portFile)
}

// startNginx runs Debian's nginx as an upstream on a free loopback port,
// with a generated configuration of location blocks.
func startNginx(t *testing.T) string {
	bin, err := exec.LookPath("nginx")
	if err != nil {
		for _, p := range []string{"/usr/sbin/nginx", "/usr/local/sbin/nginx"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
			}
		}
	}
	if err != nil {
		t.Fatalf("nginx is not installed (.ci/run installs nginx-light): %v", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	dir := t.TempDir()
	conf := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(conf, []byte(nginxConfig(dir, addr)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("start nginx: %v", err)
	}
	t.Cleanup(func() { cmd.Process.Signal(os.Interrupt); cmd.Wait() })
	deadline := time.Now().Add(15 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			t.Fatalf("nginx did not listen on %s: %v\n%s", addr, err, log)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func nginxConfig(dir, addr string) string {
	route := func(name string) string {
		return fmt.Sprintf(`set $r %s; return 200 '{"route":"%s","secret":"upstream-data"}';`, name, name)
	}
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log;
events { worker_connections 256; }
http {
  access_log off;
  client_body_temp_path %[1]s/body;
  proxy_temp_path %[1]s/proxy;
  fastcgi_temp_path %[1]s/fastcgi;
  uwsgi_temp_path %[1]s/uwsgi;
  scgi_temp_path %[1]s/scgi;
  default_type application/json;
  map $http_authorization $seen_auth { "" 0; default 1; }
  map $http_x_user $seen_user { "" 0; default 1; }
  add_header x-route $r always;
  add_header x-seen-method $request_method always;
  add_header x-seen-host $host always;
  add_header x-seen-auth $seen_auth always;
  add_header x-seen-user $seen_user always;
  server {
    listen %[2]s default_server;
    server_name _;
    set $r "";
    location = /admin { %[3]s }
    location /admin/ { %[3]s }
    location ~ ^/users/[^/]+$ {
      set $r other;
      if ($request_method = GET) { set $r users_get; }
      if ($request_method = HEAD) { set $r users_get; }
      if ($request_method = DELETE) { set $r users_delete; }
      return 200 '{"route":"$r","secret":"upstream-data"}';
    }
    location = /healthz { %[4]s }
    location / { %[5]s }
  }
  server {
    listen %[2]s;
    server_name admin.local;
    set $r "";
    location / { %[6]s }
  }
}
`, dir, addr, route("admin"), route("health"), route("other"), route("vhost"))
}

func waitForFile(t *testing.T, path string) string {
	deadline := time.Now().Add(30 * time.Second)
	for {
		if b, err := os.ReadFile(path); err == nil && len(b) > 0 {
			return strings.TrimSpace(string(b))
		}
		if time.Now().After(deadline) {
			t.Fatalf("upstream did not write %s", path)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
