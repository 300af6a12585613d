package jwks

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
)

// fleet simulates Envoy workers sharing one shared-data store. Callouts are
// answered after every worker has polled, the worst case for duplicate
// fetches.
type fleet struct {
	t       *testing.T
	store   *castable.MemStore
	workers []*Manager
	now     time.Time
	// serve answers a callout by path.
	serve   func(path string) (int, []byte)
	fetches map[string]int // path → count
	pending []pendingFetch
}

type pendingFetch struct {
	worker int
	f      Fetch
}

func newFleet(t *testing.T, n int, src Source) *fleet {
	fl := &fleet{t: t, store: &castable.MemStore{}, now: time.Unix(1_900_000_000, 0), fetches: map[string]int{}}
	for i := range n {
		m, err := NewManager(fl.store, "apiguard/v1/root/", fmt.Sprintf("w%d", i), []Source{src})
		if err != nil {
			t.Fatal(err)
		}
		fl.workers = append(fl.workers, m)
	}
	return fl
}

func header(f Fetch, name string) string {
	for _, h := range f.Headers {
		if h[0] == name {
			return h[1]
		}
	}
	return ""
}

// tick polls every worker, then delivers the callouts they started; it
// returns the providers each worker reported ready.
func (fl *fleet) tick() [][]string {
	ready := make([][]string, len(fl.workers))
	for i, m := range fl.workers {
		u := m.Poll(fl.now)
		ready[i] = append(ready[i], u.Ready...)
		for _, f := range u.Fetches {
			fl.pending = append(fl.pending, pendingFetch{i, f})
		}
	}
	for len(fl.pending) > 0 {
		p := fl.pending[0]
		fl.pending = fl.pending[1:]
		path := header(p.f, ":path")
		fl.fetches[path]++
		status, body := fl.serve(path)
		u := fl.workers[p.worker].OnResponse(p.f.ID, status, body, fl.now)
		ready[p.worker] = append(ready[p.worker], u.Ready...)
		for _, f := range u.Fetches {
			fl.pending = append(fl.pending, pendingFetch{p.worker, f})
		}
	}
	return ready
}

func remoteSource() Source {
	return Source{Provider: "idp", Cluster: "idp", URI: "https://idp.example.com/jwks",
		CacheDuration: time.Minute, Timeout: 2 * time.Second, MinRefetchInterval: 30 * time.Second}
}

func TestEightWorkersFetchOncePerRefresh(t *testing.T) {
	k := fixtures()
	fl := newFleet(t, 8, remoteSource())
	d := doc(rsaJWK("a", &k.rsa.PublicKey))
	fl.serve = func(string) (int, []byte) { return 200, d }
	for range 10 * 60 { // ten minutes of 1 s ticks
		fl.tick()
		fl.now = fl.now.Add(time.Second)
	}
	// One initial fetch plus one per minute of cache duration.
	if got := fl.fetches["/jwks"]; got != 10 {
		t.Fatalf("%d fetches in 10 minutes with a 1-minute cache across 8 workers, want 10", got)
	}
	for i, m := range fl.workers {
		if m.Keys("idp").Len() != 1 {
			t.Fatalf("worker %d has no keys", i)
		}
	}
}

func TestFailedFetchKeepsLastGoodSetWithBackoff(t *testing.T) {
	k := fixtures()
	fl := newFleet(t, 4, remoteSource())
	d := doc(rsaJWK("a", &k.rsa.PublicKey))
	fl.serve = func(string) (int, []byte) { return 200, d }
	fl.tick()
	fl.tick()
	answers := []struct {
		status int
		body   string
	}{{503, "upstream connect error or disconnect/reset before headers"}, {504, "upstream request timeout"}, {200, "<html>garbage</html>"}, {200, `{"keys":[]}`}}
	n := 0
	fl.serve = func(string) (int, []byte) {
		a := answers[n%len(answers)]
		n++
		return a.status, []byte(a.body)
	}
	fl.fetches = map[string]int{}
	for range 5 * 60 {
		fl.now = fl.now.Add(time.Second)
		fl.tick()
	}
	for i, m := range fl.workers {
		if m.Keys("idp").Len() != 1 {
			t.Fatalf("worker %d lost its keys after failed refreshes", i)
		}
	}
	// The cache expires after 60 s, then retries back off 1, 2, 4, 8, 16,
	// 32, 60, 60 … seconds: far fewer than one per tick.
	if got := fl.fetches["/jwks"]; got < 5 || got > 12 {
		t.Fatalf("%d failed attempts in 5 minutes, want backoff", got)
	}
	h := fl.workers[3].Health("idp")
	if !h.Loaded || h.Failures == 0 || h.LastError == "" {
		t.Fatalf("health %+v", h)
	}
}

