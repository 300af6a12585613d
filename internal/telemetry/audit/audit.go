package audit

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/telemetry/internal/jsonenc"
	"github.com/apiguard/apiguard/internal/verdict"
)

// Event types.
const (
	EventRequest          = "request"            // one per request
	EventAuthFailureBurst = "auth_failure_burst" // a client crossed the failed-auth threshold
	// EventSensitiveField: a sensitive class seen for the first time at a
	// field path of a route (the response inventory); never the value.
	EventSensitiveField = "sensitive_field"
	// EventInventory: part of the response inventory, exported on a tick.
	EventInventory = "inventory"
)

// Signals attached to an event.
const (
	SignalNearLimit = "near_limit"
	// SignalSensitiveDataExposed: a route whose responses had shown no
	// sensitive class showed one (on a sensitive_field event).
	SignalSensitiveDataExposed = "sensitive_data_exposed"
)

// InventoryPart is one route's fields in an inventory event: paths in the
// response filter's path syntax, their JSON types and sensitive classes.
type InventoryPart struct {
	Route  string
	Fields []InventoryField
}

// InventoryField is one field path of an InventoryPart.
type InventoryField struct {
	Path           string
	Types, Classes []string
}

// Decision is one policy's verdict on a request.
type Decision struct {
	Policy   string           `json:"policy"` // "request", "authn", "ratelimit.<policy>", "respfilter", "internal"
	Decision verdict.Decision `json:"decision"`
	Reason   verdict.Reason   `json:"reason,omitempty"`
}

// Identity is what the audit trail keeps of a verified JWT: never the token.
type Identity struct {
	Issuer  string `json:"iss,omitempty"`
	Subject string `json:"sub,omitempty"`
	KeyID   string `json:"kid,omitempty"`
}

// Event is one audit record. The plugin fills it over the stream's life and
// hands it to Encode / EncodeOTLPRecord in on_http_stream_done. Every field
// is safe to log by construction: Path is redacted again at encoding, the
// rate-limit key is a hash, removed fields are paths, headers and body are
// masked by the Masker before they get here.
type Event struct {
	Type       string
	Time       time.Time // when the request headers arrived
	RequestID  string    // x-request-id
	TraceID    string    // 32 hex digits from traceparent, or ""
	SpanID     string    // 16 hex digits from traceparent, or ""
	Route      string    // apiguard's route: the jwt rule the request matched, or _other
	EnvoyRoute string    // Envoy's route name (xds.route_name), when it has one
	Method     string
	Path       string // raw path; RedactPath is applied when encoding
	Status     int
	// GRPCStatus is the grpc-status a gRPC client got (HasGRPCStatus): the
	// code of apiguard's own reply, which Envoy sends as HTTP 200, or the
	// upstream's.
	GRPCStatus    int
	HasGRPCStatus bool
	Decisions     []Decision
	Identity      *Identity
	ClientIP      string
	RateLimitKey  string // KeyHasher output, never the key
	RemovedFields []string
	Signals       []string
	Latency       time.Duration
	BytesIn       uint64
	BytesOut      uint64
	Headers       []Header // already masked
	BodyExcerpt   string   // already masked
	// Captured holds request headers and a body as the plugin captured
	// them, unmasked: Captured.Mask fills Headers and BodyExcerpt from it
	// once the event is kept, so a sampled-out event costs no masking. The
	// encoders never read it.
	Captured Captured
	// Burst details, for EventAuthFailureBurst.
	Failures int
	Window   time.Duration
	// Field and Class, for EventSensitiveField: a field path (data-like
	// keys already collapsed to "*") and a class name.
	Field, Class string
	// Inventory, for EventInventory.
	Inventory *InventoryPart
	// Truncated is set by the encoders when they had to leave out headers,
	// the body excerpt and removed fields to stay under MaxEventBytes.
	Truncated bool
}

// Captured is what an event carries unmasked until it is kept.
type Captured struct {
	Headers     []Header // the request headers to log, as sent
	ContentType string   // the request's content type, for Body
	Body        []byte   // the request body excerpt to mask, or nil
	BodyMax     int      // the excerpt's size bound
}

