package otlp

import "time"

// BatcherConfig bounds and paces one worker's OTLP export buffer.
type BatcherConfig struct {
	BatchSize      int           // records per export call
	MaxBuffered    int           // records held, the in-flight batch included
	MaxBytes       int           // bytes held, the in-flight batch included (0 = DefaultMaxBufferedBytes)
	FlushInterval  time.Duration // send a partial batch this long after the last send
	CallTimeout    time.Duration // an export with no answer after 2× this is counted as failed
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	MaxRetries     int // retries of one batch before it is dropped
}

// DefaultMaxBufferedBytes bounds a worker's export buffer in bytes, whatever
// the event count: about a thousand typical events. Wasm memory never
// shrinks, so the bound is also the most the buffer can ever cost a VM.
const DefaultMaxBufferedBytes = 2 << 20

// Batcher is one worker's bounded OTLP export queue, a pure state machine:
// the plugin Adds records on stream done, calls Next on every tick (and
// after Add) and sends what it returns with proxy_http_call, and reports the
// answer with Done. At most one batch is in flight. Nothing here blocks,
// allocates per tick, or reads a clock.
type Batcher struct {
	cfg       BatcherConfig
	queue     [][]byte
	bytes     int
	inflight  [][]byte
	sentAt    time.Time
	attempt   int       // failed attempts of the in-flight batch
	retryAt   time.Time // when the failed batch may be sent again
	lastFlush time.Time
	started   bool
}

// NewBatcher returns an empty batcher.
func NewBatcher(cfg BatcherConfig) *Batcher {
	if cfg.BatchSize < 1 {
		cfg.BatchSize = 1
	}
	if cfg.MaxBuffered < cfg.BatchSize {
		cfg.MaxBuffered = cfg.BatchSize
	}
	if cfg.MaxBytes <= 0 {
		cfg.MaxBytes = DefaultMaxBufferedBytes
	}
	return &Batcher{cfg: cfg}
}

// Len is the number of records held, the in-flight batch included.
func (b *Batcher) Len() int { return len(b.queue) + len(b.inflight) }

func (b *Batcher) heldBytes() int {
	n := b.bytes
	for _, r := range b.inflight {
		n += len(r)
	}
	return n
}

// Add queues one encoded record. It returns false, and keeps nothing, when
// the buffer is full: the caller counts the drop (AuditDropped "buffer_full").
func (b *Batcher) Add(record []byte, now time.Time) bool {
	if !b.started {
		b.started, b.lastFlush = true, now
	}
	if b.Len() >= b.cfg.MaxBuffered || b.heldBytes()+len(record) > b.cfg.MaxBytes {
		return false
	}
	b.queue = append(b.queue, record)
	b.bytes += len(record)
	return true
}

// Next returns the batch to send now, or nil. A failed batch is resent once
// its backoff has passed; otherwise a new batch leaves when BatchSize
// records are queued or FlushInterval has passed since the last send. The
// returned slice stays owned by the batcher until Done.
func (b *Batcher) Next(now time.Time) [][]byte {
	if b.inflight != nil {
		if !b.sentAt.IsZero() {
			return nil // waiting for the answer
		}
		if now.Before(b.retryAt) {
			return nil
		}
		b.sentAt = now
		return b.inflight
	}
	if len(b.queue) == 0 {
		return nil
	}
	if len(b.queue) < b.cfg.BatchSize && now.Sub(b.lastFlush) < b.cfg.FlushInterval {
		return nil
	}
	n := min(len(b.queue), b.cfg.BatchSize)
	b.inflight = b.queue[:n:n]
	for _, r := range b.inflight {
		b.bytes -= len(r)
	}
	b.queue = b.queue[n:]
	if len(b.queue) == 0 {
		b.queue = nil // let the old backing array go
	}
	b.sentAt, b.attempt, b.lastFlush = now, 0, now
	return b.inflight
}

// Done reports the outcome of the in-flight batch and returns how many
// records were dropped for good (retries exhausted or not retryable), for
// AuditDropped "gave_up". Partially accepted batches count as accepted.
func (b *Batcher) Done(res ExportResult, now time.Time) (dropped int) {
	if b.inflight == nil {
		return 0
	}
	if res.Accepted {
		b.inflight, b.sentAt, b.attempt = nil, time.Time{}, 0
		return 0
	}
	b.attempt++
	if !res.Retryable || b.attempt > b.cfg.MaxRetries {
		dropped = len(b.inflight)
		b.inflight, b.sentAt, b.attempt = nil, time.Time{}, 0
		return dropped
	}
	b.sentAt = time.Time{}
	b.retryAt = now.Add(b.backoff())
	return 0
}

// Expire fails an in-flight batch whose answer is overdue (twice the call
// timeout); Envoy always answers an http call, so this guards only against a
// lost callback. Call it on ticks; it returns Done's result.
func (b *Batcher) Expire(now time.Time) (dropped int, expired bool) {
	if b.inflight == nil || b.sentAt.IsZero() || b.cfg.CallTimeout <= 0 || now.Sub(b.sentAt) < 2*b.cfg.CallTimeout {
		return 0, false
	}
	return b.Done(ExportResult{Retryable: true, Reason: "call_failed"}, now), true
}

// backoff is InitialBackoff × 2^(attempt-1), capped at MaxBackoff.
func (b *Batcher) backoff() time.Duration {
	d := b.cfg.InitialBackoff
	for i := 1; i < b.attempt && d < b.cfg.MaxBackoff; i++ {
		d *= 2
	}
	if b.cfg.MaxBackoff > 0 && d > b.cfg.MaxBackoff {
		d = b.cfg.MaxBackoff
	}
	return d
}
