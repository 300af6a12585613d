package openapie2e

import (
	"bytes"
	"context"
	"encoding/json"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tetratelabs/wazero"

	"github.com/apiguard/apiguard/internal/openapi"
	"github.com/apiguard/apiguard/internal/perfscenario"
	"github.com/apiguard/apiguard/internal/route"
)

// gitHub is GitHub's description and its generated configuration, read
// once for the tests and benchmarks that need them.
var gitHub struct {
	once   sync.Once
	err    error
	res    *openapi.Result
	took   time.Duration       // Generate's time
	paths  []string            // the description's paths, base path included
	ops    map[string][]string // path -> upper-case methods
	jwt    []route.Match       // the jwt rules' matches, in order
	filter []route.Match       // the response_filter rules' matches, in order
}

func loadGitHub(tb testing.TB) {
	tb.Helper()
	gitHub.once.Do(func() {
		spec, err := os.ReadFile(githubDescription)
		if err != nil {
			gitHub.err = err
			return
		}
		began := time.Now()
		res, err := openapi.Generate(spec, openapi.Options{Compact: true})
		gitHub.took = time.Since(began)
		if err != nil {
			gitHub.err = err
			return
		}
		var desc struct {
			Paths map[string]map[string]json.RawMessage `json:"paths"`
		}
		if err := json.Unmarshal(spec, &desc); err != nil {
			gitHub.err = err
			return
		}
		gitHub.ops = map[string][]string{}
		for p, item := range desc.Paths {
			full := res.BasePath + p
			gitHub.paths = append(gitHub.paths, full)
			for m := range item {
				switch m {
				case "get", "put", "post", "delete", "options", "head", "patch", "trace":
					gitHub.ops[full] = append(gitHub.ops[full], strings.ToUpper(m))
				}
			}
		}
		sort.Strings(gitHub.paths)
		var doc struct {
			JWT struct {
				Rules []struct {
					Match route.Match `json:"match"`
				} `json:"rules"`
			} `json:"jwt"`
			ResponseFilter struct {
				Rules []struct {
					Match route.Match `json:"match"`
				} `json:"rules"`
			} `json:"response_filter"`
		}
		if err := json.Unmarshal(res.Config, &doc); err != nil {
			gitHub.err = err
			return
		}
		for _, r := range doc.JWT.Rules {
			gitHub.jwt = append(gitHub.jwt, r.Match)
		}
		for _, r := range doc.ResponseFilter.Rules {
			gitHub.filter = append(gitHub.filter, r.Match)
		}
		gitHub.res = res
	})
	if os.IsNotExist(gitHub.err) {
		tb.Skipf("%s is not installed: run `npm ci` in e2e/openapi (.ci/run does)", githubDescription)
	}
	if gitHub.err != nil {
		tb.Fatal(gitHub.err)
	}
}

func compileAll(tb testing.TB, ms []route.Match) []*route.Matcher {
	tb.Helper()
	out := make([]*route.Matcher, len(ms))
	for i, m := range ms {
		c, err := route.Compile(m)
		if err != nil {
			tb.Fatalf("rule %d: %v", i, err)
		}
		out[i] = c
	}
	return out
}

var templateVar = regexp.MustCompile(`\{[^}]*\}`)

// requestPaths turns a description path into request paths: its variables
// filled with values like GitHub's (names, numbers, a ref with a dot, a
// name that equals a literal elsewhere), in upper case, and with a
// trailing slash, each kept only if it is canonical.
func requestPaths(r *rand.Rand, p string) []string {
	values := []string{"octocat", "42", "Hello-World", "v1.2.3", "me", "pulls", "main", "a%2Fb"}
	fill := templateVar.ReplaceAllStringFunc(p, func(string) string { return values[r.IntN(len(values))] })
	var out []string
	for _, c := range []string{fill, strings.ToUpper(fill), fill + "/", p} {
		judged, _, err := route.CanonicalPath(c, route.PathRefuse)
		if err == nil {
			out = append(out, judged)
		}
	}
	return out
}

