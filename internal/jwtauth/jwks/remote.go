package jwks

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/castable"
)

// Source describes where one provider's remote key set comes from.
type Source struct {
	// Provider is the provider name; it namespaces the shared-data keys.
	Provider string
	// Cluster is the Envoy cluster every callout for this source goes to.
	Cluster string
	// URI is the JWKS URL. With Discovery it is learnt from the issuer's
	// OpenID configuration instead.
	URI string
	// Discovery fetches Issuer + "/.well-known/openid-configuration" first.
	Discovery bool
	// Issuer must equal the `issuer` member of the OpenID configuration.
	Issuer string
	// CacheDuration is how long a fetched set is used before a refresh.
	CacheDuration time.Duration
	// Timeout bounds each callout.
	Timeout time.Duration
	// MinRefetchInterval rate-limits refetches caused by unknown kids,
	// across all workers.
	MinRefetchInterval time.Duration
}

// Fetch is a callout the plugin must dispatch with proxy_http_call and whose
// answer it must hand to Manager.OnResponse with the same ID.
type Fetch struct {
	ID       uint64
	Provider string
	Cluster  string
	// Headers are the request headers, pseudo-headers first.
	Headers [][2]string
	Timeout time.Duration
}

// Update is what the plugin must act on after Poll or OnResponse.
type Update struct {
	// Fetches to dispatch now.
	Fetches []Fetch
	// Ready lists providers whose paused requests should be authenticated
	// again (keys changed, or no fetch is pending any more).
	Ready []string
	// Warnings about keys skipped in a set this worker fetched, or about
	// failed fetches. They never contain key material or tokens.
	Warnings []string
}

// Health is a provider's key-set status for telemetry.
type Health struct {
	// Loaded reports whether a key set is in use.
	Loaded bool
	// FetchedAt is when the set in use was fetched.
	FetchedAt time.Time
	// Failures counts consecutive failed fetches (across workers).
	Failures int
	// LastError describes the last failed fetch, if any.
	LastError string
}

const (
	stepJWKS = iota
	stepDiscovery
)

// Manager drives the remote key sets of one worker. The plugin calls Poll on
// every tick (never in configure: the canary VM dies), dispatches the Fetches
// it returns and passes answers to OnResponse. Workers share the fetched
// documents and a fetch lease through shared data, so one fetch per refresh
// serves every worker and a dead VM cannot hold the lease beyond its TTL.
//
// A Manager is used by one worker (one Wasm VM) and is not goroutine-safe.
type Manager struct {
	store   castable.Store
	ns      string
	worker  string
	remotes map[string]*remote
	names   []string
	nextID  uint64
}

type remote struct {
	src     Source
	set     *Set
	version int64 // fetch time, unix ns, of the document behind set
	// in-flight fetch started by this worker
	fetchID  uint64
	step     int
	jwksPath string
	jwksAuth string
	deadline time.Time
	// demand: a request asked for a refetch at demandAt.
	demand   bool
	demandAt int64
	// waiting: requests are paused on this provider.
	waiting bool
	health  Health
}

// sharedState is the small CAS-guarded record every worker reads on tick.
type sharedState struct {
	Version   int64  `json:"v"` // fetch time of the shared document, unix ns
	Lease     int64  `json:"l"` // lease expiry, unix ns
	Holder    string `json:"h"` // worker holding the lease
	NotBefore int64  `json:"n"` // no scheduled fetch before (refresh or backoff)
	Failures  int    `json:"f"`
	Forced    int64  `json:"k"` // start of the last unknown-kid refetch
	Error     string `json:"e,omitempty"`
}

const (
	maxCASAttempts = 4
	maxBackoff     = 5 * time.Minute
	firstBackoff   = time.Second
	leaseSlack     = time.Second
	createCas      = math.MaxUint32
)

// NewManager returns a manager for sources. namespace prefixes every
// shared-data key (plugin root id and schema version, so old and new
// configurations never mix); worker identifies this VM in leases and is
// random when empty.
func NewManager(store castable.Store, namespace, worker string, sources []Source) (*Manager, error) {
	if store == nil {
		return nil, errors.New("jwks: manager: nil store")
	}
	if worker == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return nil, fmt.Errorf("jwks: manager: worker id: %w", err)
		}
		worker = hex.EncodeToString(b[:])
	}
	m := &Manager{store: store, ns: namespace, worker: worker, remotes: map[string]*remote{}}
	for _, s := range sources {
		if s.Provider == "" || s.Cluster == "" {
			return nil, fmt.Errorf("jwks: manager: source %q: provider and cluster are required", s.Provider)
		}
		if _, dup := m.remotes[s.Provider]; dup {
			return nil, fmt.Errorf("jwks: manager: duplicate source %q", s.Provider)
		}
		if s.Discovery {
			if _, _, err := discoveryTarget(s.Issuer); err != nil {
				return nil, fmt.Errorf("jwks: manager: source %q: %w", s.Provider, err)
			}
		} else if _, _, err := SplitURI(s.URI); err != nil {
			return nil, fmt.Errorf("jwks: manager: source %q: %w", s.Provider, err)
		}
		if s.CacheDuration <= 0 || s.Timeout <= 0 {
			return nil, fmt.Errorf("jwks: manager: source %q: cache duration and timeout must be positive", s.Provider)
		}
		m.remotes[s.Provider] = &remote{src: s}
		m.names = append(m.names, s.Provider)
	}
	sort.Strings(m.names)
	return m, nil
}

