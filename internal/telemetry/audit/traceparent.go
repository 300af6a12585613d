package audit

// ParseTraceparent returns the trace and parent ids of a W3C traceparent
// header (version 00 layout), or empty strings when it is not valid, for
// Event.TraceID and Event.SpanID. Spec: https://www.w3.org/TR/trace-context/#traceparent-header
func ParseTraceparent(v string) (traceID, spanID string) {
	// 00-<32 hex>-<16 hex>-<2 hex>; later versions may append fields.
	if len(v) < 55 || v[2] != '-' || v[35] != '-' || v[52] != '-' || (len(v) > 55 && v[55] != '-') {
		return "", ""
	}
	if v[:2] == "ff" || !lowerHex(v[:2]) || !lowerHex(v[53:55]) {
		return "", ""
	}
	traceID, spanID = v[3:35], v[36:52]
	if !lowerHex(traceID) || !lowerHex(spanID) || allZero(traceID) || allZero(spanID) {
		return "", ""
	}
	return traceID, spanID
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
