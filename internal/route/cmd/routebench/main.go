// Command routebench times rule selection on a rule list read from stdin,
// the linear scan against route.Index, so the ratio can be measured where
// the plugin runs: build it for WASI and run it under wazero or Node (V8),
// as e2e/openapi's BenchmarkGitHubRouteSelectionCompiled does with GitHub's
// generated config.
//
//	GOOS=wasip1 GOARCH=wasm go build -o build/routebench.wasm ./internal/route/cmd/routebench
//	node --no-warnings internal/respfilter/wasmbench/run-wasi.mjs build/routebench.wasm < input.json
//
// The input is {"rules": [match, ...], "paths": ["/zen", ...]}. Each
// selection is what a request pays: the ambiguity check over every rule,
// then the first rule that matches a GET. For each path it prints the
// median ns per selection of each way over interleaved rounds, and their
// ratio: "PATH linear NS index NS ratio R".
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"github.com/apiguard/apiguard/internal/route"
)

func main() {
	round := flag.Duration("round", 100*time.Millisecond, "measuring time of one round of one way")
	rounds := flag.Int("rounds", 5, "rounds per path; each runs both ways")
	flag.Parse()
	if err := run(os.Stdin, os.Stdout, *round, *rounds); err != nil {
		fmt.Fprintln(os.Stderr, "routebench:", err)
		os.Exit(1)
	}
}

func run(in io.Reader, out io.Writer, round time.Duration, rounds int) error {
	var input struct {
		Rules []route.Match `json:"rules"`
		Paths []string      `json:"paths"`
	}
	if err := json.NewDecoder(in).Decode(&input); err != nil {
		return fmt.Errorf("read input: %w", err)
	}
	ms := make([]*route.Matcher, len(input.Rules))
	for i, m := range input.Rules {
		c, err := route.Compile(m)
		if err != nil {
			return fmt.Errorf("rules[%d]: %w", i, err)
		}
		ms[i] = c
	}
	x := route.NewIndex(ms)
	for _, path := range input.Paths {
		req := &route.Request{Method: "GET", Path: path}
		linear := func() int {
			if route.AnyAmbiguous(ms, path) {
				return -2
			}
			for i, m := range ms {
				if m.Matches(req) {
					return i
				}
			}
			return -1
		}
		indexed := func() int {
			if x.AnyAmbiguous(path) {
				return -2
			}
			return x.First(req)
		}
		if a, b := linear(), indexed(); a != b {
			return fmt.Errorf("%s: linear selects %d, the index %d", path, a, b)
		}
		var ls, is []float64
		for range rounds {
			ls = append(ls, nsPer(linear, round))
			is = append(is, nsPer(indexed, round))
		}
		l, i := median(ls), median(is)
		fmt.Fprintf(out, "%s linear %.0f index %.0f ratio %.1f\n", path, l, i, l/i)
	}
	return nil
}

// nsPer runs f for about d and returns the time per call.
func nsPer(f func() int, d time.Duration) float64 {
	n := 0
	start := time.Now()
	for {
		for range 16 {
			f()
		}
		n += 16
		if el := time.Since(start); el >= d {
			return float64(el.Nanoseconds()) / float64(n)
		}
	}
}

func median(v []float64) float64 {
	slices.Sort(v)
	return v[len(v)/2]
}