func TestFirstLoadFailureIsNoKeys(t *testing.T) {
	fl := newFleet(t, 2, remoteSource())
	fl.serve = func(string) (int, []byte) { return 503, []byte("no healthy upstream") }
	if !fl.workers[1].Refetch("idp", fl.now) {
		t.Fatal("a first load should be worth waiting for")
	}
	r1 := fl.tick()
	r2 := fl.tick()
	if !slices.Contains(append(r1[1], r2[1]...), "idp") {
		t.Fatal("the waiting worker was not released after the failed fetch")
	}
	if fl.fetches["/jwks"] != 1 {
		t.Fatalf("%d fetches, want 1 (then backoff)", fl.fetches["/jwks"])
	}
	if fl.workers[1].Keys("idp") != nil {
		t.Fatal("keys from a failed fetch")
	}
	if fl.workers[1].Refetch("idp", fl.now) {
		t.Fatal("waiting during backoff after a failed first load")
	}
}

func TestWaitersReleasedWhenAnotherWorkerFetched(t *testing.T) {
	k := fixtures()
	fl := newFleet(t, 2, remoteSource())
	d := doc(rsaJWK("a", &k.rsa.PublicKey))
	fl.serve = func(string) (int, []byte) { return 200, d }
	// Worker 0 takes the lease; its answer has not arrived yet.
	u := fl.workers[0].Poll(fl.now)
	if len(u.Fetches) != 1 {
		t.Fatalf("worker 0 fetches %v", u.Fetches)
	}
	if !fl.workers[1].Refetch("idp", fl.now) {
		t.Fatal("worker 1 should wait for worker 0's fetch")
	}
	if u := fl.workers[1].Poll(fl.now); len(u.Fetches) != 0 || len(u.Ready) != 0 {
		t.Fatalf("worker 1 while the lease is held: %+v", u)
	}
	fl.workers[0].OnResponse(u.Fetches[0].ID, 200, d, fl.now)
	u1 := fl.workers[1].Poll(fl.now.Add(200 * time.Millisecond))
	if !slices.Contains(u1.Ready, "idp") || fl.workers[1].Keys("idp") == nil {
		t.Fatalf("worker 1 not released with keys: %+v", u1)
	}
}

func TestDeadLeaseHolderExpires(t *testing.T) {
	k := fixtures()
	fl := newFleet(t, 2, remoteSource())
	d := doc(rsaJWK("a", &k.rsa.PublicKey))
	if u := fl.workers[0].Poll(fl.now); len(u.Fetches) != 1 {
		t.Fatal("no first fetch")
	}
	// Worker 0's VM dies with the lease.
	if u := fl.workers[1].Poll(fl.now.Add(time.Second)); len(u.Fetches) != 0 {
		t.Fatal("lease ignored")
	}
	u := fl.workers[1].Poll(fl.now.Add(4 * time.Second))
	if len(u.Fetches) != 1 {
		t.Fatal("the dead worker's lease was not taken over")
	}
	fl.workers[1].OnResponse(u.Fetches[0].ID, 200, d, fl.now.Add(4*time.Second))
	if fl.workers[1].Keys("idp") == nil {
		t.Fatal("no keys")
	}
}

