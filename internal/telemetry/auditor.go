package telemetry

import (
	"cmp"
	"errors"
	"time"

	"github.com/apiguard/apiguard/internal/telemetry/audit"
	"github.com/apiguard/apiguard/internal/telemetry/metrics"
	"github.com/apiguard/apiguard/internal/telemetry/otlp"
)

// Auditor is one worker's audit pipeline: sampling, encoding, and the sink
// (log lines or the OTLP batcher), with its metrics. The plugin builds one
// per VM from a resolved Config and drives it from its callbacks; nothing
// here calls the host.
type Auditor struct {
	sink     string
	level    string
	sampler  *audit.Sampler
	masker   *audit.Masker
	hasher   *audit.KeyHasher
	headers  []string
	excerpt  int
	batcher  *otlp.Batcher
	otlp     *OTLPConfig
	resource otlp.Resource
	metrics  *metrics.Metrics
	inflight int
	line     []byte // the log sink's encoding buffer, reused by every Record
}

// NewAuditor returns the pipeline for a resolved Config (see Config.Resolve).
// version is the plugin's version, reported as the OTLP scope version.
func NewAuditor(cfg Config, m *metrics.Metrics, version string) *Auditor {
	a := &Auditor{
		sink:    cfg.Audit.Sink,
		level:   cmp.Or(cfg.Audit.LogLevel, defaultLogLevel),
		sampler: audit.NewSampler(1, [16]byte{}),
		masker:  audit.NewMasker(cfg.Audit.Mask),
		hasher:  audit.NewKeyHasher(cfg.Audit.KeyHashSalt),
		headers: cfg.Audit.Headers,
		excerpt: cfg.Audit.BodyExcerptBytes,
		metrics: m,
	}
	if cfg.Audit.SampleRate != nil {
		a.sampler = audit.NewSampler(*cfg.Audit.SampleRate, audit.SamplerKey(cfg.Audit.KeyHashSalt))
	}
	switch {
	case a.sink == SinkOTLP && cfg.OTLP == nil:
		a.sink = SinkOff // unreachable after Config.Validate; never nil-dereference on the request path
	case a.sink == SinkOTLP:
		a.otlp = cfg.OTLP
		a.batcher = otlp.NewBatcher(cfg.OTLP.BatcherConfig())
		a.resource = otlp.Resource{ServiceName: cfg.OTLP.ServiceName, Instance: cfg.Instance, ScopeVersion: version}
	}
	return a
}

// Enabled reports whether events are recorded at all; when false the plugin
// can skip building them.
func (a *Auditor) Enabled() bool { return a.sink == SinkLog || a.sink == SinkOTLP }

// LogLevel is the level at which the plugin must write log-sink lines.
func (a *Auditor) LogLevel() string { return a.level }

// CaptureHeaders copies the request headers the operator asked to log, as
// get finds them (as the client sent them); the Auditor masks them if it
// keeps the event. ok is false when no headers are logged.
func (a *Auditor) CaptureHeaders(get func(name string) (string, bool)) (hs []audit.Header, ok bool) {
	if !a.Enabled() || len(a.headers) == 0 {
		return nil, false
	}
	hs = make([]audit.Header, 0, len(a.headers))
	for _, name := range a.headers {
		if v, ok := get(name); ok {
			hs = append(hs, audit.Header{Name: name, Value: v})
		}
	}
	return hs, true
}

// Masker masks headers and body excerpts before they enter an audit.Event.
func (a *Auditor) Masker() *audit.Masker { return a.masker }

// BodyExcerptBytes is the configured excerpt size (0 = no excerpt).
func (a *Auditor) BodyExcerptBytes() int { return a.excerpt }

// HashKey is the pseudonym of a rate-limit key for audit.Event.RateLimitKey.
func (a *Auditor) HashKey(key string) string { return a.hasher.Hash(key) }

