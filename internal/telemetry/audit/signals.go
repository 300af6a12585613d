package audit

import (
	"net/netip"
	"time"
)

// Burst describes a client that crossed the failed-authentication threshold.
// The count is the one the JWT policy keeps across workers in shared data
// (jwtauth ClientFailures), so every worker sees the same total and exactly
// one request crosses the threshold in a window.
type Burst struct {
	Client   netip.Addr
	Failures int
	Window   time.Duration
}

// CrossesThreshold reports whether a request whose denial brought its
// client to failures failed authentications (counted across workers, 0 when
// the denial was not a failed credential) is the one that crossed threshold.
// Counts rise one at a time under compare-and-swap, so this holds for exactly
// one request per client and window.
func CrossesThreshold(failures, threshold int) bool {
	return threshold > 0 && failures == threshold
}

// BurstEvent is the audit event for a burst.
func BurstEvent(b Burst, now time.Time) *Event {
	return &Event{Type: EventAuthFailureBurst, Time: now, ClientIP: b.Client.String(), Failures: b.Failures, Window: b.Window}
}

// IsNearLimit reports whether an allowed request leaves the client near its
// limit: at least ratio of limit used (envoyproxy/ratelimit's near_limit uses
// 0.8). remaining is what is left after this request.
func IsNearLimit(remaining, limit int64, ratio float64) bool {
	if limit <= 0 || remaining < 0 || remaining > limit {
		return false
	}
	return float64(limit-remaining) >= ratio*float64(limit)
}
