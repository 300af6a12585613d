package audit

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
