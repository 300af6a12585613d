package wasmhost

import "time"

// Ticks. Mirrors Envoy context.cc Context::setTimerPeriod and wasm.cc
// Wasm::setTickPeriod / tickHandler: one timer per root context and worker
// VM; period 0 stops it; proxy_on_tick(root_context_id) runs on that VM.

const fnSetTickPeriod = "proxy_set_tick_period_milliseconds"

type tickState struct {
	stop chan struct{}
}

func timerFunctions() []hostFunc {
	return []hostFunc{
		{name: fnSetTickPeriod, params: i32s(1), results: resultI32, fn: hostSetTickPeriod,
			doc: "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_set_tick_period_milliseconds"},
	}
}

// hostSetTickPeriod implements proxy_set_tick_period_milliseconds(period).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_set_tick_period_milliseconds
func hostSetTickPeriod(v *vm, s []uint64) {
	period := time.Duration(uint32(s[0])) * time.Millisecond
	c := v.context()
	root := v.contexts[c.rootID]
	if root == nil {
		s[0] = uint64(statusNotFound)
		return
	}
	root.stopTicker()
	if period > 0 && !v.isCanary() {
		root.ticker = &tickState{stop: make(chan struct{})}
		go v.tickLoop(root.id, period, root.ticker.stop)
	}
	s[0] = uint64(statusOK)
}

// isCanary reports whether v is the throw-away configuration canary. The
// canary's ticks never fire: it is discarded right after configure.
func (v *vm) isCanary() bool { return v.idx < 0 }

func (c *hostContext) stopTicker() {
	if c.ticker != nil {
		close(c.ticker.stop)
		c.ticker = nil
	}
}

func (v *vm) tickLoop(rootID uint32, period time.Duration, stop <-chan struct{}) {
	t := time.NewTicker(period)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		v.mu.Lock()
		select {
		case <-stop:
			v.mu.Unlock()
			return
		default:
		}
		root := v.contexts[rootID]
		if root == nil || v.closed || v.isFailed() {
			v.mu.Unlock()
			return
		}
		v.stack[0] = uint64(rootID)
		_, _ = v.callback(root, v.fn.tick, 0)
		v.mu.Unlock()
	}
}
