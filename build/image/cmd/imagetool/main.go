// Command imagetool builds, describes, signs and verifies Tollgate's
// container image; scripts/image.sh drives it.
//
//	imagetool build   --out DIR --binary ARCH=PATH... --ca-certs DIR --ca-version V --version V --revision R --created UNIX [--doc NAME=PATH...] [--modules FILE]
//	imagetool sbom    --in RAW.json --out SBOM.json --license LICENSE --ca-version V --digest sha256:... --created UNIX
//	imagetool sign    --key KEY --dir DIR     (password of a cosign key: $COSIGN_PASSWORD)
//	imagetool verify  --key PUB --dir DIR
//	imagetool keygen  --out PREFIX            (PREFIX.key, PREFIX.pub: a throwaway key pair)
//	imagetool pubkey  --key KEY --out PUB     (the public key of a private key)
//	imagetool ref     DIR                     (the ref name of an OCI layout's only entry)
//
// The layout of DIR (out/image):
//
//	oci/                      OCI image layout: the image index, both images
//	tollgate-ARCH.docker.tar  docker-archive of one architecture
//	digest, digest-ARCH       the index digest, each image's manifest digest
//	sbom-ARCH.cdx.json        CycloneDX SBOM of each architecture's binary
//	signature/payload.json    cosign simple-signing payload of the index digest
//	signature/payload.sig     its signature (base64)
//	sbom-ARCH.att.json        DSSE envelope: the SBOM attested for ARCH's image
package main

import (
	"crypto/ecdsa"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"

	"github.com/tollgate-dev/tollgate/build/image"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "imagetool:", err)
		os.Exit(1)
	}
}

func run(args []string, out io.Writer) error {
	if len(args) == 0 {
		return errors.New("want a command: build, sbom, sign, verify, keygen, pubkey or ref")
	}
	cmds := map[string]func([]string, io.Writer) error{
		"build": build, "sbom": sbom, "sign": sign, "verify": verify, "keygen": keygen, "pubkey": pubkey, "ref": ref,
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		return fmt.Errorf("unknown command %q", args[0])
	}
	return cmd(args[1:], out)
}

// pairs is a repeatable NAME=VALUE flag.
type pairs map[string]string

func (p pairs) String() string { return fmt.Sprint(map[string]string(p)) }

func (p pairs) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" || v == "" {
		return fmt.Errorf("%q: want NAME=VALUE", s)
	}
	if _, dup := p[k]; dup {
		return fmt.Errorf("%s given twice", k)
	}
	p[k] = v
	return nil
}

func unixTime(s string) (time.Time, error) {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n <= 0 {
		return time.Time{}, fmt.Errorf("--created %q: want seconds since the epoch (SOURCE_DATE_EPOCH)", s)
	}
	return time.Unix(n, 0).UTC(), nil
}

func build(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("build", flag.ContinueOnError)
	binaries, docs := pairs{}, pairs{}
	fs.Var(binaries, "binary", "ARCH=PATH of a static tollgate binary (repeat per architecture)")
	fs.Var(docs, "doc", "NAME=PATH of a licence file shipped under /usr/share/doc (repeatable)")
	dir := fs.String("out", "out/image", "output directory")
	caDir := fs.String("ca-certs", "", "directory of the Mozilla *.crt files of Debian's ca-certificates package")
	modules := fs.String("modules", "", "file of \"path version dir\" lines: the Go modules linked in, whose licence files are shipped")
	var m image.Meta
	fs.StringVar(&m.CACertificates, "ca-version", "", "version of that ca-certificates package")
	fs.StringVar(&m.Version, "version", "", "Tollgate version (also the OCI layout's ref name and the archives' tag)")
	fs.StringVar(&m.Revision, "revision", "", "git commit")
	created := fs.String("created", "", "creation time, seconds since the epoch (SOURCE_DATE_EPOCH)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if m.Created, err = unixTime(*created); err != nil {
		return err
	}
	if *caDir == "" {
		return errors.New("--ca-certs is required")
	}
	ca, n, err := image.CABundle(*caDir)
	if err != nil {
		return err
	}
	bins := map[string][]byte{}
	for arch, path := range binaries {
		if bins[arch], err = os.ReadFile(path); err != nil {
			return err
		}
	}
	docData := map[string][]byte{}
	for name, path := range docs {
		if docData[name], err = os.ReadFile(path); err != nil {
			return err
		}
	}
	if *modules != "" {
		b, err := os.ReadFile(*modules)
		if err != nil {
			return err
		}
		mods, err := image.ParseModules(b)
		if err != nil {
			return fmt.Errorf("%s: %w", *modules, err)
		}
		third, none, err := image.ThirdPartyDocs(mods)
		if err != nil {
			return err
		}
		if len(none) > 0 {
			return fmt.Errorf("no licence file at the root of %s: the image could not carry their terms", strings.Join(none, ", "))
		}
		maps.Copy(docData, third)
		fmt.Fprintf(out, "third-party terms: %d files of %d modules under /usr/share/doc/tollgate/third_party\n", len(third), len(mods))
	}
	idx, images, err := image.Index(bins, ca, docData, m)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(*dir, 0o755); err != nil {
		return err
	}
	if err := image.WriteLayout(filepath.Join(*dir, "oci"), idx, m.Version); err != nil {
		return err
	}
	tag := image.Repository + ":" + m.Version
	for _, arch := range slices.Sorted(maps.Keys(images)) {
		img := images[arch]
		if err := image.WriteDockerArchive(filepath.Join(*dir, "tollgate-"+arch+".docker.tar"), img, tag); err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(*dir, "digest-"+arch), []byte(d.String()+"\n"), 0o644); err != nil {
			return err
		}
		size, err := image.CompressedSize(img)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "linux/%s: %s, %.1f MiB compressed (%d bytes)\n", arch, d, float64(size)/(1<<20), size)
	}
	d, err := idx.Digest()
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(*dir, "digest"), []byte(d.String()+"\n"), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "CA bundle: %d certificates from ca-certificates %s\n", n, m.CACertificates)
	fmt.Fprintf(out, "image index %s@%s (OCI layout %s, ref %s)\n", image.Repository, d, filepath.Join(*dir, "oci"), m.Version)
	return nil
}

