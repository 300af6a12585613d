package audit

import (
	"math/rand/v2"
	"testing"
	"time"
)

// The cached formatting is byte for byte time.RFC3339Nano, across second
// boundaries, whole seconds, trailing zeros and years out of four digits.
func TestAppendTimeMatchesRFC3339Nano(t *testing.T) {
	times := []time.Time{
		time.Date(2026, 11, 28, 18, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 28, 18, 0, 0, 100_000_000, time.UTC),
		time.Date(2026, 11, 28, 18, 0, 0, 123_456_789, time.FixedZone("x", 3600)),
		time.Date(2026, 11, 28, 18, 0, 1, 1, time.UTC),
		time.Date(1969, 12, 31, 23, 59, 59, 999_999_999, time.UTC),
		time.Date(10000, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Date(-1, 1, 1, 0, 0, 0, 5, time.UTC),
		time.Now(),
	}
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for range 5000 {
		times = append(times, base.Add(time.Duration(r.Int64N(int64(400*24*time.Hour)))))
		times = append(times, times[len(times)-1].Add(time.Duration(r.IntN(3))*time.Millisecond))
	}
	for _, tm := range times {
		want := tm.UTC().AppendFormat(nil, time.RFC3339Nano)
		if got := appendTimeRFC3339Nano([]byte("x"), tm); string(got) != "x"+string(want) {
			t.Fatalf("%v: %s, want %s", tm, got[1:], want)
		}
	}
}
