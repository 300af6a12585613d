package config

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"testing"
	"time"
)

type testProvider struct {
	Issuer    string   `json:"issuer"`
	Audiences []string `json:"audiences,omitempty"`
	ClockSkew Duration `json:"clock_skew,omitempty"`
	Forward   *bool    `json:"forward,omitempty"`
	LocalJWKS rawJSON  `json:"local_jwks,omitempty"`
}

// Validate insists on an issuer, like a real provider would.
func (p *testProvider) Validate() error {
	if p.Issuer == "" {
		return Errorf("issuer", "is required")
	}
	return nil
}

type rawJSON []byte

func (r *rawJSON) UnmarshalJSON(b []byte) error {
	if len(b) == 0 || b[0] != '{' {
		return fmt.Errorf("expected a JWKS object")
	}
	*r = append((*r)[:0], b...)
	return nil
}

// MarshalJSON returns the raw bytes, so fuzzed configs can be re-encoded.
func (r rawJSON) MarshalJSON() ([]byte, error) {
	if len(r) == 0 {
		return []byte("null"), nil
	}
	return r, nil
}

type testLimit struct {
	Per      Duration `json:"per"`
	Requests uint32   `json:"requests"`
	Burst    int8     `json:"burst,omitempty"`
}

type testRateLimit struct {
	Name   string      `json:"name"`
	Limits []testLimit `json:"limits"`
}

type testConfig struct {
	JWT struct {
		Providers map[string]testProvider `json:"providers"`
	} `json:"jwt"`
	RateLimits []testRateLimit `json:"rate_limits,omitempty"`
	Extra      any             `json:"extra,omitempty"`
	Ratio      float64         `json:"ratio,omitempty"`
	Ignored    string          `json:"-"`
	//lint:ignore U1000 an unexported field, which the decoder must leave alone
	hidden string
}

func decodeErr(t *testing.T, in string, v any) *Error {
	t.Helper()
	err := Decode([]byte(in), v)
	if err == nil {
		t.Fatalf("Decode(%s) succeeded, want an error", in)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("Decode(%s) error %T %v, want *Error", in, err, err)
	}
	return ce
}

func TestDecodeValidConfig(t *testing.T) {
	in := `{
	  "jwt": {"providers": {
	    "corp": {"issuer": "https://corp.example", "audiences": ["api"], "clock_skew": "60s", "forward": false,
	             "local_jwks": {"keys": [ ]}},
	    "a.b": {"issuer": "x"}
	  }},
	  "rate_limits": [{"name": "per-ip", "limits": [{"per": "1.5s", "requests": 10, "burst": -3}]}],
	  "extra": {"n": 12345678901234567890, "list": [1.5, "s", true, null]},
	  "ratio": 0.25
	}`
	var c testConfig
	if err := Decode([]byte(in), &c); err != nil {
		t.Fatal(err)
	}
	corp := c.JWT.Providers["corp"]
	if corp.Issuer != "https://corp.example" || !reflect.DeepEqual(corp.Audiences, []string{"api"}) ||
		corp.ClockSkew.Duration != time.Minute || corp.Forward == nil || *corp.Forward {
		t.Errorf("corp provider = %+v", corp)
	}
	if string(corp.LocalJWKS) != `{"keys": [ ]}` {
		t.Errorf("raw JWKS = %q, want the exact source bytes", corp.LocalJWKS)
	}
	if c.JWT.Providers["a.b"].Issuer != "x" {
		t.Errorf("provider a.b missing: %+v", c.JWT.Providers)
	}
	l := c.RateLimits[0].Limits[0]
	if l.Per.Duration != 1500*time.Millisecond || l.Requests != 10 || l.Burst != -3 {
		t.Errorf("limit = %+v", l)
	}
	want := map[string]any{"n": json.Number("12345678901234567890"), "list": []any{json.Number("1.5"), "s", true, nil}}
	if !reflect.DeepEqual(c.Extra, want) {
		t.Errorf("extra = %#v, want %#v", c.Extra, want)
	}
	if c.Ratio != 0.25 {
		t.Errorf("ratio = %v", c.Ratio)
	}
}

