package audit

import "sync"

// cleanMemo remembers recent strings that a redaction function returned
// unchanged: audit events repeat the same paths and removed fields request
// after request, and checking each costs detection scans that are dear in a
// Wasm VM. Only strings found clean are kept, so it never holds a value the
// audit trail masks. It is direct-mapped on the length and three bytes of a
// string (no hashing), holds strings of at most cleanMemoMaxBytes, allocates
// nothing of its own, and is safe for concurrent use.
type cleanMemo struct {
	mu    sync.Mutex
	clean [cleanMemoEntries]string
}

const (
	cleanMemoEntries  = 64 // a power of two
	cleanMemoMaxBytes = 128
)

func cleanMemoSlot(s string) int {
	h := uint(len(s))
	h = h*31 + uint(s[0])
	h = h*31 + uint(s[len(s)/2])
	h = h*31 + uint(s[len(s)-1])
	return int(h & (cleanMemoEntries - 1))
}

// do returns redact(s), which must depend on s alone: s itself when s was
// found clean before.
func (m *cleanMemo) do(s string, redact func(string) string) string {
	if s == "" || len(s) > cleanMemoMaxBytes {
		return redact(s)
	}
	i := cleanMemoSlot(s)
	m.mu.Lock()
	known := m.clean[i] == s
	m.mu.Unlock()
	if known {
		return s
	}
	out := redact(s)
	if out == s {
		m.mu.Lock()
		m.clean[i] = s
		m.mu.Unlock()
	}
	return out
}
