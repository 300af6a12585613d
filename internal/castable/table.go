package castable

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// SchemaVersion is part of every slot key. Bump it when the slot encoding
// changes, so that old and new plugin versions sharing one vm_id during a
// rollout never read each other's slots.
const SchemaVersion = 2

const (
	expiryLen = 8
	// MaxKeyBytes is the longest key a slot stores as it is; a longer key is
	// stored as its SHA-256 digest, so a slot never outgrows the bound
	// whatever a client sends.
	MaxKeyBytes = 64
	// digestTag is the stored-key length byte of a key stored as its digest.
	digestTag = 0xff
	// SlotOverhead is the most bytes a slot value carries besides the
	// caller's state: an 8-byte expiry, a length byte and a stored key of at
	// most MaxKeyBytes.
	SlotOverhead = expiryLen + 1 + MaxKeyBytes
	// hashKeyBytes is the size of the table's secret hash key (a SipHash
	// key), hashKeyName the last element of its shared-data key.
	hashKeyBytes = 16
	hashKeyName  = "hashkey"

	defaultWays        = 4
	maxWays            = 8
	defaultMaxAttempts = 8
	maxAttemptsLimit   = 64
	defaultMaxState    = 256
	maxSlots           = 1 << 22

	// createCas is the cas passed when writing a slot that did not exist when
	// it was read. Setting a missing key always succeeds, but if another
	// worker created the slot in the meantime, a non-zero cas makes the write
	// fail with ErrCASMismatch instead of silently overwriting it (cas 0 would
	// overwrite). The write wrongly succeeds only if the other worker's write
	// drew exactly this cas from the host's counter: one chance in 2^32 per
	// such race.
	createCas = math.MaxUint32
)

var (
	// ErrContended means every CAS attempt of one Update lost a race with
	// another worker. The caller applies its failure mode and counts it.
	ErrContended = errors.New("castable: contended: cas attempts exhausted")
	// ErrFull means every candidate slot of the key holds live state of other
	// keys. The caller applies its failure mode and counts it.
	ErrFull = errors.New("castable: full: every candidate slot holds a live key")
)

// Options configure a Table. Only Namespace and Slots are required.
type Options struct {
	// Namespace prefixes every slot key. Include the plugin root id and the
	// feature, e.g. "apiguard/<root_id>/rl", so that two filters sharing a
	// vm_id never share slots.
	Namespace string
	// Slots is the fixed number of slots, and so the maximum number of
	// shared-data keys the table ever creates.
	Slots int
	// Ways is the number of candidate slots a key may live in (default 4,
	// at most 8). More ways make ErrFull rarer and misses dearer: a key not
	// yet stored costs one Get per way.
	Ways int
	// MaxAttempts bounds the read-modify-write attempts of one Update
	// (default 8, at most 64).
	MaxAttempts int
	// MaxStateBytes is the largest state an UpdateFunc may return (default
	// 256). It is part of the memory bound.
	MaxStateBytes int
	// Evict lets a key whose candidate slots all hold other keys' live state
	// take the one that expires first, instead of failing with ErrFull. For
	// states whose expiry is the time their debt is paid back (a GCRA
	// entry's theoretical arrival time), that is the entry with the least
	// remaining debt: a key at its limit carries the most and goes last, so
	// filling the table cannot reset it. Update reports such evictions.
	Evict bool
}

