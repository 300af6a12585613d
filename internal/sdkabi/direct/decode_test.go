package direct

import (
	"encoding/binary"
	"slices"
	"testing"

	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/proxytest"
	"github.com/tetratelabs/proxy-wasm-go-sdk/proxywasm/types"
)

// encode is the host side of the header map encoding.
func encode(pairs [][2]string) []byte {
	b := binary.LittleEndian.AppendUint32(nil, uint32(len(pairs)))
	for _, kv := range pairs {
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[0])))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(kv[1])))
	}
	for _, kv := range pairs {
		b = append(append(append(append(b, kv[0]...), 0), kv[1]...), 0)
	}
	return b
}

func TestDecodePairs(t *testing.T) {
	for _, pairs := range [][][2]string{
		{},
		{{":path", "/"}},
		{{":method", "GET"}, {"x-empty", ""}, {"", "v"}, {"accept", "application/json"}},
	} {
		dst := make([][2]string, 3, 8)
		got, err := decodePairs(dst[:0], encode(pairs))
		if err != nil || !slices.Equal(got, pairs) {
			t.Errorf("decodePairs(%q) = %q, %v", pairs, got, err)
		}
	}
	for name, b := range map[string][]byte{
		"short":     {1, 0},
		"count":     {9, 0, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0},
		"overflows": {1, 0, 0, 0, 5, 0, 0, 0, 1, 0, 0, 0, 'a', 0, 'b', 0},
		"huge":      {1, 0, 0, 0, 255, 255, 255, 255, 255, 255, 255, 255, 0, 0},
	} {
		if got, err := decodePairs(nil, b); err == nil {
			t.Errorf("%s: decodePairs = %q, want an error", name, got)
		}
	}
}

// FuzzDecodePairs: any block decodes or fails without a panic, and what
// decodes encodes back into the block's length with the same sizes.
func FuzzDecodePairs(f *testing.F) {
	f.Add(encode([][2]string{{":path", "/a"}, {"b", ""}}))
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		pairs, err := decodePairs(nil, b)
		if err != nil {
			return
		}
		re := encode(pairs)
		if sizes := 4 + 8*len(pairs); len(re) > len(b) || string(re[:sizes]) != string(b[:sizes]) {
			t.Fatalf("decoded %q does not encode back to the block's sizes", pairs)
		}
	})
}

// checkedDecode is the decoder decodePairs replaced: it checks each pair
// as it goes. FuzzDecodePairsAgrees holds decodePairs to it.
func checkedDecode(b []byte) ([][2]string, bool) {
	if len(b) < 4 {
		return nil, false
	}
	n := uint64(binary.LittleEndian.Uint32(b))
	if n > uint64(len(b)-4)/8 {
		return nil, false
	}
	var out [][2]string
	sizes, data := 4, 4+8*int(n)
	for range n {
		k := uint64(binary.LittleEndian.Uint32(b[sizes:]))
		v := uint64(binary.LittleEndian.Uint32(b[sizes+4:]))
		sizes += 8
		if k+v+2 > uint64(len(b)-data) {
			return nil, false
		}
		name := string(b[data : data+int(k)])
		data += int(k) + 1
		value := string(b[data : data+int(v)])
		data += int(v) + 1
		out = append(out, [2]string{name, value})
	}
	return out, true
}

// FuzzDecodePairsAgrees: decodePairs, whose cuts have no bounds checks of
// their own, decodes every block as checkedDecode does, or refuses it as
// it does, appending after what dst holds.
func FuzzDecodePairsAgrees(f *testing.F) {
	f.Add(encode([][2]string{{":path", "/a"}, {"b", ""}}), 0)
	f.Add(encode([][2]string{{"", ""}, {"", "v"}}), 2)
	f.Add([]byte{2, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 'a', 0, 0, 'b', 'c', 'd', 0, 0}, 1)
	f.Add([]byte{1, 0, 0, 0, 255, 255, 255, 255, 1, 0, 0, 0, 0, 0}, 0)
	f.Fuzz(func(t *testing.T, b []byte, kept int) {
		kept = min(max(kept, 0), 4)
		dst := make([][2]string, kept, kept+1)
		for i := range dst {
			dst[i] = [2]string{"kept", "x"}
		}
		got, err := decodePairs(dst, b)
		want, ok := checkedDecode(b)
		if (err == nil) != ok {
			t.Fatalf("decodePairs error %v, the checked decoder ok %v", err, ok)
		}
		if err != nil {
			return
		}
		if len(got) != kept+len(want) || !slices.Equal(got[kept:], want) {
			t.Fatalf("decodePairs = %q, want %d kept then %q", got, kept, want)
		}
		for _, kv := range got[:kept] {
			if kv != [2]string{"kept", "x"} {
				t.Fatalf("decodePairs changed what dst held: %q", got[:kept])
			}
		}
	})
}

// TestNativeFallback: natively the calls go through the SDK's emulator.
func TestNativeFallback(t *testing.T) {
	host, reset := proxytest.NewHostEmulator(proxytest.NewEmulatorOption().WithVMContext(&vm{}))
	defer reset()
	id := host.InitializeHttpContext()
	want := [][2]string{{":path", "/x"}, {"accept", "*/*"}}
	host.CallOnRequestHeaders(id, want, true)
	if !slices.Equal(seen, want) {
		t.Errorf("request headers = %q, want %q", seen, want)
	}
	if got, _ := host.GetProperty([]string{"apiguard.decision"}); string(got) != "allow" {
		t.Errorf("property = %q", got)
	}
	if p := NewPath("a", "b"); p.String() != "a\x00b" {
		t.Errorf("path = %q", p.String())
	}
}

var seen [][2]string

type vm struct{ types.DefaultVMContext }

func (*vm) NewPluginContext(uint32) types.PluginContext { return &root{} }

type root struct{ types.DefaultPluginContext }

func (*root) NewHttpContext(uint32) types.HttpContext { return &stream{} }

type stream struct{ types.DefaultHttpContext }

func (*stream) OnHttpRequestHeaders(int, bool) types.Action {
	seen, _ = RequestHeaders(nil)
	if err := SetProperty(NewPath("apiguard.decision"), "allow"); err != nil {
		panic(err)
	}
	return types.ActionContinue
}
