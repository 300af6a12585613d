package wasmhost

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
)

// Options configure a compiled Module and every plugin started from it.
type Options struct {
	// Envoy is the Envoy release line to reproduce (envoy.go): its WASI set,
	// its poll_oneoff, its restricted-call lists during _initialize and
	// allocation, and whether allow_on_headers_stop_iteration exists. Nil
	// means EnvoyMain, the newest.
	Envoy *EnvoyProfile
	// LogLevel is what proxy_get_log_level reports; guest messages below it
	// are dropped, as Envoy's logger does. The default is LogTrace.
	LogLevel LogLevel
	// LogWriter, when set, receives every captured guest log line.
	LogWriter io.Writer
	// Env holds the VM's environment variables
	// (Envoy VmConfig.environment_variables.key_values).
	Env map[string]string
	// Stats is the metric store. Envoy's metric names are process-wide, so
	// plugins that share a Stats share names. Nil means a new store per Module.
	Stats *Stats
	// SharedState holds shared data and shared queues, which Envoy keeps
	// per process and keys by vm_id: Modules given the same SharedState see
	// the same keys, as old and new module versions do during a rollout.
	// Nil means a new state per Module.
	SharedState *SharedState
	// CompilationCache, when set, shares compiled machine code between
	// Modules built from the same bytes (tests compile once per binary).
	CompilationCache wazero.CompilationCache
	// ProfileHook, when set, is told of every call across the boundary, for
	// profiling: each host call the guest makes (guest false; its ABI name,
	// such as "proxy_get_header_map_value" or "clock_time_get", and the
	// time spent in the host, guest allocations included) and each guest
	// callback the host makes (guest true; its export name, such as
	// "proxy_on_request_headers", and its whole duration, the host calls it
	// made included). It runs with the VM's lock held, so it must be quick
	// and must not call the Plugin. Nil costs nothing on the call path.
	ProfileHook func(name string, guest bool, elapsed time.Duration)
	// MemoryLimitBytes caps each VM's linear memory. The default and the
	// most it can be is cpp-host's 1 GiB
	// (include/proxy-wasm/limits.h PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES):
	// past it memory.grow fails, the Go runtime aborts, and the VM dies.
	// Tests set less to reach the cap quickly.
	MemoryLimitBytes uint64
}

// maxMemoryBytes is cpp-host's PROXY_WASM_HOST_MAX_WASM_MEMORY_SIZE_BYTES;
// wasmPageSize its PROXY_WASM_HOST_WASM_MEMORY_PAGE_SIZE_BYTES.
const (
	maxMemoryBytes = 1 << 30
	wasmPageSize   = 64 << 10
)

// Module is a compiled Proxy-Wasm module: compile once, start many plugins.
type Module struct {
	opts     Options
	runtime  wazero.Runtime
	compiled wazero.CompiledModule
	abi      string
	malloc   string
	hostFns  []hostFunc
	// initAllowed and mallocAllowed are indexed by hostFunc.id.
	initAllowed   []bool
	mallocAllowed []bool

	stats  *Stats
	shared *sharedDataStore
	queues *queueStore
	envs   []string // "k=v", sorted
}

// Compile validates and compiles a Proxy-Wasm module. It fails if the module
// imports anything Envoy does not provide or lacks an export Envoy requires.
func Compile(ctx context.Context, wasm []byte, opts Options) (*Module, error) {
	state := opts.SharedState
	if state == nil {
		state = NewSharedState()
	}
	m := &Module{opts: opts, stats: opts.Stats, shared: state.data, queues: state.queues}
	if m.stats == nil {
		m.stats = NewStats()
	}
	for k, v := range opts.Env {
		m.envs = append(m.envs, k+"="+v)
	}
	sort.Strings(m.envs)
	limit := uint64(maxMemoryBytes)
	if opts.MemoryLimitBytes > 0 && opts.MemoryLimitBytes < limit {
		limit = opts.MemoryLimitBytes
	}
	rc := wazero.NewRuntimeConfigCompiler().WithCloseOnContextDone(false).
		WithMemoryLimitPages(uint32(limit / wasmPageSize))
	if opts.CompilationCache != nil {
		rc = rc.WithCompilationCache(opts.CompilationCache)
	}
	m.runtime = wazero.NewRuntimeWithConfig(ctx, rc)
	m.hostFns = m.hostFunctions()
	if err := m.instantiateHostModules(ctx); err != nil {
		_ = m.runtime.Close(ctx)
		return nil, fmt.Errorf("wasmhost: compile: %w", err)
	}
	compiled, err := m.runtime.CompileModule(ctx, wasm)
	if err != nil {
		_ = m.runtime.Close(ctx)
		return nil, fmt.Errorf("wasmhost: compile: %w", err)
	}
	m.compiled = compiled
	if err := m.validate(); err != nil {
		_ = m.runtime.Close(ctx)
		return nil, fmt.Errorf("wasmhost: compile: %w", err)
	}
	return m, nil
}