func TestUnknownKIDRefetchIsRateLimited(t *testing.T) {
	k := fixtures()
	fl := newFleet(t, 3, remoteSource())
	cur := doc(rsaJWK("old", &k.rsa.PublicKey))
	fl.serve = func(string) (int, []byte) { return 200, cur }
	fl.tick()
	fl.tick()
	fl.fetches = map[string]int{}
	cur = doc(rsaJWK("old", &k.rsa.PublicKey), rsaJWK("new", &k.rsa.PublicKey))
	fl.now = fl.now.Add(31 * time.Second)
	// Every worker sees the new kid at once: one refetch serves them all.
	for i, m := range fl.workers {
		if !m.Refetch("idp", fl.now) {
			t.Fatalf("worker %d: refetch refused", i)
		}
	}
	ready := fl.tick()
	fl.now = fl.now.Add(time.Second)
	r2 := fl.tick()
	if fl.fetches["/jwks"] != 1 {
		t.Fatalf("%d refetches, want 1", fl.fetches["/jwks"])
	}
	for i, m := range fl.workers {
		if !m.Keys("idp").HasKID("new") {
			t.Fatalf("worker %d lacks the new key", i)
		}
		if !slices.Contains(append(ready[i], r2[i]...), "idp") {
			t.Fatalf("worker %d waiters not released", i)
		}
	}
	// Made-up kids right after: no amplification.
	for i, m := range fl.workers {
		if m.Refetch("idp", fl.now) {
			t.Fatalf("worker %d: refetch not rate-limited", i)
		}
	}
	fl.tick()
	if fl.fetches["/jwks"] != 1 {
		t.Fatal("rate limit bypassed")
	}
}

func TestDiscovery(t *testing.T) {
	k := fixtures()
	src := Source{Provider: "idp", Cluster: "idp", Discovery: true, Issuer: "https://idp.example.com/realms/a",
		CacheDuration: time.Minute, Timeout: time.Second, MinRefetchInterval: 30 * time.Second}
	fl := newFleet(t, 2, src)
	d := doc(rsaJWK("a", &k.rsa.PublicKey))
	var authorities []string
	fl.serve = func(path string) (int, []byte) {
		switch path {
		case "/realms/a/.well-known/openid-configuration":
			return 200, []byte(`{"issuer":"https://idp.example.com/realms/a","jwks_uri":"https://keys.example.com/realms/a/certs"}`)
		case "/realms/a/certs":
			return 200, d
		}
		return 404, nil
	}
	u := fl.workers[0].Poll(fl.now)
	if len(u.Fetches) != 1 || header(u.Fetches[0], ":authority") != "idp.example.com" {
		t.Fatalf("%+v", u)
	}
	u = fl.workers[0].OnResponse(u.Fetches[0].ID, 200, []byte(`{"issuer":"https://idp.example.com/realms/a","jwks_uri":"https://keys.example.com/realms/a/certs"}`), fl.now)
	if len(u.Fetches) != 1 {
		t.Fatalf("no jwks fetch after discovery: %+v", u)
	}
	authorities = append(authorities, header(u.Fetches[0], ":authority"))
	fl.workers[0].OnResponse(u.Fetches[0].ID, 200, d, fl.now)
	fl.tick()
	if fl.workers[1].Keys("idp") == nil || authorities[0] != "keys.example.com" {
		t.Fatalf("discovery: keys %v authority %v", fl.workers[1].Keys("idp"), authorities)
	}
	// A document for another issuer is refused.
	fl2 := newFleet(t, 1, src)
	fl2.serve = func(path string) (int, []byte) {
		return 200, []byte(`{"issuer":"https://evil.example","jwks_uri":"https://evil.example/certs"}`)
	}
	fl2.tick()
	if fl2.workers[0].Keys("idp") != nil || fl2.fetches["/certs"] != 0 {
		t.Fatal("followed a discovery document of another issuer")
	}
}

func TestLateAnswersIgnored(t *testing.T) {
	fl := newFleet(t, 1, remoteSource())
	if u := fl.workers[0].OnResponse(99, 200, []byte(`{"keys":[]}`), fl.now); len(u.Fetches)+len(u.Ready) != 0 {
		t.Fatal("unknown fetch id acted on")
	}
}

