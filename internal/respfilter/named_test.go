package respfilter

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/route"
)

// decodeSection decodes a response_filter section as the plugin does.
func decodeSection(t *testing.T, doc string) (*Config, error) {
	t.Helper()
	var c Config
	err := config.Decode([]byte(doc), &c)
	return &c, err
}

// A rule that uses named allowlists filters exactly as the same rule with
// their paths written out: nested uses, "at" with wildcards, a use at the
// document itself, a use merged with "*" paths of the rule, and grants.
func TestNamedAllowlistsFilterAsWrittenOut(t *testing.T) {
	named, err := decodeSection(t, `{
	  "allowlists": {
	    "user": ["login", "id"],
	    "repo": ["name", "a.#", {"allowlist": "user", "at": "owner"}],
	    "empty": [],
	    "wild": ["*.b", {"allowlist": "user", "at": "c"}]
	  },
	  "rules": [
	    {"match": {"prefix": "/1"}, "allow": [{"allowlist": "repo"}]},
	    {"match": {"prefix": "/2"}, "allow": ["owner.x", {"allowlist": "repo", "at": "#"}, {"allowlist": "user", "at": "#.owner"}]},
	    {"match": {"prefix": "/3"}, "allow": ["owner.*.b", {"allowlist": "user", "at": "owner.c"}, {"allowlist": "empty", "at": "b"}, {"allowlist": "wild", "at": "a"}]},
	    {"match": {"prefix": "/4"}, "allow": ["b"], "allow_for_claims": [{"claims": [{"claim": "role", "equals": "admin"}], "allow": [{"allowlist": "repo", "at": "owner"}]}]},
	    {"match": {}, "allow": [{"allowlist": "empty"}]}
	  ]}`)
	if err != nil {
		t.Fatal(err)
	}
	written, err := decodeSection(t, `{"rules": [
	    {"match": {"prefix": "/1"}, "allow": ["name", "a.#", "owner.login", "owner.id"]},
	    {"match": {"prefix": "/2"}, "allow": ["owner.x", "#.name", "#.a.#", "#.owner.login", "#.owner.id"]},
	    {"match": {"prefix": "/3"}, "allow": ["owner.*.b", "owner.c.login", "owner.c.id", "a.*.b", "a.c.login", "a.c.id"]},
	    {"match": {"prefix": "/4"}, "allow": ["b"], "allow_for_claims": [{"claims": [{"claim": "role", "equals": "admin"}], "allow": ["owner.name", "owner.a.#", "owner.owner.login", "owner.owner.id"]}]},
	    {"match": {}, "allow": []}
	  ]}`)
	if err != nil {
		t.Fatal(err)
	}
	nf, err := New(*named)
	if err != nil {
		t.Fatal(err)
	}
	wf, err := New(*written)
	if err != nil {
		t.Fatal(err)
	}
	r := rand.New(rand.NewPCG(3, 14))
	docs := []string{`{"name":"r","a":[1,{"z":2}],"owner":{"login":"o","id":1,"x":2,"c":{"login":"l","b":1,"q":0},"owner":{"id":5,"q":1}},"b":{"c":1},"zz":0}`}
	for range 2000 {
		_, doc := randomCase(r)
		docs = append(docs, strings.NewReplacer(`"x"`, `"name"`, `"y"`, `"id"`).Replace(doc))
	}
	for i := range named.Rules {
		for _, claims := range []map[string]any{nil, {"role": "admin"}} {
			for _, doc := range docs {
				np, wp := nf.policies[i], wf.policies[i]
				d := Decision{Action: ActionFilter, JSONDeclared: true}
				nout, no := np.Process(d, []byte(doc), claims)
				wout, wo := wp.Process(d, []byte(doc), claims)
				if string(nout) != string(wout) || !reflect.DeepEqual(no, wo) {
					t.Fatalf("rule %d, claims %v, doc %s:\nnamed   %s %+v\nwritten %s %+v", i, claims, doc, nout, no, wout, wo)
				}
			}
		}
	}
	// What the named allowlist user compiles to is one node, wherever it
	// is used.
	user := nf.policies[0].baseList.root.member("owner")
	if user == nil || nf.policies[1].baseList.root.anyElem.member("owner") != user {
		t.Errorf("the user allowlist is not shared between rules 0 and 1")
	}
}

// Named allowlists round-trip through JSON, entry by entry.
func TestAllowEntryJSON(t *testing.T) {
	in := `["a.b",{"allowlist":"user","at":"#.owner"},{"allowlist":"x"},"c\\.d"]`
	var l AllowList
	if err := config.Decode([]byte(in), &l); err != nil {
		t.Fatal(err)
	}
	want := AllowList{{Path: "a.b"}, {Allowlist: "user", At: "#.owner"}, {Allowlist: "x"}, {Path: `c\.d`}}
	if !reflect.DeepEqual(l, want) {
		t.Fatalf("decoded %+v, want %+v", l, want)
	}
	out, err := json.Marshal(l)
	if err != nil || string(out) != in {
		t.Errorf("encoded %s (%v), want %s", out, err, in)
	}
}

