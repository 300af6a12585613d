package wasmhost

import (
	"bytes"
	"net/http"
	"testing"
)

func TestPairsRoundTrip(t *testing.T) {
	in := []headerKV{{":status", "200"}, {"x-a", ""}, {"x-b", "v"}}
	got, ok := decodePairs(encodePairs(in))
	if !ok || len(got) != 3 || got[0] != in[0] || got[1] != in[1] || got[2] != in[2] {
		t.Fatalf("got %v %v", got, ok)
	}
	// The layout: count, sizes, then NUL-terminated keys and values.
	want := []byte{1, 0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 'k', 0, 'v', 'w', 0}
	if b := encodePairs([]headerKV{{"k", "vw"}}); !bytes.Equal(b, want) {
		t.Fatalf("encoding %v, want %v", b, want)
	}
	if p, ok := decodePairs(nil); !ok || len(p) != 0 {
		t.Fatal("an empty map is 0 bytes")
	}
	for _, bad := range [][]byte{{1}, {1, 0, 0, 0}, {1, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 'a', 0}, {0xff, 0xff, 0xff, 0xff}} {
		if _, ok := decodePairs(bad); ok {
			t.Errorf("%v decoded", bad)
		}
	}
}

func FuzzDecodePairs(f *testing.F) {
	f.Add(encodePairs([]headerKV{{"a", "b"}, {":path", "/"}}))
	f.Add([]byte{2, 0, 0, 0, 1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, ok := decodePairs(b)
		if ok && len(b) > 0 {
			if got := encodePairs(pairs); !bytes.Equal(got, b[:len(got)]) {
				t.Fatalf("re-encoding differs")
			}
		}
	})
}

func TestHeaderMapOperations(t *testing.T) {
	var h headerMap
	h.add("a", "1")
	h.add("b", "2")
	h.add("a", "3")
	h.replace("a", "x")
	if len(h.kv) != 2 || h.kv[0] != (headerKV{"a", "x"}) || h.kv[1] != (headerKV{"b", "2"}) {
		t.Fatalf("replace: %v", h.kv)
	}
	h.remove("a")
	if v, ok := h.get("a"); ok || v != "" || len(h.kv) != 1 {
		t.Fatalf("remove: %v", h.kv)
	}
	var arena []byte
	h.reset()
	arena = h.fillFromHTTP(http.Header{"Content-Type": {"t"}, "x-lower": {"l"}}, arena)
	if v, _ := h.get("content-type"); v != "t" {
		t.Fatalf("lower-cased keys: %v", h.kv)
	}
	if v, _ := h.get("x-lower"); v != "l" {
		t.Fatalf("%v", h.kv)
	}
	_ = arena
}

func BenchmarkFillRequestHeaders(b *testing.B) {
	hdr := http.Header{"Accept": {"*/*"}, "User-Agent": {"bench"}, "Authorization": {"Bearer x"},
		"X-Request-Id": {"1"}, "Content-Type": {"application/json"}}
	var h headerMap
	var arena []byte
	b.ReportAllocs()
	for b.Loop() {
		h.reset()
		arena = h.fillFromHTTP(hdr, arena[:0])
	}
}