// Table is a bounded, namespaced map from logical keys to small expiring
// states, stored in a fixed number of Store keys
// "<namespace>/v<SchemaVersion>/<slot index>".
//
// A key's candidate slots come from SipHash-2-4 of the key under the table's
// secret hash key: fast on short keys, and a client that does not know the
// hash key cannot choose keys that crowd one slot. Two keys whose hashes
// meet in a slot are told apart by the key stored in it, so a collision
// costs a slot, never a shared state.
//
// Each slot value is: an 8-byte expiry (Unix nanoseconds, little-endian), a
// length byte and the stored key (the key itself up to MaxKeyBytes, else
// 0xff and its 32-byte SHA-256 digest), then the caller's state. A key maps
// to Ways candidate slots chosen by double hashing. A slot whose expiry has
// passed is stale and may be taken by any key. When every candidate holds
// another key's live state, the key fails with ErrFull, or with
// Options.Evict takes the candidate that expires first.
//
// The hash key is 16 random bytes under
// "<namespace>/v<SchemaVersion>/hashkey": the first Update of a Table reads
// it, or creates it under CAS, so every worker VM sharing the store hashes
// with the same one. It never leaves the table: no error, log line or
// formatted Table holds it.
//
// Memory bound: at most Slots slot keys, each at most
// len(slot key) + SlotOverhead + MaxStateBytes bytes, plus the hash key's
// entry; MaxBytes computes it. (The host adds its own per-entry overhead on
// top.)
//
// Exactness: state changes only through a successful CAS on the slot that was
// read, so concurrent Updates of one key are serialised and none is lost.
// One caveat: if a key has no live slot and, at the same moment, a different
// candidate slot turns stale between two workers' reads (the clock moved
// across its expiry), the two workers may create the key in two different
// slots. Reads then use the first copy in candidate order, live or stale, and
// the other copy expires unused. This needs a key's very first write to race
// with the clock crossing another key's expiry; it cannot happen with a
// frozen clock. Outside that race a key has one slot, so a read stops at the
// first slot holding the key: an expired state (a rate-limit bucket whose
// debt is paid, the common case) costs one Get, not one per way.
//
// A Table is safe for concurrent use if its Store is.
type Table struct {
	store       Store
	prefix      string // namespace + "/v<SchemaVersion>/"
	slots       uint64
	ways        int
	maxAttempts int
	maxState    int
	evict       bool
	// hashKey is loaded from the store by the first Update. A pointer, so
	// that formatting a Table prints an address, not the key.
	hashKey atomic.Pointer[sipKey]
	// names remembers the store keys of recently used slots, direct-mapped
	// by slot index, so a key's slots cost no string building per Update.
	names [slotNameCache]atomic.Pointer[slotName]
	// slotBuf is where an Update encodes the slot value it writes, reused
	// while slotMu is free: the store copies the value (Store.Set), and in
	// a Wasm VM, one thread, it always is; concurrent native callers that
	// find it taken allocate their own.
	slotMu  sync.Mutex
	slotBuf []byte
	// last holds the candidate slots of the key hashed last, guarded by
	// lastMu like slotBuf: a client's requests in a row hash its key once.
	lastMu sync.Mutex
	last   lastKey
}

// lastKey is a key (at most MaxKeyBytes long) and its candidate slots.
type lastKey struct {
	set   bool
	n     int
	key   [MaxKeyBytes]byte
	cands [maxWays]uint64
}

// slotNameCache is the number of remembered slot keys per Table (a power of
// two): a few KiB at most, whatever the number of slots.
const slotNameCache = 64

// slotName is a slot index and its store key.
type slotName struct {
	idx uint64
	key string
}

// sipKey is a SipHash key.
type sipKey struct{ k0, k1 uint64 }

// New checks opts and returns a Table over store.
func New(store Store, opts Options) (*Table, error) {
	if store == nil {
		return nil, errors.New("castable: nil store")
	}
	if opts.Namespace == "" {
		return nil, errors.New("castable: empty namespace")
	}
	if opts.Slots < 1 || opts.Slots > maxSlots {
		return nil, fmt.Errorf("castable: slots %d out of range [1, %d]", opts.Slots, maxSlots)
	}
	if opts.Ways == 0 {
		opts.Ways = defaultWays
	}
	if opts.Ways < 1 || opts.Ways > maxWays {
		return nil, fmt.Errorf("castable: ways %d out of range [1, %d]", opts.Ways, maxWays)
	}
	if opts.Ways > opts.Slots {
		opts.Ways = opts.Slots
	}
	if opts.MaxAttempts == 0 {
		opts.MaxAttempts = defaultMaxAttempts
	}
	if opts.MaxAttempts < 1 || opts.MaxAttempts > maxAttemptsLimit {
		return nil, fmt.Errorf("castable: max attempts %d out of range [1, %d]", opts.MaxAttempts, maxAttemptsLimit)
	}
	if opts.MaxStateBytes == 0 {
		opts.MaxStateBytes = defaultMaxState
	}
	if opts.MaxStateBytes < 0 {
		return nil, fmt.Errorf("castable: negative max state bytes %d", opts.MaxStateBytes)
	}
	return &Table{
		store:       store,
		prefix:      opts.Namespace + "/v" + strconv.Itoa(SchemaVersion) + "/",
		slots:       uint64(opts.Slots),
		ways:        opts.Ways,
		maxAttempts: opts.MaxAttempts,
		maxState:    opts.MaxStateBytes,
		evict:       opts.Evict,
	}, nil
}

