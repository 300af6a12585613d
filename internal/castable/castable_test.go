package castable

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestMemStoreMirrorsHostSemantics(t *testing.T) {
	var s MemStore
	if _, _, err := s.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("get missing: err = %v, want ErrNotFound", err)
	}
	// A missing key is created whatever cas is given.
	if err := s.Set("k", []byte("a"), 12345); err != nil {
		t.Fatalf("set missing key with cas: %v", err)
	}
	v, cas1, err := s.Get("k")
	if err != nil || string(v) != "a" || cas1 != 1 {
		t.Fatalf("get = %q, %d, %v; want \"a\", cas 1 (the counter starts at 1)", v, cas1, err)
	}
	if err := s.Set("k", []byte("b"), cas1+1); !errors.Is(err, ErrCASMismatch) {
		t.Fatalf("set with stale cas: err = %v, want ErrCASMismatch", err)
	}
	if err := s.Set("k", []byte("b"), cas1); err != nil {
		t.Fatalf("set with current cas: %v", err)
	}
	_, cas2, _ := s.Get("k")
	if cas2 == cas1 || cas2 == 0 {
		t.Fatalf("cas after set = %d, want a new non-zero value", cas2)
	}
	if err := s.Set("k", []byte("c"), 0); err != nil {
		t.Fatalf("cas 0 must set unconditionally: %v", err)
	}
	// The counter is store-wide, not per key.
	if err := s.Set("other", nil, 0); err != nil {
		t.Fatal(err)
	}
	_, cas3, _ := s.Get("k")
	_, cas4, _ := s.Get("other")
	if cas4 != cas3+1 {
		t.Fatalf("cas of other key = %d, want %d (one global counter)", cas4, cas3+1)
	}
	// Values are copied in and out.
	v, _, _ = s.Get("k")
	v[0] = 'X'
	if v2, _, _ := s.Get("k"); string(v2) != "c" {
		t.Fatalf("stored value changed through a returned slice: %q", v2)
	}
}

func TestMemStoreCasSkipsZeroOnWrap(t *testing.T) {
	s := MemStore{nextCas: ^uint32(0)}
	_ = s.Set("a", nil, 0)
	_ = s.Set("b", nil, 0)
	_, ca, _ := s.Get("a")
	_, cb, _ := s.Get("b")
	if ca != ^uint32(0) || cb != 1 {
		t.Fatalf("cas around wrap = %d, %d; want %d, 1", ca, cb, ^uint32(0))
	}
}

func newTable(t testing.TB, s Store, slots int) *Table {
	t.Helper()
	tb, err := New(s, Options{Namespace: "apiguard/root/test", Slots: slots})
	if err != nil {
		t.Fatal(err)
	}
	return tb
}

// counter is an UpdateFunc that increments a uint64 state and keeps it for ttl.
func counter(now time.Time, ttl time.Duration, got *uint64) UpdateFunc {
	return func(state []byte) ([]byte, time.Time, bool) {
		var n uint64
		if len(state) == 8 {
			n = binary.LittleEndian.Uint64(state)
		}
		n++
		*got = n
		return binary.LittleEndian.AppendUint64(nil, n), now.Add(ttl), true
	}
}

func TestUpdateKeepsStatePerKey(t *testing.T) {
	s := &MemStore{}
	tb := newTable(t, s, 64)
	now := time.Unix(1000, 0)
	var n uint64
	for i := 0; i < 3; i++ {
		if _, err := tb.Update("alice", now, counter(now, time.Minute, &n)); err != nil {
			t.Fatal(err)
		}
	}
	if n != 3 {
		t.Fatalf("alice = %d, want 3", n)
	}
	if _, err := tb.Update("bob", now, counter(now, time.Minute, &n)); err != nil || n != 1 {
		t.Fatalf("bob = %d, %v; want 1", n, err)
	}
	// Keys are namespaced and versioned.
	s.mu.Lock()
	for k := range s.data {
		if !strings.HasPrefix(k, "apiguard/root/test/v"+strconv.Itoa(SchemaVersion)+"/") {
			t.Errorf("slot key %q lacks the namespace and schema version", k)
		}
	}
	s.mu.Unlock()
}