// Mask sets e's Headers and BodyExcerpt from what was captured, masked by m,
// and drops the unmasked copy. Values already set are kept when nothing
// of theirs was captured.
func (c *Captured) Mask(e *Event, m *Masker) {
	if len(c.Headers) > 0 {
		e.Headers = m.MaskHeaders(c.Headers)
	}
	if c.Body != nil {
		e.BodyExcerpt = m.MaskBody(c.ContentType, c.Body, c.BodyMax)
	}
	*c = Captured{}
}

// Denied reports whether any policy denied the request; denied requests are
// always recorded whatever the sample rate.
func (e *Event) Denied() bool {
	for _, d := range e.Decisions {
		if d.Decision == verdict.Deny {
			return true
		}
	}
	return e.Status == 401 || e.Status == 403 || e.Status == 429
}

// MaxEventBytes bounds one encoded event. An event that would be larger is
// encoded again without its headers, body excerpt and removed-field list
// (and marked truncated), so a client cannot pad its request until its
// denial falls out of the audit trail; only if that still does not fit is
// it dropped and counted.
const MaxEventBytes = 16 << 10

// Bounds on request-controlled strings in an event.
const (
	maxIDBytes          = 128 // x-request-id
	maxMethodBytes      = 32
	maxClaimBytes       = 256 // iss, sub, kid
	maxHeaderValueBytes = 512
	maxRemovedFields    = 64
)

// maxFieldPathBytes bounds one logged field path.
const maxFieldPathBytes = 256

// safeFieldPaths returns the field paths fit for the audit trail: every
// segment that looks like data rather than a field name (an object key that
// is a number, an email, a card number, a UUID, ... see detect.IsDataKey)
// becomes "*", so "cards.4111111111111111.cvv" is logged as "cards.*.cvv";
// paths that become equal are logged once; each is cut to
// maxFieldPathBytes and at most maxRemovedFields are kept, then a marker.
// changed is false when paths is returned as it is.
func safeFieldPaths(paths []string) (out []string, changed bool) {
	for i, p := range paths {
		sp := fieldPathMemo.do(p, safeFieldPath)
		if !changed && sp == p && i < maxRemovedFields {
			continue
		}
		if !changed {
			changed = true
			out = append(make([]string, 0, min(len(paths), maxRemovedFields+1)), paths[:i]...)
		}
		if len(out) >= maxRemovedFields {
			out = append(out, truncMarker)
			break
		}
		if !slices.Contains(out, sp) {
			out = append(out, sp)
		}
	}
	if !changed {
		return paths, false
	}
	return out, true
}

// fieldPathMemo remembers field paths safeFieldPath keeps as they are.
var fieldPathMemo cleanMemo

// safeFieldPath rewrites one path (respfilter syntax: '.'-separated, '\'
// escaping the next byte, "#" for array indices, "$" for the document). A
// path whose segments are all names, the usual case, is returned as it is
// without allocating: segments are checked in place, and only one holding an
// escape is unescaped, into a stack buffer.
func safeFieldPath(p string) string {
	var out []byte // the rewritten path, from the first data segment on
	var unescaped [64]byte
	for start := 0; ; {
		end, escaped := start, false
		for end < len(p) && p[end] != '.' {
			if p[end] == '\\' && end+1 < len(p) {
				end++
				escaped = true
			}
			end++
		}
		raw := p[start:end]
		seg := raw
		if escaped {
			seg = string(unescapeSegment(unescaped[:0], raw))
		}
		if raw != "#" && raw != "$" && detect.IsDataKey(seg) {
			if out == nil {
				out = append(make([]byte, 0, len(p)), p[:start]...)
			}
			out = append(out, '*')
		} else if out != nil {
			out = append(out, raw...)
		}
		if end >= len(p) {
			break
		}
		if out != nil {
			out = append(out, '.')
		}
		start = end + 1
	}
	if out == nil {
		return capString(p, maxFieldPathBytes)
	}
	return capString(string(out), maxFieldPathBytes)
}

