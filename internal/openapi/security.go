package openapi

import (
	"encoding/json"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/apiguard/apiguard/internal/claims"
	"github.com/apiguard/apiguard/internal/jwtauth"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/route"
	"github.com/pb33f/libopenapi/datamodel/high/base"
)

// document is the configuration written; the key names are those of
// internal/settings.
type document struct {
	JWT            *jwtSection      `json:"jwt,omitempty"`
	ResponseFilter *responseSection `json:"response_filter,omitempty"`
}

type jwtSection struct {
	Providers map[string]json.RawMessage `json:"providers"`
	Rules     []jwtauth.Rule             `json:"rules"`
}

// requirement is what an operation needs; the plugin's own type, so the
// output has the plugin's spellings.
type requirement = jwtauth.Requirement

type responseSection struct {
	Rules      []responseRule                  `json:"rules"`
	Allowlists map[string]respfilter.AllowList `json:"allowlists,omitempty"`
}

type responseRule struct {
	Name   string                `json:"name"`
	Match  route.Match           `json:"match"`
	Bypass bool                  `json:"bypass,omitempty"`
	Allow  *respfilter.AllowList `json:"allow,omitempty"`
}

// securityIndex maps the description's security schemes to providers.
type securityIndex struct {
	// provider is the apiguard provider name of each expressible scheme.
	provider map[string]string
	// missing lists OAuth2 and bearer schemes without a provider.
	missing map[string]bool
	// kind is each scheme's type, for reports.
	kind      map[string]string
	providers map[string]json.RawMessage
	usedNames map[string]bool
	// global is the document's default requirement.
	global []*base.SecurityRequirement
}

func (s *securityIndex) used() bool { return len(s.usedNames) > 0 }

func (g *generator) securitySchemes() (*securityIndex, error) {
	s := &securityIndex{provider: map[string]string{}, missing: map[string]bool{}, kind: map[string]string{},
		providers: map[string]json.RawMessage{}, usedNames: map[string]bool{}, global: g.doc.Security}
	if g.doc.Components == nil || g.doc.Components.SecuritySchemes == nil {
		return s, nil
	}
	taken := map[string]bool{}
	for name, sc := range g.doc.Components.SecuritySchemes.FromOldest() {
		if sc == nil {
			continue
		}
		where := "securitySchemes." + name
		kind := sc.Type
		if sc.Type == "http" {
			kind = "http " + strings.ToLower(sc.Scheme)
		}
		s.kind[name] = kind
		given, ok := g.opts.Providers[name]
		switch {
		case sc.Type == "oauth2" || kind == "http bearer":
			if !ok {
				s.missing[name] = true
				continue
			}
		case sc.Type == "openIdConnect":
			if !ok {
				issuer, found := strings.CutSuffix(strings.TrimSpace(sc.OpenIdConnectUrl), "/.well-known/openid-configuration")
				if !found || issuer == "" {
					g.note(where, "openIdConnectUrl %q does not end in /.well-known/openid-configuration: give this scheme a provider", sc.OpenIdConnectUrl)
					s.missing[name] = true
					continue
				}
				pname := providerName(name, taken)
				cluster := pname
				given, _ = json.Marshal(map[string]any{"issuer": issuer, "discovery": map[string]any{"cluster": cluster}})
				g.note(where, "provider %q finds its keys by OpenID Connect discovery at %s through the Envoy cluster %q, which must exist; audiences are not checked until you add them", pname, issuer, cluster)
				s.provider[name] = pname
				s.providers[pname] = given
				continue
			}
		default:
			g.note(where, "%s credentials cannot be checked by apiguard: operations that accept them are left to the upstream", kind)
			continue
		}
		pname := providerName(name, taken)
		s.provider[name] = pname
		s.providers[pname] = given
	}
	for name := range g.opts.Providers {
		if _, ok := s.kind[name]; !ok {
			return nil, fmt.Errorf("openapi: a provider is given for %q, which is not a security scheme of the description", name)
		}
	}
	return s, nil
}

// providerName makes a metric-safe provider name from a scheme name.
func providerName(scheme string, taken map[string]bool) string {
	name := ruleName(&operation{id: scheme}, taken)
	return name
}

