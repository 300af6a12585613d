package ratelimit

import (
	"fmt"
	"testing"
)

// An IPv6 client owns a whole /64 and can pick any address in it: per-IP
// budgets count the /64 by default, so rotating addresses buys nothing,
// while another /64 keeps its own budget. ipv6_prefix_length 128 keys every
// address apart; IPv4 stays one address each (ipv4_prefix_length 32).
func TestIPv6ClientsAreCountedByTheirSlash64(t *testing.T) {
	policy := `[{"name": "per_ip", "key": ["client_ip"], "limits": [{"requests": 3, "per": "60s"}]}]`
	rotating := func(n int) req { return req{from: fmt.Sprintf("[2001:db8:1:2::%x:1]:40000", n)} }

	e := start(t, policy, opts{workers: 2})
	for n := 1; n <= 3; n++ {
		wantStatus(t, e.do(t, rotating(n)), 200, fmt.Sprintf("address %d of the /64", n))
	}
	for n := 4; n <= 6; n++ {
		wantStatus(t, e.do(t, rotating(n)), 429, fmt.Sprintf("address %d of the same /64", n))
	}
	wantStatus(t, e.do(t, req{from: "[2001:db8:1:3::1]:40000"}), 200, "the next /64")
	wantStatus(t, e.do(t, req{from: "[2001:db8:1:3::2]:40000"}), 200, "the next /64 again")
	for _, ip := range []string{"192.0.2.1", "192.0.2.2", "192.0.2.3", "192.0.2.4"} {
		wantStatus(t, e.do(t, req{from: ip + ":1"}), 200, "IPv4 "+ip+" has its own budget")
	}

	// A /48 site: one budget for the whole site.
	site := start(t, policy, opts{extra: `, "client_ip": {"ipv6_prefix_length": 48}`})
	for i, from := range []string{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1", "[2001:db8:1:ffff::1]:1"} {
		wantStatus(t, site.do(t, req{from: from}), 200, fmt.Sprintf("/48 site, request %d", i+1))
	}
	wantStatus(t, site.do(t, req{from: "[2001:db8:1:4::1]:1"}), 429, "/48 site, fourth /64")

	// 128: every address apart, as before.
	each := start(t, policy, opts{extra: `, "client_ip": {"ipv6_prefix_length": 128}`})
	for n := 1; n <= 6; n++ {
		wantStatus(t, each.do(t, rotating(n)), 200, fmt.Sprintf("/128, address %d", n))
	}
}
