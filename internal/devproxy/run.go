package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/devproxy/demoapi"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// addrs are the addresses devproxy is serving on, once it is.
type addrs struct {
	Listen, Admin string
}

// Names of the plugin as Envoy would configure it (envoy/envoy.yaml).
const (
	pluginName = "apiguard"
	rootID     = "apiguard"
	vmID       = "apiguard"
)

// shutdownGrace bounds how long in-flight requests may finish after Ctrl-C.
const shutdownGrace = 5 * time.Second

// run is devproxy's whole life: it returns when ctx ends (Ctrl-C) or on a
// startup error. ready, if set, is called once both servers listen.
func run(ctx context.Context, args []string, stdout, stderr io.Writer, ready func(addrs)) error {
	o, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	if err != nil {
		return err
	}
	if o.demoAPI != "" {
		return serveDemoAPI(ctx, o.demoAPI, stdout, ready)
	}

	wasm, err := os.ReadFile(o.wasm)
	if err != nil {
		return fmt.Errorf("devproxy: read the plugin: %w (run `make build` first)", err)
	}
	config, err := os.ReadFile(o.config)
	if err != nil {
		return fmt.Errorf("devproxy: read the plugin config: %w", err)
	}
	if !json.Valid(config) {
		return fmt.Errorf("devproxy: %s is not valid JSON", o.config)
	}

	upstream, upstreamDesc, err := newUpstream(o.upstream)
	if err != nil {
		return err
	}

	// Listen first: a busy port fails before the slow module compile.
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return fmt.Errorf("devproxy: listen: %w", err)
	}
	defer ln.Close()
	// The admin interface answers from now on; /ready says LIVE once the
	// plugin has started.
	counts := &requestCounts{}
	state := &readiness{}
	var adminSrv *http.Server
	var adminAddr string
	errc := make(chan error, 2)
	if o.admin != "" {
		adminLn, err := net.Listen("tcp", o.admin)
		if err != nil {
			return fmt.Errorf("devproxy: admin listen: %w", err)
		}
		adminAddr = adminLn.Addr().String()
		adminSrv = &http.Server{Handler: adminHandler(counts, state, config), ReadHeaderTimeout: 10 * time.Second}
		go func() { errc <- serve(adminSrv, adminLn) }()
		defer adminSrv.Close() // on a startup error; a normal exit shuts it down below
	}

	// Machine code is cached beside the module (build/wazero-cache for
	// `make run`), so a restart with the same .wasm skips compilation.
	cache, err := wazero.NewCompilationCacheWithDir(filepath.Join(filepath.Dir(o.wasm), "wazero-cache"))
	if err != nil {
		return fmt.Errorf("devproxy: compilation cache: %w", err)
	}
	defer cache.Close(context.Background())
	mod, err := wasmhost.Compile(ctx, wasm, wasmhost.Options{
		LogWriter: newOncePerWorkers(stderr), LogLevel: wasmhost.LogInfo, CompilationCache: cache, Envoy: &o.envoy,
		MemoryLimitBytes: uint64(o.maxMemory),
	})
	if err != nil {
		return fmt.Errorf("devproxy: %s: %w", o.wasm, err)
	}
	defer mod.Close(context.Background())
	plugin, err := mod.Start(ctx, wasmhost.PluginConfig{
		Name: pluginName, RootID: rootID, VMID: vmID,
		Configuration: config,
		Workers:       o.workers,
		Clusters:      o.clusters,
		FailurePolicy: wasmhost.FailClosed,
		// As envoy/envoy.yaml's connection manager: the peer address is
		// appended to x-forwarded-for before the plugin runs.
		UseRemoteAddress: true,
		// As envoy/envoy.yaml sets it, where the Envoy has it (1.35+).
		AllowOnHeadersStopIteration: o.envoy.StopIterationKnob,
	})
	if err != nil {
		return fmt.Errorf("devproxy: the plugin refused to start with %s: %w", o.config, err)
	}
	defer plugin.Close()

	// No ServeMux in front of the plugin: it would answer //x, /./x and
	// /a/../x with a redirect of its own, and the plugin would never see
	// the paths an attacker sends through Envoy.
	srv := &http.Server{Handler: counts.wrap(plugin.Middleware(upstream), stdout), ReadHeaderTimeout: 10 * time.Second,
		Protocols: cleartextProtocols(true)}

	a := addrs{Listen: ln.Addr().String(), Admin: adminAddr}
	var tokens *demoTokens
	if o.demoKey != "" {
		t, err := mintDemoTokens(o.demoKey, time.Now())
		if err != nil {
			return err
		}
		tokens = &t
	}
	printBanner(stdout, a, o, upstreamDesc, config, mod.ABIVersion(), tokens)

	go func() { errc <- serve(srv, ln) }()
	state.setLive(plugin)
	if ready != nil {
		ready(a)
	}

	select {
	case <-ctx.Done():
		fmt.Fprintln(stdout, "\ndevproxy: shutting down")
	case err = <-errc:
		if err != nil {
			err = fmt.Errorf("devproxy: serve: %w", err)
		}
	}
	state.setDraining()
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	shutdownErr := srv.Shutdown(sctx)
	// The admin interface goes before the plugin it reports on is closed.
	if adminSrv != nil {
		adminSrv.Shutdown(sctx)
	}
	if err == nil && shutdownErr != nil {
		err = fmt.Errorf("devproxy: shutdown: %w", shutdownErr)
	}
	return err
}

