package ratelimit

import (
	"encoding/binary"
	"math"
	"math/bits"
	"time"
)

// The algorithm is GCRA (the generic cell rate algorithm), one theoretical
// arrival time (TAT) per window, all windows of a key in one shared-data slot
// updated by one CAS.
//
// For a window with quota q per p and burst b:
//   - unit = ceil(p/q) ns is the cost of one request (one byte under
//     response_bytes);
//   - capacity = (q+b) × unit;
//   - a request at now is admitted iff max(TAT, now) + unit − now ≤ capacity,
//     and then TAT becomes max(TAT, now) + unit.
//
// So a rested key may spend q+b units at once and then one unit per
// unit-interval. Rounding unit up makes the steady rate at most q/p, never
// more.
//
// Exactness: a request is admitted only by a successful CAS that moves the
// TATs forward, so with any number of workers on one key the admissions never
// exceed what one sequential GCRA would admit (with a frozen clock: exactly
// q+b per window, then none).

// window is one compiled Limit.
type window struct {
	item     string // the RateLimit-Policy item name
	quota    int64  // q, for headers
	perSec   int64  // w, for headers: per rounded up to whole seconds
	unit     int64  // ns per unit
	capacity int64  // ns of tolerance: (q+b) × unit
	// The window's header text, rendered once at configure time for
	// configured windows (see prerender); empty for windows made per
	// request, which headers renders then.
	policyItem string // `"item";q=Q;w=W`, with ;qu="content-bytes" for byte quotas
	itemName   string // `"item"`, quoted
}

func newWindow(l Limit) (window, bool) {
	per := int64(l.Per.Duration)
	if l.Requests <= 0 || per <= 0 || l.Burst < 0 {
		return window{}, false
	}
	unit := (per + l.Requests - 1) / l.Requests
	hi, lo := bits.Mul64(uint64(l.Requests+l.Burst), uint64(unit))
	if hi != 0 || lo > math.MaxInt64/4 {
		return window{}, false
	}
	// Headers state windows in whole seconds, so a window such as "1500ms"
	// is announced rounded up (w=2): a client pacing itself by the header
	// stays under the real rate.
	perSec := (per + int64(time.Second) - 1) / int64(time.Second)
	return window{quota: l.Requests, perSec: perSec, unit: unit, capacity: int64(lo)}, true
}

// standing is one window's position after a decision, for headers.
type standing struct {
	remaining int64         // units that could be admitted now
	wait      time.Duration // until one more unit is available (0 when full)
}

// evaluation is the outcome of one evaluation over all windows of a key.
type evaluation struct {
	admitted   bool
	retryAfter time.Duration // when refused: until a request can be admitted
	tightest   int           // index of the window with the least remaining
	standings  [maxWindows]standing
	next       [maxWindows]int64 // new TATs when admitted
	reserved   int64             // units reserved (response_bytes)
	expires    int64             // when the key's state is worthless again (all rested)
}

// tatBuf holds the TATs of a key's windows, so decoding them allocates
// nothing.
type tatBuf [maxWindows]int64

// decodeTATs reads the state of n windows into buf; any other shape is
// treated as a fresh key (e.g. after the configured windows changed).
func decodeTATs(buf *tatBuf, state []byte, n int) []int64 {
	tats := buf[:n]
	clear(tats)
	if len(state) != 8*n {
		return tats
	}
	for i := range tats {
		tats[i] = int64(binary.LittleEndian.Uint64(state[8*i:]))
	}
	return tats
}

func encodeTATs(tats []int64) []byte {
	return appendTATs(make([]byte, 0, 8*len(tats)), tats)
}

// appendTATs appends the state encodeTATs makes to dst.
func appendTATs(dst []byte, tats []int64) []byte {
	for _, t := range tats {
		dst = binary.LittleEndian.AppendUint64(dst, uint64(t))
	}
	return dst
}

