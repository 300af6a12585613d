package wasmhost

import (
	"context"
	mathrand "math/rand/v2"
	"time"
)

// Context and miscellaneous host calls. Mirrors cpp-host src/exports.cc
// set_effective_context, done, call_foreign_function,
// get_current_time_nanoseconds and the gRPC entry points Envoy provides.

const (
	fnSetEffectiveContext   = "proxy_set_effective_context"
	fnDone                  = "proxy_done"
	fnCallForeignFunction   = "proxy_call_foreign_function"
	fnGetCurrentTimeNanos   = "proxy_get_current_time_nanoseconds"
	fnGetStatus             = "proxy_get_status"
	fnClearRouteCache       = "proxy_clear_route_cache"
	fnGRPCCall              = "proxy_grpc_call"
	fnGRPCStream            = "proxy_grpc_stream"
	fnGRPCSend              = "proxy_grpc_send"
	fnGRPCCancel            = "proxy_grpc_cancel"
	fnGRPCClose             = "proxy_grpc_close"
	fnContinueRequest       = "proxy_continue_request"
	fnContinueResponse      = "proxy_continue_response"
	fnGetConfigurationLegcy = "proxy_get_configuration"
)

// noOpForeignFunctions are Envoy foreign functions that need no host state here.
var noOpForeignFunctions = map[string]bool{"clear_route_cache": true}

func contextFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnSetEffectiveContext, params: i32s(1), results: resultI32, fn: hostSetEffectiveContext, doc: spec + fnSetEffectiveContext},
		{name: fnDone, params: nil, results: resultI32, fn: hostDone, doc: spec + fnDone},
		{name: fnCallForeignFunction, params: i32s(6), results: resultI32, fn: hostCallForeignFunction, doc: spec + fnCallForeignFunction},
		{name: fnGetCurrentTimeNanos, params: i32s(1), results: resultI32, fn: hostGetCurrentTime, doc: spec + fnGetCurrentTimeNanos},
		{name: fnGetStatus, params: i32s(3), results: resultI32, fn: hostGetStatus, doc: spec + fnGetStatus},
		{name: fnClearRouteCache, params: nil, results: resultI32, fn: func(_ *vm, s []uint64) { s[0] = uint64(statusOK) }, doc: spec + fnClearRouteCache},
		{name: fnGRPCCall, params: i32s(12), results: resultI32, fn: noGRPCCluster, doc: spec + fnGRPCCall},
		{name: fnGRPCStream, params: i32s(9), results: resultI32, fn: noGRPCCluster, doc: spec + fnGRPCStream},
		{name: fnGRPCSend, params: i32s(4), results: resultI32, fn: grpcNotFound, doc: spec + fnGRPCSend},
		{name: fnGRPCCancel, params: i32s(1), results: resultI32, fn: grpcNotFound, doc: spec + fnGRPCCancel},
		{name: fnGRPCClose, params: i32s(1), results: resultI32, fn: grpcNotFound, doc: spec + fnGRPCClose},
		{name: fnContinueRequest, params: nil, results: resultI32, fn: func(v *vm, s []uint64) { s[0] = 0; hostContinueStream(v, s) }, doc: "ABI 0.1.0"},
		{name: fnContinueResponse, params: nil, results: resultI32, fn: func(v *vm, s []uint64) { s[0] = 1; hostContinueStream(v, s) }, doc: "ABI 0.1.0"},
	}
}

// hostSetEffectiveContext implements proxy_set_effective_context(id).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_set_effective_context
func hostSetEffectiveContext(v *vm, s []uint64) {
	id := uint32(s[0])
	if v.contexts[id] == nil {
		s[0] = uint64(statusBadArgument)
		return
	}
	v.effective = id
	s[0] = uint64(statusOK)
}

// hostDone implements proxy_done: a root context whose on_done returned
// false finishes; on_delete runs after the current VM call.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_done
func hostDone(v *vm, s []uint64) {
	c := v.context()
	root := v.pendingDone[c.rootID]
	if root == nil {
		s[0] = uint64(statusNotFound)
		return
	}
	delete(v.pendingDone, root.id)
	v.deferred = append(v.deferred, func() { v.deleteContext(root) })
	s[0] = uint64(statusOK)
}

// hostCallForeignFunction implements proxy_call_foreign_function: unknown
// names are NOT_FOUND, as cpp-host getForeignFunction.
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_call_foreign_function
func hostCallForeignFunction(v *vm, s []uint64) {
	name, ok := v.readString(uint32(s[0]), uint32(s[1]))
	if _, ok2 := v.read(uint32(s[2]), uint32(s[3])); !ok || !ok2 {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	if !noOpForeignFunctions[name] {
		s[0] = uint64(statusNotFound)
		return
	}
	if r := uint32(s[4]); r != 0 && !v.writeU32(r, 0) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	if r := uint32(s[5]); r != 0 && !v.writeU32(r, 0) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// hostGetCurrentTime implements proxy_get_current_time_nanoseconds from the
// (swappable) wall clock.
func hostGetCurrentTime(v *vm, s []uint64) {
	if !v.writeU64(uint32(s[0]), uint64(v.p.cfg.WallClock().UnixNano())) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// hostGetStatus implements proxy_get_status (gRPC status of the last call): 0, "".
func hostGetStatus(v *vm, s []uint64) {
	if !v.writeU32(uint32(s[0]), 0) || !v.writeU32(uint32(s[1]), 0) || !v.writeU32(uint32(s[2]), 0) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// noGRPCCluster answers gRPC calls as Envoy does for a service it has no
// cluster for.
func noGRPCCluster(_ *vm, s []uint64) { s[0] = uint64(statusBadArgument) }

func grpcNotFound(_ *vm, s []uint64) { s[0] = uint64(statusNotFound) }

// pickVM chooses the worker for a new stream round-robin, as connections
// spread over Envoy workers, and applies FailReload. It returns nil when
// no healthy VM can serve (the failure policy then decides).
func (p *Plugin) pickVM() *vm {
	p.mu.Lock()
	if p.closed || len(p.vms) == 0 {
		p.mu.Unlock()
		return nil
	}
	p.next++
	idx := int(p.next % uint32(len(p.vms)))
	v := p.vms[idx]
	p.mu.Unlock()
	if !v.isFailed() {
		return v
	}
	if p.cfg.FailurePolicy != FailReload {
		return nil
	}
	return p.reload(idx, v)
}

// reload replaces a failed worker with a new VM. Mirrors Envoy
// PluginConfig::maybeReloadHandleIfNeeded: a reload is tried only when a
// jittered interval of at least ReloadBackoff (JitteredLowerBoundBackOff:
// [base, 1.5 x base)) has passed since the last load of that worker, and
// the attempt resets the clock whether or not it succeeds.
func (p *Plugin) reload(idx int, failed *vm) *vm {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	p.mu.Lock()
	cur, config, last := p.vms[idx], p.config, p.lastLoad[idx]
	p.mu.Unlock()
	if cur != failed {
		if cur.isFailed() {
			return nil
		}
		return cur
	}
	base := p.cfg.ReloadBackoff
	interval := base + time.Duration(mathrand.Int64N(int64(base/2)+1))
	now := time.Now()
	if now.Sub(last) < interval {
		return nil
	}
	nv, err := p.newWorker(context.Background(), idx, config)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.lastLoad[idx] = now
	if err != nil || p.closed {
		if nv != nil {
			nv.close()
		}
		return nil
	}
	p.vms[idx] = nv
	p.reloads++
	go failed.close()
	return nv
}