// Close releases the runtime and every VM started from it.
func (m *Module) Close(ctx context.Context) error {
	if err := m.runtime.Close(ctx); err != nil {
		return fmt.Errorf("wasmhost: close: %w", err)
	}
	return nil
}

// Stats returns the module's metric store.
func (m *Module) Stats() *Stats { return m.stats }

// ABIVersion reports the proxy_abi_version_* export of the module.
func (m *Module) ABIVersion() string { return m.abi }

// requiredExports are the callbacks a module cannot run an HTTP plugin
// without. Mirrors cpp-host WasmBase::getFunctions, which is lenient, made
// strict so mistakes show at load time. proxy_on_done is optional, as in
// cpp-host: ContextBase::onDone answers true (done) when it is absent, and
// apiguard does not export it.
var requiredExports = []string{
	"proxy_on_context_create", "proxy_on_vm_start", "proxy_on_configure",
	"proxy_on_request_headers", "proxy_on_response_headers", "proxy_on_delete",
}

// validate checks imports and exports at load time with precise errors,
// as http-wasm-host-go does. Mirrors cpp-host src/bytecode_util.cc
// (getAbiVersion) and WasmBase::getFunctions.
func (m *Module) validate() error {
	var missing, mismatched []string
	for _, imp := range m.compiled.ImportedFunctions() {
		modName, name, _ := imp.Import()
		f := m.provides(modName, name)
		switch {
		case f == nil:
			missing = append(missing, modName+"."+name)
		case !slices.Equal(imp.ParamTypes(), f.params) || !slices.Equal(imp.ResultTypes(), f.results):
			// V8 refuses to link such an import in Envoy.
			mismatched = append(mismatched, fmt.Sprintf("%s.%s with %d parameters (Envoy declares %d)",
				modName, name, len(imp.ParamTypes()), len(f.params)))
		}
	}
	if len(missing) > 0 {
		envoy := m.envoy()
		return fmt.Errorf("module imports %s, which Envoy does not provide (profile %s: %s, %s)",
			strings.Join(missing, ", "), envoy.Name, envoy.Releases, envoy.CppHost)
	}
	if len(mismatched) > 0 {
		return fmt.Errorf("module imports %s, a signature Envoy does not provide", strings.Join(mismatched, ", "))
	}
	exports := m.compiled.ExportedFunctions()
	var versions []string
	for name := range exports {
		if strings.HasPrefix(name, "proxy_abi_version_") {
			versions = append(versions, name)
		}
	}
	sort.Strings(versions)
	switch {
	case len(versions) == 0:
		return errors.New("module exports no proxy_abi_version_* function")
	case len(versions) > 1:
		return fmt.Errorf("module exports %d ABI versions (%s); export exactly one", len(versions), strings.Join(versions, ", "))
	case versions[0] != abiVersion020 && versions[0] != abiVersion021:
		return fmt.Errorf("module exports unsupported ABI version %s", versions[0])
	}
	m.abi = versions[0]
	if _, ok := m.compiled.ExportedMemories()["memory"]; !ok {
		return errors.New(`module does not export its memory as "memory"`)
	}
	switch {
	case exports["malloc"] != nil:
		m.malloc = "malloc"
	case exports["proxy_on_memory_allocate"] != nil:
		m.malloc = "proxy_on_memory_allocate"
	default:
		return errors.New("module exports neither malloc nor proxy_on_memory_allocate")
	}
	for _, name := range requiredExports {
		if exports[name] == nil {
			return fmt.Errorf("module does not export %s", name)
		}
	}
	if m.abi == abiVersion020 {
		for _, imp := range m.compiled.ImportedFunctions() {
			if _, name, _ := imp.Import(); name == fnGetLogLevel {
				return fmt.Errorf("module exports %s but imports %s, which only ABI 0.2.1 has", abiVersion020, fnGetLogLevel)
			}
		}
	}
	return nil
}

