package wasmhost

import (
	"net/http"
	"strconv"
	"strings"
)

// Local replies to gRPC requests. Envoy answers a gRPC request that a filter
// or the router refuses with a gRPC "trailers-only" response, whatever HTTP
// status the local reply named (Utility::prepareLocalReply and
// Utility::encodeLocalReply in source/common/http/utility.cc):
//
//   - :status 200 and content-type application/grpc, replacing what the
//     filter's headers said;
//   - grpc-status, unless the filter's headers already carry one: the
//     grpc_status argument of proxy_send_local_response when it is a known
//     code (0-16; the SDKs pass -1 for none, which Envoy's
//     Context::sendLocalResponse in source/extensions/common/wasm/context.cc
//     maps to nullopt), else the HTTP status mapped by
//     Grpc::Utility::httpToGrpcStatus (source/common/grpc/status.cc);
//   - grpc-message: the body, percent-encoded as PROTOCOL-HTTP2.md says
//     (Http::PercentEncoding::encode), unless the body is empty or the
//     request is HEAD;
//   - no content-length, and no body: the headers end the stream.
//
// Whether the request is gRPC is decided on the request headers as they
// reached the filter (ActiveStreamDecoderFilter::decodeHeaders in
// source/common/http/filter_manager.h records is_grpc_request_ before the
// filter runs): Grpc::Common::isGrpcRequestHeaders, a :path and a
// content-type of application/grpc or application/grpc+<anything>
// (Grpc::Common::hasGrpcContentType in source/common/grpc/common.cc).
// application/grpc-web is not gRPC here: Envoy's grpc_web filter converts
// those requests before any other filter sees them.

// grpcMaxKnownStatus is Grpc::Status::WellKnownGrpcStatus::MaximumKnown
// (UNAUTHENTICATED).
const grpcMaxKnownStatus = 16

// grpcStatusArg reads proxy_send_local_response's grpc_status argument as
// Envoy does: a known code (0-16), or none.
func grpcStatusArg(raw uint32) (code int, ok bool) {
	if raw <= grpcMaxKnownStatus {
		return int(raw), true
	}
	return 0, false
}

// isGRPCRequest mirrors Grpc::Common::isGrpcRequestHeaders.
func isGRPCRequest(r *http.Request) bool {
	if r.URL == nil || r.URL.Path == "" { // no :path, e.g. CONNECT
		return false
	}
	ct := r.Header.Get("Content-Type")
	rest, ok := strings.CutPrefix(ct, "application/grpc")
	return ok && (rest == "" || rest[0] == '+')
}

// httpToGRPCStatus mirrors Grpc::Utility::httpToGrpcStatus, which follows
// https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md.
func httpToGRPCStatus(code int) int {
	switch code {
	case 400:
		return 13 // INTERNAL
	case 401:
		return 16 // UNAUTHENTICATED
	case 403:
		return 7 // PERMISSION_DENIED
	case 404:
		return 12 // UNIMPLEMENTED
	case 429, 502, 503, 504:
		return 14 // UNAVAILABLE
	}
	return 2 // UNKNOWN
}

// setGRPCLocalReply fills m with the trailers-only headers of a local reply
// to a gRPC request (see the top of this file).
func (m *headerMap) setGRPCLocalReply(lr *localReply) {
	m.present = true
	m.add(":status", statusText(http.StatusOK))
	for _, h := range lr.headers {
		m.add(strings.ToLower(h.k), h.v)
	}
	m.replace("content-type", "application/grpc")
	if _, ok := m.get("grpc-status"); !ok {
		st := lr.grpcStatus
		if !lr.hasGRPCStatus {
			st = httpToGRPCStatus(lr.code)
		}
		m.add("grpc-status", strconv.Itoa(st))
	}
	if len(lr.body) > 0 && !lr.head {
		m.replace("grpc-message", percentEncodeGRPCMessage(lr.body))
	}
	m.remove("content-length")
}

// percentEncodeGRPCMessage mirrors Http::PercentEncoding::encode with '%'
// reserved: every byte below ' ', from '~' up (so all non-ASCII bytes), and
// '%' become %XX.
func percentEncodeGRPCMessage(b []byte) string {
	const hex = "0123456789ABCDEF"
	var sb strings.Builder
	sb.Grow(len(b))
	for _, c := range b {
		if c < ' ' || c >= '~' || c == '%' {
			sb.WriteByte('%')
			sb.WriteByte(hex[c>>4])
			sb.WriteByte(hex[c&0xf])
			continue
		}
		sb.WriteByte(c)
	}
	return sb.String()
}
