package validate

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"

	"github.com/apiguard/apiguard/internal/wasmhost"
)

// DryRun starts the configuration in wasmhost, the Envoy stand-in, with the
// compiled module: the configuration canary, then one worker VM, as Envoy
// does when the configuration arrives. It returns the error when the plugin
// refuses to start (with the plugin's own log lines), and the warnings the
// plugin logged while starting. Nothing is fetched: callouts to clusters
// are not configured, and the plugin makes none at start.
func DryRun(ctx context.Context, mod *wasmhost.Module, doc Document, logs *bytes.Buffer) (warnings []string, err error) {
	name := doc.Name
	if name == "" {
		name = "apiguard"
	}
	held := doc.StopIteration == nil || *doc.StopIteration // as envoy/envoy.yaml when unknown
	logs.Reset()
	p, startErr := mod.Start(ctx, wasmhost.PluginConfig{
		Name: name, RootID: name, VMID: name,
		Configuration:               doc.Data,
		Workers:                     1,
		AllowOnHeadersStopIteration: held,
	})
	for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
		// The canary and the worker log the same lines: report each once.
		if w := plainLog(line); strings.HasPrefix(line, "[wasm warn") && !slices.Contains(warnings, w) {
			warnings = append(warnings, w)
		}
	}
	if startErr != nil {
		var refusals []string
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			if strings.HasPrefix(line, "[wasm critical") || strings.HasPrefix(line, "[wasm error") {
				refusals = append(refusals, plainLog(line))
			}
		}
		if len(refusals) == 0 {
			return warnings, startErr
		}
		// wasmhost's error repeats the refusal: the plugin's lines suffice.
		return warnings, errors.New(strings.Join(refusals, "; "))
	}
	if p == nil {
		return warnings, errors.New("wasmhost started no plugin")
	}
	return warnings, p.Close()
}

// CompileModule compiles the plugin for DryRun; its log lines go to logs.
func CompileModule(ctx context.Context, wasm []byte, logs *bytes.Buffer) (*wasmhost.Module, error) {
	return wasmhost.Compile(ctx, wasm, wasmhost.Options{LogLevel: wasmhost.LogWarn, LogWriter: logs})
}

// plainLog drops wasmhost's "[wasm LEVEL] worker=N " prefix.
func plainLog(line string) string {
	if _, rest, ok := strings.Cut(line, "] "); ok {
		if _, msg, ok := strings.Cut(rest, " "); ok && strings.HasPrefix(rest, "worker=") {
			return msg
		}
		return rest
	}
	return line
}