// admitOne evaluates one request of cost 1 against every window.
func admitOne(ws []window, tats []int64, now int64) evaluation {
	v := evaluation{admitted: true}
	for i, w := range ws {
		tat := max(tats[i], now)
		next := tat + w.unit
		if next-now > w.capacity {
			v.admitted = false
			v.retryAfter = max(v.retryAfter, time.Duration(next-w.capacity-now))
		}
		v.next[i] = next
	}
	for i, w := range ws {
		debt := max(tats[i], now) - now
		if v.admitted {
			debt = v.next[i] - now
		}
		v.standings[i] = w.standing(debt)
		v.expires = max(v.expires, v.next[i])
	}
	v.tightest = tightest(v.standings[:len(ws)])
	return v
}

// reserve evaluates a response_bytes key at request time. It is admitted iff
// every window has budget left; it then reserves want units on every window
// (want 0: all that is left), at most what is left, so that the reservations
// of concurrent streams never exceed the budget. evaluation.reserved says how
// many units were taken.
func reserve(ws []window, tats []int64, now int64, want int64) evaluation {
	v := evaluation{admitted: true}
	left := int64(math.MaxInt64)
	for i, w := range ws {
		debt := max(tats[i], now) - now
		if debt >= w.capacity {
			v.admitted = false
			v.retryAfter = max(v.retryAfter, time.Duration(debt-w.capacity+1))
		}
		left = min(left, (w.capacity-debt+w.unit-1)/w.unit)
	}
	if v.admitted {
		v.reserved = max(left, 1)
		if want > 0 {
			v.reserved = min(want, v.reserved)
		}
	}
	for i, w := range ws {
		tat := max(tats[i], now)
		v.next[i] = tat + satMul(v.reserved, w.unit)
		// The headers report the budget this request was admitted with, as
		// before reservations: the reservation is settled at stream end.
		v.standings[i] = w.standing(tat - now)
		v.expires = max(v.expires, v.next[i])
	}
	v.tightest = tightest(v.standings[:len(ws)])
	return v
}

// settle replaces a stream's reservation of reserved units by the n units it
// actually used: the difference is charged unconditionally (the response was
// already sent), or given back. The debt is capped at twice the capacity so
// that one huge response blocks the key for at most about two windows, and a
// refund never takes a window below rested.
func settle(ws []window, tats []int64, now int64, reserved, n int64) (next []int64, expires int64) {
	next = make([]int64, len(ws))
	for i, w := range ws {
		switch {
		case n >= reserved:
			tat := max(tats[i], now)
			add := satMul(n-reserved, w.unit)
			limit := now + 2*w.capacity
			if add > limit-tat {
				next[i] = max(limit, tat)
			} else {
				next[i] = tat + add
			}
		default:
			next[i] = max(tats[i]-satMul(reserved-n, w.unit), now)
		}
		expires = max(expires, next[i])
	}
	return next, expires
}

// standing converts a window's debt (TAT − now, in ns) to remaining units and
// the wait until one more unit is available.
func (w window) standing(debt int64) standing {
	if debt <= 0 {
		return standing{remaining: w.capacity / w.unit}
	}
	free := w.capacity - debt
	if free < 0 {
		return standing{wait: time.Duration(debt - w.capacity + w.unit)}
	}
	r := free / w.unit
	// One more unit is free once the debt falls to capacity − (r+1)×unit.
	return standing{remaining: r, wait: time.Duration(debt - (w.capacity - (r+1)*w.unit))}
}

// tightest picks the window with the least remaining; ties go to the longer
// wait.
func tightest(s []standing) int {
	best := 0
	for i := 1; i < len(s); i++ {
		if s[i].remaining < s[best].remaining ||
			(s[i].remaining == s[best].remaining && s[i].wait > s[best].wait) {
			best = i
		}
	}
	return best
}

func satMul(a, b int64) int64 {
	hi, lo := bits.Mul64(uint64(a), uint64(b))
	if hi != 0 || lo > math.MaxInt64 {
		return math.MaxInt64
	}
	return int64(lo)
}
