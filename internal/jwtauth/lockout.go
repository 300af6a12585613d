package jwtauth

import (
	"encoding/binary"
	"math"
	"net/netip"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/config"
)

// DefaultFailureWindow is the counting window of failed authentications
// when no `lockout` is configured.
const DefaultFailureWindow = time.Minute

// Lockout answers 429 to a client IP after repeated failed authentications
// (`lockout`). Failures are counted across workers in shared data.
type Lockout struct {
	// Failures (`failures`): failed authentications of one client IP within
	// `window` after which its requests to authenticated routes get 429
	// until the window ends. Required, at least 1.
	Failures int `json:"failures" config:"required"`
	// Window (`window`): the counting window, e.g. "60s". Required.
	Window config.Duration `json:"window" config:"required"`
}

// Validate checks the lockout.
func (l *Lockout) Validate() error {
	if l.Failures < 1 {
		return config.Errorf("failures", "must be at least 1")
	}
	if l.Window.Duration <= 0 {
		return config.Errorf("window", "must be positive")
	}
	return nil
}

// failureStateBytes: window start (unix ns) and count.
const failureStateBytes = 12

// TrackFailures counts failed authentications per client IP (Request
// ClientIP) in t, a bounded table in shared data (namespace it with the
// plugin root id, e.g. "apiguard/<root_id>/authfail"; 12-byte states), so
// every worker sees the same counts. Results then carry ClientFailures, and
// a configured `lockout` answers 429. Missing tokens, claim rules and key
// outages are not counted: they are not guesses. Table errors never fail a
// request; they only lose a count.
func (a *Authenticator) TrackFailures(t *castable.Table) {
	a.failures = t
}

func ipKey(ip netip.Addr) string { return "ip:" + ip.Unmap().String() }

// countsAsFailure reports whether a denial is a failed credential.
func countsAsFailure(r Reason) bool {
	switch r {
	case ReasonMissing, ReasonClaims, ReasonJWKSUnavailable, ReasonLockedOut:
		return false
	}
	return true
}

func decodeFailures(state []byte) (start int64, count uint32, ok bool) {
	if len(state) != failureStateBytes {
		return 0, 0, false
	}
	return int64(binary.LittleEndian.Uint64(state)), binary.LittleEndian.Uint32(state[8:]), true
}

// lockedOut reports whether ip is locked out, and until when.
func (a *Authenticator) lockedOut(ip netip.Addr, now time.Time) (bool, time.Time) {
	if a.failures == nil || a.lockout == nil || !ip.IsValid() {
		return false, time.Time{}
	}
	var locked bool
	var until time.Time
	_, _ = a.failures.Update(ipKey(ip), now, func(state []byte) ([]byte, time.Time, bool) {
		start, count, ok := decodeFailures(state)
		end := time.Unix(0, start).Add(a.window)
		locked = ok && int(count) >= a.lockout.Failures && now.Before(end)
		until = end
		return nil, time.Time{}, false
	})
	return locked, until
}

// recordFailure adds one failure for ip and returns the count in the window.
func (a *Authenticator) recordFailure(ip netip.Addr, now time.Time) int {
	if a.failures == nil || !ip.IsValid() {
		return 0
	}
	var n uint32
	_, err := a.failures.Update(ipKey(ip), now, func(state []byte) ([]byte, time.Time, bool) {
		start, count, ok := decodeFailures(state)
		if !ok || !now.Before(time.Unix(0, start).Add(a.window)) {
			start, count = now.UnixNano(), 0
		}
		if count < math.MaxUint32 {
			count++
		}
		n = count
		next := make([]byte, failureStateBytes)
		binary.LittleEndian.PutUint64(next, uint64(start))
		binary.LittleEndian.PutUint32(next[8:], count)
		return next, time.Unix(0, start).Add(a.window), true
	})
	if err != nil {
		return 0
	}
	return int(n)
}

// FailureWindow is the window ClientFailures counts in: the lockout's
// window when one is configured, else DefaultFailureWindow or what
// SetFailureWindow chose.
func (a *Authenticator) FailureWindow() time.Duration { return a.window }

// SetFailureWindow sets the counting window of ClientFailures (the
// brute-force signal) when no `lockout` is configured; one count serves
// both, so a lockout's window wins. It reports whether d is now the window.
// Call it before the first request.
func (a *Authenticator) SetFailureWindow(d time.Duration) bool {
	if a.lockout != nil || d <= 0 {
		return d == a.window
	}
	a.window = d
	return true
}
