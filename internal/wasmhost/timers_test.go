package wasmhost

import "testing"

// Ticks fire per worker VM: two workers double the rate.
func TestTicksFirePerWorker(t *testing.T) {
	cfg := conformanceConfig("tick")
	cfg.Workers = 2
	p := startConformance(t, Options{}, cfg)
	eventually(t, "ticks from both workers", func() bool {
		n, _ := p.Stats().Counter("ticks_total")
		return n >= 6
	})
	p.Close()
	n1, _ := p.Stats().Counter("ticks_total")
	eventually(t, "no tick after Close", func() bool {
		n2, _ := p.Stats().Counter("ticks_total")
		return n2 == n1
	})
}
