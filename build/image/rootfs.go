// Package image builds Tollgate's container image from scratch: one layer
// holding the static binary, a CA bundle, the nonroot user and an empty
// /tmp, for linux/amd64 and linux/arm64 as one OCI image index. Every byte
// follows from the inputs (binaries, CA certificates, metadata): names are
// sorted, times fixed, owners and modes set, so two builds of the same
// inputs have the same index digest.
package image

import (
	"fmt"
	"io/fs"
)

// The user Tollgate runs as: 65532 is the "nonroot" uid and gid of the
// distroless images, which Kubernetes manifests and policies commonly expect.
const (
	UID      = 65532
	GID      = 65532
	UserName = "nonroot"
)

// Paths in the image.
const (
	BinaryPath   = "tollgate"
	CABundlePath = "etc/ssl/certs/ca-certificates.crt"
)

// File is one entry of the root filesystem: a directory when Mode has
// fs.ModeDir, a regular file otherwise. Path is relative to the root, with
// no leading or trailing slash.
type File struct {
	Path     string
	Mode     fs.FileMode
	UID, GID int
	Data     []byte
}

func dir(path string, perm fs.FileMode) File {
	return File{Path: path, Mode: fs.ModeDir | perm}
}

func file(path string, perm fs.FileMode, data []byte) File {
	return File{Path: path, Mode: perm, Data: data}
}

// passwd and group name root and the nonroot user only; neither has a
// login shell, and the image has none.
var (
	passwd = fmt.Sprintf("root:x:0:0:root:/root:/sbin/nologin\n%s:x:%d:%d:%s:/home/%s:/sbin/nologin\n", UserName, UID, GID, UserName, UserName)
	group  = fmt.Sprintf("root:x:0:\n%s:x:%d:\n", UserName, GID)
)

// Contents are the inputs of the root filesystem besides the layout.
type Contents struct {
	// Binary is the static tollgate binary for the image's architecture.
	Binary []byte
	// CABundle is the PEM bundle of trusted roots (see CABundle).
	CABundle []byte
	// Docs are licence files shipped with the image, by name under
	// usr/share/doc (e.g. "tollgate/LICENSE").
	Docs map[string][]byte
}

// RootFS returns the files of the image's root filesystem: the binary at
// /tollgate, the CA bundle, /etc/passwd and /etc/group with the nonroot
// user, its home, an empty world-writable sticky /tmp for an emptyDir or
// tmpfs to replace, and the licence files. Everything is owned by root but
// the nonroot user's home.
func RootFS(c Contents) ([]File, error) {
	if len(c.Binary) == 0 {
		return nil, fmt.Errorf("rootfs: no binary")
	}
	if len(c.CABundle) == 0 {
		return nil, fmt.Errorf("rootfs: no CA bundle")
	}
	files := []File{
		dir("etc", 0o755),
		file("etc/group", 0o644, []byte(group)),
		file("etc/passwd", 0o644, []byte(passwd)),
		dir("etc/ssl", 0o755),
		dir("etc/ssl/certs", 0o755),
		file(CABundlePath, 0o644, c.CABundle),
		dir("home", 0o755),
		{Path: "home/" + UserName, Mode: fs.ModeDir | 0o700, UID: UID, GID: GID},
		dir("tmp", fs.ModeSticky|0o777),
		file(BinaryPath, 0o755, c.Binary),
	}
	if len(c.Docs) > 0 {
		files = append(files, dir("usr", 0o755), dir("usr/share", 0o755), dir("usr/share/doc", 0o755))
		dirs := map[string]bool{}
		for name, data := range c.Docs {
			p := "usr/share/doc/" + name
			for d := parent(p); d != "usr/share/doc" && !dirs[d]; d = parent(d) {
				dirs[d] = true
				files = append(files, dir(d, 0o755))
			}
			files = append(files, file(p, 0o644, data))
		}
	}
	return files, nil
}

func parent(p string) string {
	for i := len(p) - 1; i >= 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return ""
}