// serve runs srv until Shutdown; a normal shutdown is not an error.
func serve(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// newUpstream returns the handler the plugin fronts: a reverse proxy to
// rawURL, or the built-in demo API.
func newUpstream(rawURL string) (http.Handler, string, error) {
	if rawURL == "" {
		return demoapi.New().Handler(), "built-in demo API", nil
	}
	u, h2c, err := parseUpstreamURL(rawURL)
	if err != nil {
		return nil, "", fmt.Errorf("devproxy: --upstream: %w", err)
	}
	desc := u.String()
	var transport http.RoundTripper
	if h2c {
		// HTTP/2 without TLS, with prior knowledge, as grpc-go serves it.
		t := http.DefaultTransport.(*http.Transport).Clone()
		t.Protocols = cleartextProtocols(false)
		transport, desc = t, "h2c://"+u.Host+" (HTTP/2 cleartext)"
	}
	rp := &httputil.ReverseProxy{
		Transport: transport,
		Rewrite: func(r *httputil.ProxyRequest) {
			r.SetURL(u)
			// Like Envoy without host_rewrite: keep the client's :authority.
			r.Out.Host = r.In.Host
			// ReverseProxy drops the X-Forwarded-* headers before Rewrite;
			// Envoy forwards them as its connection manager and the plugin
			// left them.
			for _, h := range []string{"X-Forwarded-For", "X-Forwarded-Proto", "X-Forwarded-Host"} {
				if v, ok := r.In.Header[h]; ok {
					r.Out.Header[h] = v
				}
			}
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			// Envoy's answer when the upstream cannot be reached.
			w.Header().Set("Content-Type", "text/plain")
			w.WriteHeader(http.StatusServiceUnavailable)
			io.WriteString(w, "upstream connect error or disconnect/reset before headers\n")
		},
	}
	return rp, desc, nil
}

// cleartextProtocols is HTTP/2 without TLS (prior knowledge, what gRPC
// clients send), with HTTP/1.1 beside it when http1 is set: Envoy's
// listener speaks both (codec_type AUTO), so curl and a gRPC client can use
// the same port.
func cleartextProtocols(http1 bool) *http.Protocols {
	p := new(http.Protocols)
	p.SetHTTP1(http1)
	p.SetUnencryptedHTTP2(true)
	return p
}

// serveDemoAPI serves only the demo API, for use behind a real Envoy.
func serveDemoAPI(ctx context.Context, addr string, stdout io.Writer, ready func(addrs)) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("devproxy: demo API listen: %w", err)
	}
	srv := &http.Server{Handler: demoapi.New().Handler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "devproxy: demo API (no plugin) on http://%s\n", ln.Addr())
	errc := make(chan error, 1)
	go func() { errc <- serve(srv, ln) }()
	if ready != nil {
		ready(addrs{Listen: ln.Addr().String()})
	}
	select {
	case <-ctx.Done():
	case err := <-errc:
		return fmt.Errorf("devproxy: serve: %w", err)
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	return srv.Shutdown(sctx)
}

