package headerview

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/canon"
)

// all is the held view as a map, for comparisons.
func all(v *View) map[string]string {
	m := map[string]string{}
	if !v.Held() {
		return m
	}
	for _, kv := range v.kv {
		if _, dup := m[kv[0]]; dup {
			panic("a name twice in the view: " + kv[0])
		}
		m[kv[0]] = kv[1]
	}
	return m
}

func TestViewJoinsRepeatsAndFollowsEveryChange(t *testing.T) {
	var v View
	v.Keep([][2]string{{"Cookie", "a=1"}, {"cookie", "b=2"}, {"X-Tag", "x"}, {"x-tag", "y"}})
	v.Add("cookie", "c=3")
	v.Add("X-User", "ann")
	v.Replace("x-tag", "z")
	v.Remove("Authorization")
	v.Replace("X-New", "n")
	v.Add("x-user", "bob")
	v.Remove("X-New")
	want := map[string]string{"cookie": "a=1; b=2; c=3", "x-tag": "z", "x-user": "ann,bob"}
	if got := all(&v); !maps.Equal(got, want) {
		t.Fatalf("view = %v, want %v", got, want)
	}
	if got, ok := v.Get("x-tag"); !ok || got != "z" {
		t.Fatalf("x-tag = %q, %v", got, ok)
	}
	if _, ok := v.Get("x-new"); ok {
		t.Fatal("a removed header is still in the view")
	}
}

// TestViewIsJoinHeaders: the view of any header list, small or past
// manyHeaders, is canon.JoinHeaders' map.
func TestViewIsJoinHeaders(t *testing.T) {
	for _, n := range []int{0, 3, manyHeaders, manyHeaders + 1, 3 * manyHeaders} {
		var pairs [][2]string
		for i := range n {
			// Every third name repeats one before it, in another case.
			name := fmt.Sprintf("x-h%d", i)
			if i%3 == 2 {
				name = fmt.Sprintf("X-H%d", i/2)
			}
			pairs = append(pairs, [2]string{name, fmt.Sprint(i)}, [2]string{"cookie", fmt.Sprint(i)})
		}
		var v View
		v.Keep(pairs)
		if got, want := all(&v), canon.JoinHeaders(pairs); !maps.Equal(got, want) {
			t.Errorf("%d pairs: view = %v, want %v", 2*n, got, want)
		}
		for name, value := range canon.JoinHeaders(pairs) {
			if got, ok := v.Get(name); !ok || got != value {
				t.Errorf("%d pairs: Get(%q) = %q, %v, want %q", 2*n, name, got, ok, value)
			}
		}
	}
}

func TestViewReadsOnceAndNeverKeepsAFailedRead(t *testing.T) {
	var v View
	reads := 0
	failing := func() ([][2]string, error) { reads++; return nil, errors.New("released") }
	if v.Load(failing) || v.Held() || v.Len() != 0 {
		t.Fatal("a failed read was kept as a request without headers")
	}
	v.Add("x-user", "ann") // nothing held: nothing to update
	ok := func() ([][2]string, error) { reads++; return [][2]string{{"x-user", "bob"}}, nil }
	v.Load(ok)
	v.Load(ok)
	if got, _ := v.Get("x-user"); got != "bob" || reads != 2 {
		t.Fatalf("x-user = %q after %d reads", got, reads)
	}
	v.Drop()
	if v.Held() {
		t.Fatal("a dropped view is still held")
	}
	if _, ok := v.Get("x-user"); ok {
		t.Fatal("a dropped view still answers")
	}
}

func TestReusedViewHoldsNothing(t *testing.T) {
	var v View
	v.Keep([][2]string{{"x-user", "ann"}})
	if !v.Held() {
		t.Fatal("kept headers are not held")
	}
	v = v.Reuse()
	if v.Held() || v.Len() != 0 {
		t.Fatal("a reused view still holds the last request's headers")
	}
	v.Keep([][2]string{{"x-other", "1"}})
	if _, ok := v.Get("x-user"); ok {
		t.Fatal("the last request's header leaks into the next")
	}
}

// TestViewAllocatesOnlyToJoin: holding and reading a view of distinct
// headers allocates nothing once its array is grown.
func TestViewAllocatesOnlyToJoin(t *testing.T) {
	pairs := [][2]string{{":path", "/x"}, {"accept", "*/*"}, {"authorization", "Bearer t"}, {"x-request-id", "1"}}
	var v View
	n := testing.AllocsPerRun(100, func() {
		v = v.Reuse()
		v.Keep(pairs)
		v.Get("authorization")
		v.Replace("accept-encoding", "gzip")
		v.Remove("authorization")
	})
	if n != 0 {
		t.Fatalf("%.1f allocations per request, want 0", n)
	}
}

// lower returns what strings.ToLower does for every name, whatever its
// length and wherever an upper-case letter or a non-ASCII byte sits in it.
func TestLowerIsToLower(t *testing.T) {
	for n := range 24 {
		base := []byte(strings.Repeat("x-z@[`{", 4)[:n])
		check := func(b []byte) {
			t.Helper()
			if got, want := lower(string(b)), strings.ToLower(string(b)); got != want {
				t.Fatalf("lower(%q) = %q, want %q", b, got, want)
			}
		}
		check(base)
		for i := range n {
			for _, c := range []byte{'A', 'M', 'Z', '@', '[', 0x7f, 0x80, 0xc3, 0xff} {
				b := bytes.Clone(base)
				b[i] = c
				check(b)
			}
		}
	}
}

// The view joins like canon.JoinHeaders whatever the names' lengths, last
// bytes and case: names that share a class (nameClass) and names that
// repeat are told apart.
func TestViewJoinsNamesOfOneClass(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	names := []string{"a", "b", "ab", "ba", "x-a", "X-A", "y-a", "x-user", "X-User", "x-usEr", "cookie", "Cookie", "accept", "accepT", "user-agent"}
	for range 2000 {
		var pairs [][2]string
		for j := range rng.IntN(12) {
			pairs = append(pairs, [2]string{names[rng.IntN(len(names))], fmt.Sprint(j)})
		}
		var v View
		v.Keep(pairs)
		if got, want := all(&v), canon.JoinHeaders(pairs); !maps.Equal(got, want) {
			t.Fatalf("%q: view = %v, want %v", pairs, got, want)
		}
	}
}
