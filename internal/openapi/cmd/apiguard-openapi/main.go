// Command apiguard-openapi writes apiguard configuration from an OpenAPI 3.0
// or 3.1 description (JSON or YAML):
//
//	go run ./internal/openapi/cmd/apiguard-openapi [-o FILE] [-providers FILE]
//	    [-base-path PATH] [-scope-claim NAME] [-tags A,B] [-compact]
//	    [-report FILE] DESCRIPTION
//
// The output holds a response_filter rule per operation, allowing exactly
// the properties its response schemas declare, and jwt rules from its
// security requirements (OAuth2, OpenID Connect and bearer schemes), each
// selected by path_template and method. What the configuration cannot
// express is listed in the report (stderr by default), one line each, so a
// reviewer reads it before applying the output; check the output with
// `validate` (make validate CONFIG=FILE).
//
// -providers names a JSON object of jwt providers by security scheme name,
// e.g. {"petstore_auth": {"issuer": "...", "remote_jwks": {...}}}: an OAuth2
// or bearer scheme says how clients get tokens, not who signs them.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/apiguard/apiguard/internal/openapi"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// Exit codes.
const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
)

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("apiguard-openapi", flag.ContinueOnError)
	fs.SetOutput(stderr)
	out := fs.String("o", "", "write the configuration to FILE (default: stdout)")
	report := fs.String("report", "", "write the report to FILE (default: stderr)")
	providers := fs.String("providers", "", "a JSON file of jwt providers by security scheme name")
	basePath := fs.String("base-path", "", "put every path under PATH (default: the path of the first server URL)")
	scopeClaim := fs.String("scope-claim", "scope", "the claim that carries OAuth2 scopes")
	tags := fs.String("tags", "", "keep only the operations with one of these comma-separated tags")
	compact := fs.Bool("compact", false, "write the configuration without indentation")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: apiguard-openapi [-o FILE] [-report FILE] [-providers FILE] [-base-path PATH] [-scope-claim NAME] [-tags A,B] [-compact] DESCRIPTION")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return exitUsage
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return exitUsage
	}
	opts := openapi.Options{ScopeClaim: *scopeClaim, Compact: *compact}
	if *tags != "" {
		opts.Tags = strings.Split(*tags, ",")
	}
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "base-path" {
			opts.BasePath = basePath
		}
	})
	if *providers != "" {
		b, err := os.ReadFile(*providers)
		if err == nil {
			err = json.Unmarshal(b, &opts.Providers)
		}
		if err != nil {
			fmt.Fprintf(stderr, "apiguard-openapi: -providers %s: %v\n", *providers, err)
			return exitError
		}
	}
	spec, err := os.ReadFile(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "apiguard-openapi:", err)
		return exitError
	}
	res, err := openapi.Generate(spec, opts)
	if err != nil {
		fmt.Fprintln(stderr, "apiguard-openapi:", err)
		if errors.Is(err, openapi.ErrNeedsProvider) {
			fmt.Fprintln(stderr, "apiguard-openapi: pass -providers FILE with an entry for each scheme")
		}
		return exitError
	}
	rw := stderr
	if *report != "" {
		f, err := os.Create(*report)
		if err != nil {
			fmt.Fprintln(stderr, "apiguard-openapi:", err)
			return exitError
		}
		defer f.Close()
		rw = f
	}
	for _, f := range res.Findings {
		fmt.Fprintln(rw, f)
	}
	w := stdout
	if *out != "" {
		if err := os.WriteFile(*out, res.Config, 0o644); err != nil {
			fmt.Fprintln(stderr, "apiguard-openapi:", err)
			return exitError
		}
	} else if _, err := w.Write(res.Config); err != nil {
		fmt.Fprintln(stderr, "apiguard-openapi:", err)
		return exitError
	}
	fmt.Fprintf(stderr, "apiguard-openapi: %d operations: %d response_filter rules (%d named allowlists), %d jwt rules, %d bytes; %d findings\n",
		res.Operations, res.ResponseRules, res.Allowlists, res.JWTRules, len(res.Config), len(res.Findings))
	return exitOK
}
