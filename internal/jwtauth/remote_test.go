package jwtauth

import (
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
)

func TestRemoteNamesEachFetchsOutcomeAndReleasesItsWaiters(t *testing.T) {
	cfg := decodeConfig(t, `{"providers": {"idp": {"remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/jwks"}}}, "rules": []}`)
	r, err := NewRemote(cfg, &castable.MemStore{}, SharedNamespace("root"))
	if err != nil || r == nil {
		t.Fatalf("NewRemote = %v, %v", r, err)
	}
	now := time.Unix(1000, 0)
	r.Refetch("idp", now) // what Authenticate records before it answers Wait
	paused := r.Start(Result{Decision: Wait, WaitFor: []string{"idp"}, WaitTimeout: time.Minute}, now)

	u := r.Poll(now)
	if len(u.Fetches) != 1 {
		t.Fatalf("fetches %+v", u.Fetches)
	}
	f := u.Fetches[0]
	failed := r.OnResponse(f.ID, 503, nil, now)
	if settled, failure := r.Outcome(f, 503, failed); !settled || failure != "call_failed" {
		t.Fatalf("a 503 is %v %q", settled, failure)
	}

	if !r.Apply(failed) || !paused.MayProceed(&r.Waits, now) {
		t.Fatal("the paused request was not released by the failed fetch")
	}
	u = r.Poll(now.Add(time.Hour)) // past any backoff
	if len(u.Fetches) != 1 {
		t.Fatalf("no refetch: %+v", u)
	}
	f = u.Fetches[0]
	ok := r.OnResponse(f.ID, 200, standardJWKS(), now.Add(time.Hour))
	if settled, failure := r.Outcome(f, 200, ok); !settled || failure != "" {
		t.Fatalf("a good document is %v %q", settled, failure)
	}
	var ages []string
	r.Ages(now.Add(time.Hour+time.Second), func(p string, age time.Duration) {
		if age == time.Second {
			ages = append(ages, p)
		}
	})
	if len(ages) != 1 || ages[0] != "idp" {
		t.Fatalf("ages of %v", ages)
	}
}

func TestRemoteIsNilWithLocalKeysOnly(t *testing.T) {
	r, err := NewRemote(decodeConfig(t, localConfig("")), &castable.MemStore{}, SharedNamespace("root"))
	if r != nil || err != nil {
		t.Fatalf("NewRemote = %v, %v", r, err)
	}
}
