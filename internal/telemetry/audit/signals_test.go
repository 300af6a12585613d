package audit

import (
	"net/netip"
	"strings"
	"testing"
	"time"
)

func TestBurstCrossesTheThresholdOnce(t *testing.T) {
	var crossings []int
	for n := 0; n <= 30; n++ {
		if CrossesThreshold(n, 10) {
			crossings = append(crossings, n)
		}
	}
	if len(crossings) != 1 || crossings[0] != 10 {
		t.Fatalf("crossings at %v, want only at 10", crossings)
	}
	if CrossesThreshold(0, 0) {
		t.Fatal("a zero threshold (not counted) crossed")
	}
	c := netip.MustParseAddr("203.0.113.7")
	ev := BurstEvent(Burst{Client: c, Failures: 10, Window: time.Minute}, t0)
	if line, err := AppendLine(nil, ev); err != nil || !strings.Contains(string(line), `"type":"auth_failure_burst"`) ||
		!strings.Contains(string(line), `"failures":10`) || !strings.Contains(string(line), `"203.0.113.7"`) {
		t.Fatalf("burst event %s %v", line, err)
	}
}

func TestIsNearLimit(t *testing.T) {
	for _, c := range []struct {
		remaining, limit int64
		want             bool
	}{{20, 100, true}, {21, 100, false}, {0, 100, true}, {100, 100, false}, {-1, 100, false}, {5, 0, false}, {0, 1, true}} {
		if got := IsNearLimit(c.remaining, c.limit, 0.8); got != c.want {
			t.Errorf("IsNearLimit(%d, %d) = %v", c.remaining, c.limit, got)
		}
	}
}
