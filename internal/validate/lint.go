package validate

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/jwtauth"
	"github.com/apiguard/apiguard/internal/ratelimit"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/apiguard/apiguard/internal/settings"
)

// Warning is a configuration the plugin accepts but that is probably not
// what its author meant, or that weakens a protection.
type Warning struct {
	Rule string // a short stable name, e.g. "shadowed-rule"
	Path string // the dotted JSON path it is about
	Msg  string // what happens
	Fix  string // what to change
}

// maxClockSkew is the skew above which expired tokens stay usable long
// enough to matter; Envoy's jwt_authn defaults to 60s.
const maxClockSkew = 5 * time.Minute

// envoyBufferLimit is Envoy's default per_connection_buffer_limit_bytes,
// which bounds the bodies a filter can hold.
const envoyBufferLimit = 1 << 20

// Lint returns the warnings for a configuration that decoded without error,
// in the order of the document's sections.
func Lint(s *settings.Settings) []Warning {
	var w []Warning
	add := func(rule, path, msg, fix string) {
		w = append(w, Warning{Rule: rule, Path: path, Msg: msg, Fix: fix})
	}
	if s.JWT != nil {
		lintJWT(s.JWT, add)
	}
	lintRateLimits(s, add)
	if s.ResponseFilter != nil {
		lintResponseFilter(s, add)
	}
	if s.ResponseInventory != nil {
		lintInventory(s, add)
	}
	return w
}

// lintInventory warns where a mask or deny class policy cannot act:
// apiguard masks or refuses a value only where it holds the body, on
// routes response_filter filters; elsewhere observation follows the body
// as it leaves.
func lintInventory(s *settings.Settings, add addFunc) {
	ri := s.ResponseInventory
	at := ""
	for _, name := range slices.Sorted(maps.Keys(ri.Classes)) {
		if ri.Classes[name] == "mask" || ri.Classes[name] == "deny" {
			at = config.KeyPath("response_inventory.classes", name)
			break
		}
	}
	for i, c := range ri.CustomClasses {
		if at == "" && (c.Policy == "mask" || c.Policy == "deny") {
			at = config.IndexPath("response_inventory.custom_classes", i) + ".policy"
		}
	}
	if at == "" {
		return
	}
	const msg = "mask and deny act only where response_filter filters the response; "
	if s.ResponseFilter == nil || len(s.ResponseFilter.Rules) == 0 {
		add("policy-without-filter", at, msg+"there are no response_filter rules, so these values are only observed as they leave",
			`add response_filter rules for the routes (an "allow" of ["*"] keeps every field while you learn them)`)
		return
	}
	var matches []route.Match
	for _, r := range s.ResponseFilter.Rules {
		if !r.Bypass {
			matches = append(matches, r.Match)
		}
	}
	for i, r := range ri.Routes {
		if !slices.ContainsFunc(matches, func(m route.Match) bool { return m.Covers(r.Match) }) {
			add("policy-without-filter", config.IndexPath("response_inventory.routes", i)+".match",
				msg+"no response_filter rule covers this route, so its values are only observed as they leave",
				"add a response_filter rule for it")
		}
	}
}

type addFunc func(rule, path, msg, fix string)