func (m *Module) provides(module, name string) *hostFunc {
	for i := range m.hostFns {
		f := &m.hostFns[i]
		if f.name != name {
			continue
		}
		if f.wasi && (module == wasiSnapshot || module == wasiUnstable) {
			return f
		}
		if !f.wasi && module == "env" {
			return f
		}
	}
	return nil
}

// FailurePolicy decides what later requests get once a VM has trapped.
// Mirrors Envoy's PluginConfig.failure_policy.
type FailurePolicy int

const (
	// FailClosed answers every later request 503 wasm_fail_stream (the default).
	FailClosed FailurePolicy = iota
	// FailOpen passes later requests to the upstream without the plugin.
	FailOpen
	// FailReload creates a new VM for the next request, with backoff; while
	// it cannot, requests fail closed.
	FailReload
)

func (f FailurePolicy) String() string {
	switch f {
	case FailClosed:
		return "FAIL_CLOSED"
	case FailOpen:
		return "FAIL_OPEN"
	case FailReload:
		return "FAIL_RELOAD"
	}
	return "UNKNOWN"
}

// PluginConfig is the Envoy PluginConfig / VmConfig of one plugin.
type PluginConfig struct {
	Name, RootID, VMID string
	// VMConfiguration is VmConfig.configuration (buffer 6, read in vm_start).
	VMConfiguration []byte
	// Configuration is PluginConfig.configuration (buffer 7, read in configure).
	Configuration []byte
	// Workers is the number of worker VMs (Envoy --concurrency). Default 1.
	Workers int
	// Clusters maps proxy_http_call cluster names to base URLs such as
	// "http://127.0.0.1:8081"; the call's :path is appended.
	Clusters map[string]string
	// FailurePolicy decides later requests after a trap. Default FailClosed.
	FailurePolicy FailurePolicy
	// ReloadBackoff is Envoy's reload_config.backoff.base_interval: a
	// FailReload attempt waits a jittered [1, 1.5) x ReloadBackoff since the
	// worker's last load. Default 1 s.
	ReloadBackoff time.Duration
	// AllowOnHeadersStopIteration mirrors Envoy 1.35+
	// PluginConfig.allow_on_headers_stop_iteration: PAUSE from a headers
	// callback is StopIteration instead of StopAllIterationAndWatermark.
	AllowOnHeadersStopIteration bool
	// BufferLimit bounds a paused body (Envoy's per-connection buffer limit).
	// Default 1 MiB.
	BufferLimit int
	// ChunkSize is the body size handed to each body callback. Default 16 KiB.
	ChunkSize int
	// StreamTimeout bounds how long a paused stream waits for
	// continue_stream or a local reply. Default 15 s (Envoy's route timeout).
	StreamTimeout time.Duration
	// WallClock replaces the WASI realtime clock and
	// proxy_get_current_time_nanoseconds; monotonic time stays real.
	WallClock func() time.Time
	// NoConnectionManagerHeaders stops the host from adding what Envoy's
	// connection manager adds before the filters run: x-request-id (a
	// random UUID) and x-forwarded-proto, when the request lacks them.
	NoConnectionManagerHeaders bool
	// UseRemoteAddress mirrors the connection manager's use_remote_address:
	// true (Envoy's recommended edge setting, and envoy/envoy.yaml's): the
	// peer address is appended to x-forwarded-for before the filters run,
	// so the plugin's client_ip.trusted_hops counts it.
	UseRemoteAddress bool
	// Properties adds or overrides properties, keyed by the dotted path
	// ("node.id", "node.cluster", "xds.cluster_name").
	Properties map[string][]byte
	// RouteName names the route Envoy's route table would pick for a
	// request: the stream's xds.route_name (Envoy's route `name`). Nil
	// leaves xds.route_name to Properties, the same for every stream.
	RouteName func(*http.Request) string
}

func (c *PluginConfig) applyDefaults() {
	if c.Workers <= 0 {
		c.Workers = 1
	}
	if c.BufferLimit <= 0 {
		c.BufferLimit = 1 << 20
	}
	if c.ChunkSize <= 0 {
		c.ChunkSize = 16 << 10
	}
	if c.StreamTimeout <= 0 {
		c.StreamTimeout = 15 * time.Second
	}
	if c.ReloadBackoff <= 0 {
		c.ReloadBackoff = time.Second
	}
	if c.WallClock == nil {
		c.WallClock = time.Now
	}
}

