package inventory

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"

	"github.com/apiguard/apiguard/internal/detect/jsonforms"
)

// classValues are values of every class as a reader takes them: digits of
// other scripts, invisible characters, Unicode dashes and spaces, group
// separators, PEM boundaries of four dashes, display-name and mailto:
// emails; evasions adds its string values.
var classValues = []string{
	"4111111111111111", "4111 1111 1111 1111", "4111-1111-1111-1111", "3782-822463-10005", "078-05-1120", "078 05 1120",
	"ada@example.com", "Ada Lovelace <ada@example.com>", `"Lovelace, Ada" <ada@example.com>`, "mailto:ada@example.com", "MAILTO:ada@example.com?subject=x",
	"eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxIn0.c2lnbmF0dXJl", "Bearer abcdefgh12345678", "AKIAIOSFODNN7EXAMPLE",
	"ghp_" + strings.Repeat("a1B2", 9), "sk_live_" + strings.Repeat("x", 24), "DE89370400440532013000", "DE89 3704 0044 0532 0130 00",
	"$2b$12$R9h/cIPz0gi.URNNX3kh2OPST9/PgBkqquzi.Ss7KIUgO2t0jWMUW", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/",
	"-----BEGIN RSA PRIVATE KEY-----\nMIIB", "----BEGIN PRIVATE KEY----\nMIIE", "label: -----BEGIN EC PRIVATE KEY-----\nMHc",
	"\u2010\u2010\u2010\u2010\u2010BEGIN PRIVATE KEY\u2010\u2010\u2010\u2010\u2010\nMIIE", "--\u200b---BEGIN PRIVATE KEY-----\nMIIE",
	"4111\u20101111\u20111111\u20131111", "123\u201245\u22126789", "4111\u00a01111\u20091111\u30001111", "\u200bada@example.com",
	"ada\u200b@example.com", "Bearer\u00a0abcdefgh12345678", "\uff14\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11\uff11",
}

// TestValuesOfEveryClassAfterOrdinaryOnes: on a filtered route, a value of
// a class, in any JSON form, is found where ordinary escaped and
// non-ASCII values (ruled out without being decoded: detect.CanClassifyJSON)
// came first at the same path and in the same field, and masked as its
// class says; the ordinary values are left alone.
func TestValuesOfEveryClassAfterOrdinaryOnes(t *testing.T) {
	c, err := NewClassifier(map[string]Policy{"card_number": Mask, "email": Mask}, nil)
	if err != nil {
		t.Fatal(err)
	}
	f, err := respfilter.New(respfilter.Config{Rules: []respfilter.Rule{{Allow: respfilter.Paths("data.#.v", "data.#.password")}}})
	if err != nil {
		t.Fatal(err)
	}
	p := f.Match(&route.Request{Method: "GET", Path: "/"})
	values := classValues
	for _, e := range evasions {
		var s string
		if json.Unmarshal([]byte(e.json), &s) == nil {
			values = append(values, s)
		}
	}
	const ordinary = `{"v":"User 1 M\u00fcller \"quoted\""},{"v":"Zürich"},{"v":"Ærøskøbing — “quoted” 12"},`
	for _, s := range values {
		class, ok := detect.Classify(s, detect.All)
		if !ok {
			t.Fatalf("%q: not a value of a class", s)
		}
		for _, form := range jsonforms.Of(s) {
			for _, doc := range []string{`{"data":[` + ordinary + `{"v":"` + form + `"}]}`, `{"data":[` + ordinary + `{"v":"` + form + `"},{"v":"Zürich"}]}`} {
				r := NewResponse(c)
				out, o := p.AppendProcessInspected(nil, decideJSON(p), []byte(doc), nil, r)
				if r.Values[c.Index(class.String())] != 1 || r.Found != 1<<uint(class) {
					t.Errorf("%s: %s (%v)", doc, describe(r), o.Action)
				}
				if masked := c.Policy(int(class)) == Mask; masked != strings.Contains(string(out), `"v":"*********"`) || !strings.Contains(string(out), `Zürich`) {
					t.Errorf("%s: output %s", doc, out)
				}
			}
		}
	}
	// A value only its name makes a class, after ordinary and short ones.
	for _, first := range []string{`"Zürich"`, `"ab"`, `"M\u00fcller"`, `1`} {
		r := NewResponse(c)
		doc := `{"data":[{"password":` + first + `},{"password":"5f4dcc3b5aa765d61d8327deb882cf99"}]}`
		if p.AppendProcessInspected(nil, decideJSON(p), []byte(doc), nil, r); r.Values[c.Index("password_hash")] != 1 {
			t.Errorf("%s: %s", doc, describe(r))
		}
	}
}
