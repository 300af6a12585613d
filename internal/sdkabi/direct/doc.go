// Package direct makes the host calls of a pass-through request without the
// SDK's per-call allocations: the SDK serialises a property path on every
// proxywasm.SetProperty, copies the value into a fresh []byte, and decodes
// every header map into a fresh [][2]string. Here a property path is
// serialised once (NewPath), a value goes to the host as it is, and header
// pairs are decoded into a slice the caller reuses. Monotonic reads the
// clock callbacks time themselves with, in one host call. ResponseBody has
// the host write the body into a block reused from one response to the
// next, lent until ReleaseResponseBody: the one value here that must not
// outlive its callback.
//
// Like localreply, it lives with the ABI glue (internal/sdkabi): under
// GOOS=wasip1 it imports the Proxy-Wasm calls directly, and natively
// (proxytest) it falls back to the SDK. Nothing here depends on the SDK's
// internals, so a move to the upstream SDK leaves it as it is.
package direct

import "strings"

// Path is a property path serialised once: its segments joined by NUL
// bytes, as proxy_get_property and proxy_set_property take it.
type Path struct {
	raw      string
	segments []string
}

// NewPath serialises a property path.
func NewPath(segments ...string) Path {
	return Path{raw: strings.Join(segments, "\x00"), segments: segments}
}

// String is the path in the ABI's form (segments joined by NUL bytes).
func (p Path) String() string { return p.raw }

// LogLevel is a proxy_log level, numbered as the ABI numbers them.
type LogLevel uint32

// The proxy_log levels.
const (
	LogLevelTrace LogLevel = iota
	LogLevelDebug
	LogLevelInfo
	LogLevelWarn
	LogLevelError
	LogLevelCritical
)