func lintJWT(j *jwtauth.Config, add addFunc) {
	for _, name := range slices.Sorted(maps.Keys(j.Providers)) {
		p := j.Providers[name]
		at := config.KeyPath("jwt.providers", name)
		if p.Issuer == "" && len(p.Audiences) == 0 {
			add("unscoped-provider", at,
				"neither issuer nor audiences is checked: any token these keys signed is accepted, whoever it was issued for",
				`set "issuer" to the IdP's issuer and "audiences" to this API's audience`)
		}
		if p.RequireExpiration != nil && !*p.RequireExpiration {
			msg := "tokens without exp are accepted and never expire"
			if p.ClockSkew != nil && p.ClockSkew.Duration > maxClockSkew {
				msg += fmt.Sprintf(", and tokens with exp stay valid %s after it (clock_skew)", p.ClockSkew.Duration)
			}
			add("no-expiration", at+".require_expiration", msg,
				`remove "require_expiration": false, or set "max_lifetime"`)
		}
		if p.ClockSkew != nil && p.ClockSkew.Duration > maxClockSkew {
			add("large-clock-skew", at+".clock_skew",
				fmt.Sprintf("expired tokens stay valid for %s after exp", p.ClockSkew.Duration),
				fmt.Sprintf(`use at most "%s"; the default is "60s"`, maxClockSkew))
		}
		if p.RemoteJWKS != nil && strings.HasPrefix(strings.ToLower(p.RemoteJWKS.URI), "http://") {
			add("jwks-over-http", at+".remote_jwks.uri",
				"the signing keys are fetched in clear text: whoever can change them in transit can mint tokens",
				"serve the JWKS over https")
		}
		if p.Secret != "" {
			add("inline-secret", at+".secret",
				"the HMAC secret sits in the plugin configuration, which Envoy shows in its config_dump and Istio stores in the WasmPlugin",
				"prefer an asymmetric provider (local_jwks, remote_jwks or discovery)")
		}
		if len(p.FromParams) > 0 {
			add("token-in-query", at+".from_params",
				"tokens in query parameters end up in access logs, browser history and Referer headers",
				"send tokens in a header (from_headers) or a cookie")
		}
	}
	if len(j.Rules) == 0 {
		add("no-rules", "jwt.rules", "no rule: no request is authenticated",
			`add rules, ending with {"match": {"prefix": "/"}, "requires": {"provider": "..."}}`)
		return
	}
	matches := make([]route.Match, len(j.Rules))
	for i, r := range j.Rules {
		matches[i] = r.Match
	}
	shadowed(matches, "jwt.rules", add)
	if !slices.ContainsFunc(matches, route.Match.MatchesEverything) {
		add("no-catch-all", "jwt.rules",
			"no rule matches every request: a request that no rule selects is not authenticated",
			`end the list with {"match": {"prefix": "/"}, "requires": {...}}, or {"match": {"prefix": "/"}} to make "public" explicit`)
	}
}

// shadowed warns about first-match rules that an earlier rule hides.
func shadowed(matches []route.Match, at string, add addFunc) {
	for j := range matches {
		for i := 0; i < j; i++ {
			if matches[i].Covers(matches[j]) {
				add("shadowed-rule", config.IndexPath(at, j),
					fmt.Sprintf("never applies: %s matches every request it matches, and the first matching rule wins", config.IndexPath(at, i)),
					fmt.Sprintf("move it above %s, or remove it", config.IndexPath(at, i)))
				break
			}
		}
	}
}

// claimPart reports whether a rate-limit key part reads a verified claim.
func claimPart(part ratelimit.KeyPart) bool { return strings.HasPrefix(string(part), "claim:") }

func lintRateLimits(s *settings.Settings, add addFunc) {
	noJWT := s.JWT == nil || len(s.JWT.Providers) == 0
	for i, p := range s.RateLimits {
		at := config.IndexPath("rate_limits", i)
		if noJWT {
			for k, part := range p.Key {
				if claimPart(part) {
					add("claim-without-jwt", config.IndexPath(at+".key", k),
						"there is no jwt section, so no claim is ever verified and this part is always missing (missing_key decides)",
						`configure "jwt" providers, or key on "client_ip"`)
				}
			}
			if p.Override != nil {
				add("claim-without-jwt", at+".override",
					"there is no jwt section, so the claim is always missing and the policy's own limits always apply",
					`configure "jwt" providers, or remove "override"`)
			}
		}
		clientChosen := true
		for _, part := range p.Key {
			if !strings.HasPrefix(string(part), "header:") && part != "path" && part != "method" && part != "envoy_route" {
				clientChosen = false
			}
		}
		if clientChosen && len(p.Key) > 0 {
			add("client-chosen-key", at+".key",
				"every part of the key is chosen by the client: a client gets a fresh bucket by changing a header value",
				`add "client_ip" or a verified claim such as "claim:sub" to the key`)
		}
		if p.Shadow {
			add("shadow-mode", at+".shadow", "shadow mode: this policy counts but never refuses",
				`remove "shadow" once the limits are right`)
		}
	}
}

