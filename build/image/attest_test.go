package image

import (
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

func TestAttestSBOM(t *testing.T) {
	privPEM, pubPEM := throwaway(t)
	k, _ := LoadPrivateKey(privPEM, noPassword)
	pub, _ := LoadPublicKey(pubPEM)
	sbom := []byte(`{
  "bomFormat": "CycloneDX",
  "specVersion": "1.6"
}`)
	env, err := AttestSBOM(k, Repository, indexDigest, sbom)
	if err != nil {
		t.Fatal(err)
	}
	got, err := VerifySBOMAttestation(pub, env, Repository, indexDigest)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != `{"bomFormat":"CycloneDX","specVersion":"1.6"}` {
		t.Errorf("predicate %s", got)
	}
	// The statement is what cosign verify-attestation --type cyclonedx reads.
	var e dsse.Envelope
	if err := json.Unmarshal(env, &e); err != nil {
		t.Fatal(err)
	}
	st, _ := base64.StdEncoding.DecodeString(e.Payload)
	want := `{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://cyclonedx.org/bom","subject":[{"name":"ghcr.io/tollgate-dev/tollgate","digest":{"sha256":"` + indexDigest.Hex + `"}}],"predicate":{"bomFormat":"CycloneDX","specVersion":"1.6"}}`
	if e.PayloadType != "application/vnd.in-toto+json" || string(st) != want {
		t.Errorf("payload type %s, statement\n%s\nwant\n%s", e.PayloadType, st, want)
	}

	_, otherPEM := throwaway(t)
	other, _ := LoadPublicKey(otherPEM)
	if _, err := VerifySBOMAttestation(other, env, Repository, indexDigest); err == nil || !strings.Contains(err.Error(), "none of its 1 signatures") {
		t.Errorf("another key: %v", err)
	}
	if _, err := VerifySBOMAttestation(pub, env, Repository, otherDigest); err == nil || !strings.Contains(err.Error(), "subject") {
		t.Errorf("another image: %v", err)
	}
	e.Payload = base64.StdEncoding.EncodeToString([]byte(strings.Replace(string(st), "1.6", "1.5", 1)))
	tampered, _ := json.Marshal(e)
	if _, err := VerifySBOMAttestation(pub, tampered, Repository, indexDigest); err == nil {
		t.Error("a tampered statement verified")
	}
	if _, err := AttestSBOM(k, Repository, indexDigest, []byte("not json")); err == nil {
		t.Error("attested a non-JSON SBOM")
	}
}
