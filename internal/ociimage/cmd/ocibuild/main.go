// Command ocibuild packages build/apiguard.wasm as an OCI image for Istio
// (`make oci`): an OCI layout directory, the same as a tar archive, the manifest digest,
// and the shipped Istio manifests pinned to that digest.
//
//	go run ./internal/ociimage/cmd/ocibuild --wasm build/apiguard.wasm --version 0.1.0 --out build/oci
package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/apiguard/apiguard/internal/ociimage"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "ocibuild:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("ocibuild", flag.ContinueOnError)
	wasm := fs.String("wasm", "build/apiguard.wasm", "the compiled module")
	version := fs.String("version", "", "the image tag and version annotation (the VERSION file)")
	repo := fs.String("repo", "ghcr.io/apiguard/apiguard", "the repository the manifests name")
	out := fs.String("out", "build/oci", "output directory")
	manifests := fs.String("manifests", "envoy/istio", "directory of the Istio manifests to pin")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *version == "" {
		return fmt.Errorf("--version is required")
	}
	module, err := os.ReadFile(*wasm)
	if err != nil {
		return err
	}
	img, err := ociimage.Build(module, *version)
	if err != nil {
		return err
	}
	digest, err := img.Digest()
	if err != nil {
		return err
	}
	ref := *repo + ":" + *version
	layoutDir := filepath.Join(*out, "layout")
	tarPath := filepath.Join(*out, "apiguard-"+*version+".tar")
	if err := ociimage.WriteLayout(layoutDir, img, *version); err != nil {
		return err
	}
	if err := ociimage.WriteArchive(tarPath, layoutDir); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*out, "digest"), []byte(digest.String()+"\n"), 0o644); err != nil {
		return err
	}
	var pinned []string
	for _, m := range []string{"wasmplugin.yaml", "envoyfilter-stop-iteration.yaml"} {
		src, err := os.ReadFile(filepath.Join(*manifests, m))
		if err != nil {
			return err
		}
		dst := filepath.Join(*out, m)
		if err := os.WriteFile(dst, ociimage.Pin(src, "oci://"+ref, digest.Hex), 0o644); err != nil {
			return err
		}
		pinned = append(pinned, dst)
	}
	fmt.Fprintf(stdout, "image   %s (compat variant: one tar+gzip layer holding %s)\n", ref, ociimage.ModuleFile)
	fmt.Fprintf(stdout, "digest  %s\n", digest)
	fmt.Fprintf(stdout, "layout  %s   (crane push %s %s)\n", layoutDir, layoutDir, ref)
	fmt.Fprintf(stdout, "archive %s   (oras cp --from-oci-layout %s:%s %s)\n", tarPath, tarPath, *version, ref)
	fmt.Fprintf(stdout, "pinned  %s, %s (sha256: %s)\n", pinned[0], pinned[1], digest.Hex)
	return nil
}