// MaxBytes is the most shared data, keys plus values, the table can ever
// hold: Slots × (longest slot key + SlotOverhead + MaxStateBytes), plus the
// hash key's entry.
func (t *Table) MaxBytes() int {
	longestKey := len(t.prefix) + len(strconv.FormatUint(t.slots-1, 10))
	hashKeyEntry := len(t.prefix) + len(hashKeyName) + hashKeyBytes
	return int(t.slots)*(longestKey+SlotOverhead+t.maxState) + hashKeyEntry
}

// Slots returns the number of slots.
func (t *Table) Slots() int { return int(t.slots) }

// UpdateFunc computes a key's next state from its current one. state is nil
// when the key has no live state. It returns the new state, the time after
// which that state is worthless (its slot may then be reused), and whether to
// write at all; write=false leaves the slot untouched (e.g. a refused request
// that consumes nothing).
//
// An UpdateFunc may run several times in one Update, once per attempt; only
// the result of its last run takes effect. It must not keep state, nor
// retain the state slice after it returns.
type UpdateFunc func(state []byte) (next []byte, expires time.Time, write bool)

// Update runs a read-modify-write of key's state under CAS, retrying up to
// MaxAttempts times. It reports the number of attempts made (1 = no retry).
// It returns ErrContended when the attempts run out, ErrFull when no
// candidate slot can take the key (never with Options.Evict), and a wrapped
// Store error otherwise.
func (t *Table) Update(key string, now time.Time, fn UpdateFunc) (attempts int, err error) {
	st, err := t.Apply(key, now, fn)
	return st.Attempts, err
}

// Stats describe one Apply.
type Stats struct {
	// Attempts is the number of read-modify-write attempts (1 = no retry).
	Attempts int
	// Evicted is set when the write took a slot that held another key's live
	// state (Options.Evict): that key's state is lost.
	Evicted bool
}

// Apply is Update, reporting evictions too.
func (t *Table) Apply(key string, now time.Time, fn UpdateFunc) (Stats, error) {
	hk, err := t.loadHashKey()
	if err != nil {
		return Stats{Attempts: 1}, err
	}
	var sk storedKey
	sk.set(key)
	cands := t.candidatesOf(hk, key)
	nowNs := now.UnixNano()
	for attempts := 1; attempts <= t.maxAttempts; attempts++ {
		st := Stats{Attempts: attempts}
		slot, err := t.locate(sk.bytes(), cands[:t.ways], nowNs)
		if err != nil {
			return st, err
		}
		next, expires, write := fn(slot.state)
		if !write {
			return st, nil
		}
		if len(next) > t.maxState {
			return st, fmt.Errorf("castable: state of %d bytes exceeds the %d-byte limit", len(next), t.maxState)
		}
		cas := slot.cas
		if slot.missing {
			cas = createCas
		}
		expNs := int64(0) // a zero expiry: stale at once
		if !expires.IsZero() {
			expNs = expires.UnixNano()
		}
		err = t.setSlot(t.slotKey(slot.index), expNs, sk.bytes(), next, cas)
		switch {
		case err == nil:
			st.Evicted = slot.evicts
			return st, nil
		case errors.Is(err, ErrCASMismatch):
			continue
		default:
			return st, fmt.Errorf("castable: set slot %d: %w", slot.index, err)
		}
	}
	return Stats{Attempts: t.maxAttempts}, ErrContended
}

