package wasmhost

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/experimental"
)

// errVMFailed is returned for calls into a VM that has trapped.
var errVMFailed = errors.New("wasmhost: vm failed")

// vm is one worker: a module instance serialised by mu, as an Envoy worker
// thread owns its thread-local Wasm clone. Mirrors cpp-host
// include/proxy-wasm/wasm.h WasmBase.
type vm struct {
	p   *Plugin
	m   *Module
	idx int // worker index; -1 for the canary or a reload in progress

	mu  sync.Mutex // held for every call into the guest
	ctx context.Context
	mod api.Module
	mem api.Memory
	fn  guestExports

	// stack is reused by every callback; allocStack by the guest allocator,
	// which runs nested inside host calls.
	stack      [8]uint64
	allocStack [1]uint64

	// allowed restricts host calls during _initialize and allocation; nil
	// means unrestricted. Mirrors WasmVm::setRestrictedCallback.
	allowed         []bool
	restrictedPhase string
	allocs          int    // guest allocations in the running host call
	allocsTotal     uint64 // guest allocations the host asked for, ever
	logSeq          uint64 // first log line of the current startRoot

	failed  atomic.Bool
	trapMsg string
	// Head and tail of the guest's stderr, for trap messages.
	stderrHead, stderr []byte

	nextID      uint32
	contexts    map[uint32]*hostContext
	root        *hostContext
	pendingDone map[uint32]*hostContext
	cur         *hostContext // context of the running callback
	curFn       api.Function // the running callback, for PollOneoffCalls
	effective   uint32       // proxy_set_effective_context target, 0 = none
	touched     []*stream    // streams with deferred actions from this call
	deferred    []func()     // after-VM-call actions (addAfterVmCallAction)
	nextCallout uint32
	callouts    map[uint32]context.CancelFunc
	metrics     vmMetrics
	sharedData  *SharedData
	closed      bool
}

// guestExports caches every callback handle once: looking up
// ExportedFunction per call costs about 1.6 µs.
type guestExports struct {
	malloc, contextCreate, vmStart, configure                                    api.Function
	requestHeaders, requestBody, requestTrailers                                 api.Function
	responseHeaders, responseBody, responseTrailers                              api.Function
	httpCallResponse, queueReady, tick, log, done, delete, foreignFunctionResult api.Function
}

// hostContext is a root (plugin) context or an HTTP stream context.
type hostContext struct {
	id, rootID  uint32
	isRoot      bool
	config      []byte // root: plugin configuration
	configuring bool   // root: inside proxy_on_configure (buffer 7 readable)
	starting    bool   // root: inside proxy_on_vm_start (buffer 6 readable)
	s           *stream
	props       map[string][]byte // set_property values
	ticker      *tickState
	streams     int            // root: streams started under this configuration, still running
	retired     bool           // root: replaced by a new configuration
	callResp    *calloutResult // root: inside proxy_on_http_call_response
}

