package audit

import (
	"sync/atomic"
	"time"
)

// secondPrefix is the RFC 3339 text of one UTC second,
// "2006-01-02T15:04:05".
type secondPrefix struct {
	sec  int64
	text string
}

// lastSecond caches the prefix of the second last formatted: audit events
// of one second share it, so formatting a timestamp is a copy and nine
// digits instead of a calendar computation (several µs in Wasm).
var lastSecond atomic.Pointer[secondPrefix]

// appendTimeRFC3339Nano appends t in UTC exactly as
// t.UTC().AppendFormat(dst, time.RFC3339Nano) does.
func appendTimeRFC3339Nano(dst []byte, t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return t.AppendFormat(dst, time.RFC3339Nano)
	}
	sec := t.Unix()
	p := lastSecond.Load()
	if p == nil || p.sec != sec {
		p = &secondPrefix{sec: sec, text: t.Format("2006-01-02T15:04:05")}
		lastSecond.Store(p)
	}
	dst = append(dst, p.text...)
	if ns := t.Nanosecond(); ns != 0 {
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i >= 1; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := len(frac)
		for frac[n-1] == '0' {
			n--
		}
		dst = append(dst, frac[:n]...)
	}
	return append(dst, 'Z')
}