// The index selects the same jwt and response_filter rule as the linear
// scan, and finds the same ambiguity over every rule, on GitHub's whole
// configuration and every path of its description.
func TestGitHubRouteIndexSelectsTheLinearFirstMatch(t *testing.T) {
	loadGitHub(t)
	jwt, filter := compileAll(t, gitHub.jwt), compileAll(t, gitHub.filter)
	all := append(append([]*route.Matcher(nil), jwt...), filter...)
	jwtIndex, filterIndex, allIndex := route.NewIndex(jwt), route.NewIndex(filter), route.NewIndex(all)
	linear := func(ms []*route.Matcher, req *route.Request) int {
		for i, m := range ms {
			if m.Matches(req) {
				return i
			}
		}
		return -1
	}
	r := rand.New(rand.NewPCG(14, 1131))
	checked, selected := 0, 0
	for _, p := range gitHub.paths {
		for range 3 {
			for _, path := range requestPaths(r, p) {
				if got, want := allIndex.AnyAmbiguous(path), route.AnyAmbiguous(all, path); got != want {
					t.Errorf("AnyAmbiguous(%q) = %v, want %v", path, got, want)
				}
				for _, method := range append([]string{"GET", "HEAD", "PROPFIND"}, gitHub.ops[p]...) {
					req := &route.Request{Method: method, Path: path}
					checked++
					if got, want := filterIndex.First(req), linear(filter, req); got != want {
						t.Errorf("response_filter: %s %s: index %d, linear %d", method, path, got, want)
					} else if got < len(filter)-1 {
						selected++ // a rule other than the catch-all
					}
					if got, want := jwtIndex.First(req), linear(jwt, req); got != want {
						t.Errorf("jwt: %s %s: index %d, linear %d", method, path, got, want)
					}
				}
			}
		}
	}
	t.Logf("%d jwt and %d response_filter rules, %d description paths, %d requests checked, %d selected an operation's rule",
		len(jwt), len(filter), len(gitHub.paths), checked, selected)
	if selected < checked/3 { // PROPFIND and undeclared methods select the catch-all
		t.Errorf("only %d of %d requests selected an operation's rule: the paths do not exercise the rules", selected, checked)
	}
}

// BenchmarkGitHubRouteSelection measures what every request pays on the
// whole GitHub configuration: the canonical-path guard's ambiguity check
// over every rule, then the first response_filter match, for paths early,
// in the middle and near the end of the list, natively; "linear" is the
// scan every policy used before route.Index, "index" what they use now.
func BenchmarkGitHubRouteSelection(b *testing.B) {
	loadGitHub(b)
	ms := compileAll(b, gitHub.filter)
	x := route.NewIndex(ms)
	runtime.GC() // the description's model is garbage now: keep GC cycles cheap
	for _, path := range []string{"/zen", "/repos/octocat/hello-world/pulls/42/comments", "/users/octocat"} {
		req := &route.Request{Method: "GET", Path: path}
		if x.First(req) == len(ms)-1 {
			b.Fatalf("%s selects the catch-all", path)
		}
		name := strings.ReplaceAll(path, "/", "_")
		b.Run(name+"/linear", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if route.AnyAmbiguous(ms, path) {
					b.Fatal("ambiguous")
				}
				for _, m := range ms {
					if m.Matches(req) {
						break
					}
				}
			}
		})
		b.Run(name+"/index", func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if x.AnyAmbiguous(path) {
					b.Fatal("ambiguous")
				}
				x.First(req)
			}
		})
	}
	b.Logf("%d rules", len(ms))
}

// BenchmarkGitHubRouteSelectionCompiled runs internal/route/cmd/routebench,
// built for wasip1, on GitHub's rules under wazero and, when node is on
// PATH, under V8: the linear scan against the index, compiled, as the
// plugin runs them. It logs each engine's lines and reports the ratios.
func BenchmarkGitHubRouteSelectionCompiled(b *testing.B) {
	loadGitHub(b)
	ctx := context.Background()
	cmd, err := perfscenario.BuildWASICommand(ctx, "./internal/route/cmd/routebench", b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	defer cmd.Runtime.Close(ctx)
	input, err := json.Marshal(map[string]any{"rules": gitHub.filter,
		"paths": []string{"/zen", "/repos/octocat/hello-world/pulls/42/comments", "/users/octocat"}})
	if err != nil {
		b.Fatal(err)
	}
	ratios := func(engine, out string) {
		b.Logf("%s:\n%s", engine, out)
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 7 {
				if r, err := strconv.ParseFloat(f[6], 64); err == nil {
					b.ReportMetric(r, "x-"+engine+strings.ReplaceAll(f[0], "/", "_"))
				}
			}
		}
	}
	for b.Loop() {
		var out bytes.Buffer
		cfg := wazero.NewModuleConfig().WithStdin(bytes.NewReader(input)).WithStdout(&out).WithStderr(&out).
			WithSysNanotime().WithSysWalltime().WithName("").WithArgs("routebench")
		m, err := cmd.Runtime.InstantiateModule(ctx, cmd.Module, cfg)
		if err != nil {
			b.Fatalf("wazero: %v\n%s", err, out.String())
		}
		m.Close(ctx)
		ratios("wazero", out.String())
		if node, err := exec.LookPath("node"); err == nil {
			run := exec.Command(node, "--no-warnings", filepath.Join(cmd.Root, "internal/respfilter/wasmbench/run-wasi.mjs"), cmd.Path)
			run.Stdin = bytes.NewReader(input)
			nodeOut, err := run.Output()
			if err != nil {
				b.Fatalf("node: %v\n%s", err, nodeOut)
			}
			ratios("v8", string(nodeOut))
		}
	}
	b.ReportMetric(0, "ns/op")
}
