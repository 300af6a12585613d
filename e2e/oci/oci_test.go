// Package oci_test pushes the image of build/apiguard.wasm to a registry
// and reads it back the way Istio's oci:// fetcher does.
package oci_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"log"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"sigs.k8s.io/yaml"

	"github.com/apiguard/apiguard/e2e/e2eutil"
	"github.com/apiguard/apiguard/internal/ociimage"
)

// istioFetch mirrors istio/istio pkg/wasm/imagefetcher.go
// (ImageFetcher.PrepareFetch and its extract functions) for an OCI
// manifest: it returns the manifest digest Istio compares with sha256 and
// the module extracted from the compat layout (last layer
// application/vnd.oci.image.layer.v1.tar+gzip, a file whose base name is
// plugin.wasm). A Docker manifest would only be read as a Docker image, so
// it is an error here.
func istioFetch(t *testing.T, ref name.Reference) (digestHex string, module []byte) {
	t.Helper()
	desc, err := remote.Get(ref)
	if err != nil {
		t.Fatalf("could not fetch manifest: %v", err)
	}
	img, err := desc.Image()
	if err != nil {
		t.Fatalf("could not fetch image: %v", err)
	}
	d, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}
	m, err := img.Manifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType == types.DockerManifestSchema2 {
		t.Fatalf("Docker manifest: Istio would want a Docker layer")
	}
	layers, err := img.Layers()
	if err != nil || len(layers) == 0 {
		t.Fatalf("layers: %d, %v", len(layers), err)
	}
	layer := layers[len(layers)-1]
	if mt, err := layer.MediaType(); err != nil || mt != types.OCILayer {
		t.Fatalf("last layer media type %q, %v; Istio's compat variant wants %q", mt, err, types.OCILayer)
	}
	rc, err := layer.Compressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	gz, err := gzip.NewReader(rc)
	if err != nil {
		t.Fatalf("layer is not tar.gz: %v", err)
	}
	tr := tar.NewReader(gz)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			t.Fatalf("%s not found in the layer", ociimage.ModuleFile)
		}
		if err != nil {
			t.Fatal(err)
		}
		if filepath.Base(h.Name) == ociimage.ModuleFile {
			b, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			return d.Hex, b
		}
	}
}

func TestIstioPullsTheModuleByteForByte(t *testing.T) {
	module, err := e2eutil.PluginWasm()
	if err != nil {
		t.Fatal(err)
	}
	img, err := ociimage.Build(module, "0.1.0")
	if err != nil {
		t.Fatal(err)
	}
	digest, err := img.Digest()
	if err != nil {
		t.Fatal(err)
	}

	// The same module always gives the same image, so a digest pins a module.
	again, _ := ociimage.Build(module, "0.1.0")
	if d, _ := again.Digest(); d != digest {
		t.Errorf("rebuilt image has digest %s, first %s: the build is not reproducible", d, digest)
	}

	srv := httptest.NewServer(registry.New(registry.Logger(log.New(io.Discard, "", 0))))
	defer srv.Close()
	host := must(url.Parse(srv.URL)).Host
	tag := must(name.NewTag(host+"/apiguard/apiguard:0.1.0", name.Insecure))

	// What `make oci` writes: the layout (crane push DIR pushes it) and its
	// tar archive (oras cp --from-oci-layout FILE:TAG). Both keep the
	// manifest, so the pushed digest is the built one.
	dir := t.TempDir()
	layoutDir := filepath.Join(dir, "layout")
	if err := ociimage.WriteLayout(layoutDir, img, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	archive := filepath.Join(dir, "apiguard-0.1.0.tar")
	if err := ociimage.WriteArchive(archive, layoutDir); err != nil {
		t.Fatal(err)
	}
	unpacked := filepath.Join(dir, "unpacked")
	untar(t, archive, unpacked)
	fromArchive := layoutImage(t, unpacked)
	if d, _ := fromArchive.Digest(); d != digest {
		t.Errorf("archived image digest %s, built %s", d, digest)
	}
	if err := remote.Write(tag, fromArchive); err != nil {
		t.Fatalf("push: %v", err)
	}

	gotDigest, got := istioFetch(t, tag)
	if !bytes.Equal(got, module) {
		t.Fatalf("extracted module (%d bytes) differs from build/apiguard.wasm (%d bytes)", len(got), len(module))
	}
	if gotDigest != digest.Hex {
		t.Errorf("pulled manifest digest %s, built %s", gotDigest, digest.Hex)
	}
	moduleSum := sha256.Sum256(module)
	if gotDigest == hex.EncodeToString(moduleSum[:]) {
		t.Error("manifest digest equals the module's sha256")
	}

	// The pinned WasmPlugin `make oci` writes: Istio's cache (pkg/wasm/
	// cache.go, LocalFileCache.Get) pulls spec.url and refuses unless the
	// manifest digest equals spec.sha256.
	shipped, err := os.ReadFile("../../envoy/istio/wasmplugin.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var wp struct {
		Spec struct {
			URL    string `json:"url"`
			SHA256 string `json:"sha256"`
		} `json:"spec"`
	}
	if err := yaml.Unmarshal(ociimage.Pin(shipped, "oci://"+tag.String(), digest.Hex), &wp); err != nil {
		t.Fatal(err)
	}
	if wp.Spec.URL != "oci://"+tag.String() || wp.Spec.SHA256 != digest.Hex {
		t.Fatalf("pinned WasmPlugin: url %q sha256 %q", wp.Spec.URL, wp.Spec.SHA256)
	}
	pulledDigest, _ := istioFetch(t, must(name.ParseReference(wp.Spec.URL[len("oci://"):], name.Insecure)))
	if pulledDigest != wp.Spec.SHA256 {
		t.Errorf("Istio would refuse: checksum %s does not match %s", pulledDigest, wp.Spec.SHA256)
	}
	var ann map[string]string
	if m, err := img.Manifest(); err == nil {
		ann = m.Annotations
	}
	if ann[ociimage.VariantAnnotation] != "compat" || ann[ociimage.VersionAnnotation] != "0.1.0" {
		t.Errorf("manifest annotations %v", ann)
	}
}

// untar unpacks an archive as oras reads it.
func untar(t *testing.T, archive, dir string) {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, filepath.FromSlash(h.Name))
		if h.Typeflag == tar.TypeDir {
			if err := os.MkdirAll(p, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func layoutImage(t *testing.T, dir string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	idx, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil || len(im.Manifests) != 1 || im.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "0.1.0" {
		t.Fatalf("layout index %+v, %v", im, err)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
