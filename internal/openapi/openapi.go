// Package openapi turns an OpenAPI 3.0 or 3.1 description into apiguard
// configuration: a response_filter rule per operation that allows exactly
// the properties its response schemas declare, jwt rules from its security
// requirements, and a report of what it could not express.
//
// Operations are selected by path_template (Envoy's uri_template syntax,
// internal/route) and method. Rules are ordered so that a literal segment
// comes before a variable in the same place, as OpenAPI routers match
// concrete paths first ("/users/me" before "/users/{id}"). Every output
// ends with a catch-all: undocumented routes get the description's default
// security and an empty allowlist, so nothing undeclared leaves by default.
//
// The description is read with github.com/pb33f/libopenapi, which resolves
// $ref (local and within the document), and reads 3.0 and 3.1 alike (type
// arrays, boolean schemas, prefixItems, webhooks).
package openapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"sort"
	"strings"

	"github.com/apiguard/apiguard/internal/settings"
	"github.com/pb33f/libopenapi"
	"github.com/pb33f/libopenapi/datamodel"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"
	"github.com/pb33f/libopenapi/orderedmap"
)

// Options tunes Generate.
type Options struct {
	// BasePath is put before every path (the server's path, e.g. "/api/v3").
	// When nil, the path of the description's first server URL is used.
	BasePath *string
	// Providers are the apiguard jwt providers (`jwt.providers.NAME`
	// objects) by security scheme name. OAuth2 and bearer schemes need one:
	// a description says where tokens come from, not who signs them or
	// where the keys are. OpenID Connect schemes default to a provider that
	// finds the keys by discovery from the scheme's openIdConnectUrl.
	Providers map[string]json.RawMessage
	// ScopeClaim is the claim that carries OAuth2 scopes; default "scope"
	// (RFC 9068; a space-delimited string or an array).
	ScopeClaim string
	// Tags, when set, keeps only the operations with one of these tags:
	// apiguard's configuration is bounded (settings.MaxDocumentBytes), and
	// a large API is often fronted part by part.
	Tags []string
	// Compact writes the configuration without indentation.
	Compact bool
}

// Finding is one thing the description says that the output cannot
// express, or a choice the generator made that a reviewer should know.
type Finding struct {
	// Where is an operation ("GET /pets/{id}"), a scheme
	// ("securitySchemes.api_key") or "document".
	Where string
	What  string
}

func (f Finding) String() string { return f.Where + ": " + f.What }

// Result is what Generate produced.
type Result struct {
	// Config is the apiguard configuration, indented JSON.
	Config []byte
	// Findings list what could not be expressed, in document order.
	Findings []Finding
	// Operations counts the operations read; ResponseRules and JWTRules
	// the rules written (catch-alls included); Allowlists the named
	// allowlists written, one per schema that the rules reach more than
	// once.
	Operations, ResponseRules, JWTRules, Allowlists int
	// BasePath is the prefix that was put before every path.
	BasePath string
}

// ErrNeedsProvider is wrapped when an operation requires an OAuth2 or
// bearer scheme for which Options.Providers has no entry.
var ErrNeedsProvider = errors.New("openapi: a security scheme needs a provider")

// Generate reads an OpenAPI 3.0 or 3.1 description (JSON or YAML).
func Generate(spec []byte, opts Options) (*Result, error) {
	cfg := datamodel.NewDocumentConfiguration()
	cfg.AllowFileReferences = false
	cfg.AllowRemoteReferences = false
	doc, err := libopenapi.NewDocumentWithConfiguration(spec, cfg)
	if err != nil {
		return nil, fmt.Errorf("openapi: read: %w", err)
	}
	if !strings.HasPrefix(doc.GetVersion(), "3.") {
		return nil, fmt.Errorf("openapi: version %q: only OpenAPI 3.0 and 3.1 are read", doc.GetVersion())
	}
	model, err := doc.BuildV3Model()
	if model == nil {
		return nil, fmt.Errorf("openapi: build model: %w", err)
	}
	g := &generator{opts: opts, doc: &model.Model, res: &Result{}}
	if err != nil {
		// libopenapi reports circular references here and still builds
		// the model; the schema walk cuts cycles itself.
		g.note("document", "the reader reported: %s", firstLine(err.Error()))
	}
	if g.opts.ScopeClaim == "" {
		g.opts.ScopeClaim = "scope"
	}
	if err := g.run(); err != nil {
		return nil, err
	}
	return g.res, nil
}

type generator struct {
	opts   Options
	doc    *v3.Document
	res    *Result
	base   []string // base path segments
	ops    []*operation
	schema schemaWalker
	seen   map[string]bool // findings already reported
}

