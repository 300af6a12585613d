package main

import (
	"fmt"
	"strings"
)

// hostStatusError describes a non-OK Proxy-Wasm status.
func hostStatusError(status uint32) error {
	return fmt.Errorf("host status %d", status)
}

// replyDetails is the details string of apiguard's own reply:
// apiguard_<policy>_<reason>, e.g. apiguard_authn_expired or
// apiguard_ratelimit_per_user_rate_limited, with every character outside
// [a-z0-9_] turned into '_' (Envoy wants details without whitespace).
func replyDetails(policy, reason string) string {
	var b strings.Builder
	b.WriteString("apiguard")
	for _, part := range []string{policy, reason} {
		if part == "" || part == "apiguard" {
			continue
		}
		b.WriteByte('_')
		for _, c := range []byte(part) {
			if c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' {
				b.WriteByte(c)
			} else {
				b.WriteByte('_')
			}
		}
	}
	return b.String()
}
