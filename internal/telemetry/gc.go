package telemetry

import "time"

// GCPolicy decides when the plugin calls runtime.GC(). A Wasm VM's memory
// never shrinks, so a VM that lets its heap double between automatic
// collections keeps the peak forever; collecting early keeps the peak low at
// the price of CPU on the request path. It is a pure state machine: the
// plugin reports events and calls ForceGC when told to.
type GCPolicy struct {
	cfg      GCConfig
	requests uint64
	last     time.Time
}

// NewGCPolicy returns the policy for cfg (validated by GCConfig.Validate).
func NewGCPolicy(cfg GCConfig) *GCPolicy { return &GCPolicy{cfg: cfg} }

func (p *GCPolicy) due(now time.Time) bool {
	return p.last.IsZero() || now.Sub(p.last) >= p.cfg.minInterval()
}

// RequestDone is called at the end of every stream; true means call ForceGC.
func (p *GCPolicy) RequestDone(now time.Time) bool {
	if p.cfg.Mode != GCEveryRequests {
		return false
	}
	p.requests++
	if p.requests < uint64(p.cfg.EveryRequests) || !p.due(now) {
		return false
	}
	p.requests = 0
	p.last = now
	return true
}

// Tick is called on every tick with the current heap in use; true means call
// ForceGC.
func (p *GCPolicy) Tick(now time.Time, heapInUseBytes uint64) bool {
	if p.cfg.Mode != GCHeapAbove || heapInUseBytes < uint64(p.cfg.HeapAboveBytes) || !p.due(now) {
		return false
	}
	p.last = now
	return true
}
