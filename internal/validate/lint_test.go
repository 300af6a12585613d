package validate

import (
	"fmt"
	"slices"
	"strings"
	"testing"
)

// Each risky configuration gets its warning at its path, with a fix.
func TestLintFindsRiskyConfigurations(t *testing.T) {
	const provider = `"corp": {"issuer": "https://idp", "audiences": ["api"], "local_jwks": {"keys": []}}`
	const catchAll = `{"match": {"prefix": "/"}, "requires": {"provider": "corp"}}`
	jwt := func(providers, rules string) string {
		return `"jwt": {"providers": {` + providers + `}, "rules": [` + rules + `]}`
	}
	rf := func(extra, rules string) string {
		return `"response_filter": {` + extra + `"rules": [` + rules + `]}`
	}
	const rfCatchAll = `{"match": {}, "allow": []}`
	for _, tc := range []struct {
		name, doc, rule, path string
	}{
		{"provider without issuer or audiences", jwt(`"corp": {"local_jwks": {"keys": []}}`, catchAll),
			"unscoped-provider", "jwt.providers.corp"},
		{"public prefix before /admin", jwt(provider, `{"match": {"prefix": "/"}}, {"match": {"prefix": "/admin"}, "requires": {"provider": "corp"}}`),
			"shadowed-rule", "jwt.rules[1]"},
		{"no catch-all jwt rule", jwt(provider, `{"match": {"prefix": "/api"}, "requires": {"provider": "corp"}}`),
			"no-catch-all", "jwt.rules"},
		{"no jwt rules at all", jwt(provider, ``), "no-rules", "jwt.rules"},
		{"no catch-all response rule", rf(``, `{"match": {"prefix": "/users"}, "allow": ["id"]}`),
			"no-catch-all", "response_filter.rules"},
		{"shadowed response rule", rf(``, `{"match": {"prefix": "/users"}, "allow": ["id"]}, {"match": {"path": "/users/me"}, "allow": ["id", "email"]}, `+rfCatchAll),
			"shadowed-rule", "response_filter.rules[1]"},
		{"template before the literal route it covers", rf(``, `{"match": {"path_template": "/users/{id}"}, "allow": ["id"]}, {"match": {"path": "/users/me"}, "allow": ["id", "email"]}, `+rfCatchAll),
			"shadowed-rule", "response_filter.rules[1]"},
		{"template ** before a deeper template", jwt(provider, `{"match": {"path_template": "/files/{p=**}"}}, {"match": {"path_template": "/files/{id}/acl"}, "requires": {"provider": "corp"}}, `+catchAll),
			"shadowed-rule", "jwt.rules[1]"},
		{"allow everything", rf(``, `{"match": {}, "allow": ["*"]}`), "allow-everything", "response_filter.rules[0].allow[0]"},
		{"deny class without a filter", `"response_inventory": {"classes": {"email": "observe", "private_key": "deny"}}`,
			"policy-without-filter", "response_inventory.classes.private_key"},
		{"mask class on a route no rule filters", rf(``, `{"match": {"prefix": "/users"}, "allow": ["id"]}, {"match": {"prefix": "/public"}, "bypass": true}`) +
			`, "response_inventory": {"custom_classes": [{"name": "emp", "key": "^emp$", "policy": "mask"}], "routes": [{"name": "users", "match": {"prefix": "/users/x"}}, {"name": "pub", "match": {"prefix": "/public"}}]}`,
			"policy-without-filter", "response_inventory.routes[1].match"},
		{"allow every element", rf(``, `{"match": {}, "allow": ["id", "#.*"]}`), "allow-everything", "response_filter.rules[0].allow[1]"},
		{"unused named allowlist", rf(`"allowlists": {"used": ["id"], "user": ["login"]}, `, `{"match": {}, "allow": [{"allowlist": "used", "at": "#"}]}`),
			"unused-allowlist", "response_filter.allowlists.user"},
		{"named allowlist allows everything", rf(`"allowlists": {"any": ["id", "*"]}, `, `{"match": {}, "allow": [{"allowlist": "any", "at": "data"}]}`),
			"allow-everything", "response_filter.allowlists.any[1]"},
		{"on_error and non_json allow", rf(`"on_error": "allow", "non_json": "allow", `, rfCatchAll), "filter-fails-open", "response_filter.on_error"},
		{"non_json allow alone", rf(`"non_json": "allow", `, rfCatchAll), "filter-fails-open", "response_filter.non_json"},
		{"claim:sub key without jwt", `"rate_limits": [{"name": "u", "key": ["claim:sub"], "limits": [{"requests": 1, "per": "1s"}]}]`,
			"claim-without-jwt", "rate_limits[0].key[0]"},
		{"override without jwt", `"rate_limits": [{"name": "u", "key": ["client_ip"], "limits": [{"requests": 1, "per": "1s"}], "override": {"claim": "plan", "values": {}}}]`,
			"claim-without-jwt", "rate_limits[0].override"},
		{"allow_for_claims without jwt", rf(``, `{"match": {}, "allow": [], "allow_for_claims": [{"claims": [{"claim": "scope", "contains": "admin"}], "allow": ["email"]}]}`),
			"claim-without-jwt", "response_filter.rules[0].allow_for_claims[0]"},
		{"large clock skew", jwt(`"corp": {"issuer": "https://idp", "local_jwks": {"keys": []}, "clock_skew": "1h"}`, catchAll),
			"large-clock-skew", "jwt.providers.corp.clock_skew"},
		{"no expiration", jwt(`"corp": {"issuer": "https://idp", "local_jwks": {"keys": []}, "clock_skew": "1h", "require_expiration": false}`, catchAll),
			"no-expiration", "jwt.providers.corp.require_expiration"},
		{"authenticated route with no response rule", jwt(provider, `{"match": {"prefix": "/orders"}, "requires": {"provider": "corp"}}, `+catchAll) + `, ` +
			rf(``, `{"match": {"prefix": "/users"}, "allow": ["id"]}`), "unfiltered-route", "jwt.rules[0].match"},
		{"keys over http", jwt(`"corp": {"issuer": "https://idp", "remote_jwks": {"cluster": "idp", "uri": "http://idp/jwks"}}`, catchAll),
			"jwks-over-http", "jwt.providers.corp.remote_jwks.uri"},
		{"inline HMAC secret", jwt(`"corp": {"issuer": "https://idp", "secret": "`+strings.Repeat("k", 64)+`"}`, catchAll),
			"inline-secret", "jwt.providers.corp.secret"},
		{"token in a query parameter", jwt(`"corp": {"issuer": "https://idp", "local_jwks": {"keys": []}, "from_params": ["token"]}`, catchAll),
			"token-in-query", "jwt.providers.corp.from_params"},
		{"client-chosen key", `"rate_limits": [{"name": "k", "key": ["header:x-api-key"], "limits": [{"requests": 1, "per": "1s"}]}]`,
			"client-chosen-key", "rate_limits[0].key"},
		{"body limit above Envoy's buffer", rf(`"max_body_bytes": 4194304, `, rfCatchAll), "above-envoy-buffer", "response_filter.max_body_bytes"},
		{"shadow mode", `"rate_limits": [{"name": "k", "key": ["client_ip"], "shadow": true, "limits": [{"requests": 1, "per": "1s"}]}]`,
			"shadow-mode", "rate_limits[0].shadow"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			doc := Document{Data: []byte("{" + tc.doc + "}")}
			var got []string
			for _, f := range Check(doc) {
				if f.Severity != SeverityWarning {
					t.Fatalf("error: %s: %s", f.Path, f.Msg)
				}
				if f.Fix == "" || f.Msg == "" || f.Line == 0 {
					t.Errorf("warning without message, fix or position: %+v", f)
				}
				got = append(got, f.Rule+" "+f.Path)
			}
			if want := tc.rule + " " + tc.path; !slices.Contains(got, want) {
				t.Errorf("warnings %q, want %q", got, want)
			}
		})
	}
}