// newVM instantiates the module and runs _initialize under the restricted
// allow-list, with real clocks and crypto randomness.
func (p *Plugin) newVM(ctx context.Context, idx int) (*vm, error) {
	v := &vm{p: p, m: p.m, idx: idx, nextID: 1, contexts: map[uint32]*hostContext{},
		pendingDone: map[uint32]*hostContext{}, callouts: map[uint32]context.CancelFunc{}}
	v.metrics.init()
	v.ctx = context.WithValue(experimental.WithMemoryAllocator(context.Background(), memoryAllocator), vmKey{}, v)
	// The WASI functions are the host's own (wasi.go), so the wazero clock
	// and randomness settings below only matter to wazero internals; they
	// are set so no fake clock can ever leak in.
	cfg := wazero.NewModuleConfig().WithName("").WithStartFunctions("_initialize").
		WithSysNanotime().WithSysWalltime().WithRandSource(rand.Reader)
	v.allowed, v.restrictedPhase = p.m.initAllowed, "_initialize"
	mod, err := p.m.runtime.InstantiateModule(v.ctx, p.m.compiled, cfg)
	v.allowed, v.restrictedPhase = nil, ""
	if err != nil {
		if mod != nil {
			_ = mod.Close(ctx)
		}
		msg := v.failure(err)
		p.logs.addTrap(msg)
		return nil, fmt.Errorf("_initialize: %s", msg)
	}
	v.mod = mod
	v.mem = mod.Memory()
	if v.mem == nil {
		_ = mod.Close(ctx)
		return nil, errors.New("module has no memory")
	}
	f := &v.fn
	f.malloc = mod.ExportedFunction(p.m.malloc)
	for name, dst := range map[string]*api.Function{
		"proxy_on_context_create": &f.contextCreate, "proxy_on_vm_start": &f.vmStart,
		"proxy_on_configure": &f.configure, "proxy_on_request_headers": &f.requestHeaders,
		"proxy_on_request_body": &f.requestBody, "proxy_on_request_trailers": &f.requestTrailers,
		"proxy_on_response_headers": &f.responseHeaders, "proxy_on_response_body": &f.responseBody,
		"proxy_on_response_trailers": &f.responseTrailers, "proxy_on_http_call_response": &f.httpCallResponse,
		"proxy_on_queue_ready": &f.queueReady, "proxy_on_tick": &f.tick, "proxy_on_log": &f.log,
		"proxy_on_done": &f.done, "proxy_on_delete": &f.delete,
		"proxy_on_foreign_function": &f.foreignFunctionResult,
	} {
		*dst = mod.ExportedFunction(name) // nil when absent: the callback is skipped
	}
	return v, nil
}

// startRoot creates a root context and runs vm_start and configure, as
// cpp-host WasmBase::start and WasmBase::configure do. Caller holds v.mu.
func (v *vm) startRoot(config []byte) (*hostContext, error) {
	v.logSeq = v.p.logs.nextSeq()
	root := &hostContext{id: v.allocID(), isRoot: true, config: config}
	root.rootID = root.id
	v.contexts[root.id] = root
	v.stack[0], v.stack[1] = uint64(root.id), 0
	if _, err := v.callback(root, v.fn.contextCreate, 0); err != nil {
		return nil, err
	}
	root.starting = true
	v.stack[0], v.stack[1] = uint64(root.id), uint64(len(v.p.cfg.VMConfiguration))
	ok, err := v.callback(root, v.fn.vmStart, 1)
	root.starting = false
	if err != nil {
		return nil, err
	}
	if uint32(ok) == 0 {
		delete(v.contexts, root.id)
		return nil, fmt.Errorf("proxy_on_vm_start returned false%s", v.p.logs.recentErrors(v.idx, v.logSeq))
	}
	root.configuring = true
	v.stack[0], v.stack[1] = uint64(root.id), uint64(len(config))
	ok, err = v.callback(root, v.fn.configure, 1)
	root.configuring = false
	if err != nil {
		return nil, err
	}
	if uint32(ok) == 0 {
		delete(v.contexts, root.id)
		return nil, fmt.Errorf("plugin rejected its configuration (proxy_on_configure returned false)%s", v.p.logs.recentErrors(v.idx, v.logSeq))
	}
	v.root = root
	return root, nil
}

// retireRoot retires a root replaced by a new configuration. Its streams
// keep it alive, as they keep Envoy's plugin handle; the last one to
// finish shuts it down. Caller holds v.mu.
func (v *vm) retireRoot(root *hostContext) {
	root.retired = true
	root.stopTicker()
	if root.streams == 0 {
		v.shutdownRoot(root)
	}
}

// shutdownRoot mirrors WasmBase::startShutdown: on_done, then on_delete if
// the plugin is done, else it waits for proxy_done. Caller holds v.mu.
func (v *vm) shutdownRoot(root *hostContext) {
	root.stopTicker()
	v.stack[0] = uint64(root.id)
	done, err := v.callback(root, v.fn.done, 1)
	if err != nil {
		return
	}
	if uint32(done) == 0 {
		v.pendingDone[root.id] = root
		return
	}
	v.deleteContext(root)
}

func (v *vm) deleteContext(c *hostContext) {
	v.stack[0] = uint64(c.id)
	_, _ = v.callback(c, v.fn.delete, 0)
	delete(v.contexts, c.id)
}

