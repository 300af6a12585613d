package telemetry

import "strings"

// Names under which the plugin exposes its verdict to the rest of Envoy,
// through proxy_set_property. Envoy stores such a property as filter state
// under "wasm." + name (source/extensions/common/wasm: WasmStateKeyPrefix),
// so an access log reads it as %FILTER_STATE(wasm.apiguard.reason:PLAIN)%
// and RBAC or an Istio AuthorizationPolicy (through an EnvoyFilter) can match
// it. Values are closed-set words, configured names, or the verified iss/sub.
const (
	PropertyDecision = "apiguard.decision" // allow | deny
	PropertyPolicy   = "apiguard.policy"   // the policy that decided: authn, ratelimit.<name>, respfilter
	PropertyReason   = "apiguard.reason"   // a reason from the closed sets (expired, limited, ...)
	PropertyIssuer   = "apiguard.jwt.iss"  // verified issuer
	PropertySubject  = "apiguard.jwt.sub"  // verified subject
)

// ReplyDetails is the details string of a local reply apiguard sends, shown
// by Envoy as %RESPONSE_CODE_DETAILS%: "apiguard_<policy>_<reason>", e.g.
// apiguard_authn_expired or apiguard_ratelimit_per_user_limited. Envoy wants
// details without whitespace; anything outside [a-z0-9_] becomes '_'.
func ReplyDetails(policy, reason string) string {
	var b strings.Builder
	b.Grow(len("apiguard__") + len(policy) + len(reason))
	b.WriteString("apiguard_")
	writeDetail(&b, policy)
	if reason != "" {
		b.WriteByte('_')
		writeDetail(&b, reason)
	}
	return b.String()
}

func writeDetail(b *strings.Builder, s string) {
	for i := 0; i < len(s) && i < 64; i++ {
		c := s[i]
		if c >= 'A' && c <= 'Z' {
			c += 'a' - 'A'
		}
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			c = '_'
		}
		b.WriteByte(c)
	}
}