// unescapeSegment appends seg without the escaping backslashes.
func unescapeSegment(dst []byte, seg string) []byte {
	for i := 0; i < len(seg); i++ {
		if seg[i] == '\\' && i+1 < len(seg) {
			i++
		}
		dst = append(dst, seg[i])
	}
	return dst
}

// truncMarker ends a string cut to its bound.
const truncMarker = "...(truncated)"

func capString(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return truncateUTF8(s, n-len(truncMarker)) + truncMarker
}

// bounded returns e with every request-controlled string cut to its bound
// (a copy when anything changes; e is never modified).
func (e *Event) bounded() *Event {
	fields, fieldsChanged := safeFieldPaths(e.RemovedFields)
	over := fieldsChanged || len(e.RequestID) > maxIDBytes || len(e.Method) > maxMethodBytes
	if id := e.Identity; id != nil {
		over = over || len(id.Issuer) > maxClaimBytes || len(id.Subject) > maxClaimBytes || len(id.KeyID) > maxClaimBytes
	}
	for _, h := range e.Headers {
		over = over || len(h.Value) > maxHeaderValueBytes
	}
	if !over {
		return e
	}
	c := *e
	c.RequestID = capString(maskTokens(e.RequestID), maxIDBytes) // mask first: a cut token may no longer look like one
	c.Method = capString(e.Method, maxMethodBytes)
	if id := e.Identity; id != nil {
		c.Identity = &Identity{Issuer: capString(id.Issuer, maxClaimBytes), Subject: capString(id.Subject, maxClaimBytes), KeyID: capString(id.KeyID, maxClaimBytes)}
	}
	c.RemovedFields = fields
	if len(e.Headers) > 0 {
		c.Headers = make([]Header, len(e.Headers))
		for i, h := range e.Headers {
			c.Headers[i] = Header{Name: h.Name, Value: capString(h.Value, maxHeaderValueBytes)}
		}
	}
	return &c
}

// reduced is e without its bulky optional parts, marked truncated.
func (e *Event) reduced() *Event {
	c := *e
	c.Headers, c.BodyExcerpt, c.RemovedFields, c.Truncated = nil, "", nil, true
	return &c
}

// encodeBounded encodes e with enc, falling back to the reduced event.
func encodeBounded(e *Event, enc func(*Event) []byte) ([]byte, error) {
	e = e.bounded()
	if out := enc(e); len(out) <= MaxEventBytes {
		return out, nil
	}
	if out := enc(e.reduced()); len(out) <= MaxEventBytes {
		return out, nil
	}
	return nil, ErrEventTooLarge
}

// ErrEventTooLarge is returned when an encoded event exceeds MaxEventBytes.
var ErrEventTooLarge = fmt.Errorf("telemetry: audit event larger than %d bytes", MaxEventBytes)

// AppendLine appends the event to dst as one JSON line, without a trailing
// newline (proxy_log writes one line per call), in the format of the log
// sink:
//
//	{"type":"request","time":"2026-11-28T18:00:00.123Z","request_id":"…","route":"orders",
//	 "method":"GET","path":"/orders?page=REDACTED","status":401,
//	 "decisions":[{"policy":"authn","decision":"deny","reason":"expired"}],
//	 "jwt":{"iss":"…","sub":"…","kid":"…"},"client_ip":"203.0.113.7","ratelimit_key_hash":"…",
//	 "removed_fields":["email"],"latency_ms":1.25,"bytes_in":0,"bytes_out":120}
//
// Empty fields are left out, except latency_ms, bytes_in and bytes_out.
// Request-controlled strings are cut to bounds (see MaxEventBytes).
//
// The Auditor reuses dst for every event, so the result is only valid until
// dst's storage is reused.
func AppendLine(dst []byte, e *Event) ([]byte, error) {
	return encodeBounded(e, func(e *Event) []byte { return appendEventLineTo(dst, e) })
}