func (v *vm) allocID() uint32 {
	for {
		id := v.nextID
		v.nextID++
		if id != 0 && v.contexts[id] == nil {
			return id
		}
	}
}

// callback calls a guest export with its arguments already in v.stack. A
// callback the module does not export returns def, as cpp-host does for
// missing functions. Caller holds v.mu.
func (v *vm) callback(c *hostContext, fn api.Function, def uint64) (uint64, error) {
	if v.failed.Load() || v.closed {
		return 0, errVMFailed
	}
	if fn == nil {
		return def, nil
	}
	prev, prevEff, prevFn := v.cur, v.effective, v.curFn
	v.cur, v.effective, v.curFn = c, 0, fn
	var err error
	if hook := v.m.opts.ProfileHook; hook != nil {
		start := time.Now()
		err = fn.CallWithStack(v.ctx, v.stack[:])
		hook(exportName(fn), true, time.Since(start))
	} else {
		err = fn.CallWithStack(v.ctx, v.stack[:])
	}
	v.cur, v.effective, v.curFn = prev, prevEff, prevFn
	if err != nil {
		v.fail(err)
		return 0, errVMFailed
	}
	res := v.stack[0]
	if prev == nil {
		v.afterCall()
	}
	return res, nil
}

// exportName names a guest callback for Options.ProfileHook.
func exportName(fn api.Function) string {
	if names := fn.Definition().ExportNames(); len(names) > 0 {
		return names[0]
	}
	return fn.Definition().Name()
}

// afterCall runs actions deferred until the VM call returns (cpp-host
// addAfterVmCallAction) and wakes streams that got continue_stream or a
// local reply from another context.
func (v *vm) afterCall() {
	for len(v.deferred) > 0 {
		d := v.deferred[0]
		v.deferred = v.deferred[1:]
		d()
	}
	for i, s := range v.touched {
		s.wakeUp()
		v.touched[i] = nil
	}
	v.touched = v.touched[:0]
}

// context returns the context host calls act on: the effective context if
// set and alive, else the running one. Mirrors contextOrEffectiveContext.
func (v *vm) context() *hostContext {
	if v.effective != 0 {
		if c := v.contexts[v.effective]; c != nil {
			return c
		}
	}
	return v.cur
}

// trap aborts the running guest call; the VM is then failed.
func (v *vm) trap(msg string) {
	v.trapMsg = msg
	panic(errors.New("wasmhost: trap: " + msg))
}

// failure builds the message kept for a trap: the trap error plus the tail
// of the guest's stderr (a Go panic message, "fatal error: ...").
func (v *vm) failure(err error) string {
	msg := err.Error()
	if v.trapMsg != "" && !strings.Contains(msg, v.trapMsg) {
		msg = v.trapMsg + ": " + msg
	}
	if len(v.stderrHead) > 0 {
		msg += "\nguest stderr:\n" + string(v.stderrHead)
		if len(v.stderr) > 0 {
			msg += "\n...\n" + string(v.stderr)
		}
		msg = strings.TrimRight(msg, "\n")
	}
	return msg
}

// fail marks the VM failed after a trap, as WasmVm::fail(RuntimeError).
func (v *vm) fail(err error) {
	if v.failed.Swap(true) {
		return
	}
	msg := v.failure(err)
	v.p.logs.addTrap(msg)
	v.p.logs.add(v, LogCritical, "wasm trap: "+msg)
	for _, c := range v.contexts {
		c.stopTicker()
	}
	for id, cancel := range v.callouts {
		cancel()
		delete(v.callouts, id)
	}
	// Paused streams of this VM wake up and fail instead of waiting for a
	// continue that can no longer come.
	for _, c := range v.contexts {
		if c.s != nil {
			c.s.wakeUp()
		}
	}
	v.touched = v.touched[:0]
	v.deferred = nil
}

func (v *vm) isFailed() bool { return v.failed.Load() }

// close stops the VM: tickers, callouts and the module instance.
func (v *vm) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return
	}
	v.closed = true
	for _, c := range v.contexts {
		c.stopTicker()
	}
	for _, cancel := range v.callouts {
		cancel()
	}
	if v.mod != nil {
		_ = v.mod.Close(context.Background())
	}
}
