// Package wasmbuild compiles a package of this module into a Proxy-Wasm
// module with the standard Go toolchain, putting the sdkabi files into a
// private copy of the SDK first and patching the Go runtime so the module
// runs on Envoy 1.33 and later (goroot.go). The Makefile (through cmd/wasmbuild) and the
// tests that need the compiled plugin share this one implementation, so they
// always test the artefact that ships.
package wasmbuild

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
)

// SDKModule is the module whose host calls sdkabi replaces.
const SDKModule = "github.com/tetratelabs/proxy-wasm-go-sdk"

// buildTag selects the sdkabi files; nothing else in the repository uses it.
const buildTag = "apiguard_sdkabi"

// mockFile is the SDK's in-process host-call mock, compiled under !tinygo.
// It is replaced by sdkabi's hostcalls.go.
const mockFile = "proxywasm/internal/abi_hostcalls_mock.go"

// Options says what to build and where.
type Options struct {
	// Root is the module root (the directory holding go.mod).
	Root string
	// Package is the import path or ./relative path of the package main.
	Package string
	// Output is the .wasm file to write.
	Output string
	// Stderr receives the go tool's output; nil discards it into the error.
	Stderr *bytes.Buffer
	// Version is stamped into the package main's `version` variable
	// (-ldflags -X main.version=...); empty means the VERSION file at Root.
	Version string
	// StockRuntime builds without the Go toolchain patches of goroot.go,
	// as every build did before them. Only the tests that show what the
	// patches fix use it; the shipped module always has them.
	StockRuntime bool
	// Tags are build tags added to the build's own (apiguard_sdkabi), for
	// test-only builds such as apiguard_testexport.
	Tags []string
}

// versionPattern keeps the version one token a log line, a metric name and
// an OCI tag can carry.
var versionPattern = regexp.MustCompile(`^[0-9A-Za-z][0-9A-Za-z.+_-]{0,63}$`)

// version returns the version to stamp: opts.Version, else the VERSION file.
func (opts Options) version() (string, error) {
	v := opts.Version
	if v == "" {
		b, err := os.ReadFile(filepath.Join(opts.Root, "VERSION"))
		if err != nil {
			return "", fmt.Errorf("wasmbuild: version: %w", err)
		}
		v = strings.TrimSpace(string(b))
	}
	if !versionPattern.MatchString(v) {
		return "", fmt.Errorf("wasmbuild: version %q: want 1-64 of [0-9A-Za-z.+_-], starting with a letter or digit", v)
	}
	return v, nil
}

// Build prepares build/sdk and build/wasm.mod under Root and compiles the
// package. Concurrent callers (parallel test binaries) are serialised by a
// lock file in build/.
func Build(opts Options) error {
	buildDir := filepath.Join(opts.Root, "build")
	if err := os.MkdirAll(buildDir, 0o755); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	unlock, err := lock(filepath.Join(buildDir, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()

	modfile, err := prepare(opts.Root, buildDir)
	if err != nil {
		return err
	}
	out, err := filepath.Abs(opts.Output)
	if err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	version, err := opts.version()
	if err != nil {
		return err
	}
	tmp := out + ".tmp"
	tags := strings.Join(append([]string{buildTag}, opts.Tags...), ",")
	args := []string{"build", "-modfile=" + modfile, "-tags=" + tags, "-buildmode=c-shared", "-trimpath",
		"-ldflags=-X main.version=" + version}
	if !opts.StockRuntime {
		overlay, err := goOverlay(opts.Root, filepath.Join(buildDir, "goroot"))
		if err != nil {
			return err
		}
		args = append(args, "-overlay="+overlay)
	}
	cmd := exec.Command("go", append(args, "-o", tmp, opts.Package)...)
	cmd.Dir = opts.Root
	cmd.Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	var stderr bytes.Buffer
	cmd.Stdout = &stderr
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("wasmbuild: go build %s: %w\n%s", opts.Package, err, stderr.String())
	}
	if opts.Stderr != nil {
		opts.Stderr.Write(stderr.Bytes())
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	return nil
}

// prepare writes build/sdk (the SDK with sdkabi in place of its mock) and
// build/wasm.mod (go.mod plus a replace to that copy), returning the modfile.
func prepare(root, buildDir string) (string, error) {
	sdkDir, err := moduleDir(root, SDKModule)
	if err != nil {
		return "", err
	}
	copyDir := filepath.Join(buildDir, "sdk")
	if err := os.RemoveAll(copyDir); err != nil {
		return "", fmt.Errorf("wasmbuild: clean sdk copy: %w", err)
	}
	if err := copyTree(sdkDir, copyDir); err != nil {
		return "", fmt.Errorf("wasmbuild: copy sdk: %w", err)
	}
	if err := os.Remove(filepath.Join(copyDir, mockFile)); err != nil {
		return "", fmt.Errorf("wasmbuild: drop sdk mock host: %w", err)
	}
	// go:wasmexport needs a go1.24 language version in the SDK module.
	if err := setGoVersion(filepath.Join(copyDir, "go.mod"), "1.24"); err != nil {
		return "", err
	}
	abiDir := filepath.Join(root, "internal", "sdkabi")
	for _, name := range []string{"hostcalls.go", "callbacks.go"} {
		src, err := os.ReadFile(filepath.Join(abiDir, name))
		if err != nil {
			return "", fmt.Errorf("wasmbuild: read sdkabi: %w", err)
		}
		dst := filepath.Join(copyDir, "proxywasm", "internal", "zz_sdkabi_"+name)
		if err := os.WriteFile(dst, src, 0o644); err != nil {
			return "", fmt.Errorf("wasmbuild: write sdkabi: %w", err)
		}
	}

	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	modfile := filepath.Join(buildDir, "wasm.mod")
	gomod = append(gomod, fmt.Sprintf("\nreplace %s => %s\n", SDKModule, copyDir)...)
	if err := os.WriteFile(modfile, gomod, 0o644); err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	if err := os.WriteFile(filepath.Join(buildDir, "wasm.sum"), gosum, 0o644); err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	return modfile, nil
}

// moduleDir asks the go tool where a dependency lives, downloading it if needed.
func moduleDir(root, module string) (string, error) {
	cmd := exec.Command("go", "mod", "download", "-json", module)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("wasmbuild: go mod download %s: %w\n%s%s", module, err, out, ee.Stderr)
		}
		return "", fmt.Errorf("wasmbuild: go mod download %s: %w", module, err)
	}
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(out, &info); err != nil {
		return "", fmt.Errorf("wasmbuild: go mod download %s: %w", module, err)
	}
	if info.Dir == "" {
		return "", fmt.Errorf("wasmbuild: go mod download %s: %s", module, info.Error)
	}
	return info.Dir, nil
}

func setGoVersion(gomod, version string) error {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	lines := strings.Split(string(data), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "go ") {
			lines[i] = "go " + version
		}
	}
	if err := os.WriteFile(gomod, []byte(strings.Join(lines, "\n")), 0o644); err != nil {
		return fmt.Errorf("wasmbuild: %w", err)
	}
	return nil
}

// copyTree copies regular files, making them writable (the module cache is
// read-only).
func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, path)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		if !d.Type().IsRegular() {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("wasmbuild: lock: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, fmt.Errorf("wasmbuild: lock: %w", err)
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