func lintResponseFilter(s *settings.Settings, add addFunc) {
	rf := s.ResponseFilter
	noJWT := s.JWT == nil || len(s.JWT.Providers) == 0
	if rf.OnError == respfilter.OnErrorAllow {
		msg := "a body the filter cannot read (malformed, too large, unknown encoding) leaves unfiltered"
		if rf.NonJSON == respfilter.NonJSONAllow {
			msg = "on_error and non_json are both \"allow\": any body that is not clean JSON leaves unfiltered, so an upstream can leak by changing its content type or breaking its JSON"
		}
		add("filter-fails-open", "response_filter.on_error", msg, `use "on_error": "deny" (the default)`)
	} else if rf.NonJSON == respfilter.NonJSONAllow {
		add("filter-fails-open", "response_filter.non_json",
			"a body on a filtered route that is neither JSON nor JSON-looking (text, HTML, a broken prefix) leaves unfiltered",
			`use "non_json": "deny" (the default), or bypass the routes that really serve other formats`)
	}
	if rf.MaxBodyBytes > envoyBufferLimit {
		add("above-envoy-buffer", "response_filter.max_body_bytes",
			fmt.Sprintf("%d bytes is above Envoy's default filter-chain buffer (%d): Envoy fails larger responses (500 or a reset) before the filter sees them", rf.MaxBodyBytes, envoyBufferLimit),
			"raise the listener's per_connection_buffer_limit_bytes (and the HTTP/2 initial_stream_window_size) to at least this, or lower max_body_bytes")
	}
	matches := make([]route.Match, len(rf.Rules))
	for i, r := range rf.Rules {
		matches[i] = r.Match
		at := config.IndexPath("response_filter.rules", i)
		for k, a := range r.Allow {
			if allowsEverything(a) {
				add("allow-everything", config.IndexPath(at+".allow", k),
					fmt.Sprintf("%q allows every field at its depth: nothing is filtered there", a.Path),
					"list the fields clients need")
			}
		}
		for g, grant := range r.AllowForClaims {
			ga := config.IndexPath(at+".allow_for_claims", g)
			if noJWT {
				add("claim-without-jwt", ga,
					"there is no jwt section, so no caller has verified claims and this grant never applies",
					`configure "jwt" providers, or remove the grant`)
			}
			for k, a := range grant.Allow {
				if allowsEverything(a) {
					add("allow-everything", config.IndexPath(ga+".allow", k),
						fmt.Sprintf("%q allows every field at its depth to these callers", a.Path), "list the fields they need")
				}
			}
		}
	}
	lintAllowlists(rf, add)
	shadowed(matches, "response_filter.rules", add)
	if slices.ContainsFunc(matches, route.Match.MatchesEverything) {
		return
	}
	add("no-catch-all", "response_filter.rules",
		"no rule matches every request: responses to requests that no rule selects leave unfiltered",
		`end the list with {"match": {}, "allow": []} (or list what may pass)`)
	// Routes the jwt rules protect, which no response rule covers.
	if s.JWT == nil {
		return
	}
	for i, r := range s.JWT.Rules {
		if r.Requires == nil || r.Match.MatchesEverything() {
			continue
		}
		covered := slices.ContainsFunc(matches, func(m route.Match) bool { return m.Covers(r.Match) })
		if !covered {
			add("unfiltered-route", config.IndexPath("jwt.rules", i)+".match",
				"this authenticated route has no response_filter rule: its bodies leave unfiltered",
				`add a response_filter rule for it, with "allow" listing the fields clients need`)
		}
	}
}

// lintAllowlists warns about named allowlists: one that nothing uses
// (a rule, a grant or another named allowlist), which usually means a use
// names another by mistake, and paths of wildcards only.
func lintAllowlists(rf *respfilter.Config, add addFunc) {
	used := map[string]bool{}
	uses := func(l respfilter.AllowList) {
		for _, e := range l {
			used[e.Allowlist] = true
		}
	}
	for _, r := range rf.Rules {
		uses(r.Allow)
		for _, g := range r.AllowForClaims {
			uses(g.Allow)
		}
	}
	for _, l := range rf.Allowlists {
		uses(l)
	}
	for _, name := range slices.Sorted(maps.Keys(rf.Allowlists)) {
		at := config.KeyPath("response_filter.allowlists", name)
		if !used[name] {
			add("unused-allowlist", at,
				"no rule, grant or other allowlist uses this allowlist, so it allows nothing anywhere",
				`use it in an allow list ({"allowlist": "`+name+`", "at": PATH}), or remove it`)
		}
		for k, a := range rf.Allowlists[name] {
			if allowsEverything(a) {
				add("allow-everything", config.IndexPath(at, k),
					fmt.Sprintf("%q allows every field at its depth wherever this allowlist is used: nothing is filtered there", a.Path),
					"list the fields clients need")
			}
		}
	}
}

// allowsEverything reports whether an allowlist entry is a path made of
// wildcards only ("*", "#", "*.*", "#.*" ...), which lets every field
// through.
func allowsEverything(e respfilter.AllowEntry) bool {
	if e.Allowlist != "" {
		return false
	}
	for _, seg := range strings.Split(e.Path, ".") {
		if seg != "*" && seg != "#" {
			return false
		}
	}
	return true
}
