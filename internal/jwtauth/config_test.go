package jwtauth

import (
	"errors"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/verdict"
)

func TestConfigErrorsNameTheKey(t *testing.T) {
	jwks := `{"keys": []}`
	cases := []struct {
		name, js, path string
	}{
		{"symmetric and asymmetric", `{"providers": {"p": {"secret": "` + testSecret + `", "local_jwks": ` + jwks + `}}}`, "providers.p.secret"},
		{"no key source", `{"providers": {"p": {"issuer": "x"}}}`, "providers.p"},
		{"two key sources", `{"providers": {"p": {"local_jwks": ` + jwks + `, "remote_jwks": {"cluster": "c", "uri": "https://x/j"}}}}`, "providers.p"},
		{"unknown algorithm", `{"providers": {"p": {"local_jwks": ` + jwks + `, "algorithms": ["RS256", "RS257"]}}}`, "providers.p.algorithms[1]"},
		{"HS without secret", `{"providers": {"p": {"local_jwks": ` + jwks + `, "algorithms": ["HS256"]}}}`, "providers.p.algorithms[0]"},
		{"RS with secret", `{"providers": {"p": {"secret": "` + testSecret + `", "algorithms": ["RS256"]}}}`, "providers.p.algorithms[0]"},
		{"short secret", `{"providers": {"p": {"secret": "short"}}}`, "providers.p.secret"},
		{"HS512 secret too short", `{"providers": {"p": {"secret": "` + testSecret[:40] + `", "algorithms": ["HS512"]}}}`, "providers.p.secret"},
		{"empty audiences", `{"providers": {"p": {"local_jwks": ` + jwks + `, "audiences": []}}}`, "providers.p.audiences"},
		{"remote without cluster", `{"providers": {"p": {"remote_jwks": {"uri": "https://x/j"}}}}`, "providers.p.remote_jwks.cluster"},
		{"remote bad uri", `{"providers": {"p": {"remote_jwks": {"cluster": "c", "uri": "ftp://x/j"}}}}`, "providers.p.remote_jwks.uri"},
		{"discovery without issuer", `{"providers": {"p": {"discovery": {"cluster": "c"}}}}`, "providers.p.issuer"},
		{"bad header name", `{"providers": {"p": {"secret": "` + testSecret + `", "claim_to_headers": [{"claim": "sub", "header": "x user"}]}}}`, "providers.p.claim_to_headers[0].header"},
		{"unknown provider in rule", `{"providers": {"p": {"secret": "` + testSecret + `"}}, "rules": [{"match": {}, "requires": {"any": [{"provider": "p"}, {"provider": "q"}]}}]}`, "rules[0].requires.any[1].provider"},
		{"two requires kinds", `{"providers": {"p": {"secret": "` + testSecret + `"}}, "rules": [{"match": {}, "requires": {"provider": "p", "allow_missing": true}}]}`, "rules[0].requires"},
		{"claims with allow_missing", `{"providers": {"p": {"secret": "` + testSecret + `"}}, "rules": [{"match": {}, "requires": {"allow_missing": true, "claims": [{"claim": "sub", "equals": "a"}]}}]}`, "rules[0].requires.claims"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var cfg Config
			err := config.Decode([]byte(c.js), &cfg)
			if err == nil {
				_, err = New(cfg)
			}
			var ce *config.Error
			if !errors.As(err, &ce) {
				t.Fatalf("got %v, want a *config.Error", err)
			}
			if ce.Path != c.path {
				t.Fatalf("path %q, want %q (%v)", ce.Path, c.path, err)
			}
			if strings.Contains(err.Error(), testSecret[:16]) {
				t.Fatal("error echoes the secret")
			}
		})
	}
}

func TestConfigUnknownKeyRejected(t *testing.T) {
	var cfg Config
	err := config.Decode([]byte(`{"providers": {"p": {"secret": "`+testSecret+`", "audience": ["x"]}}}`), &cfg)
	if err == nil || !strings.Contains(err.Error(), "audience") {
		t.Fatalf("typo accepted: %v", err)
	}
}

func TestRemoteSourcesDefaults(t *testing.T) {
	cfg := decodeConfig(t, `{"providers": {
	  "a": {"remote_jwks": {"cluster": "idp", "uri": "https://idp.example.com/keys?v=1", "cache_duration": "60s"}},
	  "b": {"issuer": "https://b.example/realm", "discovery": {"cluster": "b"}},
	  "c": {"secret": "`+testSecret+`"}}}`)
	src := RemoteSources(cfg)
	if len(src) != 2 || src[0].Provider != "a" || src[1].Provider != "b" || !src[1].Discovery {
		t.Fatalf("%+v", src)
	}
	if src[0].CacheDuration.Seconds() != 60 || src[0].Timeout != DefaultFetchTimeout || src[1].MinRefetchInterval != DefaultMinRefetchInterval {
		t.Fatalf("defaults: %+v", src)
	}
}

// Every deny reason is in the vocabulary's closed authn set: a reason
// outside it would count as `other`, hidden from dashboards and alerts.
func TestEveryDenyReasonIsInTheVocabulary(t *testing.T) {
	known := map[verdict.Reason]bool{}
	for _, r := range verdict.Reasons(verdict.PolicyAuthn, verdict.Deny) {
		known[r] = true
	}
	for _, r := range Reasons {
		if !known[r] {
			t.Errorf("jwtauth reason %q is not in verdict's authn deny set", r)
		}
	}
}