// Plugin is a started plugin: N worker VMs with a configured root context.
type Plugin struct {
	m      *Module
	cfg    PluginConfig
	props  map[string][]byte // NUL-joined path -> value
	client *http.Client
	logs   logStore

	mu       sync.Mutex // guards config, vms, closed
	config   []byte
	vms      []*vm
	next     uint32 // round-robin counter
	closed   bool
	monoBase time.Time

	polls pollCounter

	reloadMu sync.Mutex  // serialises FailReload attempts
	lastLoad []time.Time // per worker: last VM load or reload attempt
	reloads  int
}

// Reloads reports how many failed VMs FailReload has replaced.
func (p *Plugin) Reloads() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.reloads
}

// Start runs the configuration canary, then starts cfg.Workers worker VMs,
// each running _initialize, proxy_on_vm_start and proxy_on_configure.
func (m *Module) Start(ctx context.Context, cfg PluginConfig) (*Plugin, error) {
	if envoy := m.envoy(); cfg.AllowOnHeadersStopIteration && !envoy.StopIterationKnob {
		// Envoy's config parser refuses the unknown PluginConfig field 9.
		return nil, fmt.Errorf("wasmhost: start: PluginConfig.allow_on_headers_stop_iteration does not exist in %s (added in Envoy 1.35)", envoy.Releases)
	}
	cfg.applyDefaults()
	p := &Plugin{m: m, cfg: cfg, config: cfg.Configuration, monoBase: time.Now()}
	p.props = make(map[string][]byte, len(cfg.Properties))
	for k, v := range cfg.Properties {
		p.props[strings.ReplaceAll(k, ".", "\x00")] = v
	}
	p.client = &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(),
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	if err := p.canary(ctx, cfg.Configuration); err != nil {
		return nil, fmt.Errorf("wasmhost: start: %w", err)
	}
	for i := 0; i < cfg.Workers; i++ {
		v, err := p.newWorker(ctx, i, cfg.Configuration)
		if err != nil {
			p.Close()
			return nil, fmt.Errorf("wasmhost: start worker %d: %w", i, err)
		}
		p.vms = append(p.vms, v)
		p.lastLoad = append(p.lastLoad, time.Now())
	}
	return p, nil
}

// canary mirrors cpp-host WasmHandleBase::canary: a throw-away VM runs
// _initialize, vm_start and configure with the new configuration, then dies.
func (p *Plugin) canary(ctx context.Context, config []byte) error {
	v, err := p.newVM(ctx, -1)
	if err != nil {
		return fmt.Errorf("configuration canary: %w", err)
	}
	defer v.close()
	v.mu.Lock()
	defer v.mu.Unlock()
	if _, err := v.startRoot(config); err != nil {
		return fmt.Errorf("configuration canary: %w", err)
	}
	return nil
}

func (p *Plugin) newWorker(ctx context.Context, idx int, config []byte) (*vm, error) {
	v, err := p.newVM(ctx, idx)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	_, err = v.startRoot(config)
	v.mu.Unlock()
	if err != nil {
		v.close()
		return nil, err
	}
	return v, nil
}

// Reconfigure applies a new plugin configuration: the canary runs first; if
// it passes, each worker VM gets a new root context and the old one gets
// on_done / on_delete. A rejected configuration leaves the old one in place
// and the error carries the plugin's logged messages.
func (p *Plugin) Reconfigure(ctx context.Context, config []byte) error {
	if err := p.canary(ctx, config); err != nil {
		return fmt.Errorf("wasmhost: reconfigure: %w", err)
	}
	p.mu.Lock()
	vms := append([]*vm(nil), p.vms...)
	p.config = config
	p.mu.Unlock()
	var errs []error
	for _, v := range vms {
		v.mu.Lock()
		if !v.isFailed() {
			old := v.root
			if _, err := v.startRoot(config); err != nil {
				errs = append(errs, fmt.Errorf("worker %d: %w", v.idx, err))
			} else if old != nil {
				v.retireRoot(old)
			}
		}
		v.mu.Unlock()
	}
	if len(errs) > 0 {
		return fmt.Errorf("wasmhost: reconfigure: %w", errors.Join(errs...))
	}
	return nil
}

