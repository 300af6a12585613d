package main

import (
	"strconv"
	"strings"
	"testing"
)

// A panic's log line names what panicked but never echoes request data:
// errors like strconv's quote their input, which may be a header or a token.
func TestPanicMessageDoesNotEchoAnErrorsInput(t *testing.T) {
	const secret = "eyJhbGciOiJSUzI1NiJ9.secret"
	_, err := strconv.Atoi(secret)
	for _, r := range []any{err, secret, struct{ Token string }{secret}} {
		if msg := panicMessage(r); strings.Contains(msg, secret) || strings.Contains(msg, "secret") {
			t.Errorf("panicMessage(%T) = %q echoes the input", r, msg)
		}
	}
	if msg := panicMessage(err); msg != "*strconv.NumError" {
		t.Errorf("panicMessage(strconv error) = %q, want its type", msg)
	}
	// The runtime's own errors hold only types and numbers: kept, since they
	// locate the bug.
	var runtimeErr any
	func() {
		defer func() { runtimeErr = recover() }()
		var s []int
		_ = s[len(secret)]
	}()
	if msg := panicMessage(runtimeErr); !strings.Contains(msg, "index out of range") {
		t.Errorf("panicMessage(runtime error) = %q, want the runtime's message", msg)
	}
}
