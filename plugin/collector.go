package main

import (
	"runtime"
	"time"
)

// yieldInterval is the least time between two yieldToCollector yields of
// a worker.
const yieldInterval = 2 * time.Millisecond

// yieldToCollector lets the Go runtime run its other goroutines, the
// garbage collector's mark workers, at the end of a stream that ran a
// policy, at most once per yieldInterval.
//
// A guest callback never blocks, so without a yield those workers never get
// a turn: once a collection starts, its marking drags on over hundreds of
// requests, and all that time the write barrier is on (every pointer
// stored into the heap is queued and shaded, every struct copied or
// cleared has its pointers scanned). In a demo request profiled under
// wazero that was about 8% of the guest's time. A yield costs about 13 µs
// there (Go's Wasm port unwinds and rewinds the stack to switch
// goroutines), so it is rationed: about one per 2 ms of a busy worker's
// time, and none after a pass-through stream, which allocates nothing of
// its own to start a collection.
func (p *pluginContext) yieldToCollector(ranPolicy bool) {
	if !ranPolicy {
		return
	}
	if now := p.clock(); now-p.yielded >= yieldInterval {
		p.yielded = now
		runtime.Gosched()
	}
}
