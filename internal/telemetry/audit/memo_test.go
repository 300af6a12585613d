package audit

import (
	"strings"
	"testing"
)

// TestCleanMemoKeepsResults: remembered paths and field paths give what the
// functions behind the memo give, on the first call and on later ones, and
// values the audit trail masks are never remembered.
func TestCleanMemoKeepsResults(t *testing.T) {
	paths := []string{"/users/1", "/users/1", "/o/4111111111111111", "/o/alice@example.com",
		"/a;jsessionid=x/b", "/q?token=abc", "/x%40y", "/" + strings.Repeat("a", 200), "/#frag", "/"}
	for round := range 3 {
		for _, p := range paths {
			if got, want := RedactPath(p), redactPath(p); got != want {
				t.Fatalf("round %d: RedactPath(%q) = %q, want %q", round, p, got, want)
			}
		}
	}
	fields := []string{"email", "cards.4111111111111111.cvv", "a\\.b", "orders.#.id", "x.alice@example.com"}
	for round := range 3 {
		for _, f := range fields {
			got, _ := safeFieldPaths([]string{f})
			if want := referenceSafeFieldPath(f); len(got) != 1 || got[0] != want {
				t.Fatalf("round %d: safeFieldPaths(%q) = %q, want %q", round, f, got, want)
			}
		}
	}
	for _, m := range []*cleanMemo{&pathMemo, &fieldPathMemo} {
		for _, s := range m.clean {
			if strings.Contains(s, "4111") || strings.Contains(s, "@example") || strings.Contains(s, "token") {
				t.Fatalf("memo keeps %q", s)
			}
		}
	}
}
