package ratelimit

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/verdict"
)

// This file speaks envoyproxy/ratelimit's HTTP /json endpoint
// (src/server/server_impl.go, NewJsonHandler): the body is a
// envoy.service.ratelimit.v3.RateLimitRequest in proto3 JSON, and the answer a
// RateLimitResponse marshalled by protojson. The handler answers 200 for OK,
// 429 for OVER_LIMIT, 500 for UNKNOWN, and 400 for its own errors (a bad body,
// or ShouldRateLimit failing, e.g. with Redis down). Envoy itself turns
// connection failures and timeouts of proxy_http_call into 503/504, and a
// reset into a response with no headers (status 0 here).

// Callout is a request the plugin sends with proxy_http_call, pausing the
// stream until the answer, and then passes to Result.ResolveCallout.
type Callout struct {
	Policy  string
	Cluster string
	// Headers include :method, :path, :authority and content-type.
	Headers [][2]string
	Body    []byte
	Timeout time.Duration
}

type compiledGlobal struct {
	cluster     string
	domain      string
	path        string
	authority   string
	timeout     time.Duration
	failDeny    bool
	descriptors [][]compiledEntry
}

type compiledEntry struct {
	key   string
	value string // literal, when from is nil
	from  *part
}

func compileGlobal(g *Global, parts []part) *compiledGlobal {
	cg := &compiledGlobal{
		cluster:   g.Cluster,
		domain:    g.Domain,
		path:      g.Path,
		authority: g.Authority,
		timeout:   g.Timeout.Duration,
		failDeny:  g.FailureMode == "deny",
	}
	if cg.path == "" {
		cg.path = "/json"
	}
	if cg.authority == "" {
		cg.authority = g.Cluster
	}
	if cg.timeout == 0 {
		cg.timeout = defaultTimeout
	}
	if len(g.Descriptors) == 0 {
		d := make([]compiledEntry, len(parts))
		for i := range parts {
			d[i] = compiledEntry{key: parts[i].name, from: &parts[i]}
		}
		cg.descriptors = [][]compiledEntry{d}
		return cg
	}
	for _, d := range g.Descriptors {
		var ce []compiledEntry
		for _, e := range d {
			c := compiledEntry{key: e.Key, value: e.Value}
			if e.From != "" {
				p, _ := parsePart(e.From) // checked by Validate
				c.from = &p
			}
			ce = append(ce, c)
		}
		cg.descriptors = append(cg.descriptors, ce)
	}
	return cg
}

// Proto3 JSON shapes of RateLimitRequest (envoy/service/ratelimit/v3/rls.proto
// and envoy/extensions/common/ratelimit/v3/ratelimit.proto).
type rlsRequest struct {
	Domain      string          `json:"domain"`
	Descriptors []rlsDescriptor `json:"descriptors"`
}

type rlsDescriptor struct {
	Entries []rlsEntry `json:"entries"`
}

type rlsEntry struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

// buildCallout fills the descriptors for r; a missing value follows the
// policy's missing-part rule ("ip:" and the client IP, or errNoKey).
func (g *compiledGlobal) buildCallout(policy string, r *Request, fallback bool) (Callout, error) {
	req := rlsRequest{Domain: g.domain}
	for _, d := range g.descriptors {
		var rd rlsDescriptor
		for _, e := range d {
			v := e.value
			if e.from != nil {
				var ok bool
				if v, ok = e.from.value(r); !ok {
					if !fallback || !r.ClientIP.IsValid() {
						return Callout{}, errNoKey
					}
					v = "ip:" + r.clientKey()
				}
			}
			rd.Entries = append(rd.Entries, rlsEntry{Key: e.key, Value: descriptorValue(v)})
		}
		req.Descriptors = append(req.Descriptors, rd)
	}
	body, err := json.Marshal(req)
	if err != nil {
		return Callout{}, err
	}
	return Callout{
		Policy:  policy,
		Cluster: g.cluster,
		Headers: [][2]string{
			{":method", "POST"},
			{":path", g.path},
			{":authority", g.authority},
			{"content-type", "application/json"},
		},
		Body:    body,
		Timeout: g.timeout,
	}, nil
}

// Proto3 JSON shapes of RateLimitResponse. Enums may come as names or numbers.
type rlsResponse struct {
	OverallCode json.RawMessage `json:"overallCode"`
	Statuses    []rlsStatus     `json:"statuses"`
}

type rlsStatus struct {
	Code               json.RawMessage `json:"code"`
	CurrentLimit       *rlsLimit       `json:"currentLimit"`
	LimitRemaining     uint32          `json:"limitRemaining"`
	DurationUntilReset string          `json:"durationUntilReset"`
}

type rlsLimit struct {
	RequestsPerUnit uint32          `json:"requestsPerUnit"`
	Unit            json.RawMessage `json:"unit"`
}

