package claims

import (
	"encoding/json"
	"math/big"
	"reflect"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/config"
)

func decodeClaims(t testing.TB, s string) map[string]any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatal(err)
	}
	return m
}

func cond(t *testing.T, s string) Condition {
	t.Helper()
	var c Condition
	if err := config.Decode([]byte(s), &c); err != nil {
		t.Fatalf("decode %s: %v", s, err)
	}
	return c
}

const token = `{
  "sub": "alice", "scope": "read:users write:users  admin", "email_verified": true,
  "level": 3, "ratio": 0.5, "big": 12345678901234567890, "tiny": 1e-3,
  "roles": ["viewer", "editor", 7, true],
  "realm_access": {"roles": ["ops"], "nested": {"tier": "gold"}},
  "https://example.com/roles": ["billing"],
  "empty": "", "null": null, "obj": {"a": 1}
}`

func TestEval(t *testing.T) {
	claims := decodeClaims(t, token)
	tests := []struct {
		cond string
		want bool
	}{
		{`{"claim":"sub","equals":"alice"}`, true},
		{`{"claim":"sub","equals":"Alice"}`, false},
		{`{"claim":"sub","equals":"ali"}`, false},
		{`{"claim":"level","equals":3}`, true},
		{`{"claim":"level","equals":3.0}`, true},
		{`{"claim":"level","equals":0.3e1}`, true},
		{`{"claim":"level","equals":30e-1}`, true},
		{`{"claim":"level","equals":"3"}`, false},
		{`{"claim":"level","equals":4}`, false},
		{`{"claim":"ratio","equals":0.50}`, true},
		{`{"claim":"ratio","equals":5e-1}`, true},
		{`{"claim":"tiny","equals":0.001}`, true},
		{`{"claim":"big","equals":12345678901234567890}`, true},
		{`{"claim":"big","equals":12345678901234567891}`, false},
		{`{"claim":"email_verified","equals":true}`, true},
		{`{"claim":"email_verified","equals":"true"}`, false},
		{`{"claim":"roles","equals":"viewer"}`, false}, // equals is the whole value
		{`{"claim":"obj","equals":"x"}`, false},
		{`{"claim":"scope","contains":"admin"}`, true},
		{`{"claim":"scope","contains":"write:users"}`, true},
		{`{"claim":"scope","contains":"write"}`, false}, // word, not substring
		{`{"claim":"scope","contains":"users admin"}`, false},
		{`{"claim":"roles","contains":"editor"}`, true},
		{`{"claim":"roles","contains":"edit"}`, false},
		{`{"claim":"roles","contains":7}`, true},
		{`{"claim":"roles","contains":7.0}`, true},
		{`{"claim":"roles","contains":"7"}`, false},
		{`{"claim":"roles","contains":true}`, true},
		{`{"claim":"sub","contains":"alice"}`, true},
		{`{"claim":"level","contains":3}`, true},
		{`{"claim":"empty","contains":""}`, false},
		{`{"claim":"obj","contains":"a"}`, false},
		{`{"claim":"realm_access.roles","contains":"ops"}`, true},
		{`{"claim":["realm_access","nested","tier"],"equals":"gold"}`, true},
		{`{"claim":"realm_access.nested.tier.x","equals":"gold"}`, false},
		{`{"claim":["https://example.com/roles"],"contains":"billing"}`, true},
		{`{"claim":"https://example.com/roles","contains":"billing"}`, false}, // dotted form splits
		{`{"claim":"roles","any_of":["admin","editor"]}`, true},
		{`{"claim":"roles","any_of":["admin","root"]}`, false},
		{`{"claim":"scope","any_of":["nope","admin"]}`, true},
		{`{"claim":"sub","any_of":["bob","alice"]}`, true},
		{`{"claim":"roles","all_of":["viewer","editor"]}`, true},
		{`{"claim":"roles","all_of":["viewer","admin"]}`, false},
		{`{"claim":"scope","all_of":["read:users","admin"]}`, true},
		{`{"claim":"missing","equals":"x"}`, false},
		{`{"claim":"missing","contains":"x"}`, false},
		{`{"claim":"null","equals":"x"}`, false},
		{`{"claim":"null","any_of":["x"]}`, false},
	}
	for _, tt := range tests {
		c := cond(t, tt.cond)
		if got := c.Eval(claims); got != tt.want {
			t.Errorf("%s: Eval = %v, want %v", tt.cond, got, tt.want)
		}
	}
}

func TestEvalFailsClosedOnInvalidCondition(t *testing.T) {
	claims := decodeClaims(t, token)
	for _, c := range []Condition{
		{},
		{Claim: Path{"sub"}},
		{Claim: Path{"sub"}, Equals: "alice", Contains: "alice"},
		{Claim: Path{"roles"}, AllOf: []any{}},
		{Equals: "alice"},
	} {
		if c.Eval(claims) {
			t.Errorf("%+v evaluated true", c)
		}
	}
	var nilCond *Condition
	if nilCond.Eval(claims) {
		t.Error("nil condition evaluated true")
	}
	if (&Condition{Claim: Path{"sub"}, Equals: "alice"}).Eval(nil) {
		t.Error("nil claims evaluated true")
	}
}

