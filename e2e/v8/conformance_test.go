package v8

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apiguard/apiguard/e2e/conformance"
)

// kitMemoryCap is the linear-memory cap the kit runs V8 with, given to V8
// as cpp-host gives it (src/v8/v8.cc --wasm_max_mem_pages), below Envoy's
// 1 GiB so the memory cases stay cheap.
const kitMemoryCap = 512 << 20

// runtimeOnly is why host.mjs runs only the kit's runtime cases.
const runtimeOnly = "host.mjs is our own JS host: it buffers whole messages and does not model Envoy's " +
	"header-map lifetimes, callouts, streaming or local-reply details, so a host case would test host.mjs, not V8 or the guest"

// TestConformanceKitUnderV8 runs the conformance kit's runtime cases (the
// Go runtime, memory and its cap, traps, data crossing the ABI) under V8,
// the engine Envoy embeds, with cpp-host's V8 flags: on the newest host
// (cpp-host #533) with the guest as the stock Go toolchain builds it, and on
// Envoy 1.33's (poll_oneoff answering ENOSYS) with the toolchain patches
// apiguard ships with.
func TestConformanceKitUnderV8(t *testing.T) {
	nodeCommand(t)
	for _, profile := range []struct {
		envoy   string
		patched bool
	}{{"main", false}, {"1.33", true}} {
		t.Run(profile.envoy, func(t *testing.T) {
			conformance.Run(t, conformance.Host{
				Wasm:        conformance.BuildGuest(t, profile.patched),
				MemoryCap:   kitMemoryCap,
				RuntimeOnly: runtimeOnly,
				Start: func(t *testing.T, wasm, upstream string, clusters map[string]string) string {
					front, err := startFront(t, wasm, upstream, profile.envoy)
					if err != nil {
						t.Fatal(err)
					}
					return front
				},
			})
		})
	}
}

// A module importing what the Envoy profile lacks is refused, as Envoy
// refuses to link it: path_link and path_symlink exist only since cpp-host
// #533.
func TestFrontRefusesWhatEnvoyWouldNotLink(t *testing.T) {
	nodeCommand(t)
	wasm := conformance.BuildGuest(t, true, "pathlink")
	if _, err := startFront(t, wasm, "http://127.0.0.1:1", "1.33"); err == nil ||
		!strings.Contains(err.Error(), "wasi_snapshot_preview1.path_link") || !strings.Contains(err.Error(), "would not link") {
		t.Fatalf("got %v, want a refusal naming path_link", err)
	}
	front, err := startFront(t, wasm, "http://127.0.0.1:1", "main")
	if err != nil || front == "" {
		t.Fatalf("the newest profile refused it: %v", err)
	}
}

// startFront starts host.mjs as the kit's HTTP front and returns its URL.
func startFront(t *testing.T, wasm, upstream, envoy string) (string, error) {
	t.Helper()
	node, flags := nodeCommand(t)
	sc, err := json.Marshal(map[string]any{
		"wasm": wasm, "plugin_config": conformance.Config, "plugin_name": "conformance",
		"root_id": "conformance", "vm_id": "conformance", "envoy": envoy,
		"serve": map[string]string{"upstream": upstream},
	})
	if err != nil {
		t.Fatal(err)
	}
	scPath := filepath.Join(t.TempDir(), "scenario.json")
	if err := os.WriteFile(scPath, sc, 0o600); err != nil {
		t.Fatal(err)
	}
	// cpp-host src/v8/v8.cc: no Liftoff, and memory capped in pages.
	v8flags := []string{"--no-liftoff", fmt.Sprintf("--wasm-max-mem-pages=%d", kitMemoryCap/65536)}
	args := append(append(flags, v8flags...), filepath.Join(repoRoot(t), "e2e", "v8", "host.mjs"), scPath)
	cmd := exec.Command(node, args...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		return "", err
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("host.mjs stderr:\n%s", tail(stderr.String(), 4000))
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	var ready struct {
		Listening int    `json:"listening"`
		Trap      string `json:"trap"`
	}
	if err != nil || json.Unmarshal([]byte(line), &ready) != nil || ready.Listening == 0 {
		cmd.Process.Kill()
		cmd.Wait() // stderr is complete only once the process is gone
		return "", fmt.Errorf("host.mjs did not start serving (%v): %s\nstderr: %s", err, line, tail(stderr.String(), 4000))
	}
	return fmt.Sprintf("http://127.0.0.1:%d", ready.Listening), nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
