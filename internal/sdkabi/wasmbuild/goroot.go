package wasmbuild

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// A goPatch is a build-time edit of one Go toolchain source file, put into
// the build through `go build -overlay`. Machines ignore go.mod's toolchain
// line, so the hash of the file the patch was written for is the only guard:
// a Go release that changes the file fails the build instead of silently
// building something else.
type goPatch struct {
	file   string // path under GOROOT/src
	sha256 string // hex SHA-256 of the file the edits were written for
	why    string // the upstream issue the patch works around
	edits  []goEdit
}

// goEdit replaces old, which must occur exactly once, with new.
type goEdit struct{ old, new string }

// goPatches make the module run on Envoy 1.33 and later (proxy-wasm-cpp-host
// #427), not only on builds that contain cpp-host #533. Written for go1.26.8.
var goPatches = []goPatch{
	{
		// Go's wasip1 scheduler polls the network poller at every
		// start-the-world (each GC) and whenever it waits for a timer, always
		// with a clock subscription, and throws on any error. cpp-host before
		// #533 answers poll_oneoff with ENOSYS and forbids it during
		// _initialize and proxy_on_memory_allocate, so the first GC killed
		// the VM. A proxy-wasm module never waits on a descriptor: with none
		// subscribed, netpoll returns at once, and ENOSYS/ENOTSUP count as
		// no events, as netpoll_fake.go does for js/wasm.
		file:   "runtime/netpoll_wasip1.go",
		sha256: "5462ad1c05a38ba052d77b3795fb284e2606471585ef5faef4f99cc27f400082",
		why:    "golang/go#78513, fix pending as golang/go PR #78522",
		edits: []goEdit{
			{
				old: "\tpollsubs := subs\n\tif delay >= 0 {\n",
				new: "\t// apiguard (golang/go#78513): subs[0] is the clock; without a\n" +
					"\t// descriptor poll_oneoff could only sleep, so do not call it.\n" +
					"\tif len(subs) == 1 {\n\t\tunlock(&mtx)\n\t\treturn gList{}, 0\n\t}\n\n" +
					"\tpollsubs := subs\n\tif delay >= 0 {\n",
			},
			{
				old: "\tif errno != 0 {\n\t\tif errno != _EINTR {\n",
				new: "\t// apiguard (golang/go PR #78522): ENOSYS (52) and ENOTSUP (58)\n" +
					"\t// mean the host does not poll: no events.\n" +
					"\tif errno == 52 || errno == 58 {\n\t\tunlock(&mtx)\n\t\treturn gList{}, 0\n\t}\n" +
					"\tif errno != 0 {\n\t\tif errno != _EINTR {\n",
			},
		},
	},
	{
		// os.OpenFile (net's config readers, crypto/x509's root loader, both
		// linked through go-jose) reaches syscall.Stat through
		// setStickyBit, which imports path_filestat_get; os.File.Stat
		// imports fd_filestat_get. cpp-host has both only since #533, and V8
		// refuses to link a module that imports a missing function. Stubs
		// answer what cpp-host #533 answers (src/exports.cc), so nothing
		// changes where the imports exist, and nothing is imported.
		file:   "syscall/fs_wasip1.go",
		sha256: "1f4c945a481dbeb0926b8f065cf7fcb465bb80be932c2bb4dbeca1504ebec672",
		why:    "proxy-wasm-cpp-host #533 added fd_filestat_get and path_filestat_get",
		edits: []goEdit{
			{
				old: "//go:wasmimport wasi_snapshot_preview1 fd_filestat_get\n//go:noescape\n" +
					"func fd_filestat_get(fd int32, buf unsafe.Pointer) Errno\n",
				new: "// apiguard: not imported; cpp-host #533 answers EBADF.\n" +
					"func fd_filestat_get(fd int32, buf unsafe.Pointer) Errno { return EBADF }\n",
			},
			{
				old: "//go:wasmimport wasi_snapshot_preview1 path_filestat_get\n//go:noescape\n" +
					"func path_filestat_get(fd int32, flags lookupflags, path *byte, pathLen size, buf unsafe.Pointer) Errno\n",
				new: "// apiguard: not imported; cpp-host #533 answers ENOTSUP.\n" +
					"func path_filestat_get(fd int32, flags lookupflags, path *byte, pathLen size, buf unsafe.Pointer) Errno {\n" +
					"\treturn ENOTSUP\n}\n",
			},
		},
	},
}

// goOverlay writes the patched toolchain files under dir and returns the
// path of an overlay file for `go build -overlay`. It fails when a file no
// longer has the hash its patch was written for.
func goOverlay(root, dir string) (string, error) {
	goroot, err := goEnv(root, "GOROOT")
	if err != nil {
		return "", err
	}
	version, _ := goEnv(root, "GOVERSION")
	return writeOverlay(goroot, version, dir, goPatches)
}

// writeOverlay applies patches to the files under goroot, writes the results
// and the overlay file under dir, and returns the overlay file's path.
func writeOverlay(goroot, version, dir string, patches []goPatch) (string, error) {
	replace := map[string]string{}
	for _, p := range patches {
		src := filepath.Join(goroot, "src", filepath.FromSlash(p.file))
		data, err := os.ReadFile(src)
		if err != nil {
			return "", fmt.Errorf("wasmbuild: runtime patch: %w", err)
		}
		sum := sha256.Sum256(data)
		if got := hex.EncodeToString(sum[:]); got != p.sha256 {
			return "", fmt.Errorf("wasmbuild: runtime patch: %s of %s has SHA-256 %s, but the patch for %s was written "+
				"for %s. The Go toolchain changed (go.mod's toolchain line is not enforced here): read the new "+
				"file, check whether upstream fixed the issue, then update or drop the patch and its hash in "+
				"internal/sdkabi/wasmbuild/goroot.go", p.file, version, got, p.why, p.sha256)
		}
		text := string(data)
		for _, e := range p.edits {
			if n := strings.Count(text, e.old); n != 1 {
				return "", fmt.Errorf("wasmbuild: runtime patch: %s: anchor found %d times, want 1: %q", p.file, n, e.old)
			}
			text = strings.Replace(text, e.old, e.new, 1)
		}
		dst := filepath.Join(dir, filepath.FromSlash(p.file))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("wasmbuild: runtime patch: %w", err)
		}
		if err := os.WriteFile(dst, []byte(text), 0o644); err != nil {
			return "", fmt.Errorf("wasmbuild: runtime patch: %w", err)
		}
		replace[src] = dst
	}
	overlay, err := json.Marshal(struct{ Replace map[string]string }{replace})
	if err != nil {
		return "", fmt.Errorf("wasmbuild: runtime patch: %w", err)
	}
	path := filepath.Join(dir, "overlay.json")
	if err := os.WriteFile(path, overlay, 0o644); err != nil {
		return "", fmt.Errorf("wasmbuild: runtime patch: %w", err)
	}
	return path, nil
}

// GoOverlay writes the Go toolchain patches under dir (created if needed)
// and returns the overlay file to pass as `go build -overlay=FILE`. Test
// guests built outside Build use it to get the same runtime as the plugin.
func GoOverlay(dir string) (string, error) {
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("wasmbuild: %w", err)
	}
	return goOverlay(root, dir)
}

func goEnv(root, name string) (string, error) {
	cmd := exec.Command("go", "env", name)
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("wasmbuild: go env %s: %w", name, err)
	}
	return strings.TrimSpace(string(out)), nil
}