func TestConditionsBuiltInCode(t *testing.T) {
	claims := decodeClaims(t, token)
	c := Condition{Claim: Path{"level"}, Equals: 3}
	if err := c.Validate(); err != nil {
		t.Fatal(err)
	}
	if c.Equals != json.Number("3") || !c.Eval(claims) {
		t.Errorf("int operand: %#v eval %v", c.Equals, c.Eval(claims))
	}
	// Without Validate, Go numbers still compare by value.
	if !(&Condition{Claim: Path{"ratio"}, Equals: 0.5}).Eval(claims) {
		t.Error("float64 operand without Validate")
	}
	// Claims decoded without UseNumber hold float64.
	if !(&Condition{Claim: Path{"n"}, Equals: json.Number("2")}).Eval(map[string]any{"n": 2.0}) {
		t.Error("float64 claim")
	}
}

func TestAll(t *testing.T) {
	claims := decodeClaims(t, token)
	a := cond(t, `{"claim":"sub","equals":"alice"}`)
	b := cond(t, `{"claim":"scope","contains":"admin"}`)
	n := cond(t, `{"claim":"scope","contains":"root"}`)
	if !All(nil, claims) || !All([]Condition{a, b}, claims) || All([]Condition{a, n, b}, claims) {
		t.Error("All gives wrong answers")
	}
}

func TestValidateErrors(t *testing.T) {
	tests := []struct{ in, want string }{
		{`{"equals":"x"}`, `config: claim: required`},
		{`{"claim":"sub"}`, `config: set exactly one of equals, contains, any_of and all_of`},
		{`{"claim":"sub","equals":"x","contains":"y"}`, `config: set exactly one of equals, contains, any_of and all_of`},
		{`{"claim":"sub","equals":null}`, `config: set exactly one of equals, contains, any_of and all_of`},
		{`{"claim":"sub","equals":["a"]}`, `config: equals: must be a string, number or boolean`},
		{`{"claim":"sub","contains":{"a":1}}`, `config: contains: must be a string, number or boolean`},
		{`{"claim":"sub","any_of":[]}`, `config: any_of: must not be empty`},
		{`{"claim":"sub","all_of":[]}`, `config: all_of: must not be empty`},
		{`{"claim":"sub","all_of":["a",null]}`, `config: all_of[1]: must not be null`},
		{`{"claim":"sub","any_of":["a",["b"]]}`, `config: any_of[1]: must be a string, number or boolean`},
		{`{"claim":"","equals":"x"}`, `config: claim: claim path must not be empty`},
		{`{"claim":[],"equals":"x"}`, `config: claim: claim path must not be empty`},
		{`{"claim":"a..b","equals":"x"}`, `config: claim: claim path ["a", "", "b"] has an empty segment 1`},
		{`{"claim":".a","equals":"x"}`, `has an empty segment 0`},
		{`{"claim":["a",""],"equals":"x"}`, `has an empty segment 1`},
		{`{"claim":3,"equals":"x"}`, `config: claim: claim path must be a string or an array of strings`},
		{`{"claim":["a",3],"equals":"x"}`, `config: claim: claim path must be a string or an array of strings`},
		{`{"claim":"sub","equal":"x"}`, `config: equal: unknown key (did you mean "equals"?)`},
	}
	for _, tt := range tests {
		var c Condition
		err := config.Decode([]byte(tt.in), &c)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: error %v, want %q", tt.in, err, tt.want)
		}
	}
	// In a list, the path names the element.
	var cfg struct {
		Claims []Condition `json:"claims"`
	}
	err := config.Decode([]byte(`{"claims":[{"claim":"a","equals":1},{"claim":"b","any_of":[]}]}`), &cfg)
	if err == nil || err.Error() != "config: claims[1].any_of: must not be empty" {
		t.Errorf("list error: %v", err)
	}
}

func TestPathJSON(t *testing.T) {
	tests := []struct {
		in   string
		want Path
		out  string
		str  string
	}{
		{`"sub"`, Path{"sub"}, `"sub"`, "sub"},
		{`"realm_access.roles"`, Path{"realm_access", "roles"}, `"realm_access.roles"`, "realm_access.roles"},
		{`["realm_access","roles"]`, Path{"realm_access", "roles"}, `"realm_access.roles"`, "realm_access.roles"},
		{`["https://example.com/roles"]`, Path{"https://example.com/roles"}, `["https://example.com/roles"]`, `["https://example.com/roles"]`},
		{`["a.b","c"]`, Path{"a.b", "c"}, `["a.b","c"]`, `["a.b", "c"]`},
	}
	for _, tt := range tests {
		var p Path
		if err := config.Decode([]byte(tt.in), &p); err != nil {
			t.Fatalf("%s: %v", tt.in, err)
		}
		if !reflect.DeepEqual(p, tt.want) {
			t.Errorf("%s: got %#v", tt.in, p)
		}
		b, err := json.Marshal(p)
		if err != nil || string(b) != tt.out {
			t.Errorf("%s: marshal %s, %v; want %s", tt.in, b, err, tt.out)
		}
		if p.String() != tt.str {
			t.Errorf("%s: String %q, want %q", tt.in, p.String(), tt.str)
		}
	}
}

