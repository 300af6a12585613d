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
	if n := strings.Count(prom, `version="`); n != 1 {
		t.Errorf("%d series carry a version label, want the build_info gauge alone", n)
	}
}
