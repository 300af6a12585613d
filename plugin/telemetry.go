package main

import (
	"strconv"
	"time"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"

	"github.com/apiguard/apiguard/internal/sdkabi/direct"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/telemetry"
	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/verdict"
)

// telemetryState is the audit trail, export and self-metrics of one plugin
// configuration on one worker.
type telemetryState struct {
	cfg      telemetry.Config // resolved
	auditor  *telemetry.Auditor
	gc       *telemetry.GCPolicy
	runtime  *metrics.RuntimeReader
	logLevel direct.LogLevel // the log sink's
	// burstWindow is the window the JWT policy counts failed credentials
	// in, for the burst event.
	burstWindow time.Duration
	excerpts    telemetry.ExcerptBudget
}

// maxExportAnswer bounds the collector's answer read back (partial-success
// messages are small).
const maxExportAnswer = 64 << 10

func (p *pluginContext) configureTelemetry(s *settings.Settings) error {
	c := s.Telemetry
	c.Instance = p.instance // already resolved from the plugin name
	cfg, err := c.Resolve("")
	if err != nil {
		return err
	}
	p.telemetry = telemetryState{
		cfg:      cfg,
		auditor:  telemetry.NewAuditor(cfg, p.metrics, version),
		gc:       telemetry.NewGCPolicy(cfg.GC),
		runtime:  metrics.NewRuntimeReader(),
		logLevel: sinkLevel(cfg.Audit.LogLevel),
	}
	// Bursts use the JWT policy's cross-worker failure count (configureJWT
	// runs first), so its window is the burst window.
	if auth := p.jwt.auth; auth != nil {
		if w := c.Signals.AuthFailureWindow.Duration; w > 0 && !auth.SetFailureWindow(w) {
			proxywasm.LogWarnf("apiguard: telemetry.signals.auth_failure_window %v is not used: jwt.lockout.window (%v) counts failed authentications", w, auth.FailureWindow())
		}
		p.telemetry.burstWindow = auth.FailureWindow()
	}
	return nil
}

// sinkLevel is the proxy_log level of a log-sink level name. Istio proxies
// log at warning by default, so the default level is warn.
func sinkLevel(level string) direct.LogLevel {
	switch level {
	case "trace":
		return direct.LogLevelTrace
	case "debug":
		return direct.LogLevelDebug
	case "info":
		return direct.LogLevelInfo
	case "error":
		return direct.LogLevelError
	case "critical":
		return direct.LogLevelCritical
	}
	return direct.LogLevelWarn
}

// tickTelemetry samples the runtime, applies the GC policy and sends the
// next OTLP batch. Exports leave from the root context on ticks only: a call
// made from a stream's on_log would be cancelled when the stream is deleted.
func (p *pluginContext) tickTelemetry(now time.Time) {
	t := &p.telemetry
	if t.runtime == nil {
		return
	}
	sample, cycles := t.runtime.Read()
	p.metrics.Runtime(sample, cycles)
	if t.gc.Tick(now, sample.HeapInUseBytes) {
		p.metrics.ForcedGC(t.runtime.ForceGC())
	}
	call, ok := t.auditor.NextExport(now)
	if !ok {
		return
	}
	auditor := t.auditor
	timeout := uint32(max(call.Timeout.Milliseconds(), 1))
	_, err := proxywasm.DispatchHttpCall(call.Cluster, call.Headers, call.Body, nil, timeout,
		func(numHeaders, bodySize, numTrailers int) {
			defer recoverCallback("otlp export", nil)
			status, body, failed := exportAnswer(numHeaders, bodySize)
			auditor.ExportDone(status, body, failed, time.Now())
		})
	if err != nil {
		// Unknown cluster or a host refusal: retried with backoff like any failure.
		auditor.ExportDone(0, nil, true, now)
	}
}