func TestExpiredStateStartsFreshAndSlotIsReused(t *testing.T) {
	s := &MemStore{}
	tb, err := New(s, Options{Namespace: "ns", Slots: 1, Ways: 1})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	var n uint64
	if _, err := tb.Update("a", now, counter(now, time.Second, &n)); err != nil {
		t.Fatal(err)
	}
	// While a's state lives, b has nowhere to go.
	if _, err := tb.Update("b", now.Add(999*time.Millisecond), counter(now, time.Second, &n)); !errors.Is(err, ErrFull) {
		t.Fatalf("live slot taken by another key: err = %v, want ErrFull", err)
	}
	// Once it expires, b reuses the slot.
	later := now.Add(time.Second)
	if _, err := tb.Update("b", later, counter(later, time.Second, &n)); err != nil || n != 1 {
		t.Fatalf("stale reuse: n = %d, err = %v", n, err)
	}
	// And a, coming back, has lost its old state rather than seeing b's.
	if _, err := tb.Update("a", later.Add(2*time.Second), counter(later, time.Second, &n)); err != nil || n != 1 {
		t.Fatalf("a after expiry: n = %d, err = %v; want fresh state 1", n, err)
	}
	if s.Len() != 2 {
		t.Fatalf("store has %d keys, want 2 (one slot and the hash key)", s.Len())
	}
}

func TestWriteFalseLeavesSlotUntouched(t *testing.T) {
	s := &MemStore{}
	tb := newTable(t, s, 8)
	_, err := tb.Update("k", time.Unix(0, 0), func([]byte) ([]byte, time.Time, bool) { return nil, time.Time{}, false })
	if err != nil || s.Len() != 1 {
		t.Fatalf("write=false: err %v, %d keys besides the hash key written", err, s.Len()-1)
	}
}

func TestHugeKeysAreNeverStoredRaw(t *testing.T) {
	s := &MemStore{}
	tb := newTable(t, s, 8)
	huge := strings.Repeat("X", 1<<20)
	var n uint64
	now := time.Unix(0, 0)
	if _, err := tb.Update(huge, now, counter(now, time.Minute, &n)); err != nil {
		t.Fatal(err)
	}
	if b := s.Bytes(); b > tb.MaxBytes() {
		t.Fatalf("store holds %d bytes, bound is %d", b, tb.MaxBytes())
	}
}

func TestStateLimit(t *testing.T) {
	tb, _ := New(&MemStore{}, Options{Namespace: "ns", Slots: 4, MaxStateBytes: 8})
	_, err := tb.Update("k", time.Unix(0, 0), func([]byte) ([]byte, time.Time, bool) {
		return make([]byte, 9), time.Unix(1, 0), true
	})
	if err == nil {
		t.Fatal("state above MaxStateBytes accepted")
	}
}

