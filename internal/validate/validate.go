// Package validate checks apiguard configurations the way the plugin will
// read them, before they reach Envoy: what Envoy's `--mode validate` and
// `istioctl analyze` do for their own configuration. It reports every
// decoding error (syntax with line and column, types and unknown or missing
// keys with their JSON path), lints configurations the plugin accepts but
// that weaken a protection, and can start the configuration in wasmhost
// (DryRun) so that whatever the plugin refuses at start is refused here.
//
// Its command is internal/validate/cmd/validate (`make validate`).
package validate

import (
	"cmp"
	"slices"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/respfilter"
	"github.com/apiguard/apiguard/internal/settings"
)

// Severity of a Finding.
type Severity string

// Severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Finding is one error or warning about a Document.
type Finding struct {
	Severity Severity
	// Path is the dotted JSON path ("jwt.providers.corp.issuer"); "" is the
	// document itself.
	Path string
	// Line and Column locate it in the Document's Data (1-based, bytes); 0
	// when unknown.
	Line, Column int
	// Key is true when the finding is about the key at Path (unknown,
	// duplicate), not its value.
	Key  bool
	Msg  string
	Fix  string // warnings: what to change
	Rule string // warnings: the lint rule's name
}

// Check decodes doc as the plugin would, and lints it when it decodes.
// Errors come first, then warnings, each in document order.
func Check(doc Document) []Finding {
	s, errs := settings.ParseAll(doc.Data)
	var out []Finding
	for _, e := range errs {
		out = append(out, Finding{Severity: SeverityError, Path: e.Path, Line: e.Line, Column: e.Column, Key: e.Key, Msg: e.Msg})
	}
	if len(errs) > 0 {
		return out
	}
	out = append(out, checkHost(doc, s)...)
	for _, w := range Lint(s) {
		line, col := config.Locate(doc.Data, w.Path)
		out = append(out, Finding{Severity: SeverityWarning, Path: w.Path, Line: line, Column: col, Msg: w.Msg, Fix: w.Fix, Rule: w.Rule})
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return out
}

// checkHost checks the configuration against what the input says of the
// Envoy that runs it. headers_mode "held" pauses the response headers; an
// Envoy that does not hold them (no allow_on_headers_stop_iteration, which
// an Istio WasmPlugin cannot set) then never hands over the body, and every
// filtered response ends with the route timeout: an error, though the
// plugin starts.
func checkHost(doc Document, s *settings.Settings) []Finding {
	rf := s.ResponseFilter
	if doc.StopIteration == nil || rf == nil || len(rf.Rules) == 0 {
		return nil
	}
	held := rf.HeadersMode == "" || rf.HeadersMode == respfilter.HeadersHeld
	path := "response_filter.headers_mode"
	line, col := config.Locate(doc.Data, path)
	switch {
	case held && !*doc.StopIteration:
		return []Finding{{Severity: SeverityError, Path: path, Line: line, Column: col, Rule: "held-without-stop-iteration",
			Msg: `"held" (the default) needs Envoy to hold the response headers, which this filter does not ask for (allow_on_headers_stop_iteration; an Istio WasmPlugin cannot set it): every filtered response would wait for the route timeout (504)`,
			Fix: `set "headers_mode": "streamed", or run the filter with allow_on_headers_stop_iteration: true (on Istio: envoy/istio/envoyfilter-stop-iteration.yaml)`}}
	case !held && *doc.StopIteration:
		return []Finding{{Severity: SeverityWarning, Path: path, Line: line, Column: col, Rule: "streamed-with-stop-iteration",
			Msg: `"streamed" while Envoy holds the response headers: a failure found in the body replaces it under the status already sent, where "held" could answer 502`,
			Fix: `set "headers_mode": "held"`}}
	}
	return nil
}