// A careful configuration gets no warning.
func TestLintQuietOnACarefulConfiguration(t *testing.T) {
	doc := `{
  "jwt": {
    "providers": {"corp": {"issuer": "https://idp", "audiences": ["api"], "remote_jwks": {"cluster": "idp", "uri": "https://idp/jwks"}}},
    "rules": [
      {"match": {"path": "/healthz"}},
      {"match": {"prefix": "/admin"}, "requires": {"provider": "corp", "claims": [{"claim": "scope", "contains": "admin"}]}},
      {"match": {"path_template": "/users/me"}, "requires": {"provider": "corp"}},
      {"match": {"path_template": "/users/{id}/orders/{order}"}, "requires": {"provider": "corp", "claims": [{"claim": "scope", "contains": "orders"}]}},
      {"match": {"path_template": "/users/{id}"}, "requires": {"provider": "corp"}},
      {"match": {"path_template": "/{all=**}"}, "requires": {"provider": "corp"}}
    ]
  },
  "rate_limits": [{"name": "per_user", "key": ["claim:sub"], "limits": [{"requests": 100, "per": "60s"}]}],
  "response_filter": {"rules": [
    {"match": {"prefix": "/users"}, "allow": ["id", "name"], "allow_for_claims": [{"claims": [{"claim": "scope", "contains": "admin"}], "allow": ["email"]}]},
    {"match": {"path_template": "/**"}, "allow": []}
  ]}
}`
	for _, f := range Check(Document{Data: []byte(doc)}) {
		t.Errorf("%s %s: %s", f.Severity, f.Path, f.Msg)
	}
}

