package inventory

import (
	"strings"
	"testing"
)

// BenchmarkLongValue is the filter's pass and the Observer over a
// response holding one 256 KiB string (longText follows all of it).
func BenchmarkLongValue(b *testing.B) {
	c := testClassifier(b)
	doc := []byte(`{"v":"` + strings.Repeat("Lorem ipsum dolor sit amet, ", (256<<10)/28) + `"}`)
	list := respfilterAllowAll(b)
	d := decideJSON(list)
	r := NewResponse(c)
	o := NewObserver(r)
	var out []byte
	b.Run("inspector", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			r.Reset()
			out, _ = list.AppendProcessInspected(out[:0], d, doc, nil, r)
		}
	})
	b.Run("observer", func(b *testing.B) {
		b.ReportAllocs()
		b.SetBytes(int64(len(doc)))
		for b.Loop() {
			r.Reset()
			o.Reset()
			o.Write(doc)
			o.Close()
		}
	})
}
