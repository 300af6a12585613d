package verdict

import (
	"encoding/json"
	"testing"
)

func TestIsGRPCRequestIsEnvoysTest(t *testing.T) {
	// source/common/grpc/common.cc isGrpcRequestHeaders: exact, or a '+' suffix.
	for ct, want := range map[string]bool{
		"application/grpc": true, "application/grpc+proto": true, "application/grpc+json": true,
		"application/grpc-web": false, "application/grpcx": false, "application/json": false, "": false,
		"Application/grpc": false,
	} {
		if got := IsGRPCRequest(ct); got != want {
			t.Errorf("IsGRPCRequest(%q) = %v, want %v", ct, got, want)
		}
	}
}

func TestReplyGRPCCodeAndBody(t *testing.T) {
	if got := ReplyGRPCCode(Reason("not_a_reason")); got != NoGRPCCode {
		t.Errorf("unknown reason: code %v, want none", got)
	}
	if c, ok := GRPCStatus(InternalError); !ok || ReplyGRPCCode(InternalError) != c {
		t.Errorf("internal_error: code %v, want the table's %v", ReplyGRPCCode(InternalError), c)
	}
	var doc struct{ Error, Message string }
	if err := json.Unmarshal(ReplyBody(InternalError, "apiguard could not process the request"), &doc); err != nil ||
		doc.Error != "internal_error" || doc.Message != "apiguard could not process the request" {
		t.Errorf("ReplyBody: %+v, %v", doc, err)
	}
}

func TestParseGRPCStatusTakesOneOrTwoDigits(t *testing.T) {
	for v, want := range map[string]int{"0": 0, "7": 7, "16": 16, "99": 99} {
		if n, ok := ParseGRPCStatus(v); !ok || n != want {
			t.Errorf("%q = %d, %v", v, n, ok)
		}
	}
	for _, v := range []string{"", "100", "-1", "x", "1x"} {
		if _, ok := ParseGRPCStatus(v); ok {
			t.Errorf("%q parsed as a code", v)
		}
	}
}
