package jwtauth

import (
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/verdict"
)

func TestPausedRequestProceedsWhenOneOfItsProvidersIsReadyOrItTimesOut(t *testing.T) {
	var ws Waits
	now := time.Unix(1000, 0)
	ws.Ready("corp") // an earlier fetch: not the one this request waits for
	p := ws.Start(Result{Decision: Wait, WaitFor: []string{"corp", "partner"}, WaitTimeout: 2 * time.Second}, now)
	if p.MayProceed(&ws, now.Add(time.Second)) {
		t.Fatal("proceeds before any provider became ready")
	}
	ws.Ready("other")
	if p.MayProceed(&ws, now.Add(time.Second)) {
		t.Fatal("proceeds on a provider it does not wait for")
	}
	ws.Ready("partner")
	if !p.MayProceed(&ws, now.Add(time.Second)) {
		t.Fatal("does not proceed once partner is ready")
	}
	q := ws.Start(Result{Decision: Wait, WaitFor: []string{"corp"}, WaitTimeout: 2 * time.Second}, now)
	if q.MayProceed(&ws, now.Add(2*time.Second-1)) || !q.MayProceed(&ws, now.Add(2*time.Second)) {
		t.Fatal("the wait does not end exactly at its timeout")
	}
}

func TestResultVerdictNamesTheProviderAndReason(t *testing.T) {
	for _, c := range []struct {
		res      Result
		provider string
		reason   verdict.Reason
	}{
		{Result{Decision: Allow}, "", verdict.NotRequired},
		{Result{Decision: Allow, Token: &Token{Provider: "corp"}}, "corp", verdict.Verified},
		{Result{Decision: Deny, Reason: ReasonExpired, Provider: "corp"}, "corp", ReasonExpired},
		{Result{Decision: Deny, Reason: ReasonMissing}, "", ReasonMissing},
	} {
		if p, r := c.res.Verdict(); p != c.provider || r != c.reason {
			t.Errorf("%+v: got %q %q, want %q %q", c.res, p, r, c.provider, c.reason)
		}
	}
}
