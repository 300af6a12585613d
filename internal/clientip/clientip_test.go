package clientip

import (
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/config"
)

func TestResolve(t *testing.T) {
	const peer = "10.0.0.9:34567"
	tests := []struct {
		name string
		hops int
		src  string
		xff  []string
		want string
	}{
		{"hops 0 ignores xff", 0, peer, []string{"1.1.1.1"}, "10.0.0.9"},
		{"no xff", 1, peer, nil, "10.0.0.9"},
		{"one hop takes last entry", 1, peer, []string{"6.6.6.6, 1.1.1.1"}, "1.1.1.1"},
		{"spoofed entries left of the trusted one are ignored", 1, peer, []string{"6.6.6.6,7.7.7.7, 1.1.1.1"}, "1.1.1.1"},
		{"two hops", 2, peer, []string{"6.6.6.6, 1.1.1.1, 10.1.1.1"}, "1.1.1.1"},
		{"two hops, exact count", 2, peer, []string{"1.1.1.1, 10.1.1.1"}, "1.1.1.1"},
		{"too few entries fall back to the peer", 3, peer, []string{"1.1.1.1, 10.1.1.1"}, "10.0.0.9"},
		{"malformed entry falls back to the peer", 1, peer, []string{"6.6.6.6, unknown"}, "10.0.0.9"},
		{"entry with port is malformed, as in Envoy", 1, peer, []string{"1.1.1.1:80"}, "10.0.0.9"},
		{"bracketed IPv6 is malformed", 1, peer, []string{"[2001:db8::1]"}, "10.0.0.9"},
		{"IPv6 zone is malformed", 1, peer, []string{"fe80::1%eth0"}, "10.0.0.9"},
		{"empty last entry falls back", 1, peer, []string{"1.1.1.1,"}, "10.0.0.9"},
		{"empty header falls back", 1, peer, []string{""}, "10.0.0.9"},
		{"whitespace trimmed", 1, peer, []string{"6.6.6.6 ,\t 1.1.1.1 "}, "1.1.1.1"},
		{"IPv6 entry", 1, peer, []string{"2001:db8::7"}, "2001:db8::7"},
		{"mapped IPv4 entry unmapped", 1, peer, []string{"::ffff:1.2.3.4"}, "1.2.3.4"},
		{"header lines joined", 2, peer, []string{"6.6.6.6, 1.1.1.1", "10.1.1.1"}, "1.1.1.1"},
		{"header lines joined, hop across lines", 1, peer, []string{"6.6.6.6", "1.1.1.1"}, "1.1.1.1"},
		{"IPv6 peer", 0, "[2001:db8::1]:443", nil, "2001:db8::1"},
		{"mapped IPv4 peer", 0, "[::ffff:10.0.0.1]:80", nil, "10.0.0.1"},
		{"bare IPv4 peer", 0, "192.0.2.1", nil, "192.0.2.1"},
		{"bare IPv6 peer", 0, "2001:db8::2", nil, "2001:db8::2"},
		{"zoned peer loses zone", 0, "[fe80::1%eth0]:80", nil, "fe80::1"},
		{"xff wins over an unusable peer", 1, "/tmp/envoy.sock", []string{"1.1.1.1"}, "1.1.1.1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolver{TrustedHops: tt.hops}.Resolve(tt.src, tt.xff)
			if err != nil {
				t.Fatal(err)
			}
			if want := netip.MustParseAddr(tt.want); got != want {
				t.Errorf("Resolve = %v, want %v", got, want)
			}
		})
	}
}

func TestResolveErrors(t *testing.T) {
	for _, src := range []string{"", "/tmp/envoy.sock", "envoy://internal", "1.2.3.4:99999", "01.2.3.4:80"} {
		if a, err := (Resolver{TrustedHops: 1}).Resolve(src, []string{"bogus"}); !errors.Is(err, ErrNoAddress) {
			t.Errorf("Resolve(%q) = %v, %v; want ErrNoAddress", src, a, err)
		}
	}
	// Out-of-range hops (not validated) never read x-forwarded-for.
	a, err := Resolver{TrustedHops: -1}.Resolve("10.0.0.1:1", []string{"1.1.1.1"})
	if err != nil || a != netip.MustParseAddr("10.0.0.1") {
		t.Errorf("negative hops: %v, %v", a, err)
	}
}

