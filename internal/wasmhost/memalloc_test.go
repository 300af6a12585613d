package wasmhost

import (
	"testing"

	"github.com/tetratelabs/wazero/experimental"
)

// A linear memory keeps its bytes across growth, hands out zeroed pages,
// refuses to grow past its maximum, and can be freed twice.
func TestLinearMemoryGrowsInPlaceOfCopying(t *testing.T) {
	const page = 64 << 10
	for name, mem := range map[string]func() experimental.LinearMemory{
		"reserved": func() experimental.LinearMemory { return newLinearMemory(0, 16*page) },
		"slice":    func() experimental.LinearMemory { return &sliceMemory{} },
	} {
		t.Run(name, func(t *testing.T) {
			m := mem()
			defer m.Free()
			b := m.Reallocate(page)
			if len(b) != page {
				t.Fatalf("len %d", len(b))
			}
			b[0], b[page-1] = 1, 2
			b = m.Reallocate(4 * page)
			if len(b) != 4*page || b[0] != 1 || b[page-1] != 2 {
				t.Fatal("growth lost the memory's bytes")
			}
			for _, c := range b[page:] {
				if c != 0 {
					t.Fatal("new pages are not zeroed")
				}
			}
			b[4*page-1] = 3
			if name == "reserved" && m.Reallocate(17*page) != nil {
				t.Fatal("grew past the maximum")
			}
			m.Free()
		})
	}
}
