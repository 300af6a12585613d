package envoystats

import (
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// Metric types as Envoy's admin output names them.
const (
	TypeCounter   = "counter"
	TypeGauge     = "gauge"
	TypeHistogram = "histogram"
)

// DefaultBuckets are Envoy's default histogram bucket bounds
// (HistogramSettingsImpl::defaultBuckets), used when the bootstrap has no
// stats_config.histogram_bucket_settings.
var DefaultBuckets = []float64{0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000}

// Metric is one stat as a host holds it, under its full name (for Wasm
// metrics, the wasmcustom. form).
type Metric struct {
	Name    string
	Type    string   // TypeCounter, TypeGauge or TypeHistogram
	Value   uint64   // counters and gauges
	Samples []uint64 // histograms: every recorded value
}

type promLine struct {
	fullName string
	tags     []Tag
	m        *Metric
}

// WritePrometheus writes metrics in the text format of Envoy's
// /stats/prometheus (source/server/admin/prometheus_stats.cc): counters,
// then gauges, then histograms; within each type, one group per
// Prometheus name in name order, introduced by a "# TYPE" line and ended by
// a blank line; histograms as cumulative _bucket lines over buckets (nil =
// DefaultBuckets) plus +Inf, then _sum and _count. Exact sample counts
// stand in for Envoy's approximate histogram (circllhist) statistics.
func WritePrometheus(w io.Writer, x *Extractor, metrics []Metric, buckets []float64) error {
	if buckets == nil {
		buckets = DefaultBuckets
	}
	for _, typ := range []string{TypeCounter, TypeGauge, TypeHistogram} {
		groups := map[string][]promLine{}
		for i := range metrics {
			m := &metrics[i]
			if m.Type != typ {
				continue
			}
			extracted, tags := x.Extract(m.Name)
			name, ok := PrometheusName(extracted)
			if !ok {
				continue
			}
			groups[name] = append(groups[name], promLine{fullName: m.Name, tags: tags, m: m})
		}
		names := make([]string, 0, len(groups))
		for n := range groups {
			names = append(names, n)
		}
		sort.Strings(names)
		for _, name := range names {
			var b strings.Builder
			fmt.Fprintf(&b, "# TYPE %s %s\n", name, typ)
			lines := groups[name]
			sort.Slice(lines, func(i, j int) bool { return lines[i].fullName < lines[j].fullName })
			for _, l := range lines {
				tags := formatTags(l.tags)
				if typ != TypeHistogram {
					fmt.Fprintf(&b, "%s{%s} %d\n", name, tags, l.m.Value)
					continue
				}
				writeHistogram(&b, name, tags, l.m.Samples, buckets)
			}
			b.WriteByte('\n')
			if _, err := io.WriteString(w, b.String()); err != nil {
				return fmt.Errorf("envoystats: write: %w", err)
			}
		}
	}
	return nil
}

func formatTags(tags []Tag) string {
	parts := make([]string, len(tags))
	for i, t := range tags {
		parts[i] = SanitizeName(t.Name) + `="` + t.Value + `"`
	}
	return strings.Join(parts, ",")
}

func writeHistogram(b *strings.Builder, name, tags string, samples []uint64, buckets []float64) {
	histTags := tags
	if histTags != "" {
		histTags += ","
	}
	var sum float64
	for _, s := range samples {
		sum += float64(s)
	}
	for _, bound := range buckets {
		n := 0
		for _, s := range samples {
			if float64(s) <= bound {
				n++
			}
		}
		fmt.Fprintf(b, "%s_bucket{%sle=\"%s\"} %d\n", name, histTags, strconv.FormatFloat(bound, 'f', -1, 64), n)
	}
	fmt.Fprintf(b, "%s_bucket{%sle=\"+Inf\"} %d\n", name, histTags, len(samples))
	fmt.Fprintf(b, "%s_sum{%s} %s\n", name, tags, strconv.FormatFloat(sum, 'f', -1, 64))
	fmt.Fprintf(b, "%s_count{%s} %d\n", name, tags, len(samples))
}