// requirement returns what o needs: its own security, else the document's.
// Anonymous access allowed by any alternative, or an alternative that only
// the upstream can check, makes the operation public at apiguard.
func (s *securityIndex) requirement(g *generator, o *operation, own []*base.SecurityRequirement, hasOwn bool) *requirement {
	sec := s.global
	if hasOwn {
		sec = own
	}
	if len(sec) == 0 {
		return nil
	}
	var alts []requirement
	for _, r := range sec {
		if r == nil || r.ContainsEmptyRequirement || r.Requirements == nil || r.Requirements.Len() == 0 {
			return nil // {} : anonymous access is one of the alternatives
		}
		var all []requirement
		for scheme, scopes := range r.Requirements.FromOldest() {
			kind, known := s.kind[scheme]
			if !known {
				g.note(o.where(), "requires the undeclared security scheme %q: left to the upstream", scheme)
				return nil
			}
			if s.missing[scheme] {
				// Reported once, as an error, by jwtSection.
				s.usedNames["?"+scheme] = true
				return nil
			}
			pname, ok := s.provider[scheme]
			if !ok {
				g.note(o.where(), "accepts %s credentials (%s), which apiguard cannot check: authentication is left to the upstream", kind, scheme)
				return nil
			}
			s.usedNames[pname] = true
			req := requirement{Provider: pname}
			scopes = slices.Compact(slices.Sorted(slices.Values(scopes)))
			scope := claims.Path{g.opts.ScopeClaim}
			switch len(scopes) {
			case 0:
			case 1:
				req.Claims = []claims.Condition{{Claim: scope, Contains: scopes[0]}}
			default:
				all := make([]any, len(scopes))
				for i, sc := range scopes {
					all[i] = sc
				}
				req.Claims = []claims.Condition{{Claim: scope, AllOf: all}}
			}
			all = append(all, req)
		}
		if len(all) == 1 {
			alts = append(alts, all[0])
		} else {
			alts = append(alts, requirement{All: all})
		}
	}
	if len(alts) == 1 {
		return &alts[0]
	}
	return &requirement{Any: alts}
}