func sbom(args []string, _ io.Writer) error {
	fs := flag.NewFlagSet("sbom", flag.ContinueOnError)
	in := fs.String("in", "", "SBOM written by cyclonedx-gomod bin")
	outPath := fs.String("out", "", "finished SBOM")
	license := fs.String("license", "LICENSE", "the repository's LICENSE file")
	var f image.SBOMFacts
	fs.StringVar(&f.CACertificates, "ca-version", "", "Debian ca-certificates package version")
	fs.StringVar(&f.Distro, "ca-distro", "", "the Debian release it came from, as debian-N (default debian-12)")
	digest := fs.String("digest", "", "manifest digest of the image the SBOM describes")
	created := fs.String("created", "", "creation time, seconds since the epoch")
	if err := fs.Parse(args); err != nil {
		return err
	}
	var err error
	if f.Created, err = unixTime(*created); err != nil {
		return err
	}
	if f.Image, err = v1.NewHash(*digest); err != nil {
		return fmt.Errorf("--digest: %w", err)
	}
	if f.License, err = os.ReadFile(*license); err != nil {
		return err
	}
	raw, err := os.ReadFile(*in)
	if err != nil {
		return err
	}
	b, err := image.FinishSBOM(raw, f)
	if err != nil {
		return fmt.Errorf("%s: %w", *in, err)
	}
	return os.WriteFile(*outPath, b, 0o644)
}

func readDigest(path string) (v1.Hash, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return v1.Hash{}, err
	}
	h, err := v1.NewHash(strings.TrimSpace(string(b)))
	if err != nil {
		return v1.Hash{}, fmt.Errorf("%s: %w", path, err)
	}
	return h, nil
}

// layoutDigests returns the index digest and the image digests by
// architecture as the OCI layout in dir holds them, so that signing and
// verifying never trust the digest files alone.
func layoutDigests(dir string) (v1.Hash, map[string]v1.Hash, error) {
	root, err := layout.ImageIndexFromPath(filepath.Join(dir, "oci"))
	if err != nil {
		return v1.Hash{}, nil, err
	}
	rm, err := root.IndexManifest()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if len(rm.Manifests) != 1 {
		return v1.Hash{}, nil, fmt.Errorf("%s/oci: %d entries, want the image index alone", dir, len(rm.Manifests))
	}
	idx, err := root.ImageIndex(rm.Manifests[0].Digest)
	if err != nil {
		return v1.Hash{}, nil, err
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return v1.Hash{}, nil, err
	}
	archs := map[string]v1.Hash{}
	for _, d := range im.Manifests {
		if d.Platform == nil {
			return v1.Hash{}, nil, fmt.Errorf("%s/oci: manifest %s has no platform", dir, d.Digest)
		}
		archs[d.Platform.Architecture] = d.Digest
	}
	want, err := readDigest(filepath.Join(dir, "digest"))
	if err != nil {
		return v1.Hash{}, nil, err
	}
	if rm.Manifests[0].Digest != want {
		return v1.Hash{}, nil, fmt.Errorf("%s/digest says %s, the OCI layout holds %s", dir, want, rm.Manifests[0].Digest)
	}
	return want, archs, nil
}