// exportAnswer reads the collector's answer inside the http-call callback;
// no headers means Envoy got no response (reset, connection failure).
func exportAnswer(numHeaders, bodySize int) (status int, body []byte, failed bool) {
	if numHeaders == 0 {
		return 0, nil, true
	}
	if status = calloutStatus(); status == 0 {
		return 0, nil, true
	}
	if bodySize > 0 {
		body, _ = proxywasm.GetHttpCallResponseBody(0, min(bodySize, maxExportAnswer))
	}
	return status, body, false
}

// timed adds apiguard's own time in a callback to the stream's phase total.
// Use it as `defer h.timed(phase, h.plugin.clock())`.
func (h *httpContext) timed(i int, start time.Duration) {
	h.telemetryStream.Timed(i, h.plugin.clock()-start)
}

// onRequestBody counts request-body bytes and keeps the first ones for the
// masked excerpt when the operator asked for one. size is what the callback
// was handed: everything buffered since the last Continue.
func (h *httpContext) onRequestBody(size int, action types.Action) {
	t := &h.plugin.telemetry
	keep := t.auditor != nil && t.auditor.BodyExcerptBytes() > 0
	if h.telemetryStream.RequestBody(&t.excerpts, size, action == types.ActionContinue, keep, proxywasm.GetHttpRequestBody) {
		h.plugin.metrics.AuditBodyBudgetRefused()
	}
}

// onResponseBody counts the response-body bytes seen and times the phase.
// Use it as `defer h.onResponseBody(h.plugin.clock(), size, &action)`.
func (h *httpContext) onResponseBody(start time.Duration, size int, action *types.Action) {
	h.telemetryStream.Out.Add(size, *action == types.ActionContinue)
	h.timed(telemetry.PhaseResponseBody, start)
}

// publishDecision exposes the verdict to the rest of Envoy as filter state
// (wasm.apiguard.*), for access logs, RBAC and Istio policies. It runs when
// the response headers arrive (own replies included), before Envoy writes its
// access logs, and again at stream end in case a response policy changed it.
func (h *httpContext) publishDecision() {
	if props, changed := h.telemetryStream.FilterState(h.event); changed {
		for i, v := range props {
			setFilterState(filterStatePaths[i], v)
		}
	}
}

// filterStatePaths are telemetry.FilterStateProperties, serialised once.
var filterStatePaths = func() (paths [len(telemetry.FilterStateProperties)]direct.Path) {
	for i, name := range telemetry.FilterStateProperties {
		paths[i] = direct.NewPath(name)
	}
	return paths
}()

// setFilterState sets one property; an empty value is not set. A failure
// costs the integration, never the request.
func setFilterState(path direct.Path, value string) {
	if value == "" {
		return
	}
	if err := direct.SetProperty(path, value); err != nil {
		proxywasm.LogDebugf("apiguard: set filter state %s: %v", path, err)
	}
}

// observe records the finished stream: metrics, security signals, the audit
// event and the GC policy. Called from OnHttpStreamDone (proxy_on_log).
func (h *httpContext) observe() {
	t := &h.plugin.telemetry
	if t.auditor == nil {
		return // not configured: the plugin refused its configuration
	}
	m := h.plugin.metrics
	startMono := h.plugin.clock()
	// The wall clock is read only when something records the time of day:
	// an audit event, a burst event or the GC policy.
	var start, reqTime time.Time
	wall := func() time.Time {
		if start.IsZero() {
			start = time.Now()
			if h.start != 0 {
				reqTime = start.Add(-(startMono - h.start))
			}
		}
		return start
	}
	h.publishDecision()
	route := h.routeLabel()
	m.Request(route)
	var latency time.Duration
	if h.start != 0 {
		latency = startMono - h.start
		m.Latency(route, latency)
	}
	h.telemetryStream.RecordPhases(m)
	if burst, ok := h.authFailureBurst(); ok {
		m.AuthFailureBurst()
		if t.auditor.Enabled() {
			now := wall()
			t.write(t.auditor.Record(audit.BurstEvent(burst, reqTime), now))
		}
	}
	if t.auditor.Enabled() {
		now := wall()
		e := h.audit()
		e.Latency = latency
		h.fillEvent(reqTime)
		t.write(t.auditor.Record(e, now))
	}
	if t.cfg.GC.Mode == telemetry.GCEveryRequests && t.gc.RequestDone(wall()) {
		m.ForcedGC(t.runtime.ForceGC())
	}
	m.Processing(metrics.PhaseStreamDone, h.plugin.clock()-startMono)
}