func TestDecodeErrors(t *testing.T) {
	tests := []struct {
		name, in, want string
	}{
		{"wrong type in list", `{"jwt":{"providers":{"corp":{"issuer":"i","audiences":[1]}}}}`,
			`config: jwt.providers.corp.audiences[0]: expected string, got number`},
		{"unknown key with suggestion", `{"jwt":{"providers":{"corp":{"issuer":"i","audience":["a"]}}}}`,
			`config: jwt.providers.corp.audience: unknown key (did you mean "audiences"?)`},
		{"unknown key without suggestion", `{"telemetry":{}}`,
			`config: telemetry: unknown key`},
		{"keys are case sensitive", `{"JWT":{}}`,
			`config: JWT: unknown key (did you mean "jwt"?)`},
		{"json:- field is unknown", `{"Ignored":"x"}`, `config: Ignored: unknown key`},
		{"unexported field is unknown", `{"hidden":"x"}`, `config: hidden: unknown key`},
		{"duration without unit", `{"rate_limits":[{"name":"a","limits":[]},{"name":"b","limits":[{"per":"60","requests":1}]}]}`,
			`config: rate_limits[1].limits[0].per: invalid duration "60": missing unit (use ns, us, ms, s, m or h)`},
		{"duration as number", `{"rate_limits":[{"name":"a","limits":[{"per":60}]}]}`,
			`config: rate_limits[0].limits[0].per: expected a duration string such as "60s", got number`},
		{"negative duration", `{"rate_limits":[{"name":"a","limits":[{"per":"-1s"}]}]}`,
			`config: rate_limits[0].limits[0].per: invalid duration "-1s": must not be negative`},
		{"duration unknown unit", `{"rate_limits":[{"name":"a","limits":[{"per":"1d"}]}]}`,
			`config: rate_limits[0].limits[0].per: invalid duration "1d": unknown unit (use ns, us, ms, s, m or h)`},
		{"duration garbage", `{"rate_limits":[{"name":"a","limits":[{"per":"soon"}]}]}`,
			`config: rate_limits[0].limits[0].per: invalid duration "soon": not a duration such as "1.5s"`},
		{"fraction for integer", `{"rate_limits":[{"name":"a","limits":[{"requests":1.5}]}]}`,
			`config: rate_limits[0].limits[0].requests: expected an integer, got 1.5`},
		{"exponent for integer", `{"rate_limits":[{"name":"a","limits":[{"requests":1e3}]}]}`,
			`config: rate_limits[0].limits[0].requests: expected an integer, got 1e3`},
		{"negative for unsigned", `{"rate_limits":[{"name":"a","limits":[{"requests":-1}]}]}`,
			`config: rate_limits[0].limits[0].requests: expected a non-negative integer, got -1`},
		{"uint32 overflow", `{"rate_limits":[{"name":"a","limits":[{"requests":4294967296}]}]}`,
			`config: rate_limits[0].limits[0].requests: number 4294967296 overflows uint32`},
		{"int8 overflow", `{"rate_limits":[{"name":"a","limits":[{"burst":-129}]}]}`,
			`config: rate_limits[0].limits[0].burst: number -129 overflows int8`},
		{"float overflow", `{"ratio":1e400}`, `config: ratio: number 1e400 is out of range`},
		{"string for integer", `{"rate_limits":[{"name":"a","limits":[{"requests":"5"}]}]}`,
			`config: rate_limits[0].limits[0].requests: expected integer, got string`},
		{"object for array", `{"rate_limits":{}}`, `config: rate_limits: expected array, got object`},
		{"array for map", `{"jwt":{"providers":[]}}`, `config: jwt.providers: expected object, got array`},
		{"null for string", `{"jwt":{"providers":{"corp":{"issuer":null}}}}`,
			`config: jwt.providers.corp.issuer: expected string, got null`},
		{"null for struct", `{"jwt":null}`, `config: jwt: expected object, got null`},
		{"bool for string", `{"rate_limits":[{"name":true}]}`, `config: rate_limits[0].name: expected string, got boolean`},
		{"string for bool", `{"jwt":{"providers":{"corp":{"issuer":"i","forward":"yes"}}}}`,
			`config: jwt.providers.corp.forward: expected boolean, got string`},
		{"validate hook with relative path", `{"jwt":{"providers":{"corp":{"audiences":[]}}}}`,
			`config: jwt.providers.corp.issuer: is required`},
		{"validate hook at quoted map key", `{"jwt":{"providers":{"a.b":{}}}}`,
			`config: jwt.providers["a.b"].issuer: is required`},
		{"unmarshaler error wrapped", `{"jwt":{"providers":{"corp":{"issuer":"i","local_jwks":[]}}}}`,
			`config: jwt.providers.corp.local_jwks: expected a JWKS object`},
		{"duplicate key", `{"jwt":{"providers":{"corp":{"issuer":"a","issuer":"b"}}}}`,
			`config: jwt.providers.corp.issuer: duplicate key`},
		{"duplicate map key", `{"jwt":{"providers":{"corp":{"issuer":"a"},"corp":{"issuer":"b"}}}}`,
			`config: jwt.providers.corp: duplicate key`},
		{"trailing data", `{} {}`, `config: unexpected data after the top-level value`},
		{"trailing garbage", `{}x`, `config: unexpected data after the top-level value`},
		{"empty", `  `, `config: configuration is empty`},
		{"top-level wrong type", `[]`, `config: expected object, got array`},
		{"invalid UTF-8", "{\"rate_limits\":[{\"name\":\"\xff\"}]}", `config: configuration is not valid UTF-8`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var c testConfig
			if got := decodeErr(t, tt.in, &c).Error(); got != tt.want {
				t.Errorf("error\n got: %s\nwant: %s", got, tt.want)
			}
		})
	}
}