// appendEventLineTo appends e to dst as the JSON object of AppendLine,
// without bounds.
func appendEventLineTo(dst []byte, e *Event) []byte {
	o := jsonenc.Object{B: dst}
	o.Open()
	o.Str("type", orStr(e.Type, EventRequest))
	o.Key("time")
	o.B = append(o.B, '"')
	o.B = appendTimeRFC3339Nano(o.B, e.Time)
	o.B = append(o.B, '"')
	o.StrOmitEmpty("request_id", maskTokens(e.RequestID))
	o.StrOmitEmpty("trace_id", e.TraceID)
	o.StrOmitEmpty("route", e.Route)
	o.StrOmitEmpty("envoy_route", e.EnvoyRoute)
	o.StrOmitEmpty("method", e.Method)
	o.StrOmitEmpty("path", RedactPath(e.Path))
	if e.Status != 0 {
		o.Int("status", int64(e.Status))
	}
	if e.HasGRPCStatus {
		o.Int("grpc_status", int64(e.GRPCStatus))
	}
	if len(e.Decisions) > 0 {
		o.Key("decisions")
		o.B = append(o.B, '[')
		for i, d := range e.Decisions {
			if i > 0 {
				o.B = append(o.B, ',')
			}
			o.Open()
			o.Str("policy", d.Policy)
			o.Str("decision", string(d.Decision))
			o.StrOmitEmpty("reason", string(d.Reason))
			o.Close()
		}
		o.B = append(o.B, ']')
	}
	if id := e.Identity; id != nil {
		o.Key("jwt")
		o.Open()
		o.StrOmitEmpty("iss", id.Issuer)
		o.StrOmitEmpty("sub", id.Subject)
		o.StrOmitEmpty("kid", id.KeyID)
		o.Close()
	}
	o.StrOmitEmpty("client_ip", e.ClientIP)
	o.StrOmitEmpty("ratelimit_key_hash", e.RateLimitKey)
	if len(e.RemovedFields) > 0 {
		o.StrArray("removed_fields", e.RemovedFields)
	}
	if len(e.Signals) > 0 {
		o.StrArray("signals", e.Signals)
	}
	o.Thousandths("latency_ms", e.Latency.Microseconds())
	o.Uint("bytes_in", e.BytesIn)
	o.Uint("bytes_out", e.BytesOut)
	if len(e.Headers) > 0 {
		o.Key("headers")
		o.B = append(o.B, '[')
		for i, h := range e.Headers {
			if i > 0 {
				o.B = append(o.B, ',')
			}
			o.Open()
			o.Str("name", h.Name)
			o.Str("value", h.Value)
			o.Close()
		}
		o.B = append(o.B, ']')
	}
	o.StrOmitEmpty("body_excerpt", e.BodyExcerpt)
	if e.Failures != 0 {
		o.Int("failures", int64(e.Failures))
	}
	if w := e.Window.Seconds(); w != 0 {
		o.Float("window_s", w)
	}
	o.StrOmitEmpty("field", e.Field)
	o.StrOmitEmpty("class", e.Class)
	if inv := e.Inventory; inv != nil {
		o.Key("inventory")
		o.B = appendInventory(o.B, inv)
	}
	if e.Truncated {
		o.Key("truncated")
		o.B = append(o.B, "true"...)
	}
	o.Close()
	return o.B
}

func orStr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// Sampler decides which events are recorded. Denials are always recorded.
// Allowed requests are kept with probability Rate, decided from a keyed hash
// (SipHash) of the x-request-id: a client chooses its request ids, and with
// an unkeyed hash it could pick ids that are never sampled. Samplers with
// the same key (SamplerKey: the same key_hash_salt) agree on every request,
// so every proxy a request crosses makes the same choice.
type Sampler struct {
	rate   float64
	k0, k1 uint64
	seq    uint64 // for requests without an id
}

// NewSampler returns a sampler keeping the given fraction (0..1) of allowed
// requests, hashing request ids under key (SamplerKey).
func NewSampler(rate float64, key [16]byte) *Sampler {
	return &Sampler{rate: rate, k0: binary.LittleEndian.Uint64(key[:8]), k1: binary.LittleEndian.Uint64(key[8:])}
}

