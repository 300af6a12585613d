package config

import (
	"strings"
	"testing"
)

func TestDecodeAllReportsEveryErrorWithItsPosition(t *testing.T) {
	in := `{
  "jwt": {"providers": {
    "corp": {"issuer": "i", "audience": ["a"], "forward": "yes"},
    "b": {"audiences": []}
  }},
  "rate_limits": [{"name": "a", "limits": [{"per": "1d", "requests": -1}]}],
  "ratio": "high"
}`
	var c testConfig
	errs := DecodeAll([]byte(in), &c)
	want := []string{
		`3:29 config: jwt.providers.corp.audience: unknown key (did you mean "audiences"?)`,
		`3:59 config: jwt.providers.corp.forward: expected boolean, got string`,
		`4:10 config: jwt.providers.b.issuer: is required`,
		`6:52 config: rate_limits[0].limits[0].per: invalid duration "1d": unknown unit (use ns, us, ms, s, m or h)`,
		`6:70 config: rate_limits[0].limits[0].requests: expected a non-negative integer, got -1`,
		`7:12 config: ratio: expected number, got string`,
	}
	var got []string
	for _, e := range errs {
		got = append(got, itoa(e.Line)+":"+itoa(e.Column)+" "+e.Error())
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("errors\n got:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if err := Decode([]byte(in), new(testConfig)); err == nil || err.Error() != errs[0].Error() {
		t.Errorf("Decode = %v, want the first of DecodeAll's errors", err)
	}
}

func TestValidateRunsOnlyOnCleanValues(t *testing.T) {
	// The provider has a wrong type and no issuer: only the type is reported,
	// since Validate would judge a half-decoded value.
	var c testConfig
	errs := DecodeAll([]byte(`{"jwt":{"providers":{"corp":{"audiences":"a"}}}}`), &c)
	if len(errs) != 1 || errs[0].Path != "jwt.providers.corp.audiences" {
		t.Errorf("errors = %v", errs)
	}
}

func TestRequiredKeys(t *testing.T) {
	type window struct {
		Per      Duration `json:"per" config:"required"`
		Requests int      `json:"requests" config:"required"`
		Burst    int      `json:"burst,omitempty"`
	}
	var v struct {
		Limits []window `json:"limits"`
	}
	errs := DecodeAll([]byte("{\"limits\": [\n  {\"per\": \"1s\", \"requests\": 1},\n  {\"burst\": 2}]}"), &v)
	want := "config: limits[1].per: required\nconfig: limits[1].requests: required"
	if errs.Error() != want {
		t.Errorf("errors = %q, want %q", errs.Error(), want)
	}
	if errs[0].Line != 3 || errs[0].Column != 3 {
		t.Errorf("missing key located at %d:%d, want the object at 3:3", errs[0].Line, errs[0].Column)
	}
}

func TestSyntaxErrorsHaveLineAndColumn(t *testing.T) {
	for _, tt := range []struct {
		in        string
		line, col int
	}{
		{"{\n  \"jwt\": {\n    \"realm\": \"x\",\n  }\n}", 4, 3},
		{"{\n  \"a\": 1\n  \"b\": 2\n}", 3, 3},
		{"{\"a\": [1, 2", 1, 12},
		{"{}\n{}", 2, 1},
		{"{\"a\":1,\"a\":2}", 1, 8},
	} {
		var v any
		errs := DecodeAll([]byte(tt.in), &v)
		if len(errs) != 1 || errs[0].Line != tt.line || errs[0].Column != tt.col {
			t.Errorf("DecodeAll(%q) = %v at %d:%d, want one error at %d:%d", tt.in, errs, errs[0].Line, errs[0].Column, tt.line, tt.col)
		}
	}
	var v any
	if e := DecodeAll([]byte("{\n \"a\": tru }"), &v)[0]; !strings.Contains(e.Msg, "line 2, column") {
		t.Errorf("syntax error message %q does not name the line", e.Msg)
	}
}

func TestPathPointerMapping(t *testing.T) {
	doc := []byte(`{"jwt":{"providers":{"a.b":{"x":1},"0":{},"s/t~":{}}},"rules":[{},{"m":[5]}]}`)
	for _, tt := range []struct{ path, pointer string }{
		{"", ""},
		{"jwt", "/jwt"},
		{`jwt.providers["a.b"].x`, "/jwt/providers/a.b/x"},
		{"jwt.providers.0", "/jwt/providers/0"},
		{`jwt.providers["s/t~"]`, "/jwt/providers/s~1t~0"},
		{"rules[1].m[0]", "/rules/1/m/0"},
		{"rules[1].missing", "/rules/1/missing"},
	} {
		p, err := PathToPointer(tt.path)
		if err != nil || p != tt.pointer {
			t.Errorf("PathToPointer(%q) = %q, %v; want %q", tt.path, p, err, tt.pointer)
		}
		back, err := PointerToPath(doc, tt.pointer)
		if err != nil || back != tt.path {
			t.Errorf("PointerToPath(%q) = %q, %v; want %q", tt.pointer, back, err, tt.path)
		}
	}
	if _, err := PointerToPath(doc, "/rules/7"); err == nil {
		t.Error("PointerToPath accepted an index past the array")
	}
	if _, err := PathToPointer(`a["b`); err == nil {
		t.Error("PathToPointer accepted an unterminated key")
	}
}

func TestEnumeratedValues(t *testing.T) {
	var v struct {
		Mode  string `json:"mode" config:"enum=held|streamed"`
		Level string `json:"level,omitempty" config:"required,enum=warn"`
	}
	if errs := DecodeAll([]byte(`{"mode": "held", "level": "warn"}`), &v); len(errs) > 0 {
		t.Fatal(errs)
	}
	errs := DecodeAll([]byte(`{"mode": "hold", "level": "secret-value"}`), &v)
	want := "config: mode: must be \"held\" or \"streamed\"\nconfig: level: must be \"warn\""
	if errs.Error() != want {
		t.Errorf("errors %q, want %q", errs.Error(), want)
	}
	if strings.Contains(errs.Error(), "secret-value") {
		t.Error("the refused value is echoed")
	}
	if errs := DecodeAll([]byte(`{"mode": "held"}`), &v); len(errs) != 1 || errs[0].Msg != "required" {
		t.Errorf("required and enum together: %v", errs)
	}
}
