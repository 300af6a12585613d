// Command suggest-allowlist turns an exported response inventory into a
// proposed response_filter section:
//
//	go run ./internal/inventory/cmd/suggest-allowlist [--config FILE] [-o FILE] INVENTORY
//
// INVENTORY is devproxy's /apiguard/inventory document (a file, "-" for
// stdin, or the http:// URL itself) or an audit log holding inventory
// events. For each route whose requests the configuration selects (a
// response_inventory route or a jwt rule of that name) it proposes a rule
// allowing the fields seen, minus the sensitive ones: fields with a
// detected class or a secret-looking name are left out and listed for
// review, so today's leaks are not locked in. It prints a unified diff of
// the configuration (--config, default none) against the proposal and the
// review list, and writes the proposed configuration with -o. The proposal
// passes the same checks as `validate`; the command refuses to write one
// that does not.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/apiguard/apiguard/internal/inventory"
	"github.com/apiguard/apiguard/internal/settings"
	"github.com/apiguard/apiguard/internal/validate"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("suggest-allowlist", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "the current configuration (JSON); default: an empty one")
	outPath := fs.String("o", "", "write the proposed configuration to this file")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: suggest-allowlist [--config FILE] [-o FILE] INVENTORY (a file, - for stdin, or an http:// URL)")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	inv, err := readInventory(fs.Arg(0))
	if err != nil {
		fmt.Fprintln(stderr, "suggest-allowlist:", err)
		return 1
	}
	current := []byte("{}")
	if *configPath != "" {
		if current, err = os.ReadFile(*configPath); err != nil {
			fmt.Fprintln(stderr, "suggest-allowlist:", err)
			return 1
		}
	}
	p, err := propose(current, inv)
	if err != nil {
		fmt.Fprintln(stderr, "suggest-allowlist:", err)
		return 1
	}
	fmt.Fprint(stdout, unifiedDiff(orDefault(*configPath, "current"), orDefault(*outPath, "proposed"), p.before, p.after))
	for _, r := range p.review {
		if r.Path == "" {
			fmt.Fprintf(stdout, "review: route %s: %s\n", r.Route, r.Why)
		} else {
			fmt.Fprintf(stdout, "review: route %s: %s: %s\n", r.Route, r.Path, r.Why)
		}
	}
	for _, w := range p.warnings {
		fmt.Fprintf(stdout, "warning: %s\n", w)
	}
	if *outPath != "" {
		if err := os.WriteFile(*outPath, p.after, 0o644); err != nil {
			fmt.Fprintln(stderr, "suggest-allowlist:", err)
			return 1
		}
	}
	return 0
}

func orDefault(s, d string) string {
	if s == "" {
		return d
	}
	return s
}

// readInventory reads the inventory from a file, stdin or a URL.
func readInventory(src string) (inventory.Export, error) {
	var r io.Reader
	switch {
	case src == "-":
		r = os.Stdin
	case strings.HasPrefix(src, "http://") || strings.HasPrefix(src, "https://"):
		c := &http.Client{Timeout: 10 * time.Second}
		resp, err := c.Get(src)
		if err != nil {
			return inventory.Export{}, err
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return inventory.Export{}, fmt.Errorf("GET %s: %s", src, resp.Status)
		}
		r = resp.Body
	default:
		f, err := os.Open(src)
		if err != nil {
			return inventory.Export{}, err
		}
		defer f.Close()
		r = f
	}
	return inventory.ReadExport(r)
}

// proposal is the configuration before and after, both formatted alike so
// the diff shows only what changed.
type proposal struct {
	before, after []byte
	review        []inventory.ReviewItem
	warnings      []string
}