// routeLabel is the stream's route in metrics and audit events.
func (h *httpContext) routeLabel() string {
	if h.route == "" {
		return metrics.OtherRoute
	}
	return h.route
}

// write sends a log-sink line; OTLP records were buffered by Record. The
// line is the auditor's reused buffer, which the host copies (direct.Log):
// a string of it would copy every event once more.
func (t *telemetryState) write(line []byte) {
	if line != nil {
		direct.Log(t.logLevel, line)
	}
}

// authFailureBurst reports the client whose failed credential made this
// request cross signals.auth_failure_threshold. The count is the JWT
// policy's, across workers (authFailures), so a client spread over workers
// is counted whole, and only failed credentials count: not missing tokens,
// lockouts or key outages.
func (h *httpContext) authFailureBurst() (audit.Burst, bool) {
	n := h.authFailures()
	if !audit.CrossesThreshold(n, h.plugin.telemetry.cfg.Signals.AuthFailureThreshold) {
		return audit.Burst{}, false
	}
	client := h.clientAddr()
	if !client.IsValid() {
		return audit.Burst{}, false
	}
	return audit.Burst{Client: client, Failures: n, Window: h.plugin.telemetry.burstWindow}, true
}

// captureAuditHeaders copies the request headers the operator chose to log
// (telemetry.Auditor.CaptureHeaders) into the audit event.
func (h *httpContext) captureAuditHeaders() {
	if a := h.plugin.telemetry.auditor; a != nil {
		if hs, ok := a.CaptureHeaders(h.requestHeader); ok {
			h.audit().Captured.Headers = hs
		}
	}
}

// fillEvent completes the audit event with what the stream knows at its end.
// Policies have already added their decisions, the identity, the rate-limit
// key hash and removed fields. start is when the request headers arrived.
func (h *httpContext) fillEvent(start time.Time) {
	e := h.audit()
	a := h.plugin.telemetry.auditor
	e.Type = audit.EventRequest
	e.Time = start
	e.Method = h.requestMethod()
	e.RequestID, _ = h.requestHeader("x-request-id")
	if tp, ok := h.requestHeader("traceparent"); ok {
		e.TraceID, e.SpanID = audit.ParseTraceparent(tp)
	}
	if raw, ok := h.requestHeader(":path"); ok {
		e.Path = raw // after any token-parameter removal; redacted when encoded
	} else {
		e.Path = h.path
	}
	e.Route = h.routeLabel()
	e.EnvoyRoute = h.envoyRoute()
	if v, err := direct.ResponseHeader(":status"); err == nil {
		e.Status, _ = strconv.Atoi(v)
	}
	e.GRPCStatus, e.HasGRPCStatus = h.grpcStatus()
	e.ClientIP = h.clientIPText()
	ct, _ := h.requestHeader("content-type")
	h.telemetryStream.FillBodies(e, a.BodyExcerptBytes(), ct)
}

// grpcStatus is the grpc-status a gRPC client got: in the headers of a
// trailers-only response (apiguard's own replies among them), else in the
// trailers. Values outside 0-99 are not codes and are left out.
func (h *httpContext) grpcStatus() (int, bool) {
	if !h.grpcRequest() {
		return 0, false
	}
	v, err := proxywasm.GetHttpResponseHeader("grpc-status")
	if err != nil {
		v, err = proxywasm.GetHttpResponseTrailer("grpc-status")
	}
	if err != nil {
		return 0, false
	}
	return verdict.ParseGRPCStatus(v)
}

// releaseExcerpt gives the stream's excerpt bytes back to the worker's
// budget.
func (h *httpContext) releaseExcerpt() {
	h.telemetryStream.ReleaseExcerpt(&h.plugin.telemetry.excerpts)
}
