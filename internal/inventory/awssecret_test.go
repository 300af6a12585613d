package inventory

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/detect"
	"github.com/apiguard/apiguard/internal/respfilter"
)

// TestAWSSecretFormIsNoClassWithoutItsName holds why no value-only rule
// for AWS secret access keys exists (docs/response-inventory.md, Classes):
// a secret is 40 characters of standard base64 with no prefix or check,
// the form of nearly every random 30-byte value (nonces, session ids,
// digests) written in base64. Such values are of no class under ordinary
// names, in both passes, with every class denied; under the secret's name
// they are api_key, and an access key id beside them is api_key on its
// own, so the route still shows the credential.
func TestAWSSecretFormIsNoClassWithoutItsName(t *testing.T) {
	policies := map[string]Policy{}
	for _, c := range detect.Classes() {
		policies[c.String()] = Deny
	}
	c, err := NewClassifier(policies, nil)
	if err != nil {
		t.Fatal(err)
	}
	apiKey := c.Index("api_key")
	p := respfilterAllowAll(t)
	b := make([]byte, 30)
	for i := range 300 {
		v := ""
		for !strings.ContainsAny(v, "0123456789+/") || v == strings.ToLower(v) || v == strings.ToUpper(v) {
			rand.Read(b) // 3 in 10,000 draws lack a digit, '+' or '/'
			v = base64.StdEncoding.EncodeToString(b)
		}
		name := []string{"nonce", "session_id", "state", "digest", "secret", "key"}[i%6]
		for _, tc := range []struct {
			doc  map[string]string
			want uint32
		}{
			{map[string]string{name: v}, 0},
			{map[string]string{"SecretAccessKey": v}, 1},
			{map[string]string{"aws_secret_access_key": v}, 1},
			{map[string]string{"AccessKeyId": "AKIAIOSFODNN7EXAMPLE", name: v}, 1},
		} {
			js, _ := json.Marshal(tc.doc)
			r := NewResponse(c)
			_, o := p.AppendProcessInspected(nil, decideJSON(p), js, nil, r)
			if r.Values[apiKey] != tc.want || (r.Found != 0) != (tc.want > 0) || (o.Action == respfilter.ActionDeny) != (tc.want > 0) {
				t.Fatalf("%s: Inspector: %v; %s", js, o.Action, describe(r))
			}
			if r := observe(t, c, string(js)); r.Values[apiKey] != tc.want || (r.Found != 0) != (tc.want > 0) {
				t.Fatalf("%s: Observer: %s", js, describe(r))
			}
		}
	}
}