// Keys returns the provider's current key set, nil when none has loaded.
func (m *Manager) Keys(provider string) *Set {
	if r := m.remotes[provider]; r != nil {
		return r.set
	}
	return nil
}

// Health reports the provider's key-set status.
func (m *Manager) Health(provider string) Health {
	r := m.remotes[provider]
	if r == nil {
		return Health{}
	}
	h := r.health
	h.Loaded = r.set != nil
	if r.version > 0 {
		h.FetchedAt = time.Unix(0, r.version)
	}
	return h
}

// Refetch is called when a request finds no key set for provider, or a token
// names a kid the set lacks. It reports whether a fetch is in flight or may
// start now, so that pausing the request is worthwhile; the next Poll
// dispatches it. (Poll from the root context, not the request's: a callout
// belongs to the context that dispatched it and dies with it.) A refetch for an unknown kid is rate-limited across
// workers by MinRefetchInterval, so tokens with made-up kids cannot turn the
// plugin into an amplifier against the IdP.
func (m *Manager) Refetch(provider string, now time.Time) bool {
	r := m.remotes[provider]
	if r == nil {
		return false
	}
	if r.fetchID != 0 {
		r.waiting = true
		return true
	}
	st, _, err := m.readState(r)
	if err != nil {
		return false
	}
	ns := now.UnixNano()
	if st.Version > r.version {
		// Another worker stored newer keys this worker has not adopted yet
		// (it does on its next Poll): wait for them rather than fail.
		r.waiting = true
		return true
	}
	switch {
	case st.Lease > ns:
		// another worker is fetching
	case ns >= st.NotBefore:
		// first load, a retry whose backoff has passed, or a due refresh
	case r.set != nil && mayForce(st, r.src, ns):
		// unknown kid: an early refetch, rate-limited
	default:
		return false
	}
	r.waiting = true
	if !r.demand {
		r.demand, r.demandAt = true, ns
	}
	return true
}

func mayForce(st sharedState, src Source, ns int64) bool {
	last := max(st.Forced, st.Version)
	return ns-last >= int64(src.MinRefetchInterval)
}

// Poll adopts key sets other workers stored, starts fetches that are due and
// this worker won the lease for, and reports providers whose paused requests
// can proceed. Call it on every tick, from the root context.
func (m *Manager) Poll(now time.Time) Update {
	var u Update
	for _, name := range m.names {
		m.poll(m.remotes[name], now, &u)
	}
	return u
}

func (m *Manager) poll(r *remote, now time.Time, u *Update) {
	ns := now.UnixNano()
	st, cas, err := m.readState(r)
	if err != nil {
		u.Warnings = append(u.Warnings, fmt.Sprintf("jwks: provider %q: %v", r.src.Provider, err))
		return
	}
	r.health.Failures, r.health.LastError = st.Failures, st.Error
	if st.Version > r.version {
		m.adopt(r)
	}
	if r.demand && r.version >= r.demandAt {
		r.demand = false // a fetch finished after the request asked for one
	}
	if r.fetchID != 0 {
		if now.Before(r.deadline) {
			return
		}
		r.fetchID = 0 // the callout never came back; the lease has expired too
	}
	due := ns >= st.NotBefore
	// Only an unknown kid forces a fetch early; a missing set waits for the
	// schedule (first load or backoff).
	forced := r.demand && r.set != nil && mayForce(st, r.src, ns)
	if (!due && !forced) || st.Lease > ns {
		if r.waiting && st.Lease <= ns {
			r.waiting = false
			r.demand = false
			u.Ready = append(u.Ready, r.src.Provider)
		}
		return
	}
	ttl := r.src.Timeout + leaseSlack
	if r.src.Discovery && r.jwksPath == "" {
		ttl = 2*r.src.Timeout + leaseSlack
	}
	next := st
	next.Lease, next.Holder = ns+int64(ttl), m.worker
	if forced && !due {
		next.Forced = ns
	}
	if err := m.writeState(r, next, cas); err != nil {
		return // another worker won the lease
	}
	r.demand = false
	r.deadline = now.Add(ttl)
	if r.src.Discovery && r.jwksPath == "" {
		u.Fetches = append(u.Fetches, m.startDiscovery(r))
	} else {
		u.Fetches = append(u.Fetches, m.startJWKS(r))
	}
}

