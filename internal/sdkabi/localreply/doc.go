// Package localreply sends Envoy local replies with response code details,
// which the SDK's proxywasm.SendHttpResponse cannot: it always passes empty
// details, and Envoy shows the details as %RESPONSE_CODE_DETAILS% in access
// logs, where operators look for why apiguard answered. Like package direct,
// it makes a host call outside the SDK, so it lives with the ABI glue
// (internal/sdkabi) rather than in the plugin: under GOOS=wasip1 it imports
// proxy_send_local_response directly; natively (proxytest) it falls back to
// the SDK, whose emulator takes no details.
package localreply