// Global verdict reasons, in apiguard's one vocabulary: a service's OK or
// over-limit answer is the same decision as a local one.
const (
	ReasonGlobalOK           = verdict.WithinLimit
	ReasonGlobalOverLimit    = verdict.RateLimited
	ReasonGlobalReset        = verdict.GlobalReset        // no answer: stream reset (status 0)
	ReasonGlobalUnavailable  = verdict.GlobalUnavailable  // Envoy's 503: refused, reset, no healthy host
	ReasonGlobalTimeout      = verdict.GlobalTimeout      // Envoy's 504: the callout's timeout passed
	ReasonGlobalServiceError = verdict.GlobalServiceError // the service's 400, e.g. Redis down
	ReasonGlobalUnknown      = verdict.GlobalUnknown      // the service's 500 (overallCode UNKNOWN)
	ReasonGlobalBadAnswer    = verdict.GlobalBadAnswer    // a 200 that is not a readable overallCode OK
	ReasonGlobalUnexpected   = verdict.GlobalUnexpectedStatus
)

// globalAnswer is the judged answer of the service.
type globalAnswer struct {
	pass, limited bool
	reason        verdict.Reason
	numbers       *globalNumbers // for headers, when the answer carries them
}

type globalNumbers struct {
	quota, perSec, remaining int64
	reset                    time.Duration
}

// judgeGlobal applies the rule: only a 200 whose overallCode is OK passes,
// only a 429 is limited, everything else follows the failure mode.
func judgeGlobal(status int, body []byte) globalAnswer {
	if len(body) > MaxAnswerBytes {
		return globalAnswer{reason: ReasonGlobalBadAnswer}
	}
	switch status {
	case 200:
		resp, err := decodeRLS(body)
		if err != nil || !isCode(resp.OverallCode, "OK", 1) {
			return globalAnswer{reason: ReasonGlobalBadAnswer}
		}
		return globalAnswer{pass: true, reason: ReasonGlobalOK, numbers: resp.numbers()}
	case 429:
		a := globalAnswer{limited: true, reason: ReasonGlobalOverLimit}
		if resp, err := decodeRLS(body); err == nil {
			a.numbers = resp.numbers()
		}
		return a
	case 0:
		return globalAnswer{reason: ReasonGlobalReset}
	case 503:
		return globalAnswer{reason: ReasonGlobalUnavailable}
	case 504:
		return globalAnswer{reason: ReasonGlobalTimeout}
	case 400:
		return globalAnswer{reason: ReasonGlobalServiceError}
	case 500:
		return globalAnswer{reason: ReasonGlobalUnknown}
	}
	return globalAnswer{reason: ReasonGlobalUnexpected}
}

// MaxAnswerBytes bounds the rate-limit service answer a caller reads back.
// A real answer is a few hundred bytes; a larger one is a bad answer that
// follows failure_mode (see Result.ResolveOversized), so a broken or hostile
// service cannot make every worker buffer and parse megabytes per request.
const MaxAnswerBytes = 64 << 10

func decodeRLS(body []byte) (*rlsResponse, error) {
	var r rlsResponse
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&r); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, errors.New("ratelimit: trailing data after rls answer")
	}
	return &r, nil
}

// isCode reports whether a proto3 JSON enum value is name or number.
func isCode(raw json.RawMessage, name string, number int) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == name
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return n == number
	}
	return false
}

var unitSeconds = map[string]int64{
	"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400,
	"WEEK": 7 * 86400, "MONTH": 30 * 86400, "YEAR": 365 * 86400,
}

var unitNumbers = map[int]string{1: "SECOND", 2: "MINUTE", 3: "HOUR", 4: "DAY", 5: "MONTH", 6: "YEAR", 7: "WEEK"}

func unitToSeconds(raw json.RawMessage) int64 {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return unitSeconds[s]
	}
	var n int
	if json.Unmarshal(raw, &n) == nil {
		return unitSeconds[unitNumbers[n]]
	}
	return 0
}

// numbers picks the descriptor status with the least remaining that carries a
// limit, for the RateLimit headers.
func (r *rlsResponse) numbers() *globalNumbers {
	var best *globalNumbers
	for _, s := range r.Statuses {
		if s.CurrentLimit == nil || s.CurrentLimit.RequestsPerUnit == 0 {
			continue
		}
		w := unitToSeconds(s.CurrentLimit.Unit)
		if w == 0 {
			continue
		}
		n := &globalNumbers{quota: int64(s.CurrentLimit.RequestsPerUnit), perSec: w, remaining: int64(s.LimitRemaining)}
		if d, err := parseProtoDuration(s.DurationUntilReset); err == nil {
			n.reset = d
		}
		if best == nil || n.remaining < best.remaining {
			best = n
		}
	}
	return best
}

// parseProtoDuration reads a google.protobuf.Duration in JSON ("1.5s").
func parseProtoDuration(s string) (time.Duration, error) {
	if !strings.HasSuffix(s, "s") || strings.HasPrefix(s, "-") {
		return 0, errors.New("ratelimit: bad duration")
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, errors.New("ratelimit: bad duration")
	}
	return d, nil
}