// operation is one method on one path.
type operation struct {
	method string
	path   string // as written in the description
	id     string // operationId, or "" if none
	match  matchSpec
	allow  []string
	// shape is allow structured (walkResult): the paths the operation's
	// schemas declare themselves and the memoized $refs they use.
	shape    walkResult
	bypass   bool
	requires *requirement
	order    int
}

func (o *operation) where() string { return o.method + " " + o.path }

func (g *generator) note(where, format string, args ...any) {
	f := Finding{Where: where, What: fmt.Sprintf(format, args...)}
	if g.seen == nil {
		g.seen = map[string]bool{}
	}
	if g.seen[f.String()] {
		return
	}
	g.seen[f.String()] = true
	g.res.Findings = append(g.res.Findings, f)
}

func (g *generator) run() error {
	if err := g.basePath(); err != nil {
		return err
	}
	g.schema = schemaWalker{note: g.note, memo: map[string]*walkResult{}}
	sec, err := g.securitySchemes()
	if err != nil {
		return err
	}
	if n := orderedmap.Len(g.doc.Webhooks); n > 0 {
		g.note("document", "%d webhooks are requests the API sends, not routes it serves: not filtered", n)
	}
	if g.doc.Paths == nil || g.doc.Paths.PathItems == nil {
		g.note("document", "no paths")
	} else {
		for path, item := range g.doc.Paths.PathItems.FromOldest() {
			g.pathItem(path, item, sec)
		}
	}
	return g.write(sec)
}

// basePath picks the path every operation path is appended to.
func (g *generator) basePath() error {
	base := ""
	if g.opts.BasePath != nil {
		base = *g.opts.BasePath
	} else if len(g.doc.Servers) > 0 {
		s := g.doc.Servers[0]
		raw := s.URL
		if s.Variables != nil {
			for name, v := range s.Variables.FromOldest() {
				raw = strings.ReplaceAll(raw, "{"+name+"}", v.Default)
			}
		}
		u, err := url.Parse(raw)
		if err != nil {
			return fmt.Errorf("openapi: servers[0].url %q: %w", s.URL, err)
		}
		base = u.EscapedPath()
		if base != "" && base != "/" {
			g.note("document", "paths are put under %q, the path of servers[0] (%s); set the base path to change it", strings.TrimSuffix(base, "/"), s.URL)
		}
		for i, other := range g.doc.Servers[1:] {
			if u2, err := url.Parse(other.URL); err == nil && strings.TrimSuffix(u2.EscapedPath(), "/") != strings.TrimSuffix(base, "/") {
				g.note("document", "servers[%d] (%s) has another path: its routes are not matched", i+1, other.URL)
			}
		}
	}
	base = strings.Trim(base, "/")
	g.res.BasePath = "/" + base
	if base == "" {
		g.res.BasePath = ""
		return nil
	}
	for _, seg := range strings.Split(base, "/") {
		lit, ok := canonicalLiteral(seg)
		if !ok {
			return fmt.Errorf("openapi: base path %q: segment %q cannot be matched", base, seg)
		}
		g.base = append(g.base, lit)
	}
	return nil
}

// methods in the order rules are written: HEAD before GET, since a rule
// on GET also selects HEAD.
var methods = []string{"HEAD", "GET", "PUT", "POST", "DELETE", "OPTIONS", "PATCH", "TRACE"}

func (g *generator) pathItem(path string, item *v3.PathItem, sec *securityIndex) {
	if item == nil {
		return
	}
	ops := map[string]*v3.Operation{
		"GET": item.Get, "PUT": item.Put, "POST": item.Post, "DELETE": item.Delete,
		"OPTIONS": item.Options, "HEAD": item.Head, "PATCH": item.Patch, "TRACE": item.Trace,
	}
	if item.Query != nil {
		g.note("QUERY "+path, "the QUERY method is not routed")
	}
	if item.AdditionalOperations != nil {
		for m := range item.AdditionalOperations.KeysFromOldest() {
			g.note(strings.ToUpper(m)+" "+path, "additional operations are not routed")
		}
	}
	for _, m := range methods {
		op := ops[m]
		if op == nil || len(g.opts.Tags) > 0 && !slices.ContainsFunc(op.Tags, func(t string) bool { return slices.Contains(g.opts.Tags, t) }) {
			continue
		}
		g.res.Operations++
		o := &operation{method: m, path: path, id: op.OperationId, order: len(g.ops)}
		ms, err := g.matchFor(path)
		if err != nil {
			g.note(o.where(), "not written: %v", err)
			continue
		}
		o.match = ms
		if ms.regex != "" {
			g.note(o.where(), "a segment mixes literals and variables, which templates cannot express: matched with a regex")
		}
		g.responses(o, op)
		o.requires = sec.requirement(g, o, op.Security, op.Security != nil)
		g.ops = append(g.ops, o)
	}
}

