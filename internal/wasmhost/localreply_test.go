package wasmhost

import "testing"

// Envoy Context::sendLocalResponse passes the status code through
// unchanged and replaces whitespace in the details
// (StringUtil::replaceAllEmptySpace).
func TestSendLocalResponseKeepsTheCodeAndReplacesWhitespaceInDetails(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("plain"))
	res := do(t, p, echoUpstream, "GET", "/", "", "x-do", "send-local:600|bad\ttoken here|-1")
	if res.code != 600 || res.header.Get(DetailsHeader) != "bad_token_here" {
		t.Fatalf("got %d %q", res.code, res.header.Get(DetailsHeader))
	}
}

// Envoy Context::setProperty needs a stream: in a root context it is
// NOT_FOUND.
func TestSetPropertyInARootContextIsNotFound(t *testing.T) {
	p := startConformance(t, Options{}, conformanceConfig("setprop-root"))
	if !hasLog(p, LogInfo, "root set_property=1") {
		t.Fatalf("logs %q", p.LogsAt(LogInfo))
	}
}