func TestValidate(t *testing.T) {
	var r Resolver
	if err := config.Decode([]byte(`{"trusted_hops":2}`), &r); err != nil || r.TrustedHops != 2 {
		t.Fatalf("%+v %v", r, err)
	}
	for _, in := range []string{`{"trusted_hops":-1}`, `{"trusted_hops":33}`} {
		err := config.Decode([]byte(in), &r)
		if err == nil || !strings.Contains(err.Error(), "trusted_hops: must be between 0 and 32") {
			t.Errorf("%s: %v", in, err)
		}
	}
}

func FuzzResolve(f *testing.F) {
	f.Add(2, "10.0.0.1:80", "6.6.6.6, 1.1.1.1, 10.1.1.1")
	f.Add(1, "[::1]:80", "::ffff:1.2.3.4")
	f.Fuzz(func(t *testing.T, hops int, src, xff string) {
		r := Resolver{TrustedHops: hops % (MaxTrustedHops + 2)}
		got, err := r.Resolve(src, strings.Split(xff, "\n"))
		if err != nil {
			return
		}
		if !got.IsValid() || got.Zone() != "" || got.Is4In6() {
			t.Fatalf("Resolve gave %v", got)
		}
		// The answer is the peer or an address written in the header.
		if peer, ok := parseSource(src); ok && peer == got {
			return
		}
		for _, e := range strings.FieldsFunc(xff, func(r rune) bool { return r == ',' || r == '\n' }) {
			if a, ok := parseIP(strings.TrimSpace(e)); ok && a == got {
				return
			}
		}
		t.Fatalf("Resolve(%q, %q) = %v, from nowhere", src, xff, got)
	})
}

func BenchmarkResolve(b *testing.B) {
	r := Resolver{TrustedHops: 2}
	xff := []string{"203.0.113.7, 198.51.100.2, 10.1.1.1"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve("10.0.0.9:34567", xff); err != nil {
			b.Fatal(err)
		}
	}
}

func TestNetworkKeysIPv6ClientsByTheirSlash64(t *testing.T) {
	var def Resolver
	for _, c := range []struct {
		r    Resolver
		ip   string
		want string
	}{
		{def, "2001:db8:1:2::5:1", "2001:db8:1:2::/64"},
		{def, "2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"},
		{def, "192.0.2.7", "192.0.2.7"},
		{def, "::ffff:192.0.2.7", "192.0.2.7"},
		{Resolver{IPv6PrefixLength: 128}, "2001:db8::1", "2001:db8::1"},
		{Resolver{IPv6PrefixLength: 48, IPv4PrefixLength: 24}, "2001:db8:1:2::1", "2001:db8:1::/48"},
		{Resolver{IPv4PrefixLength: 24}, "192.0.2.7", "192.0.2.0/24"},
		// IPv6 forms that carry a client's IPv4 address count as it.
		{def, "64:ff9b::192.0.2.1", "192.0.2.1"},
		{def, "64:ff9b::198.51.100.7", "198.51.100.7"},
		{Resolver{IPv4PrefixLength: 24}, "64:ff9b::198.51.100.7", "198.51.100.0/24"},
		{def, "::192.0.2.1", "192.0.2.1"},
		{def, "::1", "::/64"},
		{def, "::", "::/64"},
		{def, "2002:c000:201:1::1", "192.0.2.1"},
		{def, "2002:c000:201:ffff:1:2:3:4", "192.0.2.1"},
		{def, "2001:0:4136:e378:8000:63bf:3fff:fdd2", "192.0.2.45"},
		{def, "2001:db8:4136:e378::1", "2001:db8:4136:e378::/64"},
		{def, "64:ff9b:1::c000:201", "64:ff9b:1::/64"},
	} {
		if got := c.r.NetworkKey(netip.MustParseAddr(c.ip)); got != c.want {
			t.Errorf("%+v NetworkKey(%s) = %q, want %q", c.r, c.ip, got, c.want)
		}
	}
	if got := def.NetworkKey(netip.Addr{}); got != "" {
		t.Errorf("invalid address: %q", got)
	}
}
