package image

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"io/fs"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Tar writes files as an uncompressed tar stream in a fixed form: entries
// sorted by path, every parent directory before its children, each with
// the given modification time, numeric owners only, and USTAR headers
// (no access or change times, no user or group names).
func Tar(files []File, mtime time.Time) ([]byte, error) {
	sorted := slices.Clone(files)
	slices.SortFunc(sorted, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	seen := map[string]bool{}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	mtime = mtime.UTC().Truncate(time.Second)
	for _, f := range sorted {
		if err := checkPath(f.Path); err != nil {
			return nil, err
		}
		if seen[f.Path] {
			return nil, fmt.Errorf("layer: %s listed twice", f.Path)
		}
		if p := parent(f.Path); p != "" && !seen[p] {
			return nil, fmt.Errorf("layer: %s has no parent directory %s", f.Path, p)
		}
		seen[f.Path] = true
		h := &tar.Header{
			Name:    f.Path,
			Mode:    tarMode(f.Mode),
			Uid:     f.UID,
			Gid:     f.GID,
			ModTime: mtime,
			Format:  tar.FormatUSTAR,
		}
		switch {
		case f.Mode.IsDir():
			if len(f.Data) > 0 {
				return nil, fmt.Errorf("layer: directory %s has data", f.Path)
			}
			h.Typeflag, h.Name = tar.TypeDir, f.Path+"/"
		case f.Mode.IsRegular():
			h.Typeflag, h.Size = tar.TypeReg, int64(len(f.Data))
		default:
			return nil, fmt.Errorf("layer: %s: only directories and regular files, not %s", f.Path, f.Mode.Type())
		}
		if err := tw.WriteHeader(h); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", f.Path, err)
		}
		if _, err := tw.Write(f.Data); err != nil {
			return nil, fmt.Errorf("layer: %s: %w", f.Path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func checkPath(p string) error {
	if p == "" || p != path.Clean(p) || strings.HasPrefix(p, "/") || p == "." || strings.HasPrefix(p, "../") || p == ".." {
		return fmt.Errorf("layer: path %q is not a clean relative path", p)
	}
	return nil
}

// tarMode is the tar header's mode: permission bits plus the set-id and
// sticky bits in their Unix positions.
func tarMode(m fs.FileMode) int64 {
	mode := int64(m.Perm())
	if m&fs.ModeSetuid != 0 {
		mode |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		mode |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		mode |= 0o1000
	}
	return mode
}

// Layer returns the files as one gzip-compressed OCI layer. Go's gzip
// writes no name and no time into its header, and the same input and level
// always compress to the same bytes, so the layer digest is stable.
func Layer(files []File, mtime time.Time) (v1.Layer, error) {
	b, err := Tar(files, mtime)
	if err != nil {
		return nil, err
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(types.OCILayer), tarball.WithCompressionLevel(gzip.BestCompression), tarball.WithCompressedCaching)
}
