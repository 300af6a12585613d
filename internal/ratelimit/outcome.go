package ratelimit

// Final reports whether the outcome is decided: not a skipped policy, not a
// callout still pending. Only final outcomes are counted and audited.
func (o Outcome) Final() bool { return o.Decision != Skipped && o.Decision != Pending }

// Broken reports a technical failure of the shared table (contended, full,
// failing), which the errors metric counts beside the decision.
func (o Outcome) Broken() bool {
	switch o.Reason {
	case ReasonContended, ReasonTableFull, ReasonStoreError:
		return true
	}
	return false
}

// ServiceFailed reports an answer of the rate-limit service that is neither
// a pass nor "limited" (unavailable, a bad or oversized answer), which the
// errors metric counts by its reason.
func (o Outcome) ServiceFailed() bool {
	switch o.Reason {
	case ReasonGlobalOK, ReasonGlobalOverLimit, "":
		return false
	}
	return true
}
