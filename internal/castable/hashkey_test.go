package castable

import (
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// blindView is one worker VM's view of a shared store whose first read of
// the hash key finds nothing, as if every VM read it before any of them
// wrote it: the CAS race of a fresh start with several workers, made
// certain.
type blindView struct {
	*MemStore
	looked bool
}

func (v *blindView) Get(key string) ([]byte, uint32, error) {
	if strings.HasSuffix(key, "/"+hashKeyName) && !v.looked {
		v.looked = true
		return nil, 0, ErrNotFound
	}
	return v.MemStore.Get(key)
}

// Every worker VM hashes with the key the first creator stored, even when
// all of them found none and tried to create their own: one client's
// requests on different workers land in one slot and count together.
func TestEveryWorkerUsesTheSameHashKey(t *testing.T) {
	const workers = 4
	s := &MemStore{}
	vms := make([]*Table, workers)
	for i := range vms {
		vms[i] = newTable(t, &blindView{MemStore: s}, 1024)
	}
	now := time.Unix(1000, 0)
	var n uint64
	for i, vm := range vms {
		if _, err := vm.Update("alice", now, counter(now, time.Minute, &n)); err != nil {
			t.Fatal(err)
		}
		if n != uint64(i+1) {
			t.Fatalf("worker %d sees alice's count %d, want %d: the workers hash differently", i, n, i+1)
		}
	}
	stored, _, err := s.Get("apiguard/root/test/v" + strconv.Itoa(SchemaVersion) + "/" + hashKeyName)
	if err != nil {
		t.Fatal(err)
	}
	for i, vm := range vms {
		k := vm.hashKey.Load()
		if k == nil || k.k0 != binary.LittleEndian.Uint64(stored[:8]) || k.k1 != binary.LittleEndian.Uint64(stored[8:]) {
			t.Fatalf("worker %d does not use the stored hash key", i)
		}
	}
}

// The same, with the workers' first updates really concurrent.
func TestConcurrentFirstUpdatesAgreeOnTheHashKey(t *testing.T) {
	for round := range 20 {
		s := &MemStore{}
		const workers = 8
		start := make(chan struct{})
		var wg sync.WaitGroup
		vms := make([]*Table, workers)
		for i := range vms {
			vms[i] = newTable(t, s, 64)
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				var n uint64
				now := time.Unix(0, 0)
				if _, err := vms[i].Update("k", now, counter(now, time.Hour, &n)); err != nil {
					t.Error(err)
				}
			}()
		}
		close(start)
		wg.Wait()
		var final uint64
		_, _ = vms[0].Update("k", time.Unix(0, 0), func(state []byte) ([]byte, time.Time, bool) {
			final = binary.LittleEndian.Uint64(state)
			return nil, time.Time{}, false
		})
		if final != workers {
			t.Fatalf("round %d: count %d, want %d", round, final, workers)
		}
		for i := 1; i < workers; i++ {
			if *vms[i].hashKey.Load() != *vms[0].hashKey.Load() {
				t.Fatalf("round %d: workers 0 and %d hash with different keys", round, i)
			}
		}
	}
}

// Two plugin processes (two stores) draw different keys: nothing about the
// slots is predictable from outside.
func TestHashKeyIsRandomPerStore(t *testing.T) {
	a, b := newTable(t, &MemStore{}, 8), newTable(t, &MemStore{}, 8)
	for _, tb := range []*Table{a, b} {
		if _, err := tb.loadHashKey(); err != nil {
			t.Fatal(err)
		}
	}
	if *a.hashKey.Load() == *b.hashKey.Load() {
		t.Fatal("two stores drew the same hash key")
	}
}

