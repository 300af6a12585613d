package jwtauth

import (
	"time"

	"github.com/apiguard/apiguard/internal/verdict"
)

// Waits is one worker's record of when each provider's remote keys became
// ready, so that requests paused for them (Authenticate answered Wait) know
// when to try again. Few requests ever wait, and a Paused holds only counters.
type Waits struct {
	// gen counts, per provider, the times paused requests were told they
	// may proceed; a Paused compares it with its snapshot.
	gen map[string]uint64
}

// Ready says a provider's keys are loaded (jwks.Update.Ready): requests
// waiting for it may proceed.
func (ws *Waits) Ready(provider string) {
	if ws.gen == nil {
		ws.gen = map[string]uint64{}
	}
	ws.gen[provider]++
}

// Paused is a request paused for keys: the providers it waits for, their ready
// generations when it paused, and when it stops waiting regardless.
type Paused struct {
	waitFor  []string
	waitGen  []uint64
	deadline time.Time
}

// Start pauses a request on the providers of res, a Wait result, for at
// most res.WaitTimeout.
func (ws *Waits) Start(res Result, now time.Time) *Paused {
	w := &Paused{waitFor: res.WaitFor, waitGen: make([]uint64, len(res.WaitFor)), deadline: now.Add(res.WaitTimeout)}
	for i, name := range res.WaitFor {
		w.waitGen[i] = ws.gen[name]
	}
	return w
}

// MayProceed reports whether a paused request should be authenticated
// again (with MayWait false): one of its providers became ready, or its
// wait timed out.
func (w *Paused) MayProceed(ws *Waits, now time.Time) bool {
	if !now.Before(w.deadline) {
		return true
	}
	for i, name := range w.waitFor {
		if ws.gen[name] != w.waitGen[i] {
			return true
		}
	}
	return false
}

// Verdict is the result's provider and reason, as metrics and the audit
// event name an allow or a deny; provider is "" when no single provider
// decided (no token needed, no token at all).
func (r *Result) Verdict() (provider string, reason verdict.Reason) {
	if r.Decision != Allow {
		return r.Provider, r.Reason
	}
	if t := r.Token; t != nil {
		return t.Provider, verdict.Verified
	}
	return "", verdict.NotRequired
}
