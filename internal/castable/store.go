// Package castable keeps small, expiring per-key state in Proxy-Wasm shared
// data: a Store with the host's compare-and-swap semantics, and a bounded,
// namespaced slot table over it.
//
// Shared data can never be deleted through the Proxy-Wasm ABI, so a plugin that
// wrote one shared-data key per client would grow without bound. The Table
// instead owns a fixed set of slot keys and reuses a slot once the state it
// holds has expired.
package castable

import (
	"errors"
	"sync"
)

// Store is the shared-data interface of the Proxy-Wasm ABI
// (proxy_get_shared_data / proxy_set_shared_data). The plugin adapts the SDK's
// GetSharedData/SetSharedData to it; tests use MemStore.
//
// Semantics, as in proxy-wasm-cpp-host src/shared_data.cc (SharedData::get,
// SharedData::set) and src/shared_data.h (nextCas):
//   - Get of a missing key returns ErrNotFound.
//   - Set with cas 0 sets unconditionally.
//   - Set with a non-zero cas on an existing key succeeds only when cas equals
//     the key's current cas, else it returns ErrCASMismatch.
//   - Set of a missing key always succeeds, whatever cas is given.
//   - Every successful Set gives the key a new cas from one store-wide
//     counter that starts at 1 and never yields 0.
//   - Keys are never deleted.
//   - Set copies value: the caller may reuse it once Set returns (the host
//     copies what proxy_set_shared_data passes).
type Store interface {
	Get(key string) (value []byte, cas uint32, err error)
	Set(key string, value []byte, cas uint32) error
}

var (
	// ErrNotFound is returned by Store.Get for a key that was never set.
	ErrNotFound = errors.New("castable: key not found")
	// ErrCASMismatch is returned by Store.Set when the key changed since the
	// caller read it.
	ErrCASMismatch = errors.New("castable: cas mismatch")
)

// MemStore is an in-memory, goroutine-safe Store with exactly the host's
// semantics. It stands in for Envoy's shared data in native tests and
// benchmarks. The zero value is ready to use.
type MemStore struct {
	mu      sync.Mutex
	nextCas uint32
	data    map[string]memEntry
}

type memEntry struct {
	value []byte
	cas   uint32
}

var _ Store = (*MemStore)(nil)

// Get returns a copy of the value stored under key and its cas.
func (m *MemStore) Get(key string) ([]byte, uint32, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.data[key]
	if !ok {
		return nil, 0, ErrNotFound
	}
	return append([]byte(nil), e.value...), e.cas, nil
}

// Set stores a copy of value under key, following SharedData::set.
func (m *MemStore) Set(key string, value []byte, cas uint32) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.data == nil {
		m.data = make(map[string]memEntry)
	}
	if e, ok := m.data[key]; ok && cas != 0 && cas != e.cas {
		return ErrCASMismatch
	}
	m.data[key] = memEntry{value: append([]byte(nil), value...), cas: m.allocCas()}
	return nil
}

// allocCas mirrors SharedData::nextCas: the counter starts at 1 and skips 0
// when it wraps.
func (m *MemStore) allocCas() uint32 {
	if m.nextCas == 0 {
		m.nextCas = 1
	}
	c := m.nextCas
	m.nextCas++
	if m.nextCas == 0 {
		m.nextCas = 1
	}
	return c
}

// Len reports the number of keys in the store, for tests that check the
// memory bound.
func (m *MemStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.data)
}

// Bytes reports the total length of all keys and values in the store.
func (m *MemStore) Bytes() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for k, e := range m.data {
		n += len(k) + len(e.value)
	}
	return n
}