// Keys that share a slot are told apart by the key stored in it: the second
// never reads or adds to the first one's state.
func TestCollidingKeysAreToldApartByTheStoredKey(t *testing.T) {
	long := strings.Repeat("k", MaxKeyBytes+10)
	for name, keys := range map[string][2]string{
		"short":              {"alice", "bob"},
		"prefix":             {"ab", "abc"},
		"at MaxKeyBytes":     {strings.Repeat("k", MaxKeyBytes), strings.Repeat("k", MaxKeyBytes-1) + "j"},
		"digests":            {long, long[:len(long)-1] + "j"},
		"raw against digest": {long, long[:MaxKeyBytes]},
	} {
		t.Run(name, func(t *testing.T) {
			// One slot: every key's hash lands on it.
			tb, err := New(&MemStore{}, Options{Namespace: "ns", Slots: 1, Ways: 1, Evict: true})
			if err != nil {
				t.Fatal(err)
			}
			now := time.Unix(1000, 0)
			var n uint64
			for range 3 {
				if _, err := tb.Update(keys[0], now, counter(now, time.Minute, &n)); err != nil {
					t.Fatal(err)
				}
			}
			st, err := tb.Apply(keys[1], now, counter(now, time.Minute, &n))
			if err != nil || n != 1 || !st.Evicted {
				t.Fatalf("second key: count %d, stats %+v, err %v; want a fresh state that evicted the first", n, st, err)
			}
			if _, err := tb.Update(keys[0], now, counter(now, time.Minute, &n)); err != nil || n != 1 {
				t.Fatalf("first key back: count %d, err %v; want a fresh state", n, err)
			}
		})
	}
}

// The hash key shows in no error and in no formatting of a Table.
func TestHashKeyIsNeverPrinted(t *testing.T) {
	s := &MemStore{}
	tb := newTable(t, s, 8)
	now := time.Unix(0, 0)
	var n uint64
	if _, err := tb.Update("k", now, counter(now, time.Minute, &n)); err != nil {
		t.Fatal(err)
	}
	raw, _, err := s.Get("apiguard/root/test/v" + strconv.Itoa(SchemaVersion) + "/" + hashKeyName)
	if err != nil {
		t.Fatal(err)
	}
	k := tb.hashKey.Load()
	forms := []string{hex.EncodeToString(raw), strings.ToUpper(hex.EncodeToString(raw)), base64.StdEncoding.EncodeToString(raw),
		base64.RawURLEncoding.EncodeToString(raw), string(raw), strconv.FormatUint(k.k0, 10), strconv.FormatUint(k.k1, 10),
		strconv.FormatUint(k.k0, 16), strconv.FormatUint(k.k1, 16), fmt.Sprint(raw)}
	printed := []string{fmt.Sprintf("%v", tb), fmt.Sprintf("%+v", tb), fmt.Sprintf("%#v", tb)}
	// Errors on every path that touches the key or a slot.
	_, err = tb.Update("k", now, func([]byte) ([]byte, time.Time, bool) { return make([]byte, 1000), now, true })
	printed = append(printed, fmt.Sprint(err))
	_ = s.Set(tb.prefix+hashKeyName, append(raw, 'x'), 0)
	other := newTable(t, s, 8)
	_, err = other.Update("k", now, counter(now, time.Minute, &n))
	if err == nil {
		t.Fatal("a hash key of the wrong size was accepted")
	}
	printed = append(printed, err.Error())
	for _, p := range printed {
		for _, f := range forms {
			if strings.Contains(p, f) {
				t.Fatalf("the hash key (as %q) is in %q", f, p)
			}
		}
	}
}

// A store that fails while the key is loaded fails that Update, with the
// host's error, and the next Update tries again.
func TestHashKeyLoadFailureIsRetried(t *testing.T) {
	s := &flakyStore{failures: 1}
	tb := newTable(t, s, 8)
	now := time.Unix(0, 0)
	var n uint64
	if _, err := tb.Update("k", now, counter(now, time.Minute, &n)); err == nil || !strings.Contains(err.Error(), "host said no") {
		t.Fatalf("err = %v, want the store's error", err)
	}
	if _, err := tb.Update("k", now, counter(now, time.Minute, &n)); err != nil || n != 1 {
		t.Fatalf("retry: n %d, err %v", n, err)
	}
}

type flakyStore struct {
	MemStore
	failures int
}

func (s *flakyStore) Get(key string) ([]byte, uint32, error) {
	if s.failures > 0 {
		s.failures--
		return nil, 0, errors.New("host said no")
	}
	return s.MemStore.Get(key)
}