// SamplerKey is the sampling key: derived from salt (telemetry.audit.
// key_hash_salt, a secret the fleet shares, so every proxy samples the same
// requests), or 16 random bytes when there is none (each plugin start then
// samples on its own).
func SamplerKey(salt string) [16]byte {
	var key [16]byte
	if salt == "" {
		rand.Read(key[:]) // never fails (crypto/rand, Go 1.24+)
		return key
	}
	// Domain-separated from the key hash, which HMACs rate-limit keys with
	// the same salt.
	sum := sha256.Sum256([]byte("apiguard audit sampling\x00" + salt))
	copy(key[:], sum[:])
	return key
}

// Keep reports whether to record a request.
func (s *Sampler) Keep(denied bool, requestID string) bool {
	if denied || s.rate >= 1 {
		return true
	}
	if s.rate <= 0 {
		return false
	}
	var h uint64
	if requestID != "" {
		h = castable.SipHash64(s.k0, s.k1, requestID)
	} else {
		s.seq++
		h = s.seq * 0x9E3779B97F4A7C15 // spread a counter over the range
	}
	return float64(h>>11)/(1<<53) < s.rate
}

// KeyHasher turns a rate-limit key into a short pseudonym: the first 16 hex
// digits of HMAC-SHA256(salt, key), or of SHA-256(key) without a salt. With
// a salt known only to the operator the pseudonym cannot be reversed by
// hashing every IPv4 address. Not safe for concurrent use (one per VM).
type KeyHasher struct {
	h   hash.Hash
	buf [sha256.Size]byte
	// lastKey and lastSum are the key hashed last and its pseudonym: a
	// client's requests often come back to back. lastKey is a copy: callers
	// pass keys that view buffers they reuse (ratelimit.Result.AuditKey).
	lastKey, lastSum string
}

// NewKeyHasher returns a hasher for the configured salt ("" = plain SHA-256).
func NewKeyHasher(salt string) *KeyHasher {
	if salt == "" {
		return &KeyHasher{h: sha256.New()}
	}
	return &KeyHasher{h: hmac.New(sha256.New, []byte(salt))}
}

// Hash returns the pseudonym of key ("" for an empty key).
func (k *KeyHasher) Hash(key string) string {
	if key == "" {
		return ""
	}
	if key == k.lastKey {
		return k.lastSum
	}
	k.h.Reset()
	k.h.Write([]byte(key))
	sum := k.h.Sum(k.buf[:0])
	k.lastKey, k.lastSum = strings.Clone(key), hex.EncodeToString(sum[:8])
	return k.lastSum
}

// AddSignal adds a security signal to the event, once.
func (e *Event) AddSignal(s string) {
	if !slices.Contains(e.Signals, s) {
		e.Signals = append(e.Signals, s)
	}
}

// Verdict is the stream's verdict as the rest of Envoy sees it (filter
// state): the first denial, else allow with no policy or reason; and the
// verified identity, if any. A nil event (no policy acted) is an allow.
func (e *Event) Verdict() (Decision, *Identity) {
	if e == nil {
		return Decision{Decision: verdict.Allow}, nil
	}
	for _, d := range e.Decisions {
		if d.Decision == verdict.Deny {
			return d, e.Identity
		}
	}
	return Decision{Decision: verdict.Allow}, e.Identity
}

// appendInventory appends an inventory part as the JSON object that
// inventory.ReadExport reads back: {"route", "fields": [{"path", "types",
// "classes"}]}.
func appendInventory(dst []byte, inv *InventoryPart) []byte {
	o := jsonenc.Object{B: dst}
	o.Open()
	o.Str("route", inv.Route)
	o.Key("fields")
	o.B = append(o.B, '[')
	for i, f := range inv.Fields {
		if i > 0 {
			o.B = append(o.B, ',')
		}
		o.Open()
		o.Str("path", f.Path)
		o.StrArray("types", f.Types)
		if len(f.Classes) > 0 {
			o.StrArray("classes", f.Classes)
		}
		o.Close()
	}
	o.B = append(o.B, ']')
	o.Close()
	return o.B
}
