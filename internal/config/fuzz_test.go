package config

import (
	"bytes"
	"encoding/json"
	"testing"
)

// FuzzDecode checks that Decode never panics, that DecodeAll agrees with it
// on the first error, and that whatever it accepts
// re-encodes into JSON it accepts again with the same meaning.
func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"jwt":{"providers":{"corp":{"issuer":"i","audiences":["a"],"clock_skew":"60s","forward":true,"local_jwks":{"keys":[]}}}}}`,
		`{"rate_limits":[{"name":"a","limits":[{"per":"1.5s","requests":10,"burst":-3}]}],"ratio":1.5}`,
		`{"extra":{"a":[1,2,{"b":null}],"c":"\u00e9"},"ratio":-0}`,
		`{"jwt":{"providers":{"a.b":{"issuer":"x"}}}}`,
		`{"jwt":{"providers":{"corp":{"issuer":"a","issuer":"b"}}}}`,
		`[[[[[[]]]]]]`, `{} {}`, `{"ratio":1e400}`, `{"rate_limits":[{"limits":[{"requests":1.0}]}]}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var c testConfig
		err := Decode(data, &c)
		// DecodeAll reports Decode's error first, and nothing when it is nil.
		all := DecodeAll(data, new(testConfig))
		if (err == nil) != (len(all) == 0) || err != nil && err.Error() != all[0].Error() {
			t.Fatalf("Decode = %v, DecodeAll = %v", err, all)
		}
		if err != nil {
			if _, ok := err.(*Error); !ok {
				t.Fatalf("error of type %T, want *Error: %v", err, err)
			}
			return
		}
		enc, err := json.Marshal(&c)
		if err != nil {
			t.Fatalf("re-encode accepted config: %v", err)
		}
		var again testConfig
		if err := Decode(enc, &again); err != nil {
			t.Fatalf("re-decode of %s (from %q): %v", enc, data, err)
		}
		enc2, err := json.Marshal(&again)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(enc, enc2) {
			t.Fatalf("round trip changed the config:\n%s\n%s", enc, enc2)
		}
	})
}
