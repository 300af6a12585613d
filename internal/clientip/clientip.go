// Package clientip decides which IP address a request comes from, for
// rate-limit keys and audit events. The answer must never be a value the
// client can choose, so x-forwarded-for is read only as far as configured
// proxies vouch for it.
package clientip

import (
	"cmp"
	"errors"
	"net/netip"
	"strings"

	"github.com/apiguard/apiguard/internal/config"
)

// MaxTrustedHops bounds trusted_hops; no real deployment has more proxies.
const MaxTrustedHops = 32

// ErrNoAddress is wrapped by Resolve's error when neither the connection
// nor x-forwarded-for yields an IP address (a Unix socket peer, say).
var ErrNoAddress = errors.New("clientip: no client IP address")

// Resolver picks the client IP the way Envoy's HTTP connection manager does
// with use_remote_address: true and xff_num_trusted_hops: TrustedHops.
//
// With TrustedHops = 0 x-forwarded-for is ignored and the answer is the
// connection's peer (Envoy's `source.address` property). With N > 0, the
// peer and the N-1 proxies before it are trusted: the nearest trusted proxy
// appended its own client's address as the last x-forwarded-for entry, so
// the answer is the N-th entry counted from the right.
//
// This mirrors Envoy's source/common/http/conn_manager_utility.cc
// (ConnectionManagerUtility::mutateRequestHeaders calls
// Utility::getLastAddressFromXFF(request_headers, xff_num_trusted_hops - 1))
// and source/common/http/utility.cc (getLastAddressFromXFF: drop the last
// num_to_skip comma-separated entries, take the text after the last
// remaining comma, trim spaces, parse it as a bare IP; no entry or no
// parse means no address). As in Envoy, when that fails (too few entries, a
// malformed entry such as "unknown", a port, an IPv6 zone) the answer falls
// back to the connection's peer, never to another x-forwarded-for entry.
//
// Where to configure it: if the listener's HTTP connection manager already
// sets xff_num_trusted_hops, `source.address` is already the client Envoy
// determined; keep TrustedHops at 0 here, or the hops count twice. Note also
// that with use_remote_address: true (and skip_xff_append unset) Envoy
// appends the peer to x-forwarded-for before filters run; that entry is one
// more hop from the right, so count it: TrustedHops = proxies in front of
// Envoy + 1.
type Resolver struct {
	TrustedHops int `json:"trusted_hops,omitempty"`
	// IPv6PrefixLength (`ipv6_prefix_length`) is the network a per-client
	// key (rate-limit `client_ip` parts and fallbacks) counts an IPv6 client
	// by: default 64, since a subscriber or a cloud VM gets a whole /64 and
	// picks any address in it. 128 keys every address apart.
	IPv6PrefixLength int `json:"ipv6_prefix_length,omitempty"`
	// IPv4PrefixLength (`ipv4_prefix_length`) is the same for IPv4: default
	// 32, one address.
	IPv4PrefixLength int `json:"ipv4_prefix_length,omitempty"`
}

// Default prefix lengths of Network.
const (
	DefaultIPv6PrefixLength = 64
	DefaultIPv4PrefixLength = 32
)

// Validate keeps TrustedHops in 0..MaxTrustedHops and the prefix lengths
// within their address sizes (0 is the default).
func (r *Resolver) Validate() error {
	if r.TrustedHops < 0 || r.TrustedHops > MaxTrustedHops {
		return config.Errorf("trusted_hops", "must be between 0 and %d", MaxTrustedHops)
	}
	if r.IPv6PrefixLength < 0 || r.IPv6PrefixLength > 128 {
		return config.Errorf("ipv6_prefix_length", "must be between 1 and 128 (default %d)", DefaultIPv6PrefixLength)
	}
	if r.IPv4PrefixLength < 0 || r.IPv4PrefixLength > 32 {
		return config.Errorf("ipv4_prefix_length", "must be between 1 and 32 (default %d)", DefaultIPv4PrefixLength)
	}
	return nil
}

// Network is the network a per-client key counts a as: a within its
// configured prefix length. An IPv6 address that carries a client's IPv4
// address (mapped, NAT64, IPv4-compatible, 6to4, Teredo) counts as that
// IPv4 address. An invalid a gives an invalid prefix.
func (r Resolver) Network(a netip.Addr) netip.Prefix {
	if !a.IsValid() {
		return netip.Prefix{}
	}
	a = a.Unmap().WithZone("")
	if v4, ok := embeddedIPv4(a); ok {
		a = v4
	}
	bits := cmp.Or(r.IPv4PrefixLength, DefaultIPv4PrefixLength)
	if a.Is6() {
		bits = cmp.Or(r.IPv6PrefixLength, DefaultIPv6PrefixLength)
	}
	p, err := a.Prefix(min(bits, a.BitLen()))
	if err != nil {
		return netip.Prefix{}
	}
	return p
}

