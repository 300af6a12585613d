package respfilter

import (
	"errors"

	"github.com/apiguard/apiguard/internal/verdict"
)

// Reason names why a body was not filtered normally, in apiguard's one
// vocabulary (internal/verdict): it labels metrics, audit events and
// apiguard's 502.
type Reason = verdict.Reason

const (
	ReasonNone                Reason = ""
	ReasonMalformed                  = verdict.MalformedJSON       // not valid JSON although it is (declared or sniffed as) JSON
	ReasonTooLarge                   = verdict.BodyTooLarge        // body, declared length, decoded size or filtered output over max_body_bytes
	ReasonUnsupportedEncoding        = verdict.UnsupportedEncoding // a Content-Encoding apiguard cannot decode
	ReasonDecodeFailed               = verdict.DecodeFailed        // a gzip/deflate body that does not decompress
	ReasonConflictingLength          = verdict.ConflictingLength   // several Content-Length values that differ
	ReasonDepth                      = verdict.TooDeep             // nesting deeper than max_depth
	ReasonNotJSON                    = verdict.NotJSON             // a body that is not JSON on a filtered route
	ReasonInternal                   = verdict.ReencodeFailed      // re-encoding failed; never expected
	// Why a response is skipped: not a decision, never counted.
	ReasonStatus Reason = "status"  // the status is not in the rule's statuses
	ReasonNoBody Reason = "no_body" // a response that cannot carry a body (HEAD, 1xx, 204, 304)
	ReasonEmpty  Reason = "empty"   // an empty or whitespace-only body
	ReasonGRPC   Reason = "grpc"    // a gRPC response to a gRPC request (IsGRPCContentType)
)

// Error is a filtering failure with the reason it is counted under. Its
// message never contains body bytes.
type Error struct {
	Reason Reason
	msg    string
}

func (e *Error) Error() string { return "respfilter: " + string(e.Reason) + ": " + e.msg }

// ReasonOf returns the Reason carried by err, or ReasonInternal for any
// other non-nil error.
func ReasonOf(err error) Reason {
	if err == nil {
		return ReasonNone
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonInternal
}

var (
	errDepth     = &Error{Reason: ReasonDepth, msg: "document nests deeper than max_depth"}
	errMalformed = &Error{Reason: ReasonMalformed, msg: "body is not valid JSON"}
	// errOutputTooLarge: mask values made the filtered document larger than
	// max_body_bytes.
	errOutputTooLarge = &Error{Reason: ReasonTooLarge, msg: "filtered output exceeds max_body_bytes"}
)
