package wasmhost

import (
	"bufio"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
)

// Metrics. Mirrors Envoy context.cc Context::defineMetric / incrementMetric /
// recordMetric / getMetric: names live under the "wasmcustom." namespace and
// are process-wide (here: per Stats), ids are per VM with the type in the
// low two bits; increment on a counter needs a positive offset; record adds
// to a counter, sets a gauge and adds a histogram sample; get on a
// histogram is BAD_ARGUMENT.

const (
	fnDefineMetric    = "proxy_define_metric"
	fnIncrementMetric = "proxy_increment_metric"
	fnRecordMetric    = "proxy_record_metric"
	fnGetMetric       = "proxy_get_metric"
)

// customStatNamespace is Envoy's prefix for Wasm-defined stats.
const customStatNamespace = "wasmcustom."

// metricIDIncrement mirrors Envoy's kMetricIdIncrement; the low bits hold the type.
const metricIDIncrement = 4

// envoyHistogramBuckets are Envoy's default histogram bucket bounds.
var envoyHistogramBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000,
	10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

type metric struct {
	name  string // user name, without the namespace
	typ   MetricType
	value atomic.Uint64 // counter or gauge

	mu      sync.Mutex // histogram samples
	samples []uint64
}

// Stats is a metric store shared by every VM of the plugins that use it.
type Stats struct {
	mu      sync.Mutex
	metrics map[string]*metric // full name ("wasmcustom.x") -> metric
}

// NewStats returns an empty metric store.
func NewStats() *Stats { return &Stats{metrics: map[string]*metric{}} }

func (s *Stats) define(typ MetricType, name string) (*metric, bool) {
	full := customStatNamespace + name
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := s.metrics[full]; ok {
		return m, m.typ == typ
	}
	m := &metric{name: name, typ: typ}
	s.metrics[full] = m
	return m, true
}

func (s *Stats) lookup(name string, typ MetricType) (*metric, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	m, ok := s.metrics[customStatNamespace+strings.TrimPrefix(name, customStatNamespace)]
	if !ok || m.typ != typ {
		return nil, false
	}
	return m, true
}

// Counter returns a counter's value by the name the plugin defined.
func (s *Stats) Counter(name string) (uint64, bool) {
	m, ok := s.lookup(name, MetricCounter)
	if !ok {
		return 0, false
	}
	return m.value.Load(), true
}

// Gauge returns a gauge's value by the name the plugin defined.
func (s *Stats) Gauge(name string) (uint64, bool) {
	m, ok := s.lookup(name, MetricGauge)
	if !ok {
		return 0, false
	}
	return m.value.Load(), true
}

// Histogram returns a copy of a histogram's samples.
func (s *Stats) Histogram(name string) ([]uint64, bool) {
	m, ok := s.lookup(name, MetricHistogram)
	if !ok {
		return nil, false
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]uint64(nil), m.samples...), true
}

// Names returns every defined metric's full Envoy name ("wasmcustom.x"), sorted.
func (s *Stats) Names() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, 0, len(s.metrics))
	for n := range s.metrics {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// WritePrometheus writes the metrics as Envoy's admin /stats/prometheus
// does: the "wasmcustom." namespace is stripped and no "envoy_" prefix is
// added; other characters outside [a-zA-Z0-9_] become '_'.
func (s *Stats) WritePrometheus(w io.Writer) error {
	s.mu.Lock()
	ms := make([]*metric, 0, len(s.metrics))
	for _, m := range s.metrics {
		ms = append(ms, m)
	}
	s.mu.Unlock()
	sort.Slice(ms, func(i, j int) bool { return ms[i].name < ms[j].name })
	bw := bufio.NewWriter(w)
	for _, m := range ms {
		name := promName(m.name)
		switch m.typ {
		case MetricCounter, MetricGauge:
			fmt.Fprintf(bw, "# TYPE %s %s\n%s{} %d\n", name, m.typ, name, m.value.Load())
		case MetricHistogram:
			m.mu.Lock()
			samples := append([]uint64(nil), m.samples...)
			m.mu.Unlock()
			fmt.Fprintf(bw, "# TYPE %s histogram\n", name)
			var sum uint64
			for _, x := range samples {
				sum += x
			}
			for _, le := range envoyHistogramBuckets {
				n := 0
				for _, x := range samples {
					if float64(x) <= le {
						n++
					}
				}
				fmt.Fprintf(bw, "%s_bucket{le=\"%g\"} %d\n", name, le, n)
			}
			fmt.Fprintf(bw, "%s_bucket{le=\"+Inf\"} %d\n%s_sum{} %d\n%s_count{} %d\n",
				name, len(samples), name, sum, name, len(samples))
		}
	}
	return bw.Flush()
}

// promName mirrors Envoy's PrometheusStatsFormatter::sanitizeName.
func promName(name string) string {
	b := []byte(name)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	if len(b) > 0 && b[0] >= '0' && b[0] <= '9' {
		return "_" + string(b)
	}
	return string(b)
}

// vmMetrics maps the per-VM metric ids to the shared metrics.
type vmMetrics struct {
	byID   map[uint32]*metric
	byName map[string]uint32
	next   uint32
}

func (vm *vmMetrics) init() {
	vm.byID = map[uint32]*metric{}
	vm.byName = map[string]uint32{}
}

func metricFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnDefineMetric, params: i32s(4), results: resultI32, fn: hostDefineMetric, doc: spec + fnDefineMetric},
		{name: fnIncrementMetric, params: sig(i32, i64), results: resultI32, fn: hostIncrementMetric, doc: spec + fnIncrementMetric},
		{name: fnRecordMetric, params: sig(i32, i64), results: resultI32, fn: hostRecordMetric, doc: spec + fnRecordMetric},
		{name: fnGetMetric, params: i32s(2), results: resultI32, fn: hostGetMetric, doc: spec + fnGetMetric},
	}
}