func TestOptionsValidation(t *testing.T) {
	for name, o := range map[string]Options{
		"no namespace":  {Slots: 1},
		"no slots":      {Namespace: "n"},
		"too many ways": {Namespace: "n", Slots: 16, Ways: 9},
		"attempts":      {Namespace: "n", Slots: 16, MaxAttempts: 1000},
		"state":         {Namespace: "n", Slots: 16, MaxStateBytes: -1},
	} {
		if _, err := New(&MemStore{}, o); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if _, err := New(nil, Options{Namespace: "n", Slots: 1}); err == nil {
		t.Error("nil store accepted")
	}
}

// conflictStore makes every Set lose its race.
type conflictStore struct{ MemStore }

func (c *conflictStore) Set(key string, value []byte, cas uint32) error {
	if strings.HasSuffix(key, "/"+hashKeyName) {
		return c.MemStore.Set(key, value, cas)
	}
	_ = c.MemStore.Set(key, []byte("other worker"), 0)
	return ErrCASMismatch
}

func TestContendedAfterBoundedAttempts(t *testing.T) {
	s := &conflictStore{}
	tb, _ := New(s, Options{Namespace: "ns", Slots: 4, MaxAttempts: 5})
	calls := 0
	attempts, err := tb.Update("k", time.Unix(0, 0), func([]byte) ([]byte, time.Time, bool) {
		calls++
		return []byte("x"), time.Unix(10, 0), true
	})
	if !errors.Is(err, ErrContended) || attempts != 5 || calls != 5 {
		t.Fatalf("attempts %d, calls %d, err %v; want 5, 5, ErrContended", attempts, calls, err)
	}
}

type brokenStore struct{}

func (brokenStore) Get(string) ([]byte, uint32, error) { return nil, 0, errors.New("host said no") }
func (brokenStore) Set(string, []byte, uint32) error   { return errors.New("host said no") }

func TestStoreErrorsAreWrapped(t *testing.T) {
	tb, _ := New(brokenStore{}, Options{Namespace: "ns", Slots: 4})
	_, err := tb.Update("k", time.Unix(0, 0), func([]byte) ([]byte, time.Time, bool) { return nil, time.Time{}, true })
	if err == nil || errors.Is(err, ErrFull) || errors.Is(err, ErrContended) || !strings.Contains(err.Error(), "host said no") {
		t.Fatalf("err = %v", err)
	}
}

// TestHammerNoLostUpdate runs 8 goroutines incrementing one key; the final
// count equals the number of successful Updates.
func TestHammerNoLostUpdate(t *testing.T) {
	s := &MemStore{}
	tb, _ := New(s, Options{Namespace: "ns", Slots: 16, MaxAttempts: 64})
	now := time.Unix(1000, 0)
	const workers, per = 8, 2000
	var wg sync.WaitGroup
	var mu sync.Mutex
	ok, contended := 0, 0
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < per; i++ {
				var n uint64
				_, err := tb.Update("hot", now, counter(now, time.Hour, &n))
				mu.Lock()
				switch {
				case err == nil:
					ok++
				case errors.Is(err, ErrContended):
					contended++
				default:
					t.Error(err)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	var final uint64
	_, err := tb.Update("hot", now, func(state []byte) ([]byte, time.Time, bool) {
		final = binary.LittleEndian.Uint64(state)
		return nil, time.Time{}, false
	})
	if err != nil {
		t.Fatal(err)
	}
	if int(final) != ok {
		t.Fatalf("count = %d, successful updates = %d (contended %d): lost updates", final, ok, contended)
	}
	if ok+contended != workers*per {
		t.Fatalf("ok %d + contended %d != %d", ok, contended, workers*per)
	}
}

// TestConcurrentCreateOfMissingSlot has many goroutines create the same key
// in a fresh table at once: exactly their number of increments survives.
func TestConcurrentCreateOfMissingSlot(t *testing.T) {
	for round := 0; round < 50; round++ {
		s := &MemStore{}
		tb, _ := New(s, Options{Namespace: "ns", Slots: 4, MaxAttempts: 64})
		now := time.Unix(0, 0)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for w := 0; w < 8; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var n uint64
				if _, err := tb.Update("k", now, counter(now, time.Hour, &n)); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		var final uint64
		_, _ = tb.Update("k", now, func(state []byte) ([]byte, time.Time, bool) {
			final = binary.LittleEndian.Uint64(state)
			return nil, time.Time{}, false
		})
		if final != 8 {
			t.Fatalf("round %d: count = %d, want 8", round, final)
		}
	}
}

// TestMillionClientsStayWithinBound drives a million distinct keys through a
// small table: the store never holds more than Slots keys or MaxBytes bytes.
func TestMillionClientsStayWithinBound(t *testing.T) {
	s := &MemStore{}
	tb, _ := New(s, Options{Namespace: "apiguard/root/rl", Slots: 1024, MaxStateBytes: 16})
	now := time.Unix(1000, 0)
	full := 0
	n := 1_000_000
	if testing.Short() || raceEnabled {
		n = 100_000
	}
	key := make([]byte, 0, 32)
	for i := 0; i < n; i++ {
		// Each client's state lives 1 ms; time advances 1 µs per request, so
		// about 1000 states are live at any moment.
		at := now.Add(time.Duration(i) * time.Microsecond)
		key = strconv.AppendInt(append(key[:0], "10.0."...), int64(i), 10)
		var c uint64
		_, err := tb.Update(string(key), at, counter(at, time.Millisecond, &c))
		if errors.Is(err, ErrFull) {
			full++
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if s.Len() > tb.Slots()+1 {
		t.Fatalf("store has %d keys, table has %d slots and a hash key", s.Len(), tb.Slots())
	}
	if s.Bytes() > tb.MaxBytes() {
		t.Fatalf("store holds %d bytes, bound %d", s.Bytes(), tb.MaxBytes())
	}
	t.Logf("%d clients: %d store keys, %d bytes (bound %d), %d ErrFull", n, s.Len(), s.Bytes(), tb.MaxBytes(), full)
}

func TestCorruptSlotIsReusable(t *testing.T) {
	s := &MemStore{}
	tb, _ := New(s, Options{Namespace: "ns", Slots: 1, Ways: 1})
	_ = s.Set(tb.slotKey(0), []byte("junk"), 0)
	var n uint64
	now := time.Unix(0, 0)
	if _, err := tb.Update("k", now, counter(now, time.Minute, &n)); err != nil || n != 1 {
		t.Fatalf("n %d, err %v", n, err)
	}
}

func FuzzUpdateOverArbitrarySlots(f *testing.F) {
	f.Add([]byte{}, "key", int64(0))
	f.Add(bytes.Repeat([]byte{0xff}, 40), "", int64(-1))
	f.Fuzz(func(t *testing.T, slotValue []byte, key string, nowNs int64) {
		s := &MemStore{}
		tb, _ := New(s, Options{Namespace: "ns", Slots: 2, Ways: 2})
		_ = s.Set(tb.slotKey(0), slotValue, 0)
		_ = s.Set(tb.slotKey(1), slotValue, 0)
		_, err := tb.Update(key, time.Unix(0, nowNs), func(state []byte) ([]byte, time.Time, bool) {
			return append([]byte(nil), state[:min(len(state), 8)]...), time.Unix(0, nowNs).Add(time.Second), true
		})
		if err != nil && !errors.Is(err, ErrFull) {
			t.Fatal(err)
		}
	})
}

func BenchmarkUpdate(b *testing.B) {
	s := &MemStore{}
	tb, _ := New(s, Options{Namespace: "ns", Slots: 4096})
	now := time.Unix(0, 0)
	var n uint64
	fn := counter(now, time.Hour, &n)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := tb.Update("client-1", now, fn); err != nil {
			b.Fatal(err)
		}
	}
}

// With Evict, a key whose candidates are all live takes the one that expires
// first, and Apply says it evicted live state; the longest-lived entry stays.
func TestEvictTakesTheEntryThatExpiresFirst(t *testing.T) {
	s := &MemStore{}
	tb, err := New(s, Options{Namespace: "ns", Slots: 2, Ways: 2, Evict: true})
	if err != nil {
		t.Fatal(err)
	}
	now := time.Unix(1000, 0)
	var n uint64
	if _, err := tb.Update("long", now, counter(now, time.Hour, &n)); err != nil {
		t.Fatal(err)
	}
	if _, err := tb.Update("short", now, counter(now, time.Second, &n)); err != nil {
		t.Fatal(err)
	}
	st, err := tb.Apply("new", now, counter(now, time.Minute, &n))
	if err != nil || !st.Evicted || n != 1 {
		t.Fatalf("new key: stats %+v, n %d, err %v; want a fresh state that evicted a live one", st, n, err)
	}
	// "long" kept its state; "short" was the one evicted.
	if _, err := tb.Update("long", now, counter(now, time.Hour, &n)); err != nil || n != 2 {
		t.Fatalf("long after eviction: n = %d, err = %v; want 2", n, err)
	}
	// A write=false run evicts nothing.
	st, err = tb.Apply("other", now, func([]byte) ([]byte, time.Time, bool) { return nil, time.Time{}, false })
	if err != nil || st.Evicted {
		t.Fatalf("read-only apply: stats %+v, err %v", st, err)
	}
	// A stale slot is taken before any live one, and that is no eviction.
	later := now.Add(2 * time.Minute)
	st, err = tb.Apply("third", later, counter(later, time.Minute, &n))
	if err != nil || st.Evicted {
		t.Fatalf("stale reuse: stats %+v, err %v; want no eviction", st, err)
	}
	if _, err := tb.Update("long", later, counter(later, time.Hour, &n)); err != nil || n != 3 {
		t.Fatalf("long after stale reuse: n = %d, err = %v; want 3", n, err)
	}
}

func TestEachVisitsLiveStatesOnly(t *testing.T) {
	s := &MemStore{}
	tab := newTable(t, s, 16)
	now := time.Unix(1000, 0)
	for i, ttl := range []time.Duration{time.Minute, time.Second, time.Minute} {
		key := fmt.Sprint("k", i)
		if _, err := tab.Update(key, now, func([]byte) ([]byte, time.Time, bool) { return []byte(key), now.Add(ttl), true }); err != nil {
			t.Fatal(err)
		}
	}
	var seen []string
	if err := tab.Each(now.Add(2*time.Second), func(st []byte) bool { seen = append(seen, string(st)); return true }); err != nil {
		t.Fatal(err)
	}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"k0", "k2"}) {
		t.Errorf("Each saw %q, want the two live states", seen)
	}
}

// Keys that alternate, share a prefix or differ only in length each keep
// their own state through the table's memo of the last key's slots, and
// each lands in its own candidates: no key takes the slots of the one
// before it.
func TestAlternatingKeysKeepTheirOwnSlots(t *testing.T) {
	s := &MemStore{}
	tb := newTable(t, s, 1024)
	now := time.Unix(1000, 0)
	long := strings.Repeat("k", MaxKeyBytes+1)
	keys := []string{"alice", "bob", "alice", "alic", "alice", long, "alice", long[:MaxKeyBytes], "bob"}
	want := map[string]uint64{}
	for _, k := range keys {
		var n uint64
		if _, err := tb.Update(k, now, counter(now, time.Minute, &n)); err != nil {
			t.Fatal(err)
		}
		want[k]++
		if n != want[k] {
			t.Fatalf("%.8s… = %d, want %d", k, n, want[k])
		}
		hk := *tb.hashKey.Load()
		if got, direct := tb.candidatesOf(hk, k), tb.candidates(hk, k); got != direct {
			t.Fatalf("%.8s…: remembered candidates %v, hashed %v", k, got, direct)
		}
	}
}
