package main

import (
	"fmt"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/canon"
	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/sdkabi/direct"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
)

var (
	_ types.VMContext     = (*vmContext)(nil)
	_ types.PluginContext = (*pluginContext)(nil)
)

// vmContext is the per-worker VM. It holds nothing: everything a
// configuration builds lives in its plugin context, so a reconfiguration
// replaces it whole.
type vmContext struct{ types.DefaultVMContext }

func (*vmContext) NewPluginContext(contextID uint32) types.PluginContext {
	return &pluginContext{id: contextID}
}

// pluginContext is one configuration of the plugin on one worker (Envoy's
// root context). OnPluginStart only validates and builds: Envoy runs it first
// in a throw-away canary VM, so callouts, leases and shared-data writes wait
// for the first tick.
type pluginContext struct {
	types.DefaultPluginContext
	id       uint32
	settings *settings.Settings
	metrics  *metrics.Metrics
	instance string
	// rootID is Envoy's plugin_root_id property ("" when unavailable), read
	// once: it namespaces every shared-data key of this configuration.
	rootID string
	// epoch is when this configuration started, on the monotonic clock
	// (direct.Monotonic); clock measures from it.
	epoch time.Duration

	// One field per policy, each owned by its file (jwt.go, ratelimit.go,
	// respfilter.go, telemetry.go).
	jwt        jwtState
	rateLimits rateLimitState
	respFilter respFilterState
	inventory  *inventory.Worker // nil without response_inventory
	telemetry  telemetryState
	// guard judges whether a request can be judged, before every policy.
	guard *canon.Guard
	// waiting holds the paused streams of this worker, by context id, so
	// callout and tick handlers can resume them.
	waiting map[uint32]*httpContext
	// free holds finished stream contexts for reuse (streamPool), so a
	// request allocates no context of its own.
	free []*httpContext
	// yielded is when this worker last yielded to the Go runtime
	// (yieldToCollector), on clock.
	yielded time.Duration
	// client is the last client resolved from source.address, with what
	// is derived from it under this configuration's client_ip settings.
	client clientMemo
}

func (p *pluginContext) OnPluginStart(size int) types.OnPluginStartStatus {
	var data []byte
	if size > 0 {
		var err error
		data, err = proxywasm.GetPluginConfiguration()
		if err != nil {
			proxywasm.LogCriticalf("apiguard: read plugin configuration: %v", err)
			return types.OnPluginStartStatusFailed
		}
	}
	if err := p.configure(data); err != nil {
		// The message names the JSON path of the mistake; it never holds
		// secrets because config errors quote keys, not values of secrets.
		proxywasm.LogCriticalf("apiguard: configuration refused: %v", err)
		return types.OnPluginStartStatusFailed
	}
	proxywasm.LogInfof("apiguard %s: configured instance %q", version, p.instance)
	if err := proxywasm.SetTickPeriodMilliSeconds(tickPeriodMillis); err != nil {
		proxywasm.LogCriticalf("apiguard: set tick period: %v", err)
		return types.OnPluginStartStatusFailed
	}
	return types.OnPluginStartStatusOK
}

// tickPeriodMillis drives background work: JWKS refresh, batch flushes. It
// also bounds how long a request paused for keys another worker is fetching
// waits after they arrive, hence 200 ms rather than a second.
const tickPeriodMillis = 200

func (p *pluginContext) configure(data []byte) error {
	p.epoch = direct.Monotonic()
	s, err := settings.Parse(data)
	if err != nil {
		return err
	}
	p.settings = s
	p.client = clientMemo{} // derived under the settings replaced
	p.rootID = pluginRootID()
	if p.instance, err = instanceName(s); err != nil {
		return err
	}
	if p.metrics, err = defineMetrics(s, p.instance); err != nil {
		return fmt.Errorf("define metrics: %w", err)
	}
	if err := exportBuildInfo(s, p.instance); err != nil {
		return fmt.Errorf("define build_info: %w", err)
	}
	for _, step := range []func(*settings.Settings) error{
		p.configureJWT,
		p.configureRateLimits,
		p.configureResponseFilter,
		p.configureInventory,
		p.configureTelemetry,
		p.configureRequest,
	} {
		if err := step(s); err != nil {
			return err
		}
	}
	return nil
}

// clock reads the monotonic clock as the time since the configuration
// started. It is what stream timing uses: time.Now reads the wall clock as
// well, a second host call in a Wasm VM, and phases only need durations;
// direct.Monotonic reads it without the Go runtime's steps around the host
// call (a request takes ten readings).
func (p *pluginContext) clock() time.Duration { return direct.Monotonic() - p.epoch }

// pluginRootID is Envoy's plugin_root_id property, "" when unavailable.
func pluginRootID() string {
	raw, err := proxywasm.GetProperty([]string{"plugin_root_id"})
	if err != nil {
		return ""
	}
	return string(raw)
}

// OnTick runs the background work of every policy. The first tick is the
// first moment that is surely not in the configuration canary.
func (p *pluginContext) OnTick() {
	defer recoverCallback("tick", nil)
	now := time.Now()
	p.tickJWT(now)
	p.tickTelemetry(now)
	p.tickInventory(now)
	p.resumeWaiting()
}

func (p *pluginContext) NewHttpContext(contextID uint32) types.HttpContext {
	if n := len(p.free); n > 0 {
		h := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		h.reset(contextID)
		return h
	}
	h := &httpContext{id: contextID, plugin: p}
	h.headerFn = h.requestHeader
	return h
}

// maxFreeStreams bounds the finished stream contexts a worker keeps for
// reuse: about the streams a worker has in flight at once, beyond which a
// burst's contexts are left to the collector.
const maxFreeStreams = 64

// recycle keeps a finished stream's context for the next stream, unless
// something may still call it: a callout it dispatched answers into the
// closure that holds it, maybe after the stream is gone (the SDK still runs
// it while the context id lives, between on_log and on_delete).
func (p *pluginContext) recycle(h *httpContext) {
	if h.shared || len(p.free) >= maxFreeStreams {
		return
	}
	p.free = append(p.free, h)
}

// forgetStream drops a finished stream from every wait list.
func (p *pluginContext) forgetStream(id uint32) {
	delete(p.waiting, id)
}

// wait parks a paused stream until resumeWaiting wakes it.
func (p *pluginContext) wait(h *httpContext) {
	if p.waiting == nil {
		p.waiting = map[uint32]*httpContext{}
	}
	p.waiting[h.id] = h
}

// resumeWaiting re-runs the current stage of every parked stream; a stage
// that still waits parks its stream again.
func (p *pluginContext) resumeWaiting() {
	if len(p.waiting) == 0 {
		return
	}
	streams := make([]*httpContext, 0, len(p.waiting))
	for id, h := range p.waiting {
		streams = append(streams, h)
		delete(p.waiting, id)
	}
	// SetEffectiveContext switches the host's context only: the SDK still
	// takes the root for the active context, so whatever a resumed stream
	// dispatches has its callback run with the root effective, and the
	// callback must switch to its stream itself (dispatchRateLimitCallouts).
	for _, h := range streams {
		if err := proxywasm.SetEffectiveContext(h.id); err != nil {
			continue // the stream is gone
		}
		h.resume()
	}
	// Whatever the caller does next (a tick's next policy) acts as the root.
	if err := proxywasm.SetEffectiveContext(p.id); err != nil {
		proxywasm.LogDebugf("apiguard: set root context: %v", err)
	}
}
