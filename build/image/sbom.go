package image

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"strings"
	"time"

	cdx "github.com/CycloneDX/cyclonedx-go"
	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// SBOMFacts are what the image adds to the SBOM cyclonedx-gomod reads from
// the binary: Tollgate's own licence (bin mode cannot find it: it looks
// the main module up in the module proxy, where a development build is
// not), the CA bundle's Debian package, the image digest it describes, and
// a serial number and time that follow from the build instead of the clock.
type SBOMFacts struct {
	// License is the text of the repository's LICENSE file; it must be the
	// Apache License 2.0, which the SBOM then names by its SPDX id.
	License        []byte
	CACertificates string
	// Distro is the Debian release the package came from, as a package
	// URL's distro qualifier ("debian-12"); that default when empty.
	Distro  string
	Image   v1.Hash
	Created time.Time
}

// IsApache2 reports whether text is the Apache License, Version 2.0.
func IsApache2(text []byte) bool {
	s := string(text)
	return strings.Contains(s, "Apache License") && strings.Contains(s, "Version 2.0, January 2004") &&
		strings.Contains(s, "TERMS AND CONDITIONS FOR USE, REPRODUCTION, AND DISTRIBUTION")
}

// FinishSBOM completes a CycloneDX JSON SBOM written by `cyclonedx-gomod
// bin -noserial -notimestamp` with facts and returns it, indented.
func FinishSBOM(sbom []byte, f SBOMFacts) ([]byte, error) {
	if !IsApache2(f.License) {
		return nil, fmt.Errorf("SBOM: the LICENSE file is not the Apache License 2.0")
	}
	if f.CACertificates == "" || f.Image.Hex == "" || f.Created.IsZero() {
		return nil, fmt.Errorf("SBOM: CA certificates version, image digest and creation time are required")
	}
	bom := new(cdx.BOM)
	if err := cdx.NewBOMDecoder(bytes.NewReader(sbom), cdx.BOMFileFormatJSON).Decode(bom); err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	if bom.Metadata == nil || bom.Metadata.Component == nil {
		return nil, fmt.Errorf("SBOM: no metadata.component (the binary)")
	}
	main := bom.Metadata.Component
	main.Licenses = &cdx.Licenses{{License: &cdx.License{ID: Licenses}}}
	main.ExternalReferences = &[]cdx.ExternalReference{{Type: cdx.ERTypeVCS, URL: Source}}

	// The Mozilla roots as Debian packages them; the data is under the
	// MPL 2.0 (https://salsa.debian.org/debian/ca-certificates/-/blob/master/debian/copyright).
	distro := f.Distro
	if distro == "" {
		distro = "debian-12"
	}
	purl := "pkg:deb/debian/ca-certificates@" + f.CACertificates + "?arch=all&distro=" + distro
	ca := cdx.Component{
		BOMRef:      purl,
		Type:        cdx.ComponentTypeData,
		Name:        "ca-certificates",
		Version:     f.CACertificates,
		Description: "Mozilla CA root certificates as packaged by Debian, at /" + CABundlePath,
		PackageURL:  purl,
		Licenses:    &cdx.Licenses{{License: &cdx.License{ID: "MPL-2.0"}}},
	}
	comps := []cdx.Component{}
	if bom.Components != nil {
		comps = *bom.Components
	}
	comps = append(comps, ca)
	bom.Components = &comps

	props := []cdx.Property{}
	if bom.Metadata.Properties != nil {
		props = *bom.Metadata.Properties
	}
	props = append(props, cdx.Property{Name: "dev.tollgate:image:digest", Value: f.Image.String()})
	bom.Metadata.Properties = &props
	bom.Metadata.Timestamp = f.Created.UTC().Format(time.RFC3339)
	bom.SerialNumber = serialNumber(f.Image)

	var out bytes.Buffer
	enc := cdx.NewBOMEncoder(&out, cdx.BOMFileFormatJSON)
	enc.SetPretty(true)
	if err := enc.Encode(bom); err != nil {
		return nil, fmt.Errorf("SBOM: %w", err)
	}
	return out.Bytes(), nil
}

// serialNumber is a UUID (version 8: derived by the producer) from the
// image digest, so the same image always has the same SBOM serial number.
func serialNumber(h v1.Hash) string {
	sum := sha256.Sum256([]byte("tollgate sbom " + h.String()))
	u := sum[:16]
	u[6] = u[6]&0x0f | 0x80
	u[8] = u[8]&0x3f | 0x80
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", u[0:4], u[4:6], u[6:8], u[8:10], u[10:16])
}
