package ratelimit

import "testing"

func TestOutcomeClassesForMetrics(t *testing.T) {
	for _, c := range []struct {
		o                            Outcome
		final, broken, serviceFailed bool
	}{
		{Outcome{Decision: Allowed, Reason: ReasonOK}, true, false, false},
		{Outcome{Decision: Skipped}, false, false, false},
		{Outcome{Decision: Pending}, false, false, false},
		{Outcome{Decision: Allowed, Reason: ReasonContended}, true, true, true},
		{Outcome{Decision: Allowed, Reason: ReasonTableFull}, true, true, true},
		{Outcome{Decision: FailureDenied, Reason: ReasonStoreError}, true, true, true},
		{Outcome{Decision: Limited, Reason: ReasonGlobalOverLimit}, true, false, false},
		{Outcome{Decision: Allowed, Reason: ReasonGlobalOK}, true, false, false},
	} {
		if c.o.Final() != c.final || c.o.Broken() != c.broken || c.o.ServiceFailed() != c.serviceFailed {
			t.Errorf("%+v: final %v broken %v serviceFailed %v", c.o, c.o.Final(), c.o.Broken(), c.o.ServiceFailed())
		}
	}
}

// The namespace is in every shared-data key: a change reads as a new,
// empty table after a reload, so it changes only with the layout.
func TestSharedNamespaceHoldsTheRootIDAndTheSchema(t *testing.T) {
	if got := SharedNamespace("edge"); got != "apiguard/edge/v1" {
		t.Fatalf("SharedNamespace = %q", got)
	}
}
