package wasmbuild

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeGoroot writes the real toolchain's patched files under a temporary
// GOROOT, with edit applied to the text of file.
func fakeGoroot(t *testing.T, file string, edit func(string) string) string {
	t.Helper()
	root, err := ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	real, err := goEnv(root, "GOROOT")
	if err != nil {
		t.Fatal(err)
	}
	fake := t.TempDir()
	for _, p := range goPatches {
		data, err := os.ReadFile(filepath.Join(real, "src", p.file))
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		if p.file == file {
			text = edit(text)
		}
		dst := filepath.Join(fake, "src", p.file)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return fake
}

func TestRuntimePatchAppliesToThisToolchain(t *testing.T) {
	goroot := fakeGoroot(t, "", nil)
	dir := t.TempDir()
	path, err := writeOverlay(goroot, "this toolchain", dir, goPatches)
	if err != nil {
		t.Fatal(err)
	}
	var overlay struct{ Replace map[string]string }
	data, _ := os.ReadFile(path)
	if err := json.Unmarshal(data, &overlay); err != nil || len(overlay.Replace) != len(goPatches) {
		t.Fatalf("overlay %s: %v", data, err)
	}
	netpoll, _ := os.ReadFile(filepath.Join(dir, "runtime", "netpoll_wasip1.go"))
	fs, _ := os.ReadFile(filepath.Join(dir, "syscall", "fs_wasip1.go"))
	for _, want := range []string{"if len(subs) == 1 {", "if errno == 52 || errno == 58 {"} {
		if !strings.Contains(string(netpoll), want) {
			t.Errorf("patched netpoll lacks %q", want)
		}
	}
	for _, gone := range []string{"wasmimport wasi_snapshot_preview1 path_filestat_get", "wasmimport wasi_snapshot_preview1 fd_filestat_get"} {
		if strings.Contains(string(fs), gone) {
			t.Errorf("patched syscall still has %q", gone)
		}
	}
}

// A toolchain whose file changed fails the build with a message that says
// what to do, instead of building something else.
func TestRuntimePatchRefusesAChangedToolchainFile(t *testing.T) {
	goroot := fakeGoroot(t, "runtime/netpoll_wasip1.go", func(s string) string { return s + "\n// a newer Go\n" })
	_, err := writeOverlay(goroot, "go1.99", t.TempDir(), goPatches)
	if err == nil {
		t.Fatal("a changed runtime/netpoll_wasip1.go was patched")
	}
	for _, want := range []string{"runtime/netpoll_wasip1.go", "go1.99", "golang/go#78513", "written for", "goroot.go"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
}
