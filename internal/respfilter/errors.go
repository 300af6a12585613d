package respfilter

import "errors"

// Reason names why a body was not filtered normally. The values are stable:
// they label metrics and audit events.
type Reason string

const (
	ReasonNone                Reason = ""
	ReasonMalformed           Reason = "malformed"            // not valid JSON although it is (declared or sniffed as) JSON
	ReasonTooLarge            Reason = "too_large"            // body, declared length or decoded size over max_body_bytes
	ReasonUnsupportedEncoding Reason = "unsupported_encoding" // a Content-Encoding apiguard cannot decode
	ReasonDecodeFailed        Reason = "decode_failed"        // a gzip/deflate body that does not decompress
	ReasonConflictingLength   Reason = "conflicting_length"   // several Content-Length values that differ
	ReasonDepth               Reason = "depth"                // nesting deeper than max_depth
	ReasonNotJSON             Reason = "not_json"             // a body that is not JSON on a filtered route
	ReasonStatus              Reason = "status"               // the status is not in the rule's statuses
	ReasonNoBody              Reason = "no_body"              // a response that cannot carry a body (HEAD, 1xx, 204, 304)
	ReasonEmpty               Reason = "empty"                // an empty or whitespace-only body
	ReasonInternal            Reason = "internal"             // re-encoding failed; never expected
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
)
