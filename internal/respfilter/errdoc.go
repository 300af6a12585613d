package respfilter

import "bytes"

// DenyStatus is the status of a response the filter refuses to pass.
const DenyStatus = 502

// Reply is a complete response the plugin sends instead of the upstream's.
type Reply struct {
	Status      int
	ContentType string
	Body        []byte // identity-encoded: drop content-encoding, set content-length
}

// DenyReply is the 502 for a failure found while the response headers are
// still held (or at headers time): a small JSON error naming the reason
// code, never any part of the upstream body.
func DenyReply(r Reason) Reply {
	return Reply{
		Status:      DenyStatus,
		ContentType: "application/json",
		Body:        errorJSON("bad_gateway", r),
	}
}

// ErrorDocument is the body that replaces a response whose headers already
// left (headers_mode "streamed") when a failure shows only in the body. The
// status has been sent, so the document says what happened instead; it is
// encoded with the response's Content-Encoding, which has been sent too.
// The guarantee is weaker than a 502: a client that ignores the body sees
// the upstream's status.
func ErrorDocument(d Decision, r Reason) []byte {
	doc := errorJSON("response_filter_failed", r)
	if d.coding == codingIdentity {
		return doc
	}
	var b bytes.Buffer
	if err := encodeBody(&b, doc, d.coding); err != nil {
		return doc
	}
	return b.Bytes()
}

func errorJSON(code string, r Reason) []byte {
	if r == ReasonNone {
		r = ReasonInternal
	}
	// Reasons are fixed identifiers from this package, so no escaping is
	// needed.
	return []byte(`{"error":"` + code + `","reason":"` + string(r) + `"}`)
}
