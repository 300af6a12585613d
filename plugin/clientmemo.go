package main

import (
	"net/netip"

	"github.com/apiguard/apiguard/internal/clientip"
)

// clientMemo is the last client a worker resolved from the connection's
// source.address, with what the policies derive from it: its network (the
// lockout's and the rate limits' unit), its text and the rate limits'
// client key. A worker's requests mostly arrive over few connections
// (keep-alive, a load balancer in front), so the address is parsed,
// formatted and keyed once per run of requests from it, not once per
// request. Nothing in it depends on the request but the address.
type clientMemo struct {
	set    bool
	source []byte // the property as last read, copied into storage kept
	// addr is what source names, invalid when it names none; the rest is
	// derived from it and empty then.
	addr    netip.Addr
	network netip.Prefix // clientip.Resolver.Network
	text    string       // addr.String()
	key     string       // clientKeyOf
}

// of returns the memo for source, derived anew when source is not the
// last one seen. r is the configuration's resolver: a memo belongs to one
// configuration (pluginContext), so r never changes under it.
func (m *clientMemo) of(source []byte, r clientip.Resolver) *clientMemo {
	if m.set && string(source) == string(m.source) {
		return m
	}
	m.set, m.source = true, append(m.source[:0], source...)
	m.addr, m.network, m.text, m.key = netip.Addr{}, netip.Prefix{}, "", ""
	// Without x-forwarded-for, Resolve is the parse of source.address.
	ip, err := r.Resolve(string(source), nil)
	if err != nil {
		return m
	}
	m.addr, m.network, m.text = ip, r.Network(ip), ip.String()
	m.key = clientKeyOf(r, ip, m.text)
	return m
}

// clientKeyOf is the rate limits' key of the client ip, whose text is
// text: its network as the resolver keys it (clientip.Resolver.NetworkKey),
// which is text itself when the network is the address alone.
func clientKeyOf(r clientip.Resolver, ip netip.Addr, text string) string {
	if p := r.Network(ip); p.IsValid() && p.IsSingleIP() && p.Addr() == ip {
		return text
	}
	return r.NetworkKey(ip)
}
