package verdict

// GRPCCode is a gRPC status code
// (https://github.com/grpc/grpc/blob/master/doc/statuscodes.md), as apiguard
// passes it with every reply to a gRPC request (the grpc_status argument of
// proxy_send_local_response). Envoy then answers the gRPC client with a
// trailers-only response: HTTP 200, grpc-status this code, grpc-message the
// reply's body. Replies to other requests ignore it.
type GRPCCode int32

// The codes apiguard answers with.
const (
	GRPCInvalidArgument   GRPCCode = 3
	GRPCPermissionDenied  GRPCCode = 7
	GRPCResourceExhausted GRPCCode = 8
	GRPCInternal          GRPCCode = 13
	GRPCUnavailable       GRPCCode = 14
	GRPCUnauthenticated   GRPCCode = 16
)

// NoGRPCCode is the grpc_status argument that names no code: Envoy then maps
// the HTTP status (Grpc::Utility::httpToGrpcStatus).
const NoGRPCCode GRPCCode = -1

// String is the code's canonical name.
func (c GRPCCode) String() string {
	switch c {
	case GRPCInvalidArgument:
		return "INVALID_ARGUMENT"
	case GRPCPermissionDenied:
		return "PERMISSION_DENIED"
	case GRPCResourceExhausted:
		return "RESOURCE_EXHAUSTED"
	case GRPCInternal:
		return "INTERNAL"
	case GRPCUnavailable:
		return "UNAVAILABLE"
	case GRPCUnauthenticated:
		return "UNAUTHENTICATED"
	}
	return "NONE"
}

// grpcCodes is the one table from a deny reason to the gRPC code of its
// reply. Envoy's own mapping of the HTTP status would give gRPC clients
// INTERNAL for every 400 and UNAVAILABLE for every 429, which clients retry;
// apiguard says what happened instead:
//
//   - a request apiguard cannot judge: INVALID_ARGUMENT;
//   - a missing or bad credential: UNAUTHENTICATED; claims that do not
//     hold: PERMISSION_DENIED;
//   - a limit: RESOURCE_EXHAUSTED (Envoy's ratelimit filter answers
//     UNAVAILABLE unless rate_limited_as_resource_exhausted is set; a
//     rate-limit policy's grpc_status can choose UNAVAILABLE);
//   - a missing rate-limit key part: INVALID_ARGUMENT, as the client must
//     send it;
//   - an outage or apiguard's own failure (no key set, the rate-limit state
//     or service failing with failure_mode deny, internal_error):
//     UNAVAILABLE, which clients may retry;
//   - a response the filter refused: INTERNAL, not UNAVAILABLE, because the
//     upstream already ran the call and a retry would run it again.
var grpcCodes = func() map[Reason]GRPCCode {
	m := map[Reason]GRPCCode{
		MissingPath:           GRPCInvalidArgument,
		NonCanonicalPath:      GRPCInvalidArgument,
		NonCanonicalMethod:    GRPCInvalidArgument,
		MethodOverride:        GRPCInvalidArgument,
		PathOverride:          GRPCInvalidArgument,
		NonCanonicalAuthority: GRPCInvalidArgument,
		RepeatedHeader:        GRPCInvalidArgument,
		HeaderWithUnderscores: GRPCInvalidArgument,

		ClaimsFailed:    GRPCPermissionDenied,
		JWKSUnavailable: GRPCUnavailable,
		LockedOut:       GRPCResourceExhausted,

		RateLimited: GRPCResourceExhausted,
		MissingKey:  GRPCInvalidArgument,

		InternalError: GRPCUnavailable,
	}
	for _, r := range authnDeny {
		if _, set := m[r]; !set {
			m[r] = GRPCUnauthenticated // every credential reason
		}
	}
	for _, r := range rlFailures {
		m[r] = GRPCUnavailable
	}
	for _, r := range rfDeny {
		m[r] = GRPCInternal
	}
	return m
}()

// GRPCStatus returns the gRPC code of apiguard's reply for deny reason r;
// ok is false for a reason no reply carries.
func GRPCStatus(r Reason) (code GRPCCode, ok bool) {
	code, ok = grpcCodes[r]
	return code, ok
}
