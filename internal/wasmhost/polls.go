package wasmhost

import (
	"maps"
	"sync"
)

// PollOneoffCalls counts a guest's WASI poll_oneoff calls in one phase.
//
// Go's wasip1 runtime calls poll_oneoff from its network poller, always with
// a clock subscription: with timeout 0 at every start-the-world (each GC),
// and with the time to the next timer when it has nothing else to run.
// Envoy never sleeps in poll_oneoff (ENOSYS before cpp-host #533, "no events"
// at once after it), so a guest that waits on a timer inside a callback
// spins until the timer fires: ClockWaits must stay 0.
type PollOneoffCalls struct {
	// Calls is every poll_oneoff call.
	Calls int
	// Clock is the calls with a clock subscription.
	Clock int
	// ClockWaits is the calls whose clock subscription has a timeout above
	// zero: a wait for a timer.
	ClockWaits int
}

// pollCounter keeps PollOneoffCalls by phase for a Plugin.
type pollCounter struct {
	mu sync.Mutex
	by map[string]PollOneoffCalls
}

// PollOneoffCalls returns the guest's poll_oneoff calls so far, by phase:
// "_initialize", the allocator ("proxy_on_memory_allocate" or "malloc"), or
// the export name of the running callback ("proxy_on_request_headers", ...).
func (p *Plugin) PollOneoffCalls() map[string]PollOneoffCalls {
	p.polls.mu.Lock()
	defer p.polls.mu.Unlock()
	return maps.Clone(p.polls.by)
}

// WASI subscription layout (wasi_snapshot_preview1 subscription): 48 bytes,
// the union's tag at offset 8 (0 = clock), the clock's timeout at offset 24.
const (
	subscriptionSize   = 48
	subscriptionTag    = 8
	subscriptionExpiry = 24
)

// countPoll records one poll_oneoff call with nsubs subscriptions at in.
func (v *vm) countPoll(in, nsubs uint32) {
	var c PollOneoffCalls
	c.Calls = 1
	for i := uint32(0); i < nsubs && i < 1024; i++ {
		sub, ok := v.read(in+i*subscriptionSize, subscriptionSize)
		if !ok {
			break
		}
		if sub[subscriptionTag] != 0 {
			continue
		}
		c.Clock = 1
		var timeout uint64
		for b := 7; b >= 0; b-- {
			timeout = timeout<<8 | uint64(sub[subscriptionExpiry+b])
		}
		if timeout > 0 {
			c.ClockWaits = 1
		}
	}
	phase := v.restrictedPhase
	if phase == "" && v.curFn != nil {
		phase = exportName(v.curFn)
	}
	pc := &v.p.polls
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if pc.by == nil {
		pc.by = map[string]PollOneoffCalls{}
	}
	cur := pc.by[phase]
	cur.Calls += c.Calls
	cur.Clock += c.Clock
	cur.ClockWaits += c.ClockWaits
	pc.by[phase] = cur
}