// Stats returns the metric store the plugin writes to.
func (p *Plugin) Stats() *Stats { return p.m.stats }

// PrometheusText writes every metric in Envoy's admin /stats/prometheus format.
func (p *Plugin) PrometheusText(w io.Writer) error { return p.m.stats.WritePrometheus(w) }

// Logs returns every captured guest log line, oldest first.
func (p *Plugin) Logs() []LogEntry { return p.logs.all() }

// LogsAt returns the captured log lines at exactly the given level.
func (p *Plugin) LogsAt(level LogLevel) []string { return p.logs.at(level) }

// SharedData returns the shared-data store of the plugin's vm_id.
func (p *Plugin) SharedData() *SharedData { return p.m.shared.forVM(p.cfg.VMID) }

// Workers reports the number of worker VMs.
func (p *Plugin) Workers() int { return len(p.vms) }

// FailedWorkers reports how many worker VMs are failed now.
func (p *Plugin) FailedWorkers() int {
	p.mu.Lock()
	vms := append([]*vm(nil), p.vms...)
	p.mu.Unlock()
	n := 0
	for _, v := range vms {
		if v.isFailed() {
			n++
		}
	}
	return n
}

// MemorySizes returns the size in bytes of each worker VM's linear memory,
// in worker order. Wasm memory never shrinks, so each is that VM's peak
// (a reloaded VM starts again). It waits for each VM to be idle.
func (p *Plugin) MemorySizes() []uint64 {
	return p.perVM(func(v *vm) uint64 {
		if v.mem == nil {
			return 0
		}
		return uint64(v.mem.Size())
	})
}

// GuestAllocations returns, per worker VM in worker order, how many buffers
// the host has asked the guest's allocator for (values it hands over: header
// maps, properties, bodies). Each is an allocation the Proxy-Wasm ABI makes
// the guest do; tests count the guest's own allocations beyond them. It
// waits for each VM to be idle.
func (p *Plugin) GuestAllocations() []uint64 {
	return p.perVM(func(v *vm) uint64 { return v.allocsTotal })
}

// perVM reads one figure of each worker VM, in worker order, each VM idle
// (its lock held) while it is read.
func (p *Plugin) perVM(read func(*vm) uint64) []uint64 {
	p.mu.Lock()
	vms := append([]*vm(nil), p.vms...)
	p.mu.Unlock()
	out := make([]uint64, len(vms))
	for i, v := range vms {
		v.mu.Lock()
		out[i] = read(v)
		v.mu.Unlock()
	}
	return out
}

// CallExport calls the guest export name, which takes no parameters, on
// worker VM i while it is idle, and returns its results: how tests read a
// counter that a test-only build of the guest exports.
func (p *Plugin) CallExport(i int, name string) ([]uint64, error) {
	p.mu.Lock()
	if i < 0 || i >= len(p.vms) {
		p.mu.Unlock()
		return nil, fmt.Errorf("wasmhost: call %s: no worker %d", name, i)
	}
	v := p.vms[i]
	p.mu.Unlock()
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.failed.Load() || v.closed {
		return nil, fmt.Errorf("wasmhost: call %s: %w", name, errVMFailed)
	}
	fn := v.mod.ExportedFunction(name)
	if fn == nil {
		return nil, fmt.Errorf("wasmhost: call %s: no such export", name)
	}
	out, err := fn.Call(v.ctx)
	if err != nil {
		return nil, fmt.Errorf("wasmhost: call %s: %w", name, err)
	}
	return out, nil
}

// Traps returns the messages of every trap seen so far (trap error and the
// guest's stderr), oldest first.
func (p *Plugin) Traps() []string { return p.logs.traps() }

// Close stops every worker VM: ticks stop, pending callouts are dropped.
func (p *Plugin) Close() error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return nil
	}
	p.closed = true
	vms := p.vms
	p.mu.Unlock()
	for _, v := range vms {
		v.close()
	}
	p.client.CloseIdleConnections()
	return nil
}

// vmKey carries the *vm in the context handed to guest calls, so host
// functions find their VM without a lookup table.
type vmKey struct{}

// hostFunc is one host function. fn reads its parameters from stack and
// writes its single result to stack[0]. Bound with api.GoModuleFunc: no
// reflection on the call path.
type hostFunc struct {
	id      int
	wasi    bool
	name    string
	params  []api.ValueType
	results []api.ValueType
	doc     string
	fn      func(v *vm, stack []uint64)
}

