package image

import (
	"archive/tar"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"io"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

var created = time.Date(2026, 7, 1, 12, 0, 0, 0, time.UTC)

func meta() Meta {
	return Meta{Version: "0.1.0", Revision: "0123456789abcdef0123456789abcdef01234567", Created: created, CACertificates: "20250419~deb12u2"}
}

type inputs struct {
	binaries map[string][]byte
	ca       []byte
	docs     map[string][]byte
	meta     Meta
}

func defaults() inputs {
	return inputs{
		binaries: map[string][]byte{"amd64": []byte("\x7fELF amd64 tollgate"), "arm64": []byte("\x7fELF arm64 tollgate")},
		ca:       []byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"),
		docs:     map[string][]byte{"tollgate/LICENSE": []byte("Apache"), "tollgate/third_party/golang.org/x/net/LICENSE": []byte("BSD")},
		meta:     meta(),
	}
}

func (in inputs) build(t *testing.T) (v1.ImageIndex, map[string]v1.Image) {
	t.Helper()
	idx, images, err := Index(in.binaries, in.ca, in.docs, in.meta)
	if err != nil {
		t.Fatal(err)
	}
	return idx, images
}

func digest(t *testing.T, d interface{ Digest() (v1.Hash, error) }) v1.Hash {
	t.Helper()
	h, err := d.Digest()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// TestReproducible builds twice from the same inputs, each time writing
// the OCI layout to its own directory: same index digest, same files
// byte for byte. Changing any input changes the digest.
func TestReproducible(t *testing.T) {
	var digests []v1.Hash
	var dirs []string
	for range 2 {
		idx, _ := defaults().build(t)
		dir := filepath.Join(t.TempDir(), "oci")
		if err := WriteLayout(dir, idx, "0.1.0"); err != nil {
			t.Fatal(err)
		}
		digests = append(digests, digest(t, idx))
		dirs = append(dirs, dir)
	}
	if digests[0] != digests[1] {
		t.Fatalf("two builds of the same inputs: %s and %s", digests[0], digests[1])
	}
	a, b := tree(t, dirs[0]), tree(t, dirs[1])
	if len(a) == 0 || len(a) != len(b) {
		t.Fatalf("layouts hold %d and %d files", len(a), len(b))
	}
	for name, data := range a {
		if !bytes.Equal(data, b[name]) {
			t.Errorf("%s differs between the two layouts", name)
		}
	}

	changes := map[string]func(*inputs){
		"binary":       func(in *inputs) { in.binaries["arm64"] = append([]byte{}, "\x7fELF arm64 tollgatE"...) },
		"CA bundle":    func(in *inputs) { in.ca = append(in.ca, '\n') },
		"licence file": func(in *inputs) { in.docs["tollgate/NOTICE"] = []byte("Tollgate") },
		"created":      func(in *inputs) { in.meta.Created = created.Add(time.Second) },
		"version":      func(in *inputs) { in.meta.Version = "0.1.1" },
		"revision":     func(in *inputs) { in.meta.Revision = "f" + in.meta.Revision[1:] },
		"CA version":   func(in *inputs) { in.meta.CACertificates = "20230311+deb12u1" },
		"one arch":     func(in *inputs) { delete(in.binaries, "arm64") },
	}
	for name, change := range changes {
		in := defaults()
		change(&in)
		idx, _ := in.build(t)
		if d := digest(t, idx); d == digests[0] {
			t.Errorf("changing the %s left the index digest %s", name, d)
		}
	}
}

func tree(t *testing.T, root string) map[string][]byte {
	t.Helper()
	out := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(p)
		rel, _ := filepath.Rel(root, p)
		out[rel] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

type entry struct {
	name       string
	typ        byte
	mode       int64
	uid, gid   int
	size       int64
	body       string
	modTimeUTC time.Time
}

func entries(t *testing.T, img v1.Image) []entry {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("%d layers (%v), want 1", len(layers), err)
	}
	if mt, _ := layers[0].MediaType(); mt != types.OCILayer {
		t.Errorf("layer media type %s", mt)
	}
	rc, err := layers[0].Uncompressed()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	var out []entry
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(tr)
		if h.Uname != "" || h.Gname != "" || !h.AccessTime.IsZero() || !h.ChangeTime.IsZero() {
			t.Errorf("%s: names %q %q or times %v %v in the header", h.Name, h.Uname, h.Gname, h.AccessTime, h.ChangeTime)
		}
		out = append(out, entry{h.Name, h.Typeflag, h.Mode, h.Uid, h.Gid, h.Size, string(body), h.ModTime.UTC()})
	}
}

// TestRootFS checks the layer entry by entry: sorted, parents first,
// owners and modes, fixed times, the nonroot user, no shell.
func TestRootFS(t *testing.T) {
	_, images := defaults().build(t)
	got := entries(t, images["arm64"])
	want := []entry{
		{name: "etc/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/group", typ: tar.TypeReg, mode: 0o644, body: "root:x:0:\nnonroot:x:65532:\n"},
		{name: "etc/passwd", typ: tar.TypeReg, mode: 0o644, body: "root:x:0:0:root:/root:/sbin/nologin\nnonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n"},
		{name: "etc/ssl/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/ssl/certs/", typ: tar.TypeDir, mode: 0o755},
		{name: "etc/ssl/certs/ca-certificates.crt", typ: tar.TypeReg, mode: 0o644, body: string(defaults().ca)},
		{name: "home/", typ: tar.TypeDir, mode: 0o755},
		{name: "home/nonroot/", typ: tar.TypeDir, mode: 0o700, uid: UID, gid: GID},
		{name: "tmp/", typ: tar.TypeDir, mode: 0o1777},
		{name: "tollgate", typ: tar.TypeReg, mode: 0o755, body: "\x7fELF arm64 tollgate"},
		{name: "usr/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/doc/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/doc/tollgate/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/doc/tollgate/LICENSE", typ: tar.TypeReg, mode: 0o644, body: "Apache"},
		{name: "usr/share/doc/tollgate/third_party/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/doc/tollgate/third_party/golang.org/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/doc/tollgate/third_party/golang.org/x/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/doc/tollgate/third_party/golang.org/x/net/", typ: tar.TypeDir, mode: 0o755},
		{name: "usr/share/doc/tollgate/third_party/golang.org/x/net/LICENSE", typ: tar.TypeReg, mode: 0o644, body: "BSD"},
	}
	if len(got) != len(want) {
		t.Fatalf("%d entries, want %d:\n%+v", len(got), len(want), got)
	}
	for i, w := range want {
		w.size = int64(len(w.body))
		w.modTimeUTC = created
		if got[i] != w {
			t.Errorf("entry %d:\ngot  %+v\nwant %+v", i, got[i], w)
		}
	}
}

func TestConfig(t *testing.T) {
	_, images := defaults().build(t)
	for arch, variant := range map[string]string{"amd64": "", "arm64": "v8"} {
		cf, err := images[arch].ConfigFile()
		if err != nil {
			t.Fatal(err)
		}
		c := cf.Config
		if cf.OS != "linux" || cf.Architecture != arch || cf.Variant != variant {
			t.Errorf("%s: platform %s/%s/%s", arch, cf.OS, cf.Architecture, cf.Variant)
		}
		if c.User != "65532:65532" || strings.Join(c.Entrypoint, " ") != "/tollgate" || len(c.Cmd) != 0 || len(c.Env) != 0 {
			t.Errorf("%s: user %q entrypoint %q cmd %q env %q", arch, c.User, c.Entrypoint, c.Cmd, c.Env)
		}
		if !cf.Created.Equal(created) || len(cf.History) != 1 || !cf.History[0].Created.Equal(created) {
			t.Errorf("%s: created %v, history %+v", arch, cf.Created, cf.History)
		}
		for k, want := range map[string]string{
			"org.opencontainers.image.source":   "https://github.com/tollgate-dev/tollgate",
			"org.opencontainers.image.version":  "0.1.0",
			"org.opencontainers.image.revision": meta().Revision,
			"org.opencontainers.image.created":  "2026-07-01T12:00:00Z",
			"org.opencontainers.image.licenses": "Apache-2.0",
			"org.opencontainers.image.title":    "Tollgate",
			LabelCACertificates:                 "20250419~deb12u2",
		} {
			if c.Labels[k] != want {
				t.Errorf("%s: label %s = %q, want %q", arch, k, c.Labels[k], want)
			}
		}
		m, err := images[arch].Manifest()
		if err != nil {
			t.Fatal(err)
		}
		if m.MediaType != types.OCIManifestSchema1 || m.Config.MediaType != types.OCIConfigJSON {
			t.Errorf("%s: manifest %s, config %s", arch, m.MediaType, m.Config.MediaType)
		}
	}
}

func TestIndexManifest(t *testing.T) {
	idx, images := defaults().build(t)
	m, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if m.MediaType != types.OCIImageIndex || len(m.Manifests) != 2 {
		t.Fatalf("index %s with %d manifests", m.MediaType, len(m.Manifests))
	}
	for i, arch := range []string{"amd64", "arm64"} {
		d := m.Manifests[i]
		if d.Platform == nil || d.Platform.OS != "linux" || d.Platform.Architecture != arch || d.Digest != digest(t, images[arch]) {
			t.Errorf("manifest %d: %+v %s", i, d.Platform, d.Digest)
		}
	}
	if m.Annotations["org.opencontainers.image.revision"] != meta().Revision || m.Annotations[LabelCACertificates] != "" {
		t.Errorf("index annotations %v", m.Annotations)
	}
}

func TestMetaRequired(t *testing.T) {
	in := defaults()
	in.meta.Revision = ""
	in.meta.CACertificates = ""
	if _, _, err := Index(in.binaries, in.ca, nil, in.meta); err == nil || !strings.Contains(err.Error(), "no revision, CA certificates version") {
		t.Errorf("missing metadata: %v", err)
	}
	if _, _, err := Index(map[string][]byte{"riscv64": []byte("x")}, in.ca, nil, meta()); err == nil || !strings.Contains(err.Error(), `"riscv64"`) {
		t.Errorf("unknown architecture: %v", err)
	}
	if _, _, err := Index(in.binaries, nil, nil, meta()); err == nil || !strings.Contains(err.Error(), "no CA bundle") {
		t.Errorf("no CA bundle: %v", err)
	}
}

func TestTarRefuses(t *testing.T) {
	for name, tc := range map[string]struct {
		files []File
		want  string
	}{
		"duplicate":      {[]File{dir("etc", 0o755), dir("etc", 0o755)}, "etc listed twice"},
		"no parent":      {[]File{file("etc/passwd", 0o644, nil)}, "no parent directory etc"},
		"absolute":       {[]File{file("/tollgate", 0o755, nil)}, "not a clean relative path"},
		"dot-dot":        {[]File{file("../x", 0o644, nil)}, "not a clean relative path"},
		"unclean":        {[]File{dir("etc", 0o755), file("etc//passwd", 0o644, nil)}, "not a clean relative path"},
		"symlink":        {[]File{{Path: "sh", Mode: fs.ModeSymlink | 0o777}}, "only directories and regular files"},
		"directory data": {[]File{{Path: "etc", Mode: fs.ModeDir | 0o755, Data: []byte("x")}}, "directory etc has data"},
	} {
		if _, err := Tar(tc.files, created); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

// TestOutputs: the layout names its one entry, and the docker archive
// holds the same configuration and layer as the OCI image.
func TestOutputs(t *testing.T) {
	idx, images := defaults().build(t)
	dir := filepath.Join(t.TempDir(), "oci")
	if err := WriteLayout(dir, idx, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	// Writing again replaces the layout rather than adding to it.
	if err := WriteLayout(dir, idx, "0.1.0"); err != nil {
		t.Fatal(err)
	}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if info, _ := d.Info(); info.Mode().Perm() != 0o644 && !d.IsDir() || d.IsDir() && info.Mode().Perm() != 0o755 {
			t.Errorf("%s: mode %v", p, info.Mode())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if ref, err := RefName(dir); err != nil || ref != "0.1.0" {
		t.Errorf("ref %q, %v", ref, err)
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	back, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	rm, _ := back.IndexManifest()
	if len(rm.Manifests) != 1 || rm.Manifests[0].Digest != digest(t, idx) {
		t.Fatalf("layout entries %+v, want the index %s", rm.Manifests, digest(t, idx))
	}

	archive := filepath.Join(t.TempDir(), "tollgate-amd64.docker.tar")
	if err := WriteDockerArchive(archive, images["amd64"], Repository+":0.1.0"); err != nil {
		t.Fatal(err)
	}
	loaded, err := tarball.ImageFromPath(archive, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantCfg, _ := images["amd64"].ConfigName()
	gotCfg, _ := loaded.ConfigName()
	wantLayers, _ := images["amd64"].Layers()
	gotLayers, _ := loaded.Layers()
	wl, _ := wantLayers[0].Digest()
	gl, _ := gotLayers[0].Digest()
	if gotCfg != wantCfg || gl != wl {
		t.Errorf("docker archive: config %s layer %s, want %s %s", gotCfg, gl, wantCfg, wl)
	}
	if n, err := CompressedSize(images["amd64"]); err != nil || n < 100 {
		t.Errorf("compressed size %d, %v", n, err)
	}
}

func selfSigned(t *testing.T, cn string) []byte {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: cn}, NotBefore: created, NotAfter: created.Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestCABundle(t *testing.T) {
	dir := t.TempDir()
	a, b := selfSigned(t, "A Root"), selfSigned(t, "B Root")
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("B_Root.crt", b)
	write("A_Root.crt", a)
	write("README", []byte("not a certificate, and not a .crt"))
	got, n, err := CABundle(dir)
	if err != nil || n != 2 {
		t.Fatalf("%d certificates, %v", n, err)
	}
	if string(got) != string(a)+string(b) {
		t.Errorf("bundle is not A then B:\n%s", got)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(got) {
		t.Error("Go does not read the bundle")
	}

	for name, data := range map[string][]byte{
		"key.crt":     pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte{1}}),
		"broken.crt":  pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")}),
		"trailer.crt": append(append([]byte{}, a...), "garbage"...),
		"empty.crt":   nil,
	} {
		bad := t.TempDir()
		if err := os.WriteFile(filepath.Join(bad, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, _, err := CABundle(bad); err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: %v, want an error naming the file", name, err)
		}
	}
	if _, _, err := CABundle(t.TempDir()); err == nil {
		t.Error("an empty directory made a bundle")
	}
}

func TestThirdPartyDocs(t *testing.T) {
	root := t.TempDir()
	mk := func(mod string, files ...string) string {
		d := filepath.Join(root, mod)
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		for _, f := range files {
			if err := os.WriteFile(filepath.Join(d, f), []byte(mod+" "+f), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	x := mk("x", "LICENSE", "PATENTS", "license.go", "README.md")
	y := mk("y", "LICENSE-APACHE", "NOTICE.txt", "Licenses.json.go")
	z := mk("z", "main.go")
	list := "golang.org/x/y v0.1.0 " + x + "\n\nexample.com/y v1.0.0 " + y + "\ngolang.org/x/y v0.1.0 " + x + "\nexample.com/z v1.2.3 " + z + "\n"
	mods, err := ParseModules([]byte(list))
	if err != nil || len(mods) != 3 || mods[0].Path != "example.com/y" {
		t.Fatalf("%+v, %v", mods, err)
	}
	docs, none, err := ThirdPartyDocs(mods)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for k := range docs {
		names = append(names, k)
	}
	want := map[string]bool{
		"tollgate/third_party/golang.org/x/y/LICENSE":       true,
		"tollgate/third_party/golang.org/x/y/PATENTS":       true,
		"tollgate/third_party/example.com/y/LICENSE-APACHE": true,
		"tollgate/third_party/example.com/y/NOTICE.txt":     true,
	}
	if len(docs) != len(want) {
		t.Errorf("docs %v, want %v", names, want)
	}
	for k := range want {
		if docs[k] == nil {
			t.Errorf("%s missing from %v", k, names)
		}
	}
	if len(none) != 1 || none[0] != "example.com/z@v1.2.3" {
		t.Errorf("modules without terms %v", none)
	}
	if _, err := ParseModules([]byte("only two\n")); err == nil || !strings.Contains(err.Error(), "line 1") {
		t.Errorf("a short line: %v", err)
	}
}