// Three mistakes are three errors, each with its place, and no warning
// about a configuration that does not decode.
func TestCheckReportsEveryError(t *testing.T) {
	doc := "{\n  \"jwt\": {\n    \"providers\": {\"corp\": {\"issuer\": \"https://idp\", \"audience\": [\"api\"], \"local_jwks\": {\"keys\": []}}},\n" +
		"    \"rules\": [{\"match\": {\"prefix\": \"/\"}, \"requires\": {\"provider\": \"corp\"}}]\n  },\n" +
		"  \"rate_limits\": [{\"name\": \"per_ip\", \"key\": [\"client_ip\"], \"limits\": [{\"requests\": \"100\", \"per\": \"1m\"}, {\"per\": \"1h\"}]}]\n}"
	var got []string
	for _, f := range Check(Document{Data: []byte(doc)}) {
		got = append(got, fmt.Sprintf("%d:%d %s %s", f.Line, f.Column, f.Severity, f.Path))
	}
	want := []string{
		"3:53 error jwt.providers.corp.audience",
		"6:84 error rate_limits[0].limits[0].requests",
		"6:105 error rate_limits[0].limits[1].requests",
	}
	if !slices.Equal(got, want) {
		t.Errorf("findings\n got %q\nwant %q", got, want)
	}
	syntax := Check(Document{Data: []byte("{\n  \"jwt\": {\"rules\": [}\n}")})
	if len(syntax) != 1 || syntax[0].Line != 2 || syntax[0].Column != 21 {
		t.Errorf("syntax error: %+v", syntax)
	}
}

// headers_mode against what the input says of Envoy's header mode.
func TestHeadersModeAgainstTheHost(t *testing.T) {
	yes, no := true, false
	for _, tc := range []struct {
		name  string
		mode  string
		held  *bool
		rule  string
		error bool
	}{
		{"held on a WasmPlugin", ``, &no, "held-without-stop-iteration", true},
		{"explicit held without the flag", `"headers_mode": "held", `, &no, "held-without-stop-iteration", true},
		{"held with the flag", ``, &yes, "", false},
		{"streamed without the flag", `"headers_mode": "streamed", `, &no, "", false},
		{"streamed with the flag", `"headers_mode": "streamed", `, &yes, "streamed-with-stop-iteration", false},
		{"a plain file says nothing", ``, nil, "", false},
	} {
		doc := Document{Data: []byte(`{"response_filter": {` + tc.mode + `"rules": [{"match": {}, "allow": []}]}}`), StopIteration: tc.held}
		var got []Finding
		for _, f := range Check(doc) {
			if f.Rule != "" && strings.Contains(f.Rule, "stop-iteration") {
				got = append(got, f)
			}
		}
		switch {
		case tc.rule == "" && len(got) > 0:
			t.Errorf("%s: unexpected %+v", tc.name, got)
		case tc.rule != "" && (len(got) != 1 || got[0].Rule != tc.rule || (got[0].Severity == SeverityError) != tc.error || got[0].Path != "response_filter.headers_mode"):
			t.Errorf("%s: findings %+v, want %s (error %v)", tc.name, got, tc.rule, tc.error)
		}
	}
}