// adopt loads the shared document into this worker.
func (m *Manager) adopt(r *remote) {
	val, _, err := m.store.Get(m.docKey(r))
	if err != nil || len(val) < 8 {
		return
	}
	version := int64(binary.BigEndian.Uint64(val[:8]))
	if version <= r.version {
		return
	}
	set, _, err := Parse(val[8:])
	if err != nil {
		// Only a fetcher that parsed the document stores it, so this is
		// corruption; skip this version rather than re-parse every tick.
		r.version = version
		return
	}
	r.set, r.version = set, version
	if r.waiting {
		// paused requests are released by poll once no fetch is pending
		r.demand = false
	}
}

func (m *Manager) startDiscovery(r *remote) Fetch {
	path, auth, _ := discoveryTarget(r.src.Issuer)
	r.step = stepDiscovery
	return m.newFetch(r, path, auth)
}

func (m *Manager) startJWKS(r *remote) Fetch {
	path, auth := r.jwksPath, r.jwksAuth
	if !r.src.Discovery {
		path, auth, _ = SplitURI(r.src.URI)
	}
	r.step = stepJWKS
	return m.newFetch(r, path, auth)
}

func (m *Manager) newFetch(r *remote, path, authority string) Fetch {
	m.nextID++
	r.fetchID = m.nextID
	return Fetch{
		ID:       m.nextID,
		Provider: r.src.Provider,
		Cluster:  r.src.Cluster,
		Headers: [][2]string{
			{":method", "GET"}, {":path", path}, {":authority", authority},
			{"accept", "application/json"},
		},
		Timeout: r.src.Timeout,
	}
}

// OnResponse judges the answer to fetch id. status is the `:status` of the
// response, 0 when the call failed without one (stream reset). Envoy answers
// refused connections and timeouts itself with 503/504 and a text body, so
// only a 200 whose body parses counts as success.
func (m *Manager) OnResponse(id uint64, status int, body []byte, now time.Time) Update {
	var u Update
	var r *remote
	for _, name := range m.names {
		if c := m.remotes[name]; c.fetchID == id && id != 0 {
			r = c
			break
		}
	}
	if r == nil {
		return u // late answer to a fetch given up on
	}
	r.fetchID = 0
	if status != 200 {
		m.fail(r, now, describeStatus(status), &u)
		return u
	}
	if r.step == stepDiscovery {
		path, auth, err := ParseDiscovery(body, r.src.Issuer)
		if err != nil {
			m.fail(r, now, err.Error(), &u)
			return u
		}
		r.jwksPath, r.jwksAuth = path, auth
		u.Fetches = append(u.Fetches, m.startJWKS(r))
		return u
	}
	set, warnings, err := Parse(body)
	for _, w := range warnings {
		u.Warnings = append(u.Warnings, fmt.Sprintf("jwks: provider %q: %s", r.src.Provider, w))
	}
	if err != nil {
		m.fail(r, now, err.Error(), &u)
		return u
	}
	m.succeed(r, set, body, now, &u)
	return u
}

func describeStatus(status int) string {
	if status == 0 {
		return "jwks: callout failed without a response"
	}
	return "jwks: callout answered HTTP " + strconv.Itoa(status)
}

func (m *Manager) succeed(r *remote, set *Set, doc []byte, now time.Time, u *Update) {
	version := max(now.UnixNano(), r.version+1)
	val := make([]byte, 8+len(doc))
	binary.BigEndian.PutUint64(val, uint64(version))
	copy(val[8:], doc)
	r.set, r.version = set, version
	r.health.Failures, r.health.LastError = 0, ""
	m.updateHolder(r, func(st *sharedState) bool {
		if st.Version >= version {
			return false
		}
		if err := m.store.Set(m.docKey(r), val, 0); err != nil {
			return false
		}
		st.Version = version
		st.NotBefore = version + int64(r.src.CacheDuration)
		st.Failures, st.Error = 0, ""
		return true
	})
	m.release(r, u)
}

