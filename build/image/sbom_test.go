package image

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// rawSBOM is the shape cyclonedx-gomod bin -noserial -notimestamp writes.
const rawSBOM = `{
  "$schema": "http://cyclonedx.org/schema/bom-1.6.schema.json",
  "bomFormat": "CycloneDX",
  "specVersion": "1.6",
  "version": 1,
  "metadata": {
    "component": {
      "bom-ref": "pkg:golang/github.com/tollgate-dev/tollgate@0.1.0?type=module",
      "type": "application",
      "name": "github.com/tollgate-dev/tollgate",
      "version": "0.1.0",
      "purl": "pkg:golang/github.com/tollgate-dev/tollgate@0.1.0?type=module"
    },
    "properties": [{"name": "cdx:gomod:binary:hash:SHA-256", "value": "00"}]
  },
  "components": [
    {
      "bom-ref": "pkg:golang/golang.org/x/net@v0.60.0?type=module",
      "type": "library",
      "name": "golang.org/x/net",
      "version": "v0.60.0",
      "licenses": [{"license": {"id": "BSD-3-Clause"}}]
    }
  ]
}`

func TestFinishSBOM(t *testing.T) {
	license, err := os.ReadFile("../../LICENSE")
	if err != nil {
		t.Fatal(err)
	}
	facts := SBOMFacts{License: license, CACertificates: "20250419~deb12u2", Image: indexDigest, Created: created}
	out, err := FinishSBOM([]byte(rawSBOM), facts)
	if err != nil {
		t.Fatal(err)
	}
	var bom struct {
		SerialNumber string `json:"serialNumber"`
		Metadata     struct {
			Timestamp string `json:"timestamp"`
			Component struct {
				Licenses []struct {
					License struct{ ID string } `json:"license"`
				} `json:"licenses"`
			} `json:"component"`
			Properties []struct{ Name, Value string } `json:"properties"`
		} `json:"metadata"`
		Components []struct {
			Name, Version, Purl string
			Licenses            []struct {
				License struct{ ID string } `json:"license"`
			} `json:"licenses"`
		} `json:"components"`
	}
	if err := json.Unmarshal(out, &bom); err != nil {
		t.Fatal(err)
	}
	if l := bom.Metadata.Component.Licenses; len(l) != 1 || l[0].License.ID != "Apache-2.0" {
		t.Errorf("Tollgate's licence: %+v", l)
	}
	if bom.Metadata.Timestamp != "2026-07-01T12:00:00Z" {
		t.Errorf("timestamp %q", bom.Metadata.Timestamp)
	}
	if p := bom.Metadata.Properties; len(p) != 2 || p[1].Value != indexDigest.String() {
		t.Errorf("properties %+v", p)
	}
	if c := bom.Components; len(c) != 2 || c[0].Name != "golang.org/x/net" || c[1].Name != "ca-certificates" ||
		c[1].Version != "20250419~deb12u2" || c[1].Licenses[0].License.ID != "MPL-2.0" || !strings.HasPrefix(c[1].Purl, "pkg:deb/debian/ca-certificates@") {
		t.Errorf("components %+v", c)
	}
	if !strings.HasPrefix(bom.SerialNumber, "urn:uuid:") || len(bom.SerialNumber) != len("urn:uuid:")+36 || bom.SerialNumber[len("urn:uuid:")+14] != '8' {
		t.Errorf("serial number %q is not a version 8 UUID", bom.SerialNumber)
	}
	again, _ := FinishSBOM([]byte(rawSBOM), facts)
	if string(again) != string(out) {
		t.Error("the same inputs made two SBOMs")
	}
	facts.Image = otherDigest
	if other, _ := FinishSBOM([]byte(rawSBOM), facts); strings.Contains(string(other), bom.SerialNumber) {
		t.Error("two images share a serial number")
	}

	facts.License = []byte("MIT License\n\nPermission is hereby granted...")
	if _, err := FinishSBOM([]byte(rawSBOM), facts); err == nil || !strings.Contains(err.Error(), "not the Apache License") {
		t.Errorf("an MIT LICENSE: %v", err)
	}
	facts.License = license
	if _, err := FinishSBOM([]byte(`{"bomFormat": "CycloneDX", "specVersion": "1.6"}`), facts); err == nil || !strings.Contains(err.Error(), "metadata.component") {
		t.Errorf("no main component: %v", err)
	}
}
