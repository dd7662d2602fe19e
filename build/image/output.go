package image

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// RefNameAnnotation names an entry of an OCI layout's index.json; skopeo
// and podman address it as oci:DIR:REF.
const RefNameAnnotation = "org.opencontainers.image.ref.name"

// WriteLayout writes idx as the only entry of a new OCI image layout in
// dir, named ref. The index itself is a blob of the layout, so its digest
// is the one a registry will show after a push. dir is replaced whole: a
// layout written into an old one would keep the old blobs.
func WriteLayout(dir string, idx v1.ImageIndex, ref string) error {
	tmp := dir + ".new"
	if err := os.RemoveAll(tmp); err != nil {
		return err
	}
	p, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if err := p.AppendIndex(idx, layout.WithAnnotations(map[string]string{RefNameAnnotation: ref})); err != nil {
		return fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	// layout writes blobs through temporary files of varying modes (0600
	// for layers, 0755 for index.json): make the tree uniform and readable.
	err = filepath.WalkDir(tmp, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		mode := fs.FileMode(0o644)
		if d.IsDir() {
			mode = 0o755
		}
		return os.Chmod(path, mode)
	})
	if err != nil {
		return err
	}
	if err := os.RemoveAll(dir); err != nil {
		return err
	}
	return os.Rename(tmp, dir)
}

// RefName returns the ref name of the only entry of the OCI layout in dir.
func RefName(dir string) (string, error) {
	idx, err := layout.ImageIndexFromPath(dir)
	if err != nil {
		return "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	m, err := idx.IndexManifest()
	if err != nil {
		return "", fmt.Errorf("OCI layout %s: %w", dir, err)
	}
	if len(m.Manifests) != 1 {
		return "", fmt.Errorf("OCI layout %s: %d entries in index.json, want 1", dir, len(m.Manifests))
	}
	ref := m.Manifests[0].Annotations[RefNameAnnotation]
	if ref == "" {
		return "", fmt.Errorf("OCI layout %s: the entry has no %s annotation", dir, RefNameAnnotation)
	}
	return ref, nil
}

// WriteDockerArchive writes img as a docker-archive tarball (what `docker
// load` and `podman load` read) tagged tag. Loading one rewrites the
// manifest, so the loaded image does not keep the OCI digest: import the
// OCI layout with skopeo where the digest matters.
func WriteDockerArchive(path string, img v1.Image, tag string) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("docker archive %s: %w", path, err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".new"
	if err := tarball.WriteToFile(tmp, t, img); err != nil {
		return fmt.Errorf("docker archive %s: %w", path, err)
	}
	return os.Rename(tmp, path)
}

// CompressedSize is what pulling img transfers: its manifest, its
// configuration and its compressed layers.
func CompressedSize(img v1.Image) (int64, error) {
	m, err := img.Manifest()
	if err != nil {
		return 0, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return 0, err
	}
	n := int64(len(raw)) + m.Config.Size
	for _, l := range m.Layers {
		n += l.Size
	}
	return n, nil
}