func (m *Manager) fail(r *remote, now time.Time, reason string, u *Update) {
	if r.src.Discovery {
		r.jwksPath, r.jwksAuth = "", "" // rediscover next time
	}
	r.health.LastError = reason
	u.Warnings = append(u.Warnings, fmt.Sprintf("jwks: provider %q: fetch failed: %s", r.src.Provider, reason))
	m.updateHolder(r, func(st *sharedState) bool {
		st.Failures++
		r.health.Failures = st.Failures
		st.NotBefore = now.UnixNano() + int64(backoff(st.Failures, r.src.CacheDuration))
		st.Error = reason
		return true
	})
	m.release(r, u)
}

func (m *Manager) release(r *remote, u *Update) {
	if r.waiting {
		r.waiting = false
		u.Ready = append(u.Ready, r.src.Provider)
	}
	r.demand = false
}

// updateHolder applies fn to the shared state and releases the lease, as long
// as this worker still holds it; a bounded number of CAS attempts.
func (m *Manager) updateHolder(r *remote, fn func(*sharedState) bool) {
	for range maxCASAttempts {
		st, cas, err := m.readState(r)
		if err != nil || st.Holder != m.worker {
			return
		}
		if !fn(&st) {
			st = sharedState{Version: st.Version, NotBefore: st.NotBefore, Failures: st.Failures, Forced: st.Forced, Error: st.Error}
		}
		st.Lease, st.Holder = 0, ""
		if err := m.writeState(r, st, cas); !errors.Is(err, castable.ErrCASMismatch) {
			return
		}
	}
}

// backoff doubles from one second per consecutive failure, capped at five
// minutes and at the cache duration.
func backoff(failures int, cache time.Duration) time.Duration {
	d := firstBackoff
	for i := 1; i < failures && d < maxBackoff; i++ {
		d *= 2
	}
	return min(d, maxBackoff, max(cache, firstBackoff))
}

func (m *Manager) stateKey(r *remote) string { return m.ns + "jwks/" + r.src.Provider + "/state" }
func (m *Manager) docKey(r *remote) string   { return m.ns + "jwks/" + r.src.Provider + "/doc" }

// stateRev is the revision a shared state was read at: its cas, and whether
// the record existed. Envoy never hands out cas 0 for a record, but other
// hosts (the SDK's proxytest) can, so existence is tracked on its own.
type stateRev struct {
	cas   uint32
	found bool
}

func (m *Manager) readState(r *remote) (sharedState, stateRev, error) {
	var st sharedState
	val, cas, err := m.store.Get(m.stateKey(r))
	if errors.Is(err, castable.ErrNotFound) {
		return st, stateRev{}, nil
	}
	if err != nil {
		return st, stateRev{}, fmt.Errorf("jwks: read shared state: %w", err)
	}
	rev := stateRev{cas: cas, found: true}
	if err := json.Unmarshal(val, &st); err != nil {
		// A corrupt record must not wedge the provider: start over.
		return sharedState{}, rev, nil
	}
	return st, rev, nil
}

// writeState stores st if the record is unchanged since it was read at rev.
// Setting a missing key always succeeds on the host, so creation passes a
// non-zero cas: if another worker created the record meanwhile, the write
// fails with ErrCASMismatch instead of overwriting its lease (as castable's
// table does for new slots).
func (m *Manager) writeState(r *remote, st sharedState, rev stateRev) error {
	val, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("jwks: encode shared state: %w", err)
	}
	cas := rev.cas
	if !rev.found {
		cas = createCas
	}
	if err := m.store.Set(m.stateKey(r), val, cas); err != nil {
		return fmt.Errorf("jwks: write shared state: %w", err)
	}
	return nil
}

// Digest names a configuration of remote key sources in shared-data keys:
// 8 bytes of SHA-256 over each source's provider, cluster, URI, issuer and
// kind. Shared data outlives configurations, so a reconfigured plugin with
// the same root id must not adopt keys fetched from another URI or issuer.
func Digest(sources []Source) string {
	h := sha256.New()
	for _, s := range sources {
		fmt.Fprintf(h, "%q %q %q %q %t\n", s.Provider, s.Cluster, s.URI, s.Issuer, s.Discovery)
	}
	return hex.EncodeToString(h.Sum(nil)[:8])
}

// FailureReason names a failed fetch in the fetch-failure metric's closed
// reason set (the metrics catalogue's JWKS failure reasons), from the callout's HTTP status
// (0: no answer) and the provider's health after it. Envoy answers a
// timeout with its own 504 and a refused connection with 503.
func FailureReason(status int, h Health) string {
	switch {
	case status == 0 || status == 503:
		return "call_failed"
	case status == 504:
		return "timeout"
	case status != 200:
		return "http_status"
	case strings.Contains(h.LastError, "no usable key"):
		return "no_usable_keys"
	default:
		return "bad_document"
	}
}