func TestDecodeSyntaxErrorsNamePath(t *testing.T) {
	tests := []struct{ in, path string }{
		{`{"jwt":{"providers":{"corp":{"issuer":"i",}}}}`, "jwt.providers.corp"},
		{`{"rate_limits":[{"name":"a"} {"name":"b"}]}`, "rate_limits[1]"},
		{`{"jwt":`, "jwt"},
		{`{"jwt" 1}`, "jwt"},
		{`{"ratio": 01}`, ""},
		{`{"rate_limits":[1,]}`, "rate_limits[1]"},
	}
	for _, tt := range tests {
		var c testConfig
		e := decodeErr(t, tt.in, &c)
		if e.Path != tt.path || !strings.HasPrefix(e.Msg, "invalid JSON") {
			t.Errorf("Decode(%s) = %q (path %q), want invalid JSON at %q", tt.in, e.Error(), e.Path, tt.path)
		}
	}
}

func TestDecodeDepthAndSizeLimits(t *testing.T) {
	deep := strings.Repeat("[", MaxDepth+1) + strings.Repeat("]", MaxDepth+1)
	var v any
	e := decodeErr(t, deep, &v)
	if !strings.Contains(e.Msg, "nesting deeper than 64") {
		t.Errorf("deep input: %v", e)
	}
	ok := strings.Repeat("[", MaxDepth) + strings.Repeat("]", MaxDepth)
	if err := Decode([]byte(ok), &v); err != nil {
		t.Errorf("depth %d refused: %v", MaxDepth, err)
	}
	many := "[" + strings.Repeat("0,", MaxValues) + "0]"
	if e := decodeErr(t, many, &v); !strings.Contains(e.Msg, "more than 200000 JSON values") {
		t.Errorf("many values: %v", e)
	}
	big := make([]byte, MaxBytes+1)
	for i := range big {
		big[i] = ' '
	}
	if e := decodeErr(t, string(big), &v); !strings.Contains(e.Msg, "larger than") {
		t.Errorf("large input: %v", e)
	}
}

