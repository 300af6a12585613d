package ratelimit

import (
	"strings"
	"testing"
)

func TestStandingAndBucketKeyDescribeEachOutcome(t *testing.T) {
	l, _ := mustLimiter(t, `[
		{"name":"a","key":["header:x-key"],"limits":[{"requests":3,"per":"60s"},{"requests":10,"per":"3600s"}]},
		{"name":"b","key":["client_ip"],"global":{"cluster":"rls","domain":"d"}}]`)
	res := l.Check(req("192.0.2.1", map[string]string{"x-key": "k1"}), t0)
	if r, q, ok := res.Standing(0); !ok || r != 2 || q != 3 {
		t.Errorf("Standing(0) = %d, %d, %v; want 2 left of the tightest quota 3", r, q, ok)
	}
	if k := res.BucketKey(0); k == "" || !strings.Contains(k, "k1") {
		t.Errorf("BucketKey(0) = %q, want the key holding the header value", k)
	}
	// A global policy without local limits has no bucket and, until the
	// service answers, no numbers.
	if _, _, ok := res.Standing(1); ok {
		t.Error("Standing(1) of a pending global policy reported numbers")
	}
	if k := res.BucketKey(1); k != "" {
		t.Errorf("BucketKey(1) = %q, want none", k)
	}
	for _, i := range []int{-1, 2} {
		if _, _, ok := res.Standing(i); ok || res.BucketKey(i) != "" {
			t.Errorf("index %d out of range answered", i)
		}
	}
}