func password() ([]byte, error) {
	p, ok := os.LookupEnv("COSIGN_PASSWORD")
	if !ok {
		return nil, errors.New("the key is encrypted: set COSIGN_PASSWORD")
	}
	return []byte(p), nil
}

// loadPrivateKey reads a signing key, asking COSIGN_PASSWORD for an
// encrypted one.
func loadPrivateKey(path string) (*ecdsa.PrivateKey, error) {
	kb, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := image.LoadPrivateKey(kb, password)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return k, nil
}

func sign(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("sign", flag.ContinueOnError)
	keyPath := fs.String("key", "", "private key (PEM: PKCS #8, SEC 1 or a cosign key)")
	dir := fs.String("dir", "out/image", "the image's directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := loadPrivateKey(*keyPath)
	if err != nil {
		return err
	}
	digest, archs, err := layoutDigests(*dir)
	if err != nil {
		return err
	}
	payload, err := image.NewPayload(image.Repository, digest)
	if err != nil {
		return err
	}
	sig, err := image.Sign(k, payload)
	if err != nil {
		return err
	}
	sigDir := filepath.Join(*dir, "signature")
	if err := os.MkdirAll(sigDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(sigDir, "payload.json"), payload, 0o644); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(sigDir, "payload.sig"), []byte(sig), 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "signed %s@%s: %s\n", image.Repository, digest, sigDir)
	for _, arch := range slices.Sorted(maps.Keys(archs)) {
		sbomPath := filepath.Join(*dir, "sbom-"+arch+".cdx.json")
		sb, err := os.ReadFile(sbomPath)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		env, err := image.AttestSBOM(k, image.Repository, archs[arch], sb)
		if err != nil {
			return fmt.Errorf("%s: %w", sbomPath, err)
		}
		att := filepath.Join(*dir, "sbom-"+arch+".att.json")
		if err := os.WriteFile(att, env, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(out, "attested the SBOM of linux/%s (%s): %s\n", arch, archs[arch], att)
	}
	return nil
}

func verify(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	keyPath := fs.String("key", "", "public key (PKIX PEM, as cosign writes cosign.pub)")
	dir := fs.String("dir", "out/image", "the image's directory")
	if err := fs.Parse(args); err != nil {
		return err
	}
	kb, err := os.ReadFile(*keyPath)
	if err != nil {
		return err
	}
	k, err := image.LoadPublicKey(kb)
	if err != nil {
		return fmt.Errorf("%s: %w", *keyPath, err)
	}
	digest, archs, err := layoutDigests(*dir)
	if err != nil {
		return err
	}
	payload, err := os.ReadFile(filepath.Join(*dir, "signature", "payload.json"))
	if err != nil {
		return err
	}
	sig, err := os.ReadFile(filepath.Join(*dir, "signature", "payload.sig"))
	if err != nil {
		return err
	}
	if err := image.Verify(k, payload, string(sig), image.Repository, digest); err != nil {
		return err
	}
	fmt.Fprintf(out, "verified the signature of %s@%s with %s\n", image.Repository, digest, *keyPath)
	for _, arch := range slices.Sorted(maps.Keys(archs)) {
		att := filepath.Join(*dir, "sbom-"+arch+".att.json")
		env, err := os.ReadFile(att)
		if errors.Is(err, os.ErrNotExist) {
			continue
		} else if err != nil {
			return err
		}
		if _, err := image.VerifySBOMAttestation(k, env, image.Repository, archs[arch]); err != nil {
			return fmt.Errorf("%s: %w", att, err)
		}
		fmt.Fprintf(out, "verified the SBOM attestation of linux/%s (%s)\n", arch, archs[arch])
	}
	return nil
}

func keygen(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("keygen", flag.ContinueOnError)
	prefix := fs.String("out", "", "write PREFIX.key and PREFIX.pub")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *prefix == "" {
		return errors.New("--out is required")
	}
	priv, pub, err := image.GenerateKey()
	if err != nil {
		return err
	}
	if err := os.WriteFile(*prefix+".key", priv, 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(*prefix+".pub", pub, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(out, "wrote %s.key and %s.pub\n", *prefix, *prefix)
	return nil
}

func pubkey(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("pubkey", flag.ContinueOnError)
	keyPath := fs.String("key", "", "private key")
	outPath := fs.String("out", "", "where to write its public key (PKIX PEM)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	k, err := loadPrivateKey(*keyPath)
	if err != nil {
		return err
	}
	pub, err := image.PublicKeyPEM(&k.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*outPath, pub, 0o644); err != nil {
		return err
	}
	_, err = fmt.Fprintf(out, "wrote %s\n", *outPath)
	return err
}

func ref(args []string, out io.Writer) error {
	if len(args) != 1 {
		return errors.New("ref: want the OCI layout directory")
	}
	r, err := image.RefName(args[0])
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, r)
	return err
}