func TestDecodeNullSetsNilForReferenceTypes(t *testing.T) {
	type T struct {
		P *int            `json:"p"`
		S []string        `json:"s"`
		M map[string]bool `json:"m"`
		A any             `json:"a"`
	}
	one := 1
	v := T{P: &one, S: []string{"x"}, M: map[string]bool{"x": true}, A: "x"}
	if err := Decode([]byte(`{"p":null,"s":null,"m":null,"a":null}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.P != nil || v.S != nil || v.M != nil || v.A != nil {
		t.Errorf("after nulls: %+v", v)
	}
}

func TestDecodeEmbeddedAndArrays(t *testing.T) {
	type Base struct {
		Name string `json:"name"`
	}
	type Ptr struct {
		Level int `json:"level"`
	}
	type T struct {
		Base
		*Ptr
		Pair [2]int      `json:"pair"`
		Raw  []byte      `json:"raw"`
		Num  json.Number `json:"num"`
	}
	var v T
	if err := Decode([]byte(`{"name":"n","level":3,"pair":[1,2],"raw":"aGk=","num":-1.5e3}`), &v); err != nil {
		t.Fatal(err)
	}
	if v.Name != "n" || v.Ptr == nil || v.Level != 3 || v.Pair != [2]int{1, 2} || string(v.Raw) != "hi" || v.Num != "-1.5e3" {
		t.Errorf("got %+v", v)
	}
	e := decodeErr(t, `{"pair":[1]}`, &v)
	if e.Error() != "config: pair: expected an array of 2 elements, got 1" {
		t.Errorf("short array: %v", e)
	}
	e = decodeErr(t, `{"num":"1"}`, &v)
	if e.Error() != "config: num: expected number, got string" {
		t.Errorf("json.Number from string: %v", e)
	}
}

// listOf has a Validate on a slice type, returning an element-relative path.
type listOf []string

func (l *listOf) Validate() error {
	for i, s := range *l {
		if s == "" {
			return Errorf(fmt.Sprintf("[%d]", i), "must not be empty")
		}
	}
	return nil
}

// order records the order Validate hooks run in.
type order struct {
	Name  string `json:"name"`
	Child *order `json:"child,omitempty"`
}

var validated []string

func (o *order) Validate() error {
	validated = append(validated, o.Name)
	if o.Name == "plain-error" {
		return errors.New("something plain")
	}
	return nil
}

func TestValidateHooks(t *testing.T) {
	var v struct {
		L listOf `json:"l"`
	}
	if e := decodeErr(t, `{"l":["a",""]}`, &v); e.Error() != "config: l[1]: must not be empty" {
		t.Errorf("slice validate: %v", e)
	}

	validated = nil
	var o order
	if err := Decode([]byte(`{"name":"parent","child":{"name":"child","child":{"name":"grandchild"}}}`), &o); err != nil {
		t.Fatal(err)
	}
	if want := []string{"grandchild", "child", "parent"}; !reflect.DeepEqual(validated, want) {
		t.Errorf("validate order = %v, want bottom-up %v", validated, want)
	}

	if e := decodeErr(t, `{"name":"x","child":{"name":"plain-error"}}`, &o); e.Error() != "config: child: something plain" {
		t.Errorf("plain validate error: %v", e)
	}
}

func TestErrorFormatting(t *testing.T) {
	tests := []struct {
		base, key, want string
	}{
		{"", "jwt", "jwt"},
		{"jwt", "providers", "jwt.providers"},
		{"providers", "corp-sso", "providers.corp-sso"},
		{"providers", "a.b", `providers["a.b"]`},
		{"providers", "", `providers[""]`},
		{"", "https://x/roles", `["https://x/roles"]`},
	}
	for _, tt := range tests {
		if got := keyPath(tt.base, tt.key); got != tt.want {
			t.Errorf("keyPath(%q, %q) = %q, want %q", tt.base, tt.key, got, tt.want)
		}
	}
	if got := Errorf("a[0]", "bad %d", 1).Error(); got != "config: a[0]: bad 1" {
		t.Errorf("Errorf = %q", got)
	}
}

func TestDecodeTextUnmarshaler(t *testing.T) {
	var v struct {
		Addr netip.Addr `json:"addr"`
	}
	if err := Decode([]byte(`{"addr":"192.0.2.1"}`), &v); err != nil || v.Addr != netip.MustParseAddr("192.0.2.1") {
		t.Fatalf("%v %v", v.Addr, err)
	}
	if e := decodeErr(t, `{"addr":1}`, &v); e.Error() != "config: addr: expected string, got number" {
		t.Errorf("number for address: %v", e)
	}
	e := decodeErr(t, `{"addr":"nope"}`, &v)
	if e.Path != "addr" || !strings.Contains(e.Msg, "nope") {
		t.Errorf("bad address: %v", e)
	}
}

func TestDecodeHostileNumbers(t *testing.T) {
	var v struct {
		I int     `json:"i"`
		F float64 `json:"f"`
		A any     `json:"a"`
	}
	if err := Decode([]byte(`{"a":1e1000000000}`), &v); err != nil || v.A != json.Number("1e1000000000") {
		t.Errorf("any: %v %v", v.A, err)
	}
	if e := decodeErr(t, `{"i":1e1000000000}`, &v); e.Msg != "expected an integer, got 1e1000000000" {
		t.Errorf("int: %v", e)
	}
	if e := decodeErr(t, `{"i":99999999999999999999}`, &v); !strings.Contains(e.Msg, "overflows int") {
		t.Errorf("int overflow: %v", e)
	}
	if e := decodeErr(t, `{"f":-1e1000000000}`, &v); !strings.Contains(e.Msg, "out of range") {
		t.Errorf("float: %v", e)
	}
}

func TestDecodeNeedsPointer(t *testing.T) {
	var c testConfig
	if err := Decode([]byte(`{}`), c); err == nil {
		t.Error("Decode into a non-pointer succeeded")
	}
	if err := Decode([]byte(`{}`), (*testConfig)(nil)); err == nil {
		t.Error("Decode into a nil pointer succeeded")
	}
}

func TestDurationRoundTrip(t *testing.T) {
	for _, s := range []string{"0s", "300ms", "1.5s", "1h30m0s"} {
		var d Duration
		if err := Decode([]byte(`"`+s+`"`), &d); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
		b, err := json.Marshal(d)
		if err != nil {
			t.Fatal(err)
		}
		var back Duration
		if err := Decode(b, &back); err != nil || back != d {
			t.Errorf("%s: round trip via %s gave %v, %v", s, b, back, err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	in := []byte(`{"jwt":{"providers":{"corp":{"issuer":"https://corp.example","audiences":["api","web"],"clock_skew":"60s","local_jwks":{"keys":[]}}}},
	  "rate_limits":[{"name":"per-ip","limits":[{"per":"1s","requests":10},{"per":"1m","requests":300}]}],"extra":{"a":[1,2,3]}}`)
	b.ReportAllocs()
	for b.Loop() {
		var c testConfig
		if err := Decode(in, &c); err != nil {
			b.Fatal(err)
		}
	}
}

// A renamed key or enum value is refused with its new spelling at its path,
// not as an unknown key or a bare enum error.
func TestDecodeRenamedKeysAndValues(t *testing.T) {
	type mode struct {
		OnError string `json:"on_error" config:"enum=allow|deny,renamed_values=pass>allow"`
		Claims  []int  `json:"claims" config:"renamed_from=when"`
	}
	type doc struct {
		Rules []mode `json:"rules"`
	}
	for _, tt := range []struct{ in, want string }{
		{`{"rules":[{"when":[1]}]}`, `config: rules[0].when: renamed to "claims"`},
		{`{"rules":[{"on_error":"pass"}]}`, `config: rules[0].on_error: "pass" was renamed to "allow"`},
		{`{"rules":[{"on_error":"secret"}]}`, `config: rules[0].on_error: must be "allow" or "deny"`},
		{`{"rules":[{"whne":[1]}]}`, `config: rules[0].whne: unknown key`},
	} {
		var d doc
		err := Decode([]byte(tt.in), &d)
		if err == nil || err.Error() != tt.want {
			t.Errorf("%s: got %v, want %s", tt.in, err, tt.want)
		}
	}
}
