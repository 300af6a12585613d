// Command validate checks apiguard configurations before they reach Envoy:
//
//	go run ./internal/validate/cmd/validate [--dry-run] [--strict] FILE...
//	make validate CONFIG=FILE
//
// A FILE is a configuration (JSON), an Envoy bootstrap or Istio EnvoyFilter
// holding the apiguard Wasm filter, or an Istio WasmPlugin; every
// configuration found in it is checked. It prints every error (syntax with
// line and column, wrong types and unknown or missing keys with their JSON
// path), then warnings with a suggested fix, and exits 1 when there is an
// error (or, with --strict, a warning). --dry-run also starts each
// configuration in wasmhost with the compiled module (--wasm), so whatever
// the plugin would refuse in Envoy is refused here. --schema prints the
// configuration's JSON Schema.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"

	"github.com/apiguard/apiguard/internal/config"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/validate"
	"github.com/apiguard/apiguard/internal/wasmhost"
)

func main() {
	os.Exit(run(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK      = 0
	exitInvalid = 1
	exitUsage   = 2
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("validate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dryRun := fs.Bool("dry-run", false, "also start each configuration in wasmhost with the compiled module")
	wasm := fs.String("wasm", "build/apiguard.wasm", "the compiled module, for --dry-run (make build)")
	strict := fs.Bool("strict", false, "exit 1 on warnings too")
	schema := fs.Bool("schema", false, "print the configuration's JSON Schema (draft 2020-12) and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: validate [--dry-run [--wasm FILE]] [--strict] FILE...\n       validate --schema")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if *schema {
		s, err := settings.Schema()
		if err == nil {
			var b []byte
			if b, err = config.MarshalSchema(s); err == nil {
				_, err = stdout.Write(b)
			}
		}
		if err != nil {
			fmt.Fprintln(stderr, "validate:", err)
			return exitUsage
		}
		return exitOK
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return exitUsage
	}

	var mod *wasmhost.Module
	var logs bytes.Buffer
	if *dryRun {
		code, err := os.ReadFile(*wasm)
		if err != nil {
			fmt.Fprintf(stderr, "validate: --dry-run needs the compiled module: %v (run make build)\n", err)
			return exitUsage
		}
		if mod, err = validate.CompileModule(ctx, code, &logs); err != nil {
			fmt.Fprintf(stderr, "validate: %s: %v\n", *wasm, err)
			return exitUsage
		}
		defer mod.Close(ctx)
	}

	status := exitOK
	for _, file := range fs.Args() {
		data, err := os.ReadFile(file)
		if err != nil {
			fmt.Fprintln(stderr, "validate:", err)
			status = max(status, exitUsage)
			continue
		}
		docs, err := validate.Extract(data)
		if err != nil {
			fmt.Fprintf(stdout, "%s: error: %v\n", file, err)
			status = max(status, exitInvalid)
			continue
		}
		for _, doc := range docs {
			r := report{file: file, doc: doc, out: stdout}
			for _, f := range validate.Check(doc) {
				r.print(f)
			}
			if mod != nil && r.errors == 0 {
				warnings, err := validate.DryRun(ctx, mod, doc, &logs)
				for _, w := range warnings {
					r.print(validate.Finding{Severity: validate.SeverityWarning, Msg: "the plugin warned at start: " + w, Rule: "dry-run"})
				}
				if err != nil {
					r.print(validate.Finding{Severity: validate.SeverityError, Msg: "the plugin refused to start: " + err.Error()})
				}
			}
			r.summary(*dryRun)
			if r.errors > 0 || (*strict && r.warnings > 0) {
				status = max(status, exitInvalid)
			}
		}
	}
	return status
}

// report prints the findings of one document.
type report struct {
	file             string
	doc              validate.Document
	out              io.Writer
	errors, warnings int
}

func (r *report) where() string {
	if r.doc.Where == "" {
		return r.file
	}
	return r.file + " (" + r.doc.Where + ")"
}

// print writes "FILE:LINE:COL: SEVERITY: PATH: MSG", with the position in
// the file even for a configuration embedded in YAML when the file can say,
// then the fix.
func (r *report) print(f validate.Finding) {
	if f.Severity == validate.SeverityError {
		r.errors++
	} else {
		r.warnings++
	}
	loc := r.where()
	if line, col, ok := r.doc.FilePosition(f.Path, f.Key, f.Line, f.Column); ok {
		loc = fmt.Sprintf("%s:%d:%d", r.file, line, col)
	} else if f.Line > 0 && !r.doc.Reencoded {
		loc = fmt.Sprintf("%s, line %d, column %d of the embedded configuration", loc, f.Line, f.Column)
	}
	path := f.Path
	if path != "" {
		path += ": "
	}
	rule := ""
	if f.Rule != "" {
		rule = " [" + f.Rule + "]"
	}
	fmt.Fprintf(r.out, "%s: %s: %s%s%s\n", loc, f.Severity, path, f.Msg, rule)
	if f.Fix != "" {
		fmt.Fprintf(r.out, "    fix: %s\n", f.Fix)
	}
}

func (r *report) summary(dryRun bool) {
	switch {
	case r.errors > 0:
		fmt.Fprintf(r.out, "%s: %s, %s\n", r.where(), plural(r.errors, "error"), plural(r.warnings, "warning"))
	case dryRun:
		fmt.Fprintf(r.out, "%s: valid, and the plugin starts with it (%s)\n", r.where(), plural(r.warnings, "warning"))
	default:
		fmt.Fprintf(r.out, "%s: valid (%s)\n", r.where(), plural(r.warnings, "warning"))
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}
