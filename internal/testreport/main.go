// Command testreport runs `go test -json` with the given arguments, prints
// what plain `go test` prints (a line per package, the output of failing
// tests, build errors), and ends with every skipped test and the reason it
// gave, so that a suite skipped for a missing tool (redis-server,
// envoyproxy/ratelimit, envoy, node) never passes unnoticed. It exits with
// go test's status.
//
//	go run ./internal/testreport -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	goTool := os.Getenv("GO")
	if goTool == "" {
		goTool = "go"
	}
	cmd := exec.Command(goTool, append([]string{"test", "-json"}, args...)...)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(stderr, "testreport:", err)
		return 2
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(stderr, "testreport:", err)
		return 2
	}
	skips := report(out, stdout)
	status := 0
	if err := cmd.Wait(); err != nil {
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintln(stderr, "testreport:", err)
			return 2
		}
		status = ee.ExitCode()
	}
	summarize(skips, stdout)
	return status
}

// event is one line of test2json's output (go doc test2json).
type event struct {
	Action  string
	Package string
	Test    string
	Output  string
}

// Skip is a skipped test and the reason it logged.
type Skip struct {
	Package, Test, Reason string
}

// report copies the useful part of a go test -json stream to w and returns
// the skipped tests.
func report(r io.Reader, w io.Writer) []Skip {
	var skips []Skip
	outputs := map[string][]string{} // package + test -> output lines
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil {
			fmt.Fprintln(w, sc.Text()) // not an event: show it as is
			continue
		}
		key := e.Package + " " + e.Test
		switch {
		case e.Action == "build-output":
			fmt.Fprint(w, e.Output)
		case e.Test == "":
			// Package-level lines: "ok  pkg 1.2s", "FAIL", "?  pkg [no test
			// files]", and output printed outside any test (TestMain).
			if e.Action == "output" && !strings.HasPrefix(e.Output, "=== ") && !strings.HasPrefix(e.Output, "PASS") {
				fmt.Fprint(w, e.Output)
			}
		case e.Action == "output":
			outputs[key] = append(outputs[key], e.Output)
		case e.Action == "fail":
			for _, l := range outputs[key] {
				fmt.Fprint(w, l)
			}
			delete(outputs, key)
		case e.Action == "skip":
			skips = append(skips, Skip{Package: e.Package, Test: e.Test, Reason: skipReason(outputs[key])})
			delete(outputs, key)
		case e.Action == "pass":
			delete(outputs, key)
		}
	}
	return skips
}

// skipReason is what a skipped test logged, without the framing lines.
func skipReason(lines []string) string {
	var reason []string
	for _, l := range lines {
		t := strings.TrimSpace(l)
		if t == "" || strings.HasPrefix(t, "=== ") || strings.HasPrefix(t, "--- SKIP") {
			continue
		}
		// "file_test.go:41: message" -> "message"
		if i := strings.Index(t, ".go:"); i > 0 && !strings.Contains(t[:i], " ") {
			if j := strings.Index(t[i+4:], ": "); j >= 0 {
				t = t[i+4+j+2:]
			}
		}
		reason = append(reason, t)
	}
	if len(reason) == 0 {
		return "no reason given"
	}
	return strings.Join(reason, " ")
}

// summarize prints every skipped test, sorted, or says there was none.
func summarize(skips []Skip, w io.Writer) {
	if len(skips) == 0 {
		fmt.Fprintln(w, "skipped: none")
		return
	}
	sort.Slice(skips, func(i, j int) bool {
		if skips[i].Package != skips[j].Package {
			return skips[i].Package < skips[j].Package
		}
		return skips[i].Test < skips[j].Test
	})
	fmt.Fprintf(w, "skipped: %d tests\n", len(skips))
	for _, s := range skips {
		fmt.Fprintf(w, "  SKIP %s %s: %s\n", strings.TrimPrefix(s.Package, "github.com/apiguard/apiguard/"), s.Test, s.Reason)
	}
}