// Mistakes in named allowlists and their uses are refused with the JSON
// path of the entry.
func TestNamedAllowlistErrors(t *testing.T) {
	const catchAll = `{"match": {}, "allow": []}`
	for _, tc := range []struct {
		name, doc, path, msg string
	}{
		{"unknown key in a use", `{"rules": [{"match": {}, "allow": [{"allowlist": "a", "path": "x"}]}], "allowlists": {"a": []}}`,
			"rules[0].allow[0].path", `unknown key`},
		{"use without a name", `{"rules": [{"match": {}, "allow": [{"at": "x"}]}]}`,
			"rules[0].allow[0].allowlist", "required"},
		{"neither a path nor a use", `{"rules": [{"match": {}, "allow": [5]}]}`,
			"rules[0].allow[0]", "expected a path"},
		{"not defined", `{"allowlists": {"a": ["x"]}, "rules": [{"match": {}, "allow": ["id", {"allowlist": "b"}]}]}`,
			"rules[0].allow[1].allowlist", `"b" is not defined in response_filter.allowlists`},
		{"not defined in a grant", `{"rules": [{"match": {}, "allow": [], "allow_for_claims": [{"claims": [{"claim": "a", "equals": "b"}], "allow": [{"allowlist": "b", "at": "x"}]}]}]}`,
			"rules[0].allow_for_claims[0].allow[0].allowlist", `"b" is not defined`},
		{"not defined in a named allowlist", `{"allowlists": {"a": [{"allowlist": "b"}]}, "rules": [` + catchAll + `]}`,
			"allowlists.a[0].allowlist", `"b" is not defined`},
		{"uses itself", `{"allowlists": {"a": ["x", {"allowlist": "a", "at": "y"}]}, "rules": [` + catchAll + `]}`,
			"allowlists.a[1].allowlist", "cannot use themselves: a -> a"},
		{"a cycle through another", `{"allowlists": {"a": [{"allowlist": "b", "at": "x"}], "b": [{"allowlist": "c"}], "c": [{"allowlist": "a"}]}, "rules": [` + catchAll + `]}`,
			"allowlists.c[0].allowlist", "cannot use themselves: a -> b -> c -> a"},
		{"a bad name", `{"allowlists": {"a b": []}, "rules": [` + catchAll + `]}`,
			`allowlists["a b"]`, "letters, digits"},
		{"a bad at", `{"allowlists": {"a": []}, "rules": [{"match": {}, "allow": [{"allowlist": "a", "at": "x..y"}]}]}`,
			"rules[0].allow[0].at", "empty segment"},
		{"a bad path in a named allowlist", `{"allowlists": {"a": ["ok", "b*"]}, "rules": [` + catchAll + `]}`,
			"allowlists.a[1]", "must be a whole segment"},
		{"a bad name in a use", `{"rules": [{"match": {}, "allow": [{"allowlist": "a/b"}]}]}`,
			"rules[0].allow[0].allowlist", "letters, digits"},
		{"a bypass rule with a use", `{"allowlists": {"a": []}, "rules": [{"match": {}, "bypass": true, "allow": [{"allowlist": "a"}]}]}`,
			"rules[0].bypass", "takes only name and match"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := decodeSection(t, tc.doc)
			ce, ok := err.(*config.Error)
			if !ok || ce.Path != tc.path || !strings.Contains(ce.Msg, tc.msg) || ce.Line == 0 {
				t.Errorf("got %v (%#v), want %s: ...%s...", err, err, tc.path, tc.msg)
			}
		})
	}
}

// Uses that multiply positions past the node budget are refused at the
// named allowlist that crosses it, without building the positions.
func TestNamedAllowlistsAreBounded(t *testing.T) {
	// Each level uses the previous one twice: 2^20 leaf positions.
	lists := map[string]AllowList{"l0": Paths("x")}
	for i := 1; i <= 20; i++ {
		prev := "l" + string(rune('a'+i-1))
		if i == 1 {
			prev = "l0"
		}
		lists["l"+string(rune('a'+i))] = AllowList{{Allowlist: prev, At: "p"}, {Allowlist: prev, At: "q"}}
	}
	cfg := Config{Allowlists: lists, Rules: []Rule{{Match: route.Match{}, Allow: AllowList{{Allowlist: "lu"}}}}}
	err := cfg.Validate()
	ce, ok := err.(*config.Error)
	if !ok || !strings.HasPrefix(ce.Path, "allowlists.l") || !strings.Contains(ce.Msg, errTooManyNodes.Error()) {
		t.Fatalf("got %v, want the node budget at a named allowlist", err)
	}
}

// New reuses what Validate compiled only while the allow lists are the ones
// it compiled: a list changed after Validate is compiled again.
func TestNewRecompilesAChangedConfig(t *testing.T) {
	c, err := decodeSection(t, `{"allowlists": {"u": ["id"]}, "rules": [{"match": {}, "allow": [{"allowlist": "u"}]}]}`)
	if err != nil {
		t.Fatal(err)
	}
	c.Allowlists["u"] = Paths("name")
	f, err := New(*c)
	if err != nil {
		t.Fatal(err)
	}
	out, _ := f.policies[0].Process(Decision{Action: ActionFilter, JSONDeclared: true}, []byte(`{"id":1,"name":"n"}`), nil)
	if string(out) != `{"name":"n"}` {
		t.Errorf("filtered %s, want the changed allowlist applied", out)
	}
}
