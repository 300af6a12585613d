package respfilter

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/perfscenario"
	"github.com/apiguard/apiguard/internal/respfilter/benchdoc"
	"github.com/tidwall/gjson"
)

var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"100KiB", 100 << 10}, {"1MiB", 1 << 20}}

// BenchmarkFilter measures the core filter (the single pass, and the
// gjson-based reference it replaced): depth check, validation and filtering
// into a reused output buffer.
func BenchmarkFilter(b *testing.B) {
	list := mustAllowlist(b, benchdoc.Allow...)
	for _, impl := range []struct {
		name   string
		filter func(dst, doc []byte, opts filterOptions, rep *Report) ([]byte, error)
	}{{"single-pass", list.filterDocument}, {"reference", list.refFilterDocument}} {
		for _, s := range benchSizes {
			doc := benchdoc.Generate(s.size)
			b.Run(impl.name+"/"+s.name, func(b *testing.B) {
				b.SetBytes(int64(len(doc)))
				b.ReportAllocs()
				var out []byte
				for b.Loop() {
					var rep Report
					var err error
					out, err = impl.filter(out[:0], doc, filterOptions{maxDepth: 64}, &rep)
					if err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

// BenchmarkFilterRecord10KiB filters the 10 KiB record of issue 12's chain
// under the demo's "users" allowlist: about half of it is kept whole
// (orders) and half skipped (activity), so it measures the scan
// (skipValue) more than the allowlist. Run it compiled to Wasm too, where
// the scan's costs differ from native ones:
//
//	GOOS=wasip1 GOARCH=wasm go test -c -o /tmp/rf.wasm ./internal/respfilter
//	go run github.com/tetratelabs/wazero/cmd/wazero run /tmp/rf.wasm -test.run '^$' -test.bench FilterRecord10KiB
func BenchmarkFilterRecord10KiB(b *testing.B) {
	list := mustAllowlist(b, "id", "name", "role", "orders", "error")
	doc := perfscenario.Record(perfscenario.LargeRecord)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	var out []byte
	for b.Loop() {
		var rep Report
		var err error
		if out, err = list.filterDocument(out[:0], doc, filterOptions{maxDepth: DefaultMaxDepth}, &rep); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkSpeedupOverReference alternates the single pass and the
// reference on the same document and reports how many times faster the
// single pass is (x-reference), a ratio that holds on a busy machine.
func BenchmarkSpeedupOverReference(b *testing.B) {
	list := mustAllowlist(b, benchdoc.Allow...)
	for _, s := range benchSizes {
		doc := benchdoc.Generate(s.size)
		b.Run(s.name, func(b *testing.B) {
			var newTime, refTime time.Duration
			var out []byte
			opts := filterOptions{maxDepth: 64}
			for b.Loop() {
				t0 := time.Now()
				var rep Report
				out, _ = list.filterDocument(out[:0], doc, opts, &rep)
				t1 := time.Now()
				out, _ = list.refFilterDocument(out[:0], doc, opts, &rep)
				newTime += t1.Sub(t0)
				refTime += time.Since(t1)
			}
			b.ReportMetric(float64(refTime)/float64(newTime), "x-reference")
		})
	}
}

// BenchmarkProcess measures the plugin's path: Process on an identity body,
// with a freshly allocated output per response.
func BenchmarkProcess(b *testing.B) {
	p := benchPolicy(b, "")
	for _, s := range benchSizes {
		doc := benchdoc.Generate(s.size)
		b.Run(s.name, func(b *testing.B) {
			d := p.DecideHeaders(jsonMeta())
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				if _, o := p.Process(d, doc, nil); o.Action != ActionReplace {
					b.Fatal(o.Reason)
				}
			}
		})
	}
}

// BenchmarkProcessGzip adds decompression and recompression (BestSpeed).
func BenchmarkProcessGzip(b *testing.B) {
	p := benchPolicy(b, "")
	for _, s := range benchSizes {
		doc := benchdoc.Generate(s.size)
		gz := compress(b, "gzip", doc)
		b.Run(s.name, func(b *testing.B) {
			m := jsonMeta()
			m.ContentEncoding = "gzip"
			d := p.DecideHeaders(m)
			b.SetBytes(int64(len(doc))) // decoded bytes, comparable with the others
			b.ReportAllocs()
			for b.Loop() {
				if _, o := p.Process(d, gz, nil); o.Action != ActionReplace {
					b.Fatal(o.Reason)
				}
			}
		})
	}
}

func benchPolicy(b *testing.B, mode string) *Policy {
	allow, _ := json.Marshal(benchdoc.Allow)
	js := `{"rules":[{"allow":` + string(allow) + mode + `}],"max_body_bytes":4194304}`
	return policyFor(b, newFilter(b, js), "GET", "/")
}

// BenchmarkNaive is the baseline: encoding/json into any, filter the tree,
// marshal. It loses duplicate keys, key order and number spelling, which is
// why the filter does not work this way.
func BenchmarkNaive(b *testing.B) {
	list := mustAllowlist(b, benchdoc.Allow...)
	for _, s := range benchSizes {
		doc := benchdoc.Generate(s.size)
		b.Run(s.name, func(b *testing.B) {
			b.SetBytes(int64(len(doc)))
			b.ReportAllocs()
			for b.Loop() {
				var v any
				if err := json.Unmarshal(doc, &v); err != nil {
					b.Fatal(err)
				}
				out, err := json.Marshal(naiveFilter(v, list.root))
				if err != nil || !gjson.ValidBytes(out) {
					b.Fatal(err)
				}
			}
		})
	}
}

func naiveFilter(v any, n *node) any {
	if n.keep {
		return v
	}
	switch t := v.(type) {
	case map[string]any:
		for k, c := range t {
			cn := n.member(k)
			if cn == nil {
				delete(t, k)
				continue
			}
			if f := naiveFilter(c, cn); f != nil {
				t[k] = f
			} else {
				delete(t, k)
			}
		}
		return t
	case []any:
		if n.anyElem == nil {
			return t[:0]
		}
		out := t[:0]
		for _, c := range t {
			if f := naiveFilter(c, n.anyElem); f != nil {
				out = append(out, f)
			}
		}
		return out
	}
	return nil
}

// BenchmarkFilterParts splits the 1 MiB case into its passes, to see where
// an engine spends the time.
func BenchmarkFilterParts(b *testing.B) {
	doc := benchdoc.Generate(1 << 20)
	b.Run("depth", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !depthWithin(doc, 64) {
				b.Fatal("too deep")
			}
		}
	})
	b.Run("valid", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			if !gjson.ValidBytes(doc) {
				b.Fatal("invalid")
			}
		}
	})
	keepAll := mustAllowlist(b, "data", "meta")
	b.Run("keep-all", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			var rep Report
			out, _ = keepAll.filterDocument(out[:0], doc, filterOptions{maxDepth: 64}, &rep)
		}
	})
	records := mustAllowlist(b, "data.#")
	b.Run("records", func(b *testing.B) {
		b.SetBytes(int64(len(doc)))
		b.ReportAllocs()
		var out []byte
		for b.Loop() {
			var rep Report
			out, _ = records.filterDocument(out[:0], doc, filterOptions{maxDepth: 64}, &rep)
		}
	})
}

// BenchmarkSpeedupOverNaive alternates the filter and the naive baseline on
// the same document, one call each per iteration, and reports how many times
// faster the filter is. Interleaving exposes both to the same machine load,
// so the ratio holds on a busy machine where absolute MB/s do not.
func BenchmarkSpeedupOverNaive(b *testing.B) {
	list := mustAllowlist(b, benchdoc.Allow...)
	for _, s := range benchSizes {
		doc := benchdoc.Generate(s.size)
		b.Run(s.name, func(b *testing.B) {
			var filterTime, naiveTime time.Duration
			var out []byte
			for b.Loop() {
				t0 := time.Now()
				var rep Report
				out, _ = list.filterDocument(out[:0], doc, filterOptions{maxDepth: 64}, &rep)
				t1 := time.Now()
				var v any
				if err := json.Unmarshal(doc, &v); err != nil {
					b.Fatal(err)
				}
				if _, err := json.Marshal(naiveFilter(v, list.root)); err != nil {
					b.Fatal(err)
				}
				filterTime += t1.Sub(t0)
				naiveTime += time.Since(t1)
			}
			b.ReportMetric(float64(naiveTime)/float64(filterTime), "x-naive")
		})
	}
}