func TestLookup(t *testing.T) {
	claims := decodeClaims(t, token)
	if v, ok := Lookup(claims, Path{"realm_access", "nested", "tier"}); !ok || v != "gold" {
		t.Errorf("nested lookup = %v, %v", v, ok)
	}
	if v, ok := Lookup(claims, Path{"null"}); !ok || v != nil {
		t.Errorf("null claim = %v, %v; want present nil", v, ok)
	}
	for _, p := range []Path{nil, {}, {"nope"}, {"sub", "x"}, {"roles", "0"}} {
		if v, ok := Lookup(claims, p); ok {
			t.Errorf("Lookup(%v) = %v, want missing", p, v)
		}
	}
	if _, ok := Lookup(nil, Path{"a"}); ok {
		t.Error("Lookup on nil claims")
	}
}

func TestDecimalEquality(t *testing.T) {
	same := [][2]string{
		{"0", "-0"}, {"0", "0.000"}, {"0", "0e99"}, {"1", "1.0"}, {"1", "10e-1"}, {"100", "1e2"},
		{"-2.50", "-25e-1"}, {"0.001", "1e-3"}, {"123.456", "123456E-3"}, {"1E+2", "100"},
	}
	for _, p := range same {
		a, ok1 := parseDecimal(p[0])
		b, ok2 := parseDecimal(p[1])
		if !ok1 || !ok2 || !a.equal(b) {
			t.Errorf("%s != %s", p[0], p[1])
		}
	}
	diff := [][2]string{{"1", "-1"}, {"1", "10"}, {"0.1", "0.01"}, {"12", "21"}, {"1", "1.0000000000000000001"}, {"0", "1e-999"}}
	for _, p := range diff {
		a, _ := parseDecimal(p[0])
		b, _ := parseDecimal(p[1])
		if a.equal(b) {
			t.Errorf("%s == %s", p[0], p[1])
		}
	}
	for _, bad := range []string{"", "-", "1.", ".5", "1e", "1e+", "abc", "1x", "1e99999999999999"} {
		if _, ok := parseDecimal(bad); ok {
			t.Errorf("parseDecimal(%q) accepted", bad)
		}
	}
}

func FuzzEval(f *testing.F) {
	f.Add(`{"claim":"scope","contains":"admin"}`, token)
	f.Add(`{"claim":"level","equals":3e0}`, `{"level":0.03e2}`)
	f.Fuzz(func(t *testing.T, condJSON, claimsJSON string) {
		var c Condition
		if err := config.Decode([]byte(condJSON), &c); err != nil {
			return
		}
		dec := json.NewDecoder(strings.NewReader(claimsJSON))
		dec.UseNumber()
		var claims map[string]any
		if dec.Decode(&claims) != nil {
			return
		}
		c.Eval(claims) // must not panic
	})
}

func FuzzDecimal(f *testing.F) {
	for _, s := range []string{"0", "-1.5e3", "0.000120", "1e-99"} {
		f.Add(s, s)
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		x, okx := parseDecimal(a)
		y, oky := parseDecimal(b)
		if okx && x.equal(x) != true {
			t.Fatalf("%q != itself", a)
		}
		if !okx || !oky {
			return
		}
		if x.equal(y) != y.equal(x) {
			t.Fatalf("equality not symmetric for %q, %q", a, b)
		}
		// Cross-check with exact rational arithmetic where it is cheap.
		if x.exp > -400 && x.exp < 400 && y.exp > -400 && y.exp < 400 && len(a) < 100 && len(b) < 100 {
			ra, ok1 := new(big.Rat).SetString(a)
			rb, ok2 := new(big.Rat).SetString(b)
			if ok1 && ok2 && (ra.Cmp(rb) == 0) != x.equal(y) {
				t.Fatalf("parseDecimal says %q == %q is %v, big.Rat disagrees", a, b, x.equal(y))
			}
		}
	})
}

func BenchmarkEval(b *testing.B) {
	claims := decodeClaims(b, token)
	for name, c := range map[string]Condition{
		"contains-scope": {Claim: Path{"scope"}, Contains: "admin"},
		"any_of-roles":   {Claim: Path{"roles"}, AnyOf: []any{"admin", "editor"}},
		"equals-number":  {Claim: Path{"level"}, Equals: json.Number("3.0")},
		"nested":         {Claim: Path{"realm_access", "nested", "tier"}, Equals: "gold"},
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if !c.Eval(claims) {
					b.Fatal("false")
				}
			}
		})
	}
}