// loadHashKey returns the table's hash key, reading it from the store, or
// creating it there, on first use. Several workers (or goroutines) may race
// to create it: each writes its random key with createCas, so only the
// first write lands and the others read it back. A store failure is
// returned to the Update that met it (the caller's failure mode applies)
// and retried by the next.
func (t *Table) loadHashKey() (sipKey, error) {
	if k := t.hashKey.Load(); k != nil {
		return *k, nil
	}
	name := t.prefix + hashKeyName
	for range 2 {
		val, _, err := t.store.Get(name)
		switch {
		case err == nil && len(val) == hashKeyBytes:
			k := &sipKey{binary.LittleEndian.Uint64(val[:8]), binary.LittleEndian.Uint64(val[8:])}
			t.hashKey.CompareAndSwap(nil, k)
			return *t.hashKey.Load(), nil
		case err == nil:
			return sipKey{}, fmt.Errorf("castable: hash key %q holds %d bytes, want %d", name, len(val), hashKeyBytes)
		case !errors.Is(err, ErrNotFound):
			return sipKey{}, fmt.Errorf("castable: get hash key: %w", err)
		}
		var fresh [hashKeyBytes]byte
		if _, err := rand.Read(fresh[:]); err != nil {
			return sipKey{}, fmt.Errorf("castable: hash key: %w", err)
		}
		// createCas: if another worker created the key meanwhile, this
		// write fails, and the next round reads that worker's key. The
		// read back also catches the 2^-32 case in which the other
		// worker's cas equals createCas and this write overwrote it: every
		// table that reads after the last write uses the same key.
		if err := t.store.Set(name, fresh[:], createCas); err != nil && !errors.Is(err, ErrCASMismatch) {
			return sipKey{}, fmt.Errorf("castable: set hash key: %w", err)
		}
	}
	return sipKey{}, errors.New("castable: hash key: not readable after creating it")
}

// located is the slot an Update writes to.
type located struct {
	index   uint64
	cas     uint32
	missing bool   // the slot key did not exist
	evicts  bool   // the slot holds another key's live state (Options.Evict)
	state   []byte // the key's live state, or nil
}

// locate reads the candidate slots in order and returns the first one holding
// the key, live or expired (a key has one slot; see Table's exactness note);
// otherwise the first missing or stale one; otherwise, with Options.Evict,
// the live slot that expires first (the first of equals); otherwise ErrFull.
// sk is the stored form of the key (storedKey.bytes).
func (t *Table) locate(sk []byte, cands []uint64, nowNs int64) (located, error) {
	var free, victim located
	haveFree, haveVictim := false, false
	victimExp := int64(0)
	for _, idx := range cands {
		val, cas, err := t.store.Get(t.slotKey(idx))
		if errors.Is(err, ErrNotFound) {
			if !haveFree {
				free, haveFree = located{index: idx, missing: true}, true
			}
			continue
		}
		if err != nil {
			return located{}, fmt.Errorf("castable: get slot %d: %w", idx, err)
		}
		slotKey, expires, state, ok := decodeSlot(val)
		live := ok && nowNs < expires
		if ok && string(slotKey) == string(sk) {
			if !live {
				// The key's own expired slot: reused under CAS before any
				// free one, so that the key keeps one home.
				return located{index: idx, cas: cas}, nil
			}
			return located{index: idx, cas: cas, state: state}, nil
		}
		if live && (!haveVictim || expires < victimExp) {
			victim, victimExp, haveVictim = located{index: idx, cas: cas, evicts: true}, expires, true
		}
		if !live && !haveFree {
			// Stale or undecodable: reusable, under CAS.
			free, haveFree = located{index: idx, cas: cas}, true
		}
	}
	switch {
	case haveFree:
		return free, nil
	case t.evict && haveVictim:
		return victim, nil
	}
	return located{}, ErrFull
}

// storedKey is a key as a slot stores it: a length byte and the key, or
// digestTag and the key's SHA-256 digest when it is longer than MaxKeyBytes.
// It lives on the caller's stack.
type storedKey struct {
	buf [1 + MaxKeyBytes]byte
	n   int
}

func (s *storedKey) set(key string) {
	if len(key) <= MaxKeyBytes {
		s.buf[0] = byte(len(key))
		s.n = 1 + copy(s.buf[1:], key)
		return
	}
	sum := sha256.Sum256([]byte(key))
	s.buf[0] = digestTag
	s.n = 1 + copy(s.buf[1:], sum[:])
}

func (s *storedKey) bytes() []byte { return s.buf[:s.n] }

