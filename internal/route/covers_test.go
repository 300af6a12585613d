package route

import "testing"

func TestCovers(t *testing.T) {
	yes := true
	for _, tc := range []struct {
		name string
		m, o Match
		want bool
	}{
		{"everything covers a prefix", Match{}, Match{Prefix: "/admin"}, true},
		{"slash covers a path", Match{Prefix: "/"}, Match{Path: "/admin"}, true},
		{"prefix covers a deeper prefix", Match{Prefix: "/api"}, Match{Prefix: "/api/admin"}, true},
		{"prefix covers itself with a slash", Match{Prefix: "/api/"}, Match{Path: "/api"}, true},
		{"segments, not strings", Match{Prefix: "/api"}, Match{Prefix: "/apix"}, false},
		{"deeper does not cover shallower", Match{Prefix: "/api/admin"}, Match{Prefix: "/api"}, false},
		{"case-insensitive prefix covers other case", Match{Prefix: "/API"}, Match{Path: "/api/x"}, true},
		{"case-sensitive does not cover case-insensitive", Match{Prefix: "/api", CaseSensitive: true}, Match{Path: "/api/x"}, false},
		{"a path covers only itself", Match{Path: "/a"}, Match{Prefix: "/a"}, false},
		{"methods narrow", Match{Prefix: "/", Methods: []string{"GET"}}, Match{Prefix: "/x"}, false},
		{"methods subset", Match{Methods: []string{"GET", "POST"}}, Match{Prefix: "/x", Methods: []string{"get"}}, true},
		{"headers narrow", Match{Headers: []HeaderMatch{{Name: "x-a", Present: &yes}}}, Match{Prefix: "/x"}, false},
		{"same header", Match{Headers: []HeaderMatch{{Name: "x-a", Exact: "1"}}}, Match{Prefix: "/x", Headers: []HeaderMatch{{Name: "X-A", Exact: "1"}}}, true},
		{"regex only itself", Match{Regex: "/a.*"}, Match{Prefix: "/ab"}, false},
		{"anything covers nothing regex", Match{Prefix: "/a"}, Match{Regex: "/a.*"}, false},
	} {
		if got := tc.m.Covers(tc.o); got != tc.want {
			t.Errorf("%s: Covers = %v, want %v", tc.name, got, tc.want)
		}
	}
	if !(Match{Prefix: "/"}).MatchesEverything() || (Match{Prefix: "/a"}).MatchesEverything() {
		t.Error("MatchesEverything")
	}
}