// Record takes a finished event. Denials, events carrying a security signal
// and burst events are always kept; other requests are sampled. With the
// log sink it returns the JSON line (without a trailing newline) for the
// plugin to write with proxy_log at LogLevel, valid until the next Record
// (the buffer is reused); with the OTLP sink it buffers the event and
// returns nil. Sampling, drops and encoding failures are
// counted in the metrics.
func (a *Auditor) Record(e *audit.Event, now time.Time) []byte {
	if !a.Enabled() {
		return nil
	}
	if e.Type == "" || e.Type == audit.EventRequest {
		if !a.sampler.Keep(e.Denied() || len(e.Signals) > 0, e.RequestID) {
			a.metrics.AuditSampledOut()
			return nil
		}
	}
	// Only a kept event is masked: detection scans what is logged.
	e.Captured.Mask(e, a.masker)
	if a.sink == SinkLog {
		line, err := audit.AppendLine(a.line[:0], e)
		if err != nil {
			a.dropped(err)
			return nil
		}
		a.line = line // keep the grown buffer for the next Record
		a.metrics.AuditEmitted()
		return line // proxy_log writes one line per call: no newline
	}
	rec, err := audit.EncodeOTLPRecord(e, now.UnixNano())
	if err != nil {
		a.dropped(err)
		return nil
	}
	if !a.batcher.Add(rec, now) {
		a.metrics.AuditDropped("buffer_full", 1)
		return nil
	}
	a.metrics.AuditEmitted()
	return nil
}

func (a *Auditor) dropped(err error) {
	if errors.Is(err, audit.ErrEventTooLarge) {
		a.metrics.AuditDropped("too_large", 1)
		return
	}
	a.metrics.AuditDropped("encode_error", 1)
}

// ExportCall is an OTLP export for the plugin to send with proxy_http_call.
type ExportCall struct {
	Cluster string
	Headers [][2]string // :method, :path, :authority, content-type
	Body    []byte
	Timeout time.Duration
}

// NextExport returns the export call to make now, if any. Call it on every
// tick and after Record; at most one call is in flight per worker.
func (a *Auditor) NextExport(now time.Time) (ExportCall, bool) {
	if a.batcher == nil {
		return ExportCall{}, false
	}
	if dropped, expired := a.batcher.Expire(now); expired {
		a.metrics.OTLPFailed("call_failed")
		a.metrics.AuditDropped("gave_up", dropped)
	}
	batch := a.batcher.Next(now)
	if batch == nil {
		return ExportCall{}, false
	}
	body, err := otlp.Payload(a.resource, batch)
	if err != nil {
		// cannot happen with encoding/json on these types; drop rather than loop
		a.metrics.AuditDropped("encode_error", a.batcher.Done(otlp.ExportResult{Reason: metrics.ReasonOther}, now))
		return ExportCall{}, false
	}
	a.inflight = len(batch)
	return ExportCall{
		Cluster: a.otlp.Cluster,
		Headers: [][2]string{{":method", "POST"}, {":path", a.otlp.Path}, {":authority", a.otlp.Authority}, {"content-type", "application/json"}},
		Body:    body,
		Timeout: a.otlp.Timeout.Duration,
	}, true
}

// ExportDone reports the answer to the call NextExport returned: the HTTP
// status and body, or callFailed when the host reported no response (a
// reset stream, proxy_http_call refused).
func (a *Auditor) ExportDone(status int, body []byte, callFailed bool, now time.Time) {
	if a.batcher == nil {
		return
	}
	res := otlp.ClassifyExport(status, body, callFailed)
	res.Rejected = min(res.Rejected, a.inflight)
	if res.Accepted {
		a.metrics.OTLPExported(a.inflight - res.Rejected)
		if res.Rejected > 0 {
			a.metrics.OTLPFailed(res.Reason)
			a.metrics.AuditDropped("gave_up", res.Rejected)
		}
	} else {
		a.metrics.OTLPFailed(res.Reason)
	}
	a.metrics.AuditDropped("gave_up", a.batcher.Done(res, now))
}
