package wasmhost

import (
	"sync"
)

// Shared data. Mirrors cpp-host src/shared_data.cc: data keyed by vm_id and
// shared by every worker; cas 0 sets unconditionally; a non-zero cas must
// match; a missing key always sets; CAS values come from one global counter
// starting at 1 that skips 0 on wrap.

const (
	fnGetSharedData = "proxy_get_shared_data"
	fnSetSharedData = "proxy_set_shared_data"
)

// SharedState is Envoy's process-wide shared data and shared queues.
type SharedState struct {
	data   *sharedDataStore
	queues *queueStore
}

// NewSharedState returns an empty process-wide state.
func NewSharedState() *SharedState {
	return &SharedState{data: newSharedDataStore(), queues: newQueueStore()}
}

// SharedData returns the shared data of one vm_id.
func (s *SharedState) SharedData(vmID string) *SharedData { return s.data.forVM(vmID) }

type sharedEntry struct {
	value []byte
	cas   uint32
}

type sharedDataStore struct {
	mu   sync.Mutex
	cas  uint32
	byVM map[string]*SharedData
}

func newSharedDataStore() *sharedDataStore {
	return &sharedDataStore{cas: 1, byVM: map[string]*SharedData{}}
}

// nextCAS mirrors SharedData::nextCas. Caller holds s.mu.
func (s *sharedDataStore) nextCAS() uint32 {
	c := s.cas
	s.cas++
	if s.cas == 0 {
		s.cas = 1
	}
	return c
}

func (s *sharedDataStore) forVM(vmID string) *SharedData {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.byVM[vmID]
	if d == nil {
		d = &SharedData{store: s, m: map[string]sharedEntry{}}
		s.byVM[vmID] = d
	}
	return d
}

// SharedData is the shared-data map of one vm_id, readable and writable by
// tests with the same semantics the guest sees.
type SharedData struct {
	store *sharedDataStore
	m     map[string]sharedEntry // guarded by store.mu
}

// Get returns a copy of the value and its CAS; ok is false for a missing key.
func (d *SharedData) Get(key string) (value []byte, cas uint32, ok bool) {
	d.store.mu.Lock()
	defer d.store.mu.Unlock()
	e, ok := d.m[key]
	if !ok {
		return nil, 0, false
	}
	return append([]byte(nil), e.value...), e.cas, true
}

// Set stores value under key if cas is 0 or matches; it reports whether it did.
func (d *SharedData) Set(key string, value []byte, cas uint32) bool {
	return d.set(key, value, cas) == statusOK
}

// Keys returns every key, in no particular order.
func (d *SharedData) Keys() []string {
	d.store.mu.Lock()
	defer d.store.mu.Unlock()
	keys := make([]string, 0, len(d.m))
	for k := range d.m {
		keys = append(keys, k)
	}
	return keys
}

func (d *SharedData) set(key string, value []byte, cas uint32) status {
	d.store.mu.Lock()
	defer d.store.mu.Unlock()
	e, ok := d.m[key]
	if ok && cas != 0 && cas != e.cas {
		return statusCASMismatch
	}
	d.m[key] = sharedEntry{value: append([]byte(nil), value...), cas: d.store.nextCAS()}
	return statusOK
}

// getEntry returns the entry; callers copy the value out.
func (d *SharedData) getEntry(key string) (sharedEntry, bool) {
	d.store.mu.Lock()
	defer d.store.mu.Unlock()
	e, ok := d.m[key]
	return e, ok // value slices are never mutated in place, so sharing is safe
}

func sharedDataFunctions() []hostFunc {
	const spec = "https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#"
	return []hostFunc{
		{name: fnGetSharedData, params: i32s(5), results: resultI32, fn: hostGetSharedData, doc: spec + fnGetSharedData},
		{name: fnSetSharedData, params: i32s(5), results: resultI32, fn: hostSetSharedData, doc: spec + fnSetSharedData},
	}
}

// hostGetSharedData implements proxy_get_shared_data(key, value_out, cas_out).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_get_shared_data
func hostGetSharedData(v *vm, s []uint64) {
	key, ok := v.read(uint32(s[0]), uint32(s[1]))
	if !ok {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	e, found := v.shared().getEntry(string(key))
	if !found {
		s[0] = uint64(statusNotFound)
		return
	}
	if st := v.copyOut(uint32(s[2]), uint32(s[3]), e.value); st != statusOK {
		s[0] = uint64(st)
		return
	}
	if !v.writeU32(uint32(s[4]), e.cas) {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(statusOK)
}

// hostSetSharedData implements proxy_set_shared_data(key, value, cas).
// https://github.com/proxy-wasm/spec/tree/main/abi-versions/v0.2.1#proxy_set_shared_data
func hostSetSharedData(v *vm, s []uint64) {
	key, ok1 := v.read(uint32(s[0]), uint32(s[1]))
	val, ok2 := v.read(uint32(s[2]), uint32(s[3]))
	if !ok1 || !ok2 {
		s[0] = uint64(statusInvalidMemoryAccess)
		return
	}
	s[0] = uint64(v.shared().set(string(key), val, uint32(s[4])))
}

func (v *vm) shared() *SharedData {
	if v.sharedData == nil {
		v.sharedData = v.m.shared.forVM(v.p.cfg.VMID)
	}
	return v.sharedData
}