const (
	wasiSnapshot = "wasi_snapshot_preview1"
	wasiUnstable = "wasi_unstable"
)

func (m *Module) hostFunctions() []hostFunc {
	var fns []hostFunc
	fns = append(fns, logFunctions()...)
	fns = append(fns, propertyFunctions()...)
	fns = append(fns, headerFunctions()...)
	fns = append(fns, bufferFunctions()...)
	fns = append(fns, streamFunctions()...)
	fns = append(fns, sharedDataFunctions()...)
	fns = append(fns, queueFunctions()...)
	fns = append(fns, metricFunctions()...)
	fns = append(fns, httpCallFunctions()...)
	fns = append(fns, timerFunctions()...)
	fns = append(fns, contextFunctions()...)
	envoy := m.envoy()
	for _, f := range m.wasiFunctions() {
		if slices.Contains(envoy.WASI, f.name) {
			fns = append(fns, f)
		}
	}
	for i := range fns {
		fns[i].id = i
	}
	m.initAllowed = allowList(fns, envoy.InitAllowed)
	m.mallocAllowed = allowList(fns, envoy.MallocAllowed)
	return fns
}

func allowList(fns []hostFunc, names []string) []bool {
	allowed := make([]bool, len(fns))
	for i, f := range fns {
		for _, n := range names {
			if n == f.qualified() {
				allowed[i] = true
			}
		}
	}
	return allowed
}

func (f *hostFunc) qualified() string {
	if f.wasi {
		return wasiSnapshot + "." + f.name
	}
	return "env." + f.name
}

// instantiateHostModules registers env, wasi_snapshot_preview1 and
// wasi_unstable, as cpp-host src/wasm.cc WasmBase::registerCallbacks does.
func (m *Module) instantiateHostModules(ctx context.Context) error {
	env := m.runtime.NewHostModuleBuilder("env")
	snap := m.runtime.NewHostModuleBuilder(wasiSnapshot)
	unst := m.runtime.NewHostModuleBuilder(wasiUnstable)
	for i := range m.hostFns {
		f := &m.hostFns[i]
		gf := m.bind(f)
		if f.wasi {
			snap.NewFunctionBuilder().WithGoModuleFunction(gf, f.params, f.results).WithName(f.name).Export(f.name)
			unst.NewFunctionBuilder().WithGoModuleFunction(gf, f.params, f.results).WithName(f.name).Export(f.name)
			continue
		}
		env.NewFunctionBuilder().WithGoModuleFunction(gf, f.params, f.results).WithName(f.name).Export(f.name)
	}
	for _, b := range []wazero.HostModuleBuilder{env, snap, unst} {
		if _, err := b.Instantiate(ctx); err != nil {
			return fmt.Errorf("host module: %w", err)
		}
	}
	return nil
}

// bind wraps a host function with the restricted-callback check of cpp-host
// WasmVm::isHostFunctionAllowed: during _initialize and guest allocation
// only an allow-list is callable, and anything else traps the VM.
func (m *Module) bind(f *hostFunc) api.GoModuleFunc {
	id, fn, name, hook := f.id, f.fn, f.qualified(), m.opts.ProfileHook
	return func(ctx context.Context, mod api.Module, stack []uint64) {
		v, _ := ctx.Value(vmKey{}).(*vm)
		if v == nil {
			panic(fmt.Errorf("wasmhost: %s called outside a VM", name))
		}
		if v.mod == nil {
			// During _initialize, before InstantiateModule returns.
			v.mod, v.mem = mod, mod.Memory()
		}
		if v.allowed != nil && !v.allowed[id] {
			v.trap(fmt.Sprintf("%s is not allowed during %s", name, v.restrictedPhase))
		}
		prev := v.allocs
		v.allocs = 0
		if hook != nil {
			start := time.Now()
			fn(v, stack)
			hook(f.name, false, time.Since(start))
		} else {
			fn(v, stack)
		}
		v.allocs = prev
	}
}

// i32s builds a parameter list of n i32 values.
func i32s(n int) []api.ValueType {
	t := make([]api.ValueType, n)
	for i := range t {
		t[i] = api.ValueTypeI32
	}
	return t
}

var (
	resultI32 = []api.ValueType{api.ValueTypeI32}
	noResult  = []api.ValueType{}
)
