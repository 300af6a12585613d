package jwtauth

import (
	"fmt"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
	"github.com/apiguard/apiguard/internal/jwtauth/jwks"
)

// sharedSchema versions the JWT policy's records in shared data (every name
// holds the plugin root id too); bumped when a record's encoding changes.
const sharedSchema = "v1"

// SharedNamespace is the prefix of every shared-data name of the JWT policy
// of the plugin with root id rootID.
func SharedNamespace(rootID string) string { return "apiguard/" + rootID + "/" + sharedSchema + "/" }

// Remote is one worker's remote key sets: the jwks.Manager that fetches and
// shares them, the providers it serves, and the requests waiting for them.
type Remote struct {
	*jwks.Manager
	providers []string
	Waits
}

// NewRemote builds the remote key sets of cfg over store under ns
// (SharedNamespace); nil when every provider has local keys.
func NewRemote(cfg Config, store castable.Store, ns string) (*Remote, error) {
	sources := RemoteSources(cfg)
	if len(sources) == 0 {
		return nil, nil
	}
	// Shared data outlives configurations: a reconfigured plugin with the
	// same root id must not adopt keys fetched from another URI or issuer.
	// An empty worker id makes the manager draw a random one (crypto/rand
	// works in the guest), so leases tell workers apart.
	m, err := jwks.NewManager(store, ns+jwks.Digest(sources)+"/", "", sources)
	if err != nil {
		return nil, fmt.Errorf("jwt: %w", err)
	}
	r := &Remote{Manager: m}
	for _, src := range sources {
		r.providers = append(r.providers, src.Provider)
	}
	return r, nil
}

// Ages calls f with the age of every provider's loaded key set.
func (r *Remote) Ages(now time.Time, f func(provider string, age time.Duration)) {
	for _, name := range r.providers {
		if h := r.Health(name); h.Loaded && !h.FetchedAt.IsZero() {
			f(name, now.Sub(h.FetchedAt))
		}
	}
}

// Apply marks the providers an update made ready (Waits.Ready) and reports
// whether there were any.
func (r *Remote) Apply(u jwks.Update) bool {
	for _, name := range u.Ready {
		r.Ready(name)
	}
	return len(u.Ready) > 0
}

// Outcome names how fetch f ended, given its answer's status (0: none) and
// the update OnResponse made of it: settled is false while a discovery step
// led to the provider's JWKS fetch (neither a success nor a failure yet);
// failure is "" on success, else the fetch-failure reason (FailureReason).
func (r *Remote) Outcome(f jwks.Fetch, status int, u jwks.Update) (settled bool, failure string) {
	for _, next := range u.Fetches {
		if next.Provider == f.Provider {
			return false, ""
		}
	}
	h := r.Health(f.Provider)
	if h.LastError == "" {
		return true, ""
	}
	return true, jwks.FailureReason(status, h)
}
