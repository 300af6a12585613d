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
	for _, w := range Lint(s) {
		line, col := config.Locate(doc.Data, w.Path)
		out = append(out, Finding{Severity: SeverityWarning, Path: w.Path, Line: line, Column: col, Msg: w.Msg, Fix: w.Fix, Rule: w.Rule})
	}
	slices.SortStableFunc(out, func(a, b Finding) int {
		return cmp.Or(cmp.Compare(a.Line, b.Line), cmp.Compare(a.Column, b.Column))
	})
	return out
}