// printBanner shows what runs: addresses, clusters, a summary of the config
// (never the config itself: it may hold secrets) and, for the demo, the
// walkthrough's requests.
func printBanner(w io.Writer, a addrs, o options, upstream string, config []byte, abi string, tokens *demoTokens) {
	fmt.Fprintf(w, "apiguard devproxy: %s (proxy-wasm ABI %s) on wasmhost, %d worker VM(s), fail closed\n", o.wasm, strings.TrimPrefix(abi, "proxy_abi_version_"), o.workers)
	fmt.Fprintf(w, "  listening   http://%s  (HTTP/1.1 and HTTP/2 cleartext)\n", a.Listen)
	if a.Admin != "" {
		fmt.Fprintf(w, "  admin       http://%s  (/ready, /stats, /stats/prometheus, /apiguard/inventory)\n", a.Admin)
	}
	fmt.Fprintf(w, "  upstream    %s\n", upstream)
	names := make([]string, 0, len(o.clusters))
	for n := range o.clusters {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		fmt.Fprintln(w, "  clusters    (none)")
	}
	for _, n := range names {
		fmt.Fprintf(w, "  cluster     %s -> %s\n", n, o.clusters[n])
	}
	for _, n := range missingClusters(config, o.clusters) {
		fmt.Fprintf(w, "  WARNING     the config calls out to cluster %q but no --cluster %s=URL was given: those callouts will fail\n", n, n)
	}
	fmt.Fprintf(w, "  config      %s\n", o.config)
	for _, line := range configSummary(config) {
		fmt.Fprintf(w, "    %s\n", line)
	}
	base := "http://" + a.Listen
	fmt.Fprintln(w, "Each request writes an access-log line here; the plugin logs to stderr.")
	if tokens == nil || o.upstream != "" {
		fmt.Fprintf(w, "try:\n  curl -si %s/\nCtrl-C stops.\n", base)
		return
	}
	fmt.Fprintln(w, "demo tokens (DEMO ONLY key, valid 1h):")
	fmt.Fprintf(w, "  export USER_TOKEN=%s\n", tokens.User)
	fmt.Fprintf(w, "  export ADMIN_TOKEN=%s\n", tokens.Admin)
	fmt.Fprintln(w, "try:")
	fmt.Fprintf(w, "  curl -si %s/healthz                                        # public\n", base)
	fmt.Fprintf(w, "  curl -si %s/users/1                                        # 401: missing_token\n", base)
	fmt.Fprintf(w, "  curl -si -H \"Authorization: Bearer $USER_TOKEN\" %s/users/1   # 200: password hash, card number, internal flags removed\n", base)
	fmt.Fprintf(w, "  curl -si -H \"Authorization: Bearer $USER_TOKEN\" %s/admin/stats  # 403: claims_failed\n", base)
	fmt.Fprintf(w, "  curl -si -H \"Authorization: Bearer $ADMIN_TOKEN\" %s/users/1  # 200: admins also see email\n", base)
	fmt.Fprintf(w, "  for i in $(seq 1 12); do curl -s -o /dev/null -w '%%{http_code} ' -H \"Authorization: Bearer $USER_TOKEN\" %s/users; done; echo   # then 429\n", base)
	fmt.Fprintf(w, "  curl -si -H \"Authorization: Bearer $USER_TOKEN\" %s/users | grep -i -e ratelimit -e retry-after\n", base)
	fmt.Fprintf(w, "  curl -si -H \"Authorization: Bearer $USER_TOKEN\" %s/echo    # what the upstream received after apiguard\n", base)
	if a.Admin != "" {
		fmt.Fprintf(w, "  curl -s http://%s/stats/prometheus | grep apiguard\n", a.Admin)
	}
	fmt.Fprintln(w, "Ctrl-C stops.")
}

// configSummary describes an apiguard config in a few lines: providers,
// routes, rate limits, filtered routes, audit. Names only, never values. A
// document that is not an apiguard config (another plugin's) is described
// by its size.
func configSummary(config []byte) []string {
	s, err := settings.Parse(config)
	if err != nil {
		msg, _, _ := strings.Cut(err.Error(), "\n")
		return []string{fmt.Sprintf("(%d bytes; not an apiguard config: %s)", len(config), msg)}
	}
	out := []string{"jwt             (none: no request is authenticated)"}
	if j := s.JWT; j != nil {
		providers := make([]string, 0, len(j.Providers))
		for name := range j.Providers {
			providers = append(providers, name)
		}
		sort.Strings(providers)
		out[0] = fmt.Sprintf("jwt             providers %s; routes %s", strings.Join(providers, ", "), strings.Join(j.RouteNames(), ", "))
	}
	limits := "(none)"
	if len(s.RateLimits) > 0 {
		names := make([]string, len(s.RateLimits))
		for i, p := range s.RateLimits {
			names[i] = p.Name
		}
		limits = strings.Join(names, ", ")
	}
	out = append(out, "rate_limits     "+limits)
	filtered := "(none: every response body passes unfiltered)"
	if f := s.ResponseFilter; f != nil && len(f.Rules) > 0 {
		filtered = strings.Join(f.RuleNames(), ", ")
	}
	out = append(out, "response_filter "+filtered)
	sink := s.Telemetry.Audit.Sink
	if sink == "" {
		sink = "off"
	}
	return append(out, "audit           "+sink)
}

// missingClusters lists clusters the plugin config names (any "cluster"
// string value) that were not given with --cluster.
func missingClusters(config []byte, have map[string]string) []string {
	var v any
	if err := json.Unmarshal(config, &v); err != nil {
		return nil
	}
	seen := map[string]bool{}
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case map[string]any:
			for k, e := range v {
				if s, ok := e.(string); ok && k == "cluster" && have[s] == "" && !seen[s] {
					seen[s] = true
					out = append(out, s)
				}
				walk(e)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	sort.Strings(out)
	return out
}