// A request on a worker that has not yet adopted the keys another worker
// just stored must wait for its next Poll, not fail with no keys.
func TestRefetchWaitsForKeysAnotherWorkerJustStored(t *testing.T) {
	k := fixtures()
	fl := newFleet(t, 2, remoteSource())
	d := doc(rsaJWK("a", &k.rsa.PublicKey))
	u := fl.workers[0].Poll(fl.now)
	if len(u.Fetches) != 1 {
		t.Fatalf("worker 0 fetches %v", u.Fetches)
	}
	fl.workers[0].OnResponse(u.Fetches[0].ID, 200, d, fl.now)
	// Worker 1 has not polled since: it has no keys, the lease is free and
	// no fetch is due.
	if !fl.workers[1].Refetch("idp", fl.now) {
		t.Fatal("worker 1 refused to wait although newer keys are shared")
	}
	u1 := fl.workers[1].Poll(fl.now)
	if !slices.Contains(u1.Ready, "idp") || fl.workers[1].Keys("idp") == nil || len(u1.Fetches) != 0 {
		t.Fatalf("worker 1 after Poll: %+v, keys %v", u1, fl.workers[1].Keys("idp"))
	}
}

// zeroCASStore hands out cas 0 for a record created with cas MaxUint32, as
// the SDK's proxytest host does (its cas counter wraps); Envoy never does.
type zeroCASStore struct {
	castable.MemStore
	created map[string]uint32 // records whose first cas is reported as 0
}

func (s *zeroCASStore) Get(key string) ([]byte, uint32, error) {
	v, cas, err := s.MemStore.Get(key)
	if err == nil && s.created[key] == cas {
		return v, 0, nil
	}
	return v, cas, err
}

func (s *zeroCASStore) Set(key string, value []byte, cas uint32) error {
	if _, _, err := s.MemStore.Get(key); errors.Is(err, castable.ErrNotFound) {
		if err := s.MemStore.Set(key, value, cas); err != nil {
			return err
		}
		_, c, _ := s.MemStore.Get(key)
		if s.created == nil {
			s.created = map[string]uint32{}
		}
		s.created[key] = c
		return nil
	}
	if c, ok := s.created[key]; ok && cas == 0 {
		cas = c
	}
	if err := s.MemStore.Set(key, value, cas); err != nil {
		return err
	}
	delete(s.created, key)
	return nil
}

// A host whose cas for a fresh record is 0 must not wedge the lease: the
// record exists, so it is updated with that cas, not created again.
func TestLeaseReleasedOnAHostThatGivesCASZero(t *testing.T) {
	k := fixtures()
	store := &zeroCASStore{}
	src := remoteSource()
	m, err := NewManager(store, "ns/", "w0", []Source{src})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1_900_000_000, 0)
	u := m.Poll(now)
	if len(u.Fetches) != 1 {
		t.Fatalf("fetches %+v", u.Fetches)
	}
	m.OnResponse(u.Fetches[0].ID, 200, doc(rsaJWK("a", &k.rsa.PublicKey)), now)
	now = now.Add(src.MinRefetchInterval)
	if !m.Refetch("idp", now) {
		t.Fatal("unknown-kid refetch refused: the lease of the finished fetch is still held")
	}
	if u := m.Poll(now); len(u.Fetches) != 1 {
		t.Fatalf("refetch not started: %+v", u)
	}
}

func TestDigestNamesEverySourceField(t *testing.T) {
	base := []Source{{Provider: "corp", Cluster: "idp", URI: "https://idp/jwks", Issuer: "https://idp"}}
	seen := map[string]bool{Digest(base): true}
	for _, change := range []func(*Source){
		func(s *Source) { s.Provider = "other" }, func(s *Source) { s.Cluster = "idp2" },
		func(s *Source) { s.URI = "https://idp/keys" }, func(s *Source) { s.Issuer = "https://idp2" },
		func(s *Source) { s.Discovery = true },
	} {
		s := base[0]
		change(&s)
		d := Digest([]Source{s})
		if seen[d] || len(d) != 16 {
			t.Errorf("%+v: digest %q repeats or is not 8 bytes of hex", s, d)
		}
		seen[d] = true
	}
}

func TestFailureReason(t *testing.T) {
	for _, c := range []struct {
		status int
		err    string
		want   string
	}{
		{0, "", "call_failed"}, {503, "", "call_failed"}, {504, "", "timeout"}, {404, "", "http_status"},
		{200, "jwks: no usable key in document", "no_usable_keys"}, {200, "jwks: not JSON", "bad_document"},
	} {
		if got := FailureReason(c.status, Health{LastError: c.err}); got != c.want {
			t.Errorf("FailureReason(%d, %q) = %q, want %q", c.status, c.err, got, c.want)
		}
	}
}
