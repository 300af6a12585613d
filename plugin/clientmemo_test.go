package main

import (
	"testing"

	"github.com/apiguard/apiguard/internal/clientip"
)

// A worker's memo follows the source address from one request to the next:
// a client never gets the address, network or rate-limit key of the one
// before it, and a source that names no address yields none.
func TestClientMemoFollowsTheSourceAddress(t *testing.T) {
	r := clientip.Resolver{IPv6PrefixLength: 64}
	var m clientMemo
	cases := []struct{ source, text, key string }{
		{"192.0.2.1:5678", "192.0.2.1", "192.0.2.1"},
		{"192.0.2.1:5678", "192.0.2.1", "192.0.2.1"},
		{"192.0.2.2:5678", "192.0.2.2", "192.0.2.2"},
		{"[2001:db8:1:2::7]:443", "2001:db8:1:2::7", "2001:db8:1:2::/64"},
		{"not an address", "", ""},
		{"", "", ""},
		{"192.0.2.1:5678", "192.0.2.1", "192.0.2.1"},
	}
	buf := make([]byte, 0, 64) // the host's block, reused as the host would
	for _, c := range cases {
		buf = append(buf[:0], c.source...)
		got := m.of(buf, r)
		clear(buf) // the memo keeps its own copy
		if got.text != c.text || got.key != c.key || got.addr.IsValid() != (c.text != "") {
			t.Fatalf("source %q: addr %v, text %q, key %q; want text %q, key %q", c.source, got.addr, got.text, got.key, c.text, c.key)
		}
		if want := r.Network(got.addr); got.network != want {
			t.Fatalf("source %q: network %v, want %v", c.source, got.network, want)
		}
	}
}