// hostDefineMetric implements proxy_define_metric(type, name, id_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_define_metric
func hostDefineMetric(v *vm, s []uint64) {
	typ := MetricType(uint32(s[0]))
	if typ > MetricHistogram {
		s[0] = uint64(statusBadArgument)
		return
	}
	name, ok := v.readString(uint32(s[1]), uint32(s[2]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	key := string(rune('0'+typ)) + name
	id, known := v.metrics.byName[key]
	if !known {
		m, ok := v.m.stats.define(typ, name)
		if !ok {
			s[0] = uint64(statusBadArgument) // same name, other type
			return
		}
		v.metrics.next++
		id = v.metrics.next*metricIDIncrement | uint32(typ)
		v.metrics.byID[id] = m
		v.metrics.byName[key] = id
	}
	if !v.writeU32(uint32(s[3]), id) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// hostIncrementMetric implements proxy_increment_metric(id, offset).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_increment_metric
func hostIncrementMetric(v *vm, s []uint64) {
	m := v.metrics.byID[uint32(s[0])]
	offset := int64(s[1])
	switch {
	case m == nil:
		s[0] = uint64(statusNotFound)
	case m.typ == MetricCounter:
		if offset <= 0 {
			s[0] = uint64(statusBadArgument)
			return
		}
		m.value.Add(uint64(offset))
		s[0] = uint64(statusOK)
	case m.typ == MetricGauge:
		m.value.Add(uint64(offset)) // two's complement: a negative offset subtracts
		s[0] = uint64(statusOK)
	default:
		s[0] = uint64(statusBadArgument)
	}
}

// hostRecordMetric implements proxy_record_metric(id, value).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_record_metric
func hostRecordMetric(v *vm, s []uint64) {
	m := v.metrics.byID[uint32(s[0])]
	val := s[1]
	switch {
	case m == nil:
		s[0] = uint64(statusNotFound)
		return
	case m.typ == MetricCounter:
		m.value.Add(val)
	case m.typ == MetricGauge:
		m.value.Store(val)
	default:
		m.mu.Lock()
		if len(m.samples) < maxHistogramSamples {
			m.samples = append(m.samples, val)
		}
		m.mu.Unlock()
	}
	s[0] = uint64(statusOK)
}

// maxHistogramSamples bounds the samples kept per histogram.
const maxHistogramSamples = 1 << 16

// hostGetMetric implements proxy_get_metric(id, value_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_metric
func hostGetMetric(v *vm, s []uint64) {
	m := v.metrics.byID[uint32(s[0])]
	switch {
	case m == nil:
		s[0] = uint64(statusNotFound)
	case m.typ == MetricHistogram:
		s[0] = uint64(statusBadArgument)
	case !v.writeU64(uint32(s[1]), m.value.Load()):
		s[0] = uint64(statusInvalidMemoryAccess)
	default:
		s[0] = uint64(statusOK)
	}
}
