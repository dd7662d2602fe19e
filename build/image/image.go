package image

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Facts about Tollgate that every image carries.
const (
	Repository  = "ghcr.io/tollgate-dev/tollgate"
	Source      = "https://github.com/tollgate-dev/tollgate"
	Title       = "Tollgate"
	Description = "Admission and policy for GPU and agentic-AI workloads on Amazon EKS with Karpenter"
	Licenses    = "Apache-2.0"
)

// LabelCACertificates records the version of Debian's ca-certificates
// package the CA bundle comes from.
const LabelCACertificates = "dev.tollgate.ca-certificates.version"

// Meta describes the build.
type Meta struct {
	Version  string
	Revision string
	Created  time.Time
	// CACertificates is the Debian ca-certificates package version.
	CACertificates string
}

// Labels are the image's configuration labels: the OCI annotation keys
// (https://github.com/opencontainers/image-spec/blob/main/annotations.md)
// and the CA bundle's origin.
func (m Meta) Labels() map[string]string {
	return map[string]string{
		"org.opencontainers.image.source":      Source,
		"org.opencontainers.image.url":         Source,
		"org.opencontainers.image.version":     m.Version,
		"org.opencontainers.image.revision":    m.Revision,
		"org.opencontainers.image.created":     m.Created.UTC().Format(time.RFC3339),
		"org.opencontainers.image.licenses":    Licenses,
		"org.opencontainers.image.title":       Title,
		"org.opencontainers.image.description": Description,
		LabelCACertificates:                    m.CACertificates,
	}
}

func (m Meta) check() error {
	var missing []string
	if m.Version == "" {
		missing = append(missing, "version")
	}
	if m.Revision == "" {
		missing = append(missing, "revision")
	}
	if m.Created.IsZero() {
		missing = append(missing, "created")
	}
	if m.CACertificates == "" {
		missing = append(missing, "CA certificates version")
	}
	if len(missing) > 0 {
		return fmt.Errorf("image metadata: no %s", strings.Join(missing, ", "))
	}
	return nil
}

// Platform is the OCI platform of a Go architecture the image is built
// for; arm64 is "v8" as containerd and the Go toolchain's default GOARM64.
func Platform(arch string) (v1.Platform, error) {
	switch arch {
	case "amd64":
		return v1.Platform{OS: "linux", Architecture: "amd64"}, nil
	case "arm64":
		return v1.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}, nil
	}
	return v1.Platform{}, fmt.Errorf("architecture %q: want amd64 or arm64", arch)
}

// Image builds the image for one architecture: one layer, user 65532,
// entrypoint /tollgate, labels from m, every time set to m.Created.
func Image(arch string, c Contents, m Meta) (v1.Image, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	p, err := Platform(arch)
	if err != nil {
		return nil, err
	}
	files, err := RootFS(c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arch, err)
	}
	layer, err := Layer(files, m.Created)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", arch, err)
	}
	created := v1.Time{Time: m.Created.UTC()}
	cfg := &v1.ConfigFile{
		Architecture: p.Architecture,
		OS:           p.OS,
		Variant:      p.Variant,
		Created:      created,
		Config: v1.Config{
			User:       fmt.Sprintf("%d:%d", UID, GID),
			Entrypoint: []string{"/" + BinaryPath},
			WorkingDir: "/",
			Labels:     m.Labels(),
		},
		RootFS: v1.RootFS{Type: "layers"},
	}
	base := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	base = mutate.ConfigMediaType(base, types.OCIConfigJSON)
	base, err = mutate.ConfigFile(base, cfg)
	if err != nil {
		return nil, err
	}
	return mutate.Append(base, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History: v1.History{
			Created:   created,
			CreatedBy: "build/image: static tollgate binary, CA bundle, nonroot user, /tmp",
			Comment:   Repository + " " + m.Version,
		},
	})
}

// Index builds the image for every architecture in binaries (GOARCH to
// the static binary) and the OCI image index over them, in architecture
// order. The images are returned by architecture too.
func Index(binaries map[string][]byte, caBundle []byte, docs map[string][]byte, m Meta) (v1.ImageIndex, map[string]v1.Image, error) {
	if len(binaries) == 0 {
		return nil, nil, fmt.Errorf("index: no binaries")
	}
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	images := map[string]v1.Image{}
	var adds []mutate.IndexAddendum
	for _, arch := range slices.Sorted(maps.Keys(binaries)) {
		img, err := Image(arch, Contents{Binary: binaries[arch], CABundle: caBundle, Docs: docs}, m)
		if err != nil {
			return nil, nil, err
		}
		p, _ := Platform(arch)
		images[arch] = img
		adds = append(adds, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &p}})
	}
	idx = mutate.AppendManifests(idx, adds...)
	// The index carries the same facts as annotations, which registries
	// and `crane manifest` show without fetching a configuration.
	annotations := m.Labels()
	delete(annotations, LabelCACertificates)
	return mutate.Annotations(idx, annotations).(v1.ImageIndex), images, nil
}
