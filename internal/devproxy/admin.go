package main

import (
	"bufio"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/envoystats"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

// The admin interface answers like Envoy's (docs: operations/admin):
// /ready, /stats (text, ?filter=REGEX), /stats/prometheus; and apiguard's
// own /apiguard/inventory (inventory.go).

// readiness mirrors Envoy's server state as /ready reports it, and holds the
// plugin once it has started: the admin interface answers before that, as
// Envoy's does while its workers initialise.
type readiness struct {
	state  atomic.Int32
	plugin atomic.Pointer[wasmhost.Plugin]
}

const (
	statePreInitializing = iota
	stateLive
	stateDraining
)

func (r *readiness) setLive(p *wasmhost.Plugin) {
	r.plugin.Store(p)
	r.state.Store(stateLive)
}

func (r *readiness) setDraining() { r.state.Store(stateDraining) }

// requestCounts are the downstream counters Envoy's HTTP connection manager
// keeps (http.<stat_prefix>.downstream_rq_total and _Nxx).
type requestCounts struct {
	total   atomic.Uint64
	byClass [6]atomic.Uint64 // index = status / 100
}

// statPrefix is envoy.yaml's HttpConnectionManager stat_prefix.
const statPrefix = "http.ingress_http."

// wrap counts every response by status class and, when accessLog is set,
// writes one access-log line per request.
func (c *requestCounts) wrap(h http.Handler, accessLog io.Writer) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w}
		h.ServeHTTP(sw, r)
		c.total.Add(1)
		code := sw.code
		if code == 0 {
			code = http.StatusOK
		}
		if class := code / 100; class >= 1 && class <= 5 {
			c.byClass[class].Add(1)
		}
		if accessLog != nil {
			writeAccessLog(accessLog, r, code, sw, time.Since(start))
		}
	})
}

// writeAccessLog writes a line in the shape of Envoy's default access log
// format, with %RESPONSE_CODE_DETAILS% after the status: where operators
// look for why apiguard answered. The path is logged as the audit trail logs
// it (audit.RedactPath: query values replaced, card numbers, emails and
// tokens masked), and the method and user agent, which a client chooses as
// freely, have what internal/detect finds masked, so the gateway's own log
// holds no personal data either.
func writeAccessLog(w io.Writer, r *http.Request, code int, sw *statusWriter, d time.Duration) {
	details := sw.details
	if details == "" {
		details = "via_upstream"
	}
	method, _ := detect.Redact(r.Method, detect.All, audit.Mask)
	agent, _ := detect.Redact(r.UserAgent(), detect.All, audit.Mask)
	fmt.Fprintf(w, "[%s] %q %d %s %d %d %d %q\n", time.Now().UTC().Format("2006-01-02T15:04:05.000Z"),
		method+" "+audit.RedactPath(r.RequestURI)+" "+r.Proto, code, details, r.ContentLength, sw.bytes, d.Milliseconds(), agent)
}

// statusWriter records the status code and the bytes the handler sent, and
// takes the host's response code details off the response: like Envoy's,
// they belong in the access log, never in front of the client.
type statusWriter struct {
	http.ResponseWriter
	code    int
	bytes   int64
	details string
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
		s.takeDetails()
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(b []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
		s.takeDetails()
	}
	n, err := s.ResponseWriter.Write(b)
	s.bytes += int64(n)
	return n, err
}

func (s *statusWriter) takeDetails() {
	h := s.ResponseWriter.Header()
	s.details = h.Get(wasmhost.DetailsHeader)
	h.Del(wasmhost.DetailsHeader)
}

// Unwrap lets http.ResponseController reach Flush and friends.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

// stat is one admin statistic.
type stat struct {
	name  string // Envoy form, e.g. wasmcustom.apiguard.requests
	kind  string // counter, gauge or histogram
	value uint64 // counters and gauges
	hist  []uint64
}

