package inventory

import (
	"encoding/json"
	"testing"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
)

// readableEvasions are values a reader still reads as the secret (the
// attacker review's F6), under the key that holds them.
var readableEvasions = []struct{ key, value, class string }{
	{"h", "$1$saltsalt$qjXMvbEw8oaL.CzflDugX/", "password_hash"},
	{"h", "$apr1$r31.....$HqJZimcKQFAMYayBlzkrA/", "password_hash"},
	{"password_hash", "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "password_hash"},
	{"passwd", "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8", "password_hash"},
	{"pwd_hash", "5E884898DA28047151D0E56F8DC6292773603D0D6AABBDD62A11EF721D1542D8", "password_hash"},
	{"v", "123 45 6789", "ssn"},
	{"v", "123.45.6789", "ssn"},
	{"v", "123\u00a045\u00a06789", "ssn"},
	{"v", "123\u200345\u20036789", "ssn"},
	{"v", "DE89-3704-0044-0532-0130-00", "iban"},
	{"v", "-----begin rsa private key-----\nMIIBOgIBAAJBAKj34GkxFhD90vcNLYLInFEX6Ppy1tPf\n-----end rsa private key-----", "private_key"},
	{"v", "----BEGIN PRIVATE KEY----\nMIIEvQIBADANBgkqhkiG9w0BAQEFAASC\n----END PRIVATE KEY----", "private_key"},
	{"v", "Alice <alice@example.com>", "email"},
	{"v", "mailto:alice@example.com", "email"},
	{"v", `"alice smith"@example.com`, "email"},
	{"v", "AKIAIOSFODNN7EXAMPLE:wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "api_key"},
	{"SecretAccessKey", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "api_key"},
	{"aws_secret_access_key", "je7MtGbClwBF/2Zp9Utk/h3yCo8nvbEXAMPLEKEY", "api_key"},
}

// readableLookAlikes are values close to those that are not secrets.
var readableLookAlikes = []struct{ key, value string }{
	{"sha", "5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8"}, {"head_sha", "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"},
	{"etag", "5f4dcc3b5aa765d61d8327deb882cf99"}, {"version", "1.2.3"}, {"phone", "415 555 2671"}, {"v", "12.345.6789"},
	{"v", "192.168.100.200"}, {"v", "----begin public key----\nMFkw"}, {"v", "Alice <alice>"}, {"v", "price $1 and $100"},
	{"token", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}, {"v", "DE89-3704-0044-0532-0130-01"},
}

// TestReadableEvasionsDeniedInBothPasses: with every class denied and an
// allowlist of ["*"], each evasion is denied (502 sensitive_data) in the
// filter's pass and counted under its class by the Observer; the
// look-alikes pass both.
func TestReadableEvasionsDeniedInBothPasses(t *testing.T) {
	policies := map[string]Policy{}
	for _, c := range detect.Classes() {
		policies[c.String()] = Deny
	}
	c, err := NewClassifier(policies, nil)
	if err != nil {
		t.Fatal(err)
	}
	p := respfilterAllowAll(t)
	doc := func(key, value string) string {
		b, _ := json.Marshal(map[string]string{key: value})
		return string(b)
	}
	for _, e := range readableEvasions {
		d := doc(e.key, e.value)
		r := NewResponse(c)
		if _, o := p.AppendProcessInspected(nil, decideJSON(p), []byte(d), nil, r); o.Action != respfilter.ActionDeny || o.Reason != respfilter.ReasonSensitive || r.Values[c.Index(e.class)] != 1 {
			t.Errorf("%.50s: Inspector: %v %s; %s", d, o.Action, o.Reason, describe(r))
		}
		if r := observe(t, c, d); r.Values[c.Index(e.class)] != 1 || r.Action != Deny {
			t.Errorf("%.50s: Observer: %s", d, describe(r))
		}
	}
	for _, e := range readableLookAlikes {
		d := doc(e.key, e.value)
		r := NewResponse(c)
		if _, o := p.AppendProcessInspected(nil, decideJSON(p), []byte(d), nil, r); o.Action == respfilter.ActionDeny || r.Found != 0 {
			t.Errorf("%s: Inspector: %v; %s", d, o.Action, describe(r))
		}
		if r := observe(t, c, d); r.Found != 0 {
			t.Errorf("%s: Observer: %s", d, describe(r))
		}
	}
}

// TestNameMadeClassesHoldInArrays: a value that only its key makes
// sensitive (a hex digest under a password name) is as sensitive as an
// element of a list under that name, nested lists included, whatever came
// before it in the list, in the filter's pass (every field allowed, or the
// list's elements allowed by name) and the Observer's; a member of an
// object in such a list is judged under its own name.
func TestNameMadeClassesHoldInArrays(t *testing.T) {
	c, err := NewClassifier(map[string]Policy{detect.PasswordHash.String(): Mask}, nil)
	if err != nil {
		t.Fatal(err)
	}
	const digest = `"5f4dcc3b5aa765d61d8327deb882cf99"`
	f, err := respfilter.New(respfilter.Config{Rules: []respfilter.Rule{{Name: "list",
		Allow: respfilter.Paths("password_hash.#", "u.passwd.#", "etags.#", "password_hash_list.#.x")}}})
	if err != nil {
		t.Fatal(err)
	}
	byName := f.Match(&route.Request{Method: "GET", Path: "/"})
	cases := []struct {
		doc, want string // want: the filter's output, masked
		found     int
	}{
		{`{"password_hash":[` + digest + `]}`, `{"password_hash":["*********"]}`, 1},
		{`{"password_hash":["abc",` + digest + `]}`, `{"password_hash":["abc","*********"]}`, 1},
		{`{"u":{"passwd":[[` + digest + `],"x"]}}`, `{"u":{"passwd":[["*********"],"x"]}}`, 1},
		{`{"etags":[` + digest + `]}`, `{"etags":[` + digest + `]}`, 0},
		{`{"password_hash_list":[{"x":` + digest + `}]}`, `{"password_hash_list":[{"x":` + digest + `}]}`, 0},
	}
	for _, p := range []*respfilter.Policy{respfilterAllowAll(t), byName} {
		for _, tc := range cases {
			r := NewResponse(c)
			out, o := p.AppendProcessInspected(nil, decideJSON(p), []byte(tc.doc), nil, r)
			if o.Action == respfilter.ActionDeny || string(out) != tc.want || int(r.Values[c.Index("password_hash")]) != tc.found {
				t.Errorf("%s: Inspector: %s, %v; %s", tc.doc, out, o.Action, describe(r))
			}
			if r := observe(t, c, tc.doc); int(r.Values[c.Index("password_hash")]) != tc.found {
				t.Errorf("%s: Observer: %s", tc.doc, describe(r))
			}
		}
	}
}
