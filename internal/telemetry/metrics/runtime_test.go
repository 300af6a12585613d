package metrics

import (
	"runtime"
	"testing"
)

func TestRuntimeReaderAndForcedGC(t *testing.T) {
	r := NewRuntimeReader()
	s, d := r.Read()
	if s.TotalBytes == 0 || s.HeapInUseBytes == 0 || d != 0 {
		t.Fatalf("first sample %+v delta %d", s, d)
	}
	garbage := make([][]byte, 0, 256)
	for i := 0; i < 256; i++ {
		garbage = append(garbage, make([]byte, 16<<10))
	}
	runtime.KeepAlive(garbage)
	garbage = nil
	r.ForceGC()
	if _, d := r.Read(); d < 1 {
		t.Errorf("forced GC not seen in the next delta (%d)", d)
	}
}

func BenchmarkRuntimeRead(b *testing.B) {
	r := NewRuntimeReader()
	b.ReportAllocs()
	for b.Loop() {
		r.Read()
	}
}