// embeddedIPv4 is the IPv4 address of the client an IPv6 address stands
// for, when the address form says so. Keyed by its /64, every IPv4 client
// behind one NAT64 translator or one Teredo server would share a bucket,
// and one 6to4 host would own 65,536 of them.
//   - 64:ff9b::/96, the NAT64 well-known prefix (RFC 6052): the last 32 bits;
//   - ::/96, IPv4-compatible (RFC 4291, deprecated): the last 32 bits,
//     except :: and ::1 and the rest of 0.0.0.0/8;
//   - 2002::/16, 6to4 (RFC 3056): bits 16 to 47;
//   - 2001::/32, Teredo (RFC 4380): the last 32 bits, inverted.
//
// The local-use NAT64 prefix 64:ff9b:1::/48 (RFC 8215) is not read: where
// it carries the IPv4 address depends on the prefix length the operator
// chose.
func embeddedIPv4(a netip.Addr) (netip.Addr, bool) {
	if !a.Is6() {
		return netip.Addr{}, false
	}
	b := a.As16()
	last := [4]byte{b[12], b[13], b[14], b[15]}
	switch {
	case b == [16]byte{0, 0x64, 0xff, 0x9b, 12: b[12], 13: b[13], 14: b[14], 15: b[15]}:
		return netip.AddrFrom4(last), true
	case b == [16]byte{12: b[12], 13: b[13], 14: b[14], 15: b[15]}:
		if b[12] == 0 {
			return netip.Addr{}, false // ::, ::1 and the rest of 0.0.0.0/8
		}
		return netip.AddrFrom4(last), true
	case b[0] == 0x20 && b[1] == 0x02:
		return netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]}), true
	case b[0] == 0x20 && b[1] == 0x01 && b[2] == 0 && b[3] == 0:
		return netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]}), true
	}
	return netip.Addr{}, false
}

// NetworkKey is the text of Network(a) as keys carry it: the address alone
// when the prefix is the whole address ("192.0.2.1"), the prefix otherwise
// ("2001:db8:1:2::/64"); "" for an invalid a.
func (r Resolver) NetworkKey(a netip.Addr) string {
	p := r.Network(a)
	switch {
	case !p.IsValid():
		return ""
	case p.IsSingleIP():
		return p.Addr().String()
	}
	return p.String()
}

// Resolve returns the client IP for a request. sourceAddress is Envoy's
// `source.address` property: "1.2.3.4:5678", "[2001:db8::1]:443" or a bare
// IP. xForwardedFor holds the values of every x-forwarded-for header line,
// in order; they are read as one comma-separated list, as Envoy joins them.
// IPv4-mapped IPv6 addresses are returned as IPv4.
func (r Resolver) Resolve(sourceAddress string, xForwardedFor []string) (netip.Addr, error) {
	if r.TrustedHops > 0 && r.TrustedHops <= MaxTrustedHops && len(xForwardedFor) > 0 {
		if a, ok := fromXFF(xForwardedFor, r.TrustedHops-1); ok {
			return a, nil
		}
	}
	a, ok := parseSource(sourceAddress)
	if !ok {
		return netip.Addr{}, ErrNoAddress
	}
	return a, nil
}

// fromXFF is Envoy's getLastAddressFromXFF over the joined header lines.
func fromXFF(lines []string, skip int) (netip.Addr, bool) {
	xff := lines[0]
	if len(lines) > 1 {
		xff = strings.Join(lines, ",")
	}
	for range skip {
		i := strings.LastIndexByte(xff, ',')
		if i < 0 {
			return netip.Addr{}, false
		}
		xff = xff[:i]
	}
	if i := strings.LastIndexByte(xff, ','); i >= 0 && i+1 < len(xff) {
		xff = xff[i+1:]
	}
	return parseIP(strings.Trim(xff, " \t\f\v\r\n"))
}

// parseIP accepts what Envoy's Network::Utility::parseInternetAddress
// accepts from x-forwarded-for: a bare IPv4 or IPv6 address, no port, no
// brackets, no zone.
func parseIP(s string) (netip.Addr, bool) {
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Addr{}, false
	}
	return a.Unmap(), true
}

// parseSource reads the source.address property: "ip:port", "[ipv6]:port"
// or a bare IP.
func parseSource(s string) (netip.Addr, bool) {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		a := ap.Addr()
		return a.WithZone("").Unmap(), true
	}
	if a, ok := parseIP(s); ok {
		return a, true
	}
	if a, err := netip.ParseAddr(s); err == nil { // bare IPv6 with a zone
		return a.WithZone("").Unmap(), true
	}
	return netip.Addr{}, false
}
