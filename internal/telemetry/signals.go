package telemetry

import (
	"net/netip"
	"time"
)

// AuthFailureTracker spots bursts of failed authentications per client, in a
// bounded table (one per worker VM). Each client has a fixed window that
// starts at its first failure; reaching the threshold inside the window
// reports one burst, and the client is not reported again until a new
// window. When the table is full, the client tracked longest is evicted
// (first in, first out, O(1)), so memory and time stay bounded whatever
// the traffic. Per-worker counts
// see only that worker's share of a client's traffic; Envoy spreads
// connections over workers, so a client on one connection is counted fully.
type AuthFailureTracker struct {
	threshold int
	window    time.Duration
	max       int
	clients   map[netip.Addr]*failureWindow
	order     []netip.Addr // insertion order, a ring once full
	next      int          // ring slot to evict next
}

type failureWindow struct {
	start    time.Time
	failures int
	reported bool
}

// NewAuthFailureTracker returns a tracker for a resolved SignalsConfig.
func NewAuthFailureTracker(cfg SignalsConfig) *AuthFailureTracker {
	t := &AuthFailureTracker{
		threshold: max(cfg.AuthFailureThreshold, 1),
		window:    orDur(cfg.AuthFailureWindow.Duration, time.Minute),
		max:       max(cfg.MaxTrackedClients, 1),
	}
	t.clients = make(map[netip.Addr]*failureWindow, min(t.max, 1024))
	return t
}

// Burst describes a client that crossed the threshold.
type Burst struct {
	Client   netip.Addr
	Failures int
	Window   time.Duration
}

// Failure records a failed authentication of client and returns a Burst the
// first time the client reaches the threshold in its window.
func (t *AuthFailureTracker) Failure(client netip.Addr, now time.Time) (Burst, bool) {
	w, ok := t.clients[client]
	if ok && now.Sub(w.start) >= t.window {
		*w = failureWindow{start: now}
	}
	if !ok {
		w = &failureWindow{start: now}
		if len(t.order) < t.max {
			t.order = append(t.order, client)
		} else {
			delete(t.clients, t.order[t.next])
			t.order[t.next] = client
			t.next = (t.next + 1) % t.max
		}
		t.clients[client] = w
	}
	w.failures++
	if w.failures >= t.threshold && !w.reported {
		w.reported = true
		return Burst{Client: client, Failures: w.failures, Window: t.window}, true
	}
	return Burst{}, false
}

// Tracked is the number of clients in the table.
func (t *AuthFailureTracker) Tracked() int { return len(t.clients) }

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
