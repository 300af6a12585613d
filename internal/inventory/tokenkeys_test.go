package inventory

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/castable"
)

// tokenKeyBody is the attacker review's body (F5): session ids and reset
// tokens as object keys.
const tokenKeyBody = `{"sessions":{"vKtQpZrXbYwVmNcLdFgHjAsE":{"ip":"10.0.0.1"},"Zm9vYmFyYmF6cXV4c2VjcmV0":{"ip":"10.0.0.2"}},"reset_tokens":{"rst-KqWmZpXnVbTyLr":1}}`

var tokenKeys = []string{"vKtQpZrXbYwVmNcLdFgHjAsE", "Zm9vYmFyYmF6cXV4c2VjcmV0", "rst-KqWmZpXnVbTyLr"}

// TestTokenKeysAreCollapsed: keys that are random tokens are recorded as
// "*" in both passes and in the inventory every worker shares, so no
// token reaches the export, and a response of fresh tokens adds no
// entries.
func TestTokenKeysAreCollapsed(t *testing.T) {
	c := testClassifier(t)
	p := respfilterAllowAll(t)
	ri := NewResponse(c)
	p.AppendProcessInspected(nil, decideJSON(p), []byte(tokenKeyBody), nil, ri)
	for name, r := range map[string]*Response{"Observer": observe(t, c, tokenKeyBody), "Inspector": ri} {
		got := describe(r)
		for _, k := range tokenKeys {
			if strings.Contains(got, k) {
				t.Errorf("%s: token %q in a path:\n%s", name, k, got)
			}
		}
		if !strings.Contains(got, "sessions.*.ip string") || !strings.Contains(got, "reset_tokens.* number") {
			t.Errorf("%s: paths not collapsed to '*':\n%s", name, got)
		}
	}
	mem := &castable.MemStore{}
	s := newStore(t, mem, 16)
	for i := range 40 {
		doc := fmt.Sprintf(`{"sessions":{"%s":{"ip":"x"}}}`, tokenLike(i))
		if _, _, err := s.Merge("r", observe(t, c, doc)); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := s.Merge("r", observe(t, c, tokenKeyBody)); err != nil {
		t.Fatal(err)
	}
	e, err := s.Snapshot()
	if err != nil {
		t.Fatal(err)
	}
	out, _ := json.Marshal(e)
	for _, k := range tokenKeys {
		if strings.Contains(string(out), k) {
			t.Errorf("export holds %q: %s", k, out)
		}
	}
	if n := len(e.Routes[0].Fields); n > 6 {
		t.Errorf("40 responses of fresh token keys added %d paths: %s", n, out)
	}
}

// tokenLike is the i-th of a sequence of session-id-like tokens.
func tokenLike(i int) string {
	const alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
	b := make([]byte, 24)
	x := uint64(i)*0x9E3779B97F4A7C15 + 1
	for j := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[j] = alphabet[x%uint64(len(alphabet))]
	}
	return string(b)
}
