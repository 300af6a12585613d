package headerview

import (
	"errors"
	"maps"
	"testing"
)

func TestViewJoinsRepeatsAndFollowsEveryChange(t *testing.T) {
	var v View
	v.Keep([][2]string{{"Cookie", "a=1"}, {"cookie", "b=2"}, {"X-Tag", "x"}, {"x-tag", "y"}})
	v.Add("cookie", "c=3")
	v.Add("X-User", "ann")
	v.Replace("x-tag", "z")
	v.Remove("Authorization")
	want := map[string]string{"cookie": "a=1; b=2; c=3", "x-tag": "z", "x-user": "ann"}
	if got := v.Map(nil); !maps.Equal(got, want) {
		t.Fatalf("view = %v, want %v", got, want)
	}
}

func TestViewReadsOnceAndNeverKeepsAFailedRead(t *testing.T) {
	var v View
	reads := 0
	failing := func() ([][2]string, error) { reads++; return nil, errors.New("released") }
	if m := v.Map(failing); len(m) != 0 || v.Held() != nil {
		t.Fatal("a failed read was kept as a request without headers")
	}
	v.Add("x-user", "ann") // nothing held: nothing to update
	ok := func() ([][2]string, error) { reads++; return [][2]string{{"x-user", "bob"}}, nil }
	v.Map(ok)
	if got := v.Map(ok)["x-user"]; got != "bob" || reads != 2 {
		t.Fatalf("x-user = %q after %d reads", got, reads)
	}
	v.Drop()
	if v.Held() != nil {
		t.Fatal("a dropped view is still held")
	}
}