// propose merges the suggested rules into the configuration's
// response_filter: a route that already has a rule of its name keeps it;
// new rules go before the first catch-all rule (a match of {}), or last.
func propose(current []byte, inv inventory.Export) (proposal, error) {
	if _, err := settings.Parse(current); err != nil {
		return proposal{}, fmt.Errorf("the current configuration is invalid: %w", err)
	}
	var doc map[string]json.RawMessage
	if err := json.Unmarshal(current, &doc); err != nil {
		return proposal{}, err
	}
	if doc == nil {
		doc = map[string]json.RawMessage{}
	}
	before, err := format(doc)
	if err != nil {
		return proposal{}, err
	}
	matches := namedMatches(doc)
	sug := inventory.Suggest(inv, func(route string) (json.RawMessage, bool) {
		m, ok := matches[route]
		return m, ok
	})

	rf := map[string]json.RawMessage{}
	if raw, ok := doc["response_filter"]; ok {
		if err := json.Unmarshal(raw, &rf); err != nil {
			return proposal{}, err
		}
	}
	var rules []json.RawMessage
	if raw, ok := rf["rules"]; ok {
		if err := json.Unmarshal(raw, &rules); err != nil {
			return proposal{}, err
		}
	}
	have := map[string]bool{}
	at := len(rules)
	for i, raw := range rules {
		var r struct {
			Name  string          `json:"name"`
			Match json.RawMessage `json:"match"`
		}
		_ = json.Unmarshal(raw, &r)
		have[r.Name] = true
		if at == len(rules) && isCatchAll(r.Match) {
			at = i
		}
	}
	var add []json.RawMessage
	for _, r := range sug.Rules {
		if have[r.Name] {
			sug.Review = append(sug.Review, inventory.ReviewItem{Route: r.Name, Why: "response_filter already has a rule of this name; left as it is"})
			continue
		}
		b, err := json.Marshal(r)
		if err != nil {
			return proposal{}, err
		}
		add = append(add, b)
	}
	rules = append(rules[:at:at], append(add, rules[at:]...)...)
	if rf["rules"], err = json.Marshal(rules); err != nil {
		return proposal{}, err
	}
	if doc["response_filter"], err = json.Marshal(rf); err != nil {
		return proposal{}, err
	}
	after, err := format(doc)
	if err != nil {
		return proposal{}, err
	}
	// What validate checks: decoding with every error, then the lint.
	s, errs := settings.ParseAll(after)
	if len(errs) > 0 {
		return proposal{}, fmt.Errorf("the proposal would be invalid (a bug): %v", errs[0])
	}
	var warnings []string
	for _, w := range validate.Lint(s) {
		warnings = append(warnings, fmt.Sprintf("%s: %s [%s]", w.Path, w.Msg, w.Rule))
	}
	return proposal{before: before, after: after, review: sug.Review, warnings: warnings}, nil
}

// namedMatches maps route names to their matches: response_inventory routes
// first, then jwt rules (the names the inventory uses).
func namedMatches(doc map[string]json.RawMessage) map[string]json.RawMessage {
	out := map[string]json.RawMessage{}
	type named struct {
		Name  string          `json:"name"`
		Match json.RawMessage `json:"match"`
	}
	collect := func(raw json.RawMessage, key string) {
		var sec map[string]json.RawMessage
		if json.Unmarshal(raw, &sec) != nil {
			return
		}
		var list []named
		if json.Unmarshal(sec[key], &list) != nil {
			return
		}
		for i, r := range list {
			name := r.Name
			var m struct {
				PathTemplate string `json:"path_template"`
			}
			_ = json.Unmarshal(r.Match, &m)
			switch {
			case name != "":
			case key == "routes" && m.PathTemplate != "":
				name = m.PathTemplate // the inventory names such a route by its template
			default:
				name = fmt.Sprintf("route%d", i)
			}
			if _, ok := out[name]; !ok && r.Match != nil {
				out[name] = r.Match
			}
		}
	}
	collect(doc["response_inventory"], "routes")
	collect(doc["jwt"], "rules")
	return out
}

func isCatchAll(match json.RawMessage) bool {
	var m map[string]any
	return match == nil || json.Unmarshal(match, &m) == nil && len(m) == 0
}

// format writes doc with sorted keys and two-space indentation.
func format(doc map[string]json.RawMessage) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, errors.Join(errors.New("format the configuration"), err)
	}
	return buf.Bytes(), nil
}