// jsonMediaType reports JSON content types: application/json, text/json,
// and any +json type.
func jsonMediaType(mt string) bool {
	mt, _, _ = strings.Cut(strings.ToLower(strings.TrimSpace(mt)), ";")
	mt = strings.TrimSpace(mt)
	return mt == "application/json" || mt == "text/json" || strings.HasSuffix(mt, "+json")
}

// responses computes the allowlist of o: the union of the properties of
// every JSON response schema, whatever the status.
func (g *generator) responses(o *operation, op *v3.Operation) {
	var all []*v3.Response
	if op.Responses != nil {
		if op.Responses.Codes != nil {
			for _, r := range op.Responses.Codes.FromOldest() {
				all = append(all, r)
			}
		}
		if op.Responses.Default != nil {
			all = append(all, op.Responses.Default)
		}
	}
	paths, own, uses := map[string]bool{}, map[string]bool{}, map[refUse]bool{}
	jsonBodies, otherTypes := 0, map[string]bool{}
	rootScalar := false
	for _, r := range all {
		if r == nil || r.Content == nil {
			continue
		}
		for mt, media := range r.Content.FromOldest() {
			if !jsonMediaType(mt) {
				if mt == "*/*" && media != nil && media.Schema != nil {
					g.note(o.where(), "content type */* with a schema is read as JSON")
				} else {
					otherTypes[mt] = true
					continue
				}
			}
			jsonBodies++
			if media == nil || media.Schema == nil {
				g.note(o.where(), "a %s response has no schema: its fields are removed", mt)
				continue
			}
			res := g.schema.walk(o.where(), media.Schema)
			for _, p := range res.paths {
				paths[p] = true
			}
			for _, p := range res.own {
				own[p] = true
			}
			for _, u := range res.uses {
				uses[u] = true
			}
			o.shape.truncated = o.shape.truncated || res.truncated
			rootScalar = rootScalar || res.rootScalar
		}
	}
	if jsonBodies == 0 && len(otherTypes) > 0 {
		o.bypass = true
		g.note(o.where(), "returns only %s, which the JSON filter does not read: passed unfiltered", keys(otherTypes))
		return
	}
	if len(otherTypes) > 0 {
		g.note(o.where(), "also returns %s, which a filtered route refuses (non_json: deny): clients must ask for JSON", keys(otherTypes))
	}
	if rootScalar {
		if len(paths) == 0 {
			o.bypass = true
			g.note(o.where(), "returns a JSON scalar, which no allow path reaches: passed unfiltered")
			return
		}
		g.note(o.where(), "may return a JSON scalar, which the filter turns into null")
	}
	o.allow = sortedPaths(paths)
	o.shape.own = sortedPaths(own)
	for u := range uses {
		o.shape.uses = append(o.shape.uses, u)
	}
	sortUses(o.shape.uses)
}

func keys(m map[string]bool) string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, ", ")
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i] + " (…)"
	}
	return s
}

// write assembles the configuration.
func (g *generator) write(sec *securityIndex) error {
	sortOps(g.ops)
	var out bytes.Buffer
	cfg := document{}
	if sec.used() {
		jwt, err := g.jwtSection(sec)
		if err != nil {
			return err
		}
		cfg.JWT = jwt
		g.res.JWTRules = len(jwt.Rules)
	}
	cfg.ResponseFilter = g.responseSection()
	g.res.ResponseRules = len(cfg.ResponseFilter.Rules)
	enc := json.NewEncoder(&out)
	enc.SetEscapeHTML(false)
	if !g.opts.Compact {
		enc.SetIndent("", "  ")
	}
	if err := enc.Encode(cfg); err != nil {
		return fmt.Errorf("openapi: encode: %w", err)
	}
	g.res.Config = out.Bytes()
	g.noteSize(len(g.res.Config))
	return nil
}

// istioConfigBytes is etcd's default request limit (--max-request-bytes,
// etcd.io/docs/v3.5/dev-guide/limit), which bounds a Kubernetes object
// such as an Istio WasmPlugin and the pluginConfig it carries.
const istioConfigBytes = 3 << 19

// noteSize reports a configuration too large for where it must go: the
// plugin (settings.MaxDocumentBytes), or an Istio WasmPlugin.
func (g *generator) noteSize(n int) {
	switch {
	case n > settings.MaxDocumentBytes:
		g.note("document", "the configuration is %d bytes, over the plugin's bound of %d (settings.MaxDocumentBytes): validate refuses it and the plugin does not start; keep part of the API with -tags", n, settings.MaxDocumentBytes)
	case n > istioConfigBytes:
		g.note("document", "the configuration is %d bytes: an Istio WasmPlugin cannot carry it as pluginConfig (etcd refuses objects over 1.5 MiB by default); give it to Envoy as the Wasm configuration, or keep part of the API with -tags", n)
	}
}
