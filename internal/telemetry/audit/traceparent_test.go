package audit

import "testing"

func TestParseTraceparent(t *testing.T) {
	for in, want := range map[string][2]string{
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":       {"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		"01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra": {"4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"},
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01":       {},
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01":       {},
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01":       {},
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01":       {},
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01x":      {},
		"garbage": {},
	} {
		tr, sp := ParseTraceparent(in)
		if tr != want[0] || sp != want[1] {
			t.Errorf("ParseTraceparent(%q) = %q, %q; want %q, %q", in, tr, sp, want[0], want[1])
		}
	}
}

func FuzzParseTraceparent(f *testing.F) {
	f.Add("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		tr, sp := ParseTraceparent(s)
		if (tr == "") != (sp == "") || (tr != "" && (len(tr) != 32 || len(sp) != 16 || !lowerHex(tr) || !lowerHex(sp))) {
			t.Fatalf("ParseTraceparent(%q) = %q, %q", s, tr, sp)
		}
	})
}
