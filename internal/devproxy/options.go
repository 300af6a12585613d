package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net/url"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// options are devproxy's command-line settings.
type options struct {
	wasm     string
	config   string
	listen   string
	admin    string
	upstream string
	clusters clusterFlag
	workers  int
	demoAPI  string
	demoKey  string
	envoy    wasmhost.EnvoyProfile
	// maxMemory caps each worker VM's linear memory, as Envoy's 1 GiB.
	maxMemory byteSize
}

// byteSize is a --max-memory value: bytes, or a number with KiB, MiB or GiB.
type byteSize uint64

func (b *byteSize) String() string { return strconv.FormatUint(uint64(*b), 10) }

func (b *byteSize) Set(s string) error {
	num, mult := s, uint64(1)
	for suffix, m := range map[string]uint64{"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30} {
		if n, ok := strings.CutSuffix(s, suffix); ok {
			num, mult = n, m
		}
	}
	n, err := strconv.ParseUint(num, 10, 64)
	if err != nil || n == 0 || n > (1<<30)/mult {
		return fmt.Errorf("want a size up to 1GiB (Envoy's cap), such as 1GiB or 256MiB, got %q", s)
	}
	*b = byteSize(n * mult)
	return nil
}

// clusterFlag collects repeated --cluster NAME=URL flags: the clusters the
// plugin's proxy_http_call may name, as Envoy's static clusters.
type clusterFlag map[string]string

// clusterName follows what Envoy accepts in practice and what our configs use.
var clusterName = regexp.MustCompile(`^[A-Za-z0-9_.\-]+$`)

func (c clusterFlag) String() string {
	names := make([]string, 0, len(c))
	for n := range c {
		names = append(names, n)
	}
	sort.Strings(names)
	parts := make([]string, 0, len(names))
	for _, n := range names {
		parts = append(parts, n+"="+c[n])
	}
	return strings.Join(parts, ",")
}

func (c clusterFlag) Set(v string) error {
	name, raw, ok := strings.Cut(v, "=")
	if !ok || name == "" || raw == "" {
		return errors.New("want NAME=URL, e.g. idp=http://127.0.0.1:8081")
	}
	if !clusterName.MatchString(name) {
		return fmt.Errorf("cluster name %q: use letters, digits, '_', '-', '.'", name)
	}
	if _, dup := c[name]; dup {
		return fmt.Errorf("cluster %q given twice", name)
	}
	u, err := parseBaseURL(raw)
	if err != nil {
		return fmt.Errorf("cluster %q: %w", name, err)
	}
	c[name] = u.String()
	return nil
}

// parseBaseURL accepts an absolute http(s) URL without query or fragment.
func parseBaseURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("invalid URL %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("invalid URL %q: want http://host:port or https://host:port", raw)
	}
	if u.RawQuery != "" || u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("invalid URL %q: no query, fragment or user info", raw)
	}
	return u, nil
}

// parseOptions parses args; usage and errors go to stderr.
func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{clusters: clusterFlag{}, maxMemory: 1 << 30}
	fs := flag.NewFlagSet("devproxy", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.wasm, "wasm", "build/apiguard.wasm", "the compiled plugin")
	fs.StringVar(&o.config, "config", "envoy/demo-config.json", "the plugin configuration (JSON), as Envoy's PluginConfig.configuration")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:10000", "address to serve HTTP on")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:9901", "address of the Envoy-like admin interface (/ready, /stats, /stats/prometheus) and /apiguard/inventory; empty disables it")
	fs.StringVar(&o.upstream, "upstream", "", "URL of the upstream to protect: http://, https://, or h2c:// for a gRPC server (HTTP/2 without TLS); default: the built-in demo API")
	fs.Var(o.clusters, "cluster", "NAME=URL of a cluster the plugin calls out to (repeatable), e.g. idp=http://127.0.0.1:8081")
	fs.IntVar(&o.workers, "workers", 2, "number of worker VMs (Envoy --concurrency)")
	fs.Var(&o.maxMemory, "max-memory", "cap on each worker VM's memory (default 1GiB, Envoy's cap): a VM that hits it dies and the failure policy (fail closed) decides")
	fs.StringVar(&o.demoAPI, "demo-api", "", "serve only the demo API on this address (no plugin), e.g. as envoy.yaml's demo_upstream")
	fs.StringVar(&o.demoKey, "demo-key", "", "DEMO ONLY private key (PEM) to mint and print demo tokens, e.g. envoy/demo/demo-rsa-private.pem")
	envoy := fs.String("envoy", "1.35", "Envoy release to reproduce: 1.33 to 1.38, or main (cpp-host #533); "+
		"1.33 and 1.34 lack allow_on_headers_stop_iteration, so the config must use headers_mode \"streamed\"")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	profile, err := wasmhost.EnvoyProfileFor(*envoy)
	if err != nil {
		return o, fmt.Errorf("devproxy: --envoy: %w", err)
	}
	o.envoy = profile
	if fs.NArg() > 0 {
		return o, fmt.Errorf("devproxy: unexpected arguments %q", fs.Args())
	}
	if o.workers < 1 || o.workers > 64 {
		return o, fmt.Errorf("devproxy: --workers must be between 1 and 64, got %d", o.workers)
	}
	if o.upstream != "" {
		if _, _, err := parseUpstreamURL(o.upstream); err != nil {
			return o, fmt.Errorf("devproxy: --upstream: %w", err)
		}
	}
	return o, nil
}

// parseUpstreamURL accepts what parseBaseURL accepts, and h2c://host:port:
// an upstream spoken to in HTTP/2 without TLS (prior knowledge), as a gRPC
// server expects; Envoy's cluster would set http2_protocol_options. The
// URL returned is the http:// one; h2c says which protocol to speak.
func parseUpstreamURL(raw string) (u *url.URL, h2c bool, err error) {
	if rest, ok := strings.CutPrefix(raw, "h2c://"); ok {
		raw, h2c = "http://"+rest, true
	}
	u, err = parseBaseURL(raw)
	return u, h2c, err
}
