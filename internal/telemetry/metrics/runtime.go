package metrics

import (
	"runtime"
	"runtime/metrics"
)

// RuntimeSample is one worker VM's memory state.
type RuntimeSample struct {
	// TotalBytes is all memory the Go runtime has mapped. In a wasip1 module
	// the runtime grows linear memory for its own use only, so this tracks the
	// VM's Wasm linear memory (which never shrinks) closely.
	TotalBytes uint64
	// HeapInUseBytes is the memory held by live and not yet swept heap objects.
	HeapInUseBytes uint64
	// GCCycles is the number of completed GC cycles since the VM started.
	GCCycles uint64
}

// RuntimeReader reads RuntimeSamples through runtime/metrics, which, unlike
// runtime.ReadMemStats, does not stop the world. Keep one per VM: it reuses
// its buffers, so Read does not allocate.
type RuntimeReader struct {
	samples  []metrics.Sample
	lastGC   uint64
	haveLast bool
}

// NewRuntimeReader returns a reader.
func NewRuntimeReader() *RuntimeReader {
	return &RuntimeReader{samples: []metrics.Sample{
		{Name: "/memory/classes/total:bytes"},
		{Name: "/memory/classes/heap/objects:bytes"},
		{Name: "/gc/cycles/total:gc-cycles"},
	}}
}

func sampleUint(s metrics.Sample) uint64 {
	if s.Value.Kind() == metrics.KindUint64 {
		return s.Value.Uint64()
	}
	return 0
}

func (r *RuntimeReader) sample() RuntimeSample {
	metrics.Read(r.samples)
	return RuntimeSample{
		TotalBytes:     sampleUint(r.samples[0]),
		HeapInUseBytes: sampleUint(r.samples[1]),
		GCCycles:       sampleUint(r.samples[2]),
	}
}

// Read samples the runtime and returns the sample and the number of GC
// cycles completed since the previous Read (0 on the first).
func (r *RuntimeReader) Read() (RuntimeSample, uint64) {
	s := r.sample()
	var delta uint64
	if r.haveLast && s.GCCycles >= r.lastGC {
		delta = s.GCCycles - r.lastGC
	}
	r.lastGC, r.haveLast = s.GCCycles, true
	return s, delta
}

// ForceGC runs a full collection and returns the heap bytes it freed. The
// cycle it adds shows up in the next Read's GC delta.
func (r *RuntimeReader) ForceGC() uint64 {
	before := r.sample()
	runtime.GC()
	after := r.sample()
	if after.HeapInUseBytes >= before.HeapInUseBytes {
		return 0
	}
	return before.HeapInUseBytes - after.HeapInUseBytes
}
