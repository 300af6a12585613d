package wasmhost

import (
	"strconv"
	"testing"
	"time"
)

func TestUnknownForeignFunctionIsNotFound(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	if got := do(t, p, echoUpstream, "GET", "/", "", "x-do", "foreign").header.Get("X-Foreign"); got != "1" {
		t.Fatalf("got %q, want NOT_FOUND (1)", got)
	}
}

// The WASI realtime clock follows PluginConfig.WallClock while monotonic
// time stays real, so sleeps and durations still work.
func TestWallClockIsSwappableMonotonicStaysReal(t *testing.T) {
	cfg := conformanceConfig("plain")
	cfg.WallClock = func() time.Time { return time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC) }
	p := startConformance(t, Options{}, cfg)
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "time")
	if got := res.header.Get("X-Wall"); got != "2001-02-03T04:05:06Z" {
		t.Fatalf("wall clock %q", got)
	}
	if ms, _ := strconv.Atoi(res.header.Get("X-Slept-Ms")); ms < 2 {
		t.Fatalf("monotonic time did not advance: %q", res.header.Get("X-Slept-Ms"))
	}
}
