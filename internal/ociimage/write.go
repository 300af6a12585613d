package ociimage

import (
	"archive/tar"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
)

// refNameAnnotation names an image inside an OCI layout's index (the OCI
// image-layout spec); `oras cp --from-oci-layout DIR:TAG` looks it up.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes img as an OCI image layout directory (a fresh one:
// dir is replaced), its index entry named tag.
func WriteLayout(dir string, img v1.Image, tag string) error {
	if err := os.RemoveAll(dir); err != nil {
		return fmt.Errorf("ociimage: %w", err)
	}
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		return fmt.Errorf("ociimage: layout: %w", err)
	}
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{refNameAnnotation: tag})); err != nil {
		return fmt.Errorf("ociimage: layout: %w", err)
	}
	return nil
}

// WriteArchive writes the OCI layout directory dir as a tar archive (the
// "oci-archive" that `oras cp --from-oci-layout FILE:TAG` and `skopeo copy
// oci-archive:FILE` push). A `docker save` style tarball would not do: it
// keeps no manifest, and go-containerregistry and crane rebuild a Docker
// one from it, which Istio reads only with a Docker layer
// (imagefetcher.go, extractDockerImage), so the digest changes and the
// image no longer loads. The archive's entries are sorted and their times
// are the epoch, so it is reproducible too.
func WriteArchive(path, dir string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("ociimage: %w", err)
	}
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Name: filepath.ToSlash(rel), ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
		if d.IsDir() {
			hdr.Typeflag, hdr.Name, hdr.Mode = tar.TypeDir, hdr.Name+"/", 0o755
			return tw.WriteHeader(hdr)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Mode, hdr.Size = tar.TypeReg, 0o644, int64(len(data))
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		_, err = tw.Write(data)
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ociimage: archive: %w", err)
	}
	return nil
}
