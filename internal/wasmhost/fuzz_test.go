package wasmhost

import (
	"context"
	"errors"
	"runtime"
	"testing"
)

// FuzzHostFunctions calls every host function with arbitrary arguments in
// the context of a live stream: out-of-range pointers, sizes and enum
// values must come back as status codes, never as a Go runtime panic. A
// deliberate trap (a panic carrying an error, as a forbidden or failed
// guest allocation raises) is allowed; the VM is then replaced.
func FuzzHostFunctions(f *testing.F) {
	cfg := conformanceConfig("plain")
	p := startConformance(f, Options{LogLevel: LogCritical}, cfg)
	newVM := func() *vm {
		v, err := p.newWorker(context.Background(), 0, p.config)
		if err != nil {
			f.Fatal(err)
		}
		return v
	}
	v := newVM()
	f.Cleanup(func() { v.close() })
	f.Add(uint8(0), uint64(2), uint64(16), uint64(4), uint64(1024), uint64(1028), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0))
	f.Add(uint8(7), uint64(0), uint64(1<<31), uint64(1<<32-1), uint64(0), uint64(8), uint64(0), uint64(0), uint64(0), uint64(0), uint64(0))
	f.Fuzz(func(t *testing.T, which uint8, a0, a1, a2, a3, a4, a5, a6, a7, a8, a9 uint64) {
		fns := v.m.hostFns
		hf := fns[int(which)%len(fns)]
		switch hf.name {
		case "proc_exit", fnSetTickPeriod, fnHTTPCall:
			return // trap by design; timers and callouts outlive the call
		}
		stack := []uint64{a0, a1, a2, a3, a4, a5, a6, a7, a8, a9}
		trapped := func() (trapped bool) {
			v.mu.Lock()
			defer v.mu.Unlock()
			s := &stream{p: p, v: v, wake: make(chan struct{}, 1)}
			s.reqHeaders.present, s.respHeaders.present = true, true
			s.reqHeaders.add(":path", "/")
			s.ctxStore = hostContext{id: 1 << 30, rootID: v.root.id, s: s}
			s.ctx = &s.ctxStore
			v.contexts[s.ctx.id] = s.ctx
			v.cur = s.ctx
			defer func() {
				delete(v.contexts, s.ctx.id)
				v.cur, v.effective, v.touched = nil, 0, v.touched[:0]
				if r := recover(); r != nil {
					var re runtime.Error
					if err, ok := r.(error); !ok || errors.As(err, &re) {
						t.Fatalf("%s panicked: %v", hf.name, r)
					}
					trapped = true
				}
			}()
			hf.fn(v, stack)
			return false
		}()
		if trapped {
			v.close()
			v = newVM()
		}
	})
}
