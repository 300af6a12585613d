package wasmhost

import (
	"testing"
)

func TestLogLevelFiltersAndIsReported(t *testing.T) {
	p := startConformance(t, Options{LogLevel: LogInfo}, conformanceConfig("plain"))
	do(t, p, echoUpstream, "GET", "/", "")
	if len(p.LogsAt(LogDebug)) != 0 {
		t.Fatalf("debug lines captured below the level: %q", p.LogsAt(LogDebug))
	}
	if !hasLog(p, LogInfo, "response status=200") {
		t.Fatalf("info lines missing: %q", p.LogsAt(LogInfo))
	}
}
