package verdict

import (
	"strconv"
	"strings"
)

// ReplyGRPCCode is the gRPC code of apiguard's own reply for reason r (the
// GRPCStatus table), or NoGRPCCode for a reason outside it.
func ReplyGRPCCode(r Reason) GRPCCode {
	if c, ok := GRPCStatus(r); ok {
		return c
	}
	return NoGRPCCode
}

// IsGRPCRequest mirrors Envoy's Grpc::Common::isGrpcRequestHeaders
// (source/common/grpc/common.cc) on the request's content-type:
// application/grpc or application/grpc+<anything>. Envoy answers a local
// reply to such a request trailers-only, and sends no body.
func IsGRPCRequest(contentType string) bool {
	rest, ok := strings.CutPrefix(contentType, "application/grpc")
	return ok && (rest == "" || rest[0] == '+')
}

// ReplyBody is the small JSON document of apiguard's own reply for a
// request no policy could judge, or that apiguard failed closed on. message
// is a constant of the caller's, never request data: it is not escaped.
func ReplyBody(r Reason, message string) []byte {
	return []byte(`{"error":"` + string(r) + `","message":"` + message + `"}`)
}

// ParseGRPCStatus reads a grpc-status value as the audit trail records it:
// one or two digits; anything else is not a code.
func ParseGRPCStatus(v string) (int, bool) {
	if len(v) == 0 || len(v) > 2 {
		return 0, false
	}
	n, err := strconv.Atoi(v)
	return n, err == nil && n >= 0
}