// collectStats gathers the plugin's metrics and devproxy's own; p is nil
// until the plugin has started.
func collectStats(p *wasmhost.Plugin, c *requestCounts) []stat {
	var out []stat
	if p == nil {
		return out
	}
	st := p.Stats()
	for _, full := range st.Names() {
		name := strings.TrimPrefix(full, "wasmcustom.")
		if v, ok := st.Counter(name); ok {
			out = append(out, stat{name: full, kind: "counter", value: v})
		} else if v, ok := st.Gauge(name); ok {
			out = append(out, stat{name: full, kind: "gauge", value: v})
		} else if h, ok := st.Histogram(name); ok {
			out = append(out, stat{name: full, kind: "histogram", hist: h})
		}
	}
	failed := uint64(p.FailedWorkers())
	out = append(out,
		stat{name: statPrefix + "downstream_rq_total", kind: "counter", value: c.total.Load()},
		stat{name: "wasm.runtime.wazero.active", kind: "gauge", value: uint64(p.Workers()) - failed},
		stat{name: "wasm.runtime.wazero.failed", kind: "gauge", value: failed},
	)
	for class := 1; class <= 5; class++ {
		out = append(out, stat{name: fmt.Sprintf("%sdownstream_rq_%dxx", statPrefix, class), kind: "counter", value: c.byClass[class].Load()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out
}

func adminHandler(c *requestCounts, ready *readiness, config []byte) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /apiguard/inventory", serveInventory(ready, config, rootID))
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		switch ready.state.Load() {
		case stateLive:
			fmt.Fprintln(w, "LIVE")
		case stateDraining:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "DRAINING")
		default:
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprintln(w, "PRE_INITIALIZING")
		}
	})
	mux.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		var filter *regexp.Regexp
		if f := r.URL.Query().Get("filter"); f != "" {
			var err error
			if filter, err = regexp.Compile(f); err != nil {
				http.Error(w, "Invalid re2 regex", http.StatusBadRequest)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=UTF-8")
		bw := bufio.NewWriter(w)
		for _, s := range collectStats(ready.plugin.Load(), c) {
			if filter != nil && !filter.MatchString(s.name) {
				continue
			}
			if s.kind == "histogram" {
				var sum uint64
				for _, x := range s.hist {
					sum += x
				}
				fmt.Fprintf(bw, "%s: count=%d sum=%d\n", s.name, len(s.hist), sum)
				continue
			}
			fmt.Fprintf(bw, "%s: %d\n", s.name, s.value)
		}
		bw.Flush()
	})
	mux.HandleFunc("GET /stats/prometheus", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=UTF-8")
		bw := bufio.NewWriter(w)
		p := ready.plugin.Load()
		all := collectStats(p, c)
		// The plugin's metrics, as Envoy exports them: envoy.yaml's
		// stats_tags turn name segments into labels, wasmcustom. is stripped.
		x, err := pluginTags()
		if err == nil {
			err = envoystats.WritePrometheus(bw, x, pluginMetrics(all), nil)
		}
		if err != nil {
			http.Error(w, "devproxy: prometheus: "+err.Error(), http.StatusInternalServerError)
			return
		}
		// devproxy's own, with Envoy's envoy_ prefix.
		for _, s := range all {
			if strings.HasPrefix(s.name, "wasmcustom.") {
				continue
			}
			name := "envoy_" + promSanitize(s.name)
			fmt.Fprintf(bw, "# TYPE %s %s\n%s{} %d\n", name, s.kind, name, s.value)
		}
		bw.Flush()
	})
	return mux
}

// promSanitize mirrors Envoy's Prometheus name sanitising: anything outside
// [a-zA-Z0-9_] becomes '_'.
func promSanitize(name string) string {
	b := []byte(name)
	for i, ch := range b {
		if !(ch >= 'a' && ch <= 'z' || ch >= 'A' && ch <= 'Z' || ch >= '0' && ch <= '9' || ch == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// pluginTags is the tag extraction of envoy/envoy.yaml: Envoy's built-in
// extractors that apply to every name, then apiguard's stats_tags for the
// default metric prefix (envoy/stats_tags.yaml).
var pluginTags = sync.OnceValues(func() (*envoystats.Extractor, error) {
	return envoystats.NewExtractor(append(envoystats.DefaultSpecs(), metrics.StatsTags(metrics.DefaultPrefix)...))
})

// pluginMetrics converts the plugin's stats (the wasmcustom. ones) for
// envoystats.WritePrometheus.
func pluginMetrics(all []stat) []envoystats.Metric {
	var out []envoystats.Metric
	for _, s := range all {
		if !strings.HasPrefix(s.name, envoystats.WasmNamespace+".") {
			continue
		}
		m := envoystats.Metric{Name: s.name, Value: s.value, Samples: s.hist}
		switch s.kind {
		case "counter":
			m.Type = envoystats.TypeCounter
		case "gauge":
			m.Type = envoystats.TypeGauge
		default:
			m.Type = envoystats.TypeHistogram
		}
		out = append(out, m)
	}
	return out
}
