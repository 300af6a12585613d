package telemetry

import (
	"os"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// The build stamps the VERSION file into the module: it is logged at start
// and exported once, as apiguard_build_info{version} = 1 whatever the number
// of workers, and appears as a label on no other metric.
func TestVersionLoggedAndExportedOnce(t *testing.T) {
	raw, err := os.ReadFile("../../VERSION")
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(raw))
	e := start(t, "", 100, 4, nil)

	logged := false
	for _, l := range e.p.LogsAt(wasmhost.LogInfo) {
		if strings.HasPrefix(l, "apiguard "+version+": configured instance") {
			logged = true
		}
	}
	if !logged {
		t.Errorf("no start line names version %s: %q", version, e.p.LogsAt(wasmhost.LogInfo))
	}

	prom := e.prometheus(t)
	want := `apiguard_build_info{apiguard_instance="` + e.instance + `",version="` + version + `"} 1`
	if !strings.Contains(prom, want+"\n") {
		t.Errorf("Prometheus output lacks %s", want)
	}
	// Other tests of this binary share the metric store: count this
	// instance's series, and check that every version label anywhere is on
	// build_info.
	lines := versionLines(prom)
	if n := strings.Count(lines, `apiguard_instance="`+e.instance+`"`); n != 1 {
		t.Errorf("%d series of this instance carry a version label, want the build_info gauge alone:\n%s", n, lines)
	}
	for _, l := range strings.Split(lines, "\n") {
		if !strings.HasPrefix(l, "apiguard_build_info{") {
			t.Errorf("a version label on another metric: %s", l)
		}
	}
}

func versionLines(prom string) string {
	var out []string
	for _, l := range strings.Split(prom, "\n") {
		if strings.Contains(l, `version="`) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