// candidates returns the key's candidate slot indices, distinct, by double
// hashing with the two halves of the key's SipHash-2-4.
func (t *Table) candidates(hk sipKey, key string) (cands [maxWays]uint64) {
	h := newSipHash(hk.k0, hk.k1)
	h.writeString(key)
	sum := h.sum64()
	h1 := sum & math.MaxUint32
	h2 := sum>>32 | 1
	n := 0
	for i := uint64(0); n < t.ways; i++ {
		idx := (h1 + i*h2) % t.slots
		if i >= t.slots {
			// h2 shares a factor with slots: fall back to a linear walk.
			idx = (h1 + i) % t.slots
		}
		dup := false
		for _, c := range cands[:n] {
			if c == idx {
				dup = true
				break
			}
		}
		if !dup {
			cands[n] = idx
			n++
		}
	}
	return cands
}

// candidatesOf is candidates, remembered for the last key: the hash key,
// the ways and the slots never change under a Table, so neither do a
// key's candidates. A longer key, or a concurrent caller that finds the
// memo taken, hashes.
func (t *Table) candidatesOf(hk sipKey, key string) [maxWays]uint64 {
	if len(key) > MaxKeyBytes || !t.lastMu.TryLock() {
		return t.candidates(hk, key)
	}
	l := &t.last
	if l.set && string(l.key[:l.n]) == key {
		c := l.cands
		t.lastMu.Unlock()
		return c
	}
	c := t.candidates(hk, key)
	l.set, l.n, l.cands = true, copy(l.key[:], key), c
	t.lastMu.Unlock()
	return c
}

// slotKey is the store key of slot idx.
func (t *Table) slotKey(idx uint64) string {
	e := &t.names[idx&(slotNameCache-1)]
	if n := e.Load(); n != nil && n.idx == idx {
		return n.key
	}
	key := t.buildSlotKey(idx)
	e.Store(&slotName{idx: idx, key: key})
	return key
}

func (t *Table) buildSlotKey(idx uint64) string {
	var stack [128]byte
	buf := stack[:0]
	if len(t.prefix)+20 > len(stack) {
		buf = make([]byte, 0, len(t.prefix)+20)
	}
	buf = append(buf, t.prefix...)
	buf = strconv.AppendUint(buf, idx, 10)
	return string(buf)
}

// setSlot writes a slot value to the store under key, encoded in slotBuf
// when it is free.
func (t *Table) setSlot(key string, expiresNs int64, sk, state []byte, cas uint32) error {
	if !t.slotMu.TryLock() {
		return t.store.Set(key, appendSlot(nil, expiresNs, sk, state), cas)
	}
	t.slotBuf = appendSlot(t.slotBuf[:0], expiresNs, sk, state)
	err := t.store.Set(key, t.slotBuf, cas)
	t.slotMu.Unlock()
	return err
}

// appendSlot appends a slot value: the expiry, the stored key, the state.
func appendSlot(dst []byte, expiresNs int64, sk, state []byte) []byte {
	dst = binary.LittleEndian.AppendUint64(dst, uint64(expiresNs))
	dst = append(dst, sk...)
	return append(dst, state...)
}

// decodeSlot splits a slot value into its stored key (length byte
// included), expiry and state; ok is false for a value that is not a slot,
// which the table then treats as stale.
func decodeSlot(val []byte) (sk []byte, expiresNs int64, state []byte, ok bool) {
	if len(val) < expiryLen+1 {
		return nil, 0, nil, false
	}
	n := int(val[expiryLen])
	switch {
	case n == digestTag:
		n = sha256.Size
	case n > MaxKeyBytes:
		return nil, 0, nil, false
	}
	end := expiryLen + 1 + n
	if len(val) < end {
		return nil, 0, nil, false
	}
	expiresNs = int64(binary.LittleEndian.Uint64(val[:expiryLen]))
	return val[expiryLen:end], expiresNs, val[end:], true
}

// Each calls fn with the state of every live slot, in slot order, until fn
// returns false. It reads every slot key, one Get each: it is for rare
// reports (an export), never for the request path. The state is only valid
// during the call.
func (t *Table) Each(now time.Time, fn func(state []byte) bool) error {
	nowNs := now.UnixNano()
	for idx := uint64(0); idx < t.slots; idx++ {
		val, _, err := t.store.Get(t.slotKey(idx))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("castable: get slot %d: %w", idx, err)
		}
		if _, expires, state, ok := decodeSlot(val); ok && nowNs < expires && !fn(state) {
			return nil
		}
	}
	return nil
}
