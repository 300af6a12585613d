package paramname

import "testing"

func TestFoldMatchesPHPNames(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"_method", "_method"},
		{"_METHOD", "_method"},
		{".method", "_method"},
		{" method", "method"},
		{" _method", "_method"},
		{"   access_token", "access_token"},
		{"access.token", "access_token"},
		{"access token", "access_token"},
		{"access[token", "access_token"},
		{"access[to.ken", "access_to.ken"},
		{"access_token[]", "access_token"},
		{"access_token[0]", "access_token"},
		{"access_token[0]x", "access_token"},
		{"access_token[a][b]", "access_token"},
		{"a.b[c.d", "a_b_c.d"},
		{"[x]", ""},
		{"[method", ""},
		{"", ""},
	} {
		if got := Fold(tc.in); got != tc.want {
			t.Errorf("Fold(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestFoldDoesNotAllocateForFoldedNames(t *testing.T) {
	if n := testing.AllocsPerRun(100, func() { _ = Fold("access_token") }); n != 0 {
		t.Fatalf("Fold of a folded name allocated %v times", n)
	}
}