// jwtSection writes a rule for every operation whose requirement differs
// from the document's default, and for every operation with the default
// that such a rule could otherwise capture; the catch-all carries the
// default.
func (g *generator) jwtSection(s *securityIndex) (*jwtSection, error) {
	def := s.requirement(g, &operation{method: "*", path: "(document)"}, nil, false)
	var missing []string
	for name := range s.usedNames {
		if scheme, ok := strings.CutPrefix(name, "?"); ok {
			missing = append(missing, fmt.Sprintf("%s (%s)", scheme, s.kind[scheme]))
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		return nil, fmt.Errorf("%w: %s: the description does not say who signs its tokens or where the keys are; give each a jwt provider", ErrNeedsProvider, strings.Join(missing, ", "))
	}
	key := func(r *requirement) string { b, _ := json.Marshal(r); return string(b) }
	defKey := key(def)
	keep := make([]bool, len(g.ops))
	for i, o := range g.ops {
		keep[i] = key(o.requires) != defKey
	}
	// An operation with the default that a later kept rule could capture
	// (same method, overlapping path: "/pets/mine" before "/pets/{id}") is
	// kept too, in its place.
	for i, o := range g.ops {
		if keep[i] {
			continue
		}
		for j := i + 1; j < len(g.ops); j++ {
			if k := g.ops[j]; keep[j] && sameMethod(o, k) && mayOverlap(o, k) {
				keep[i] = true
				break
			}
		}
	}
	sec := &jwtSection{Providers: map[string]json.RawMessage{}}
	for name := range s.usedNames {
		sec.Providers[name] = s.providers[name]
	}
	used := map[string]bool{"other": true}
	for i, o := range g.ops {
		if !keep[i] {
			continue
		}
		sec.Rules = append(sec.Rules, jwtauth.Rule{Name: ruleName(o, used), Match: o.match.match(methodsOf(o.method)), Requires: o.requires})
	}
	sec.Rules = append(sec.Rules, jwtauth.Rule{Name: "other", Match: route.Match{Prefix: "/"}, Requires: def})
	return sec, nil
}

func sameMethod(a, b *operation) bool {
	return a.method == b.method || a.method == "HEAD" && b.method == "GET" || a.method == "GET" && b.method == "HEAD"
}

func methodsOf(m ...string) []string { return m }

// responseSection writes one rule per path and allowlist: the methods of a
// path that allow the same fields share a rule.
func (g *generator) responseSection() *responseSection {
	sec := &responseSection{}
	used := map[string]bool{"undocumented": true}
	var groups []*group
	index := map[string]*group{}
	for _, o := range g.ops {
		k := o.match.template + "\x00" + o.match.regex + "\x00" + fmt.Sprint(o.bypass) + "\x00" + strings.Join(o.allow, "\x00")
		if gr := index[k]; gr != nil {
			gr.methods = append(gr.methods, o.method)
			continue
		}
		gr := &group{first: o, methods: []string{o.method}}
		index[k] = gr
		groups = append(groups, gr)
	}
	names := g.namedAllowlists(groups)
	for _, gr := range groups {
		ms := gr.methods
		if slices.Contains(ms, "GET") {
			ms = slices.DeleteFunc(slices.Clone(ms), func(m string) bool { return m == "HEAD" })
		}
		r := responseRule{Name: ruleName(gr.first, used), Match: gr.first.match.match(ms), Bypass: gr.first.bypass}
		if !gr.first.bypass {
			allow := names.allowList(&gr.first.shape)
			if gr.first.shape.truncated {
				allow = respfilter.Paths(gr.first.allow...)
			}
			r.Allow = &allow
		}
		sec.Rules = append(sec.Rules, r)
	}
	sec.Rules = append(sec.Rules, responseRule{Name: "undocumented", Match: route.Match{}, Allow: &respfilter.AllowList{}})
	if len(names.byRef) > 0 {
		sec.Allowlists = map[string]respfilter.AllowList{}
		for ref, name := range names.byRef {
			sec.Allowlists[name] = names.allowList(g.schema.memo[ref])
		}
	}
	g.res.Allowlists = len(sec.Allowlists)
	return sec
}

// allowlistNames are the schemas written as named allowlists, by $ref.
type allowlistNames struct {
	byRef map[string]string
	memo  map[string]*walkResult
}

// namedAllowlists picks the schemas that become named allowlists: every
// memoized $ref that the rules reach more than once (two operations, or
// two places of one), counting each schema's own uses once, as they are
// written once. A $ref reached once is written out where it is used.
func (g *generator) namedAllowlists(groups []*group) *allowlistNames {
	count, seen := map[string]int{}, map[string]bool{}
	var visit func(uses []refUse)
	visit = func(uses []refUse) {
		for _, u := range uses {
			count[u.ref]++
			if !seen[u.ref] {
				seen[u.ref] = true
				visit(g.schema.memo[u.ref].uses)
			}
		}
	}
	for _, gr := range groups {
		if !gr.first.bypass && !gr.first.shape.truncated {
			visit(gr.first.shape.uses)
		}
	}
	var refs []string
	for ref, n := range count {
		if n > 1 {
			refs = append(refs, ref)
		}
	}
	sort.Strings(refs)
	names := &allowlistNames{byRef: map[string]string{}, memo: g.schema.memo}
	taken := map[string]bool{}
	for _, ref := range refs {
		name := allowlistName(ref)
		for i := 2; taken[name]; i++ {
			name = fmt.Sprintf("%s-%d", allowlistName(ref), i)
		}
		taken[name] = true
		names.byRef[ref] = name
	}
	return names
}

// allowlistName is the name of a schema's allowlist: its component name
// ("#/components/schemas/simple-user" gives "simple-user"), with any
// character a name cannot hold replaced by '_'.
func allowlistName(ref string) string {
	name := ref[strings.LastIndexByte(ref, '/')+1:]
	b := []byte(name)
	for i, c := range b {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '_' || c == '-') {
			b[i] = '_'
		}
	}
	if len(b) == 0 {
		return "schema"
	}
	return string(b)
}

// allowList writes the allow list of a walk result: its own paths, sorted,
// then its uses of named allowlists; a $ref that is not named is written
// out in place.
func (n *allowlistNames) allowList(r *walkResult) respfilter.AllowList {
	paths, uses := map[string]bool{}, map[refUse]bool{}
	n.expand("", r, paths, uses)
	out := respfilter.Paths(sortedPaths(paths)...)
	var us []refUse
	for u := range uses {
		us = append(us, u)
	}
	sortUses(us)
	for _, u := range us {
		out = append(out, respfilter.AllowEntry{Allowlist: n.byRef[u.ref], At: u.at})
	}
	if out == nil {
		out = respfilter.AllowList{}
	}
	return out
}

func (n *allowlistNames) expand(prefix string, r *walkResult, paths map[string]bool, uses map[refUse]bool) {
	for _, p := range r.own {
		paths[joinPath(prefix, p)] = true
	}
	for _, u := range r.uses {
		at := joinPath(prefix, u.at)
		if _, named := n.byRef[u.ref]; named {
			uses[refUse{ref: u.ref, at: at}] = true
			continue
		}
		n.expand(at, n.memo[u.ref], paths, uses)
	}
}

// group is the operations of one path that share a response rule.
type group struct {
	first   *operation
	methods []string
}
