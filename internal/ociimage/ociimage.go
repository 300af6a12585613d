// Package ociimage packages the compiled plugin as an OCI image that
// Istio's `oci://` fetcher accepts, with go-containerregistry.
//
// Istio's pkg/wasm/imagefetcher.go (ImageFetcher.PrepareFetch) takes three
// shapes: a Docker manifest whose last layer is a Docker tar.gz; the
// "compat" variant, an OCI manifest whose last layer is
// application/vnd.oci.image.layer.v1.tar+gzip holding a file named
// plugin.wasm; and the "oci" variant, exactly two layers, one of them
// application/vnd.module.wasm.content.layer.v1+wasm holding the raw module.
// We build the compat variant (solo-io/wasm spec/README-compat.md): one
// standard layer, so every registry and every tool (crane, oras, docker,
// skopeo) handles it without custom media types, and it is the variant
// Istio tries first for OCI manifests. The manifest carries the
// module.wasm.image/variant=compat annotation the spec asks for.
//
// The image is reproducible: timestamps are the Unix epoch and the layer
// holds one file, so the same module always gives the same manifest
// digest. That digest is what Istio compares with a WasmPlugin's sha256
// (pkg/wasm/cache.go, LocalFileCache.Get: the "actualDigest" of an oci://
// image is its manifest digest, not the module's sha256).
package ociimage

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ModuleFile is the name Istio's compat-variant extraction looks for
// (imagefetcher.go, extractWasmPluginBinary).
const ModuleFile = "plugin.wasm"

// Annotations of the manifest.
const (
	VariantAnnotation = "module.wasm.image/variant"
	VersionAnnotation = "org.opencontainers.image.version"
	TitleAnnotation   = "org.opencontainers.image.title"
	SourceAnnotation  = "org.opencontainers.image.source"
)

// Source is the repository the image is built from.
const Source = "https://github.com/apiguard/apiguard"

// Build returns the compat-variant image of a Wasm module.
func Build(module []byte, version string) (v1.Image, error) {
	if len(module) < 8 || !bytes.Equal(module[:4], []byte("\x00asm")) {
		return nil, fmt.Errorf("ociimage: the module is not a Wasm binary")
	}
	layerBytes, err := layerTarGz(module)
	if err != nil {
		return nil, err
	}
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(layerBytes)), nil
	}, tarball.WithMediaType(types.OCILayer))
	if err != nil {
		return nil, fmt.Errorf("ociimage: layer: %w", err)
	}
	// An OCI manifest, not Docker's: for a Docker manifest Istio only
	// accepts a Docker layer.
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err = mutate.Append(img, mutate.Addendum{Layer: layer, MediaType: types.OCILayer})
	if err != nil {
		return nil, fmt.Errorf("ociimage: append layer: %w", err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("ociimage: config: %w", err)
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "wasm", "wasip1"
	cfg.Created = v1.Time{Time: time.Unix(0, 0).UTC()}
	if img, err = mutate.ConfigFile(img, cfg); err != nil {
		return nil, fmt.Errorf("ociimage: config: %w", err)
	}
	ann := map[string]string{
		VariantAnnotation: "compat",
		TitleAnnotation:   "apiguard",
		SourceAnnotation:  Source,
	}
	if version != "" {
		ann[VersionAnnotation] = version
	}
	return mutate.Annotations(img, ann).(v1.Image), nil
}

// layerTarGz is a gzip'd tar holding the module as plugin.wasm, with fixed
// metadata so the bytes depend on the module alone.
func layerTarGz(module []byte) ([]byte, error) {
	var buf bytes.Buffer
	gz, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	tw := tar.NewWriter(gz)
	hdr := &tar.Header{
		Name: ModuleFile, Mode: 0o444, Size: int64(len(module)),
		ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX,
	}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, fmt.Errorf("ociimage: tar: %w", err)
	}
	if _, err := tw.Write(module); err != nil {
		return nil, fmt.Errorf("ociimage: tar: %w", err)
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("ociimage: tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("ociimage: gzip: %w", err)
	}
	return buf.Bytes(), nil
}
