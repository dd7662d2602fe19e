package image

import (
	"bytes"
	"crypto/ecdsa"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
)

// Attestations are in-toto statements in a DSSE envelope signed with the
// same key as the image signature: the form `cosign attest --type
// cyclonedx` produces, which `cosign attach attestation` uploads as it is
// and `cosign verify-attestation --type cyclonedx --key` checks.
const (
	InTotoPayloadType  = "application/vnd.in-toto+json"
	StatementType      = "https://in-toto.io/Statement/v0.1"
	PredicateCycloneDX = "https://cyclonedx.org/bom"
)

// Statement is an in-toto statement about one image.
type Statement struct {
	Type          string          `json:"_type"`
	PredicateType string          `json:"predicateType"`
	Subject       []Subject       `json:"subject"`
	Predicate     json.RawMessage `json:"predicate"`
}

// Subject names an image by repository and digest.
type Subject struct {
	Name   string            `json:"name"`
	Digest map[string]string `json:"digest"`
}

// AttestSBOM signs a statement that sbom (CycloneDX JSON) describes the
// image digest in repository, and returns the DSSE envelope as JSON.
func AttestSBOM(k *ecdsa.PrivateKey, repository string, digest v1.Hash, sbom []byte) ([]byte, error) {
	if !json.Valid(sbom) {
		return nil, errors.New("attestation: the SBOM is not JSON")
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, sbom); err != nil {
		return nil, err
	}
	st, err := json.Marshal(Statement{
		Type:          StatementType,
		PredicateType: PredicateCycloneDX,
		Subject:       []Subject{{Name: repository, Digest: map[string]string{digest.Algorithm: digest.Hex}}},
		Predicate:     compact.Bytes(),
	})
	if err != nil {
		return nil, err
	}
	sig, err := Sign(k, dsse.PAE(InTotoPayloadType, st))
	if err != nil {
		return nil, err
	}
	return json.Marshal(dsse.Envelope{
		PayloadType: InTotoPayloadType,
		Payload:     base64.StdEncoding.EncodeToString(st),
		Signatures:  []dsse.Signature{{Sig: sig}},
	})
}

// VerifySBOMAttestation checks that envelope is signed by k and states a
// CycloneDX SBOM of digest in repository, and returns that SBOM.
func VerifySBOMAttestation(k *ecdsa.PublicKey, envelope []byte, repository string, digest v1.Hash) ([]byte, error) {
	var env dsse.Envelope
	if err := json.Unmarshal(envelope, &env); err != nil {
		return nil, fmt.Errorf("attestation: %w", err)
	}
	if env.PayloadType != InTotoPayloadType {
		return nil, fmt.Errorf("attestation: payload type %q, want %q", env.PayloadType, InTotoPayloadType)
	}
	st, err := base64.StdEncoding.DecodeString(env.Payload)
	if err != nil {
		return nil, fmt.Errorf("attestation: payload: %w", err)
	}
	verified := false
	for _, s := range env.Signatures {
		if verifySignature(k, dsse.PAE(env.PayloadType, st), s.Sig) == nil {
			verified = true
		}
	}
	if !verified {
		return nil, fmt.Errorf("attestation: none of its %d signatures verifies with the public key", len(env.Signatures))
	}
	var s Statement
	if err := json.Unmarshal(st, &s); err != nil {
		return nil, fmt.Errorf("attestation: statement: %w", err)
	}
	if s.Type != StatementType || s.PredicateType != PredicateCycloneDX {
		return nil, fmt.Errorf("attestation: a %s statement of %s, want %s of %s", s.Type, s.PredicateType, StatementType, PredicateCycloneDX)
	}
	if len(s.Subject) != 1 || s.Subject[0].Name != repository || s.Subject[0].Digest[digest.Algorithm] != digest.Hex {
		return nil, fmt.Errorf("attestation: subject %+v, want %s@%s", s.Subject, repository, digest)
	}
	return s.Predicate, nil
}
