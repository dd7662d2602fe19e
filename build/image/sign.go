package image

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

// Signatures are cosign's "simple signing" signatures made with a key:
// ECDSA P-256 over the SHA-256 of a JSON payload that names the image by
// repository and manifest digest, ASN.1 DER encoded, then base64. cosign
// stores such a signature as the annotation dev.cosignproject.cosign/signature
// of a layer of media type application/vnd.dev.cosign.simplesigning.v1+json
// holding the payload; `cosign attach signature --payload --signature` puts
// the files written here there, and `cosign verify-blob` checks them as they
// are. Format: https://github.com/containers/image/blob/main/docs/containers-signature.5.md
// and sigstore/sigstore pkg/signature/payload.

// SignatureType is critical.type of a cosign image signature payload.
const SignatureType = "cosign container image signature"

// Payload is the simple-signing payload.
type Payload struct {
	Critical struct {
		Identity struct {
			DockerReference string `json:"docker-reference"`
		} `json:"identity"`
		Image struct {
			DockerManifestDigest string `json:"docker-manifest-digest"`
		} `json:"image"`
		Type string `json:"type"`
	} `json:"critical"`
	Optional map[string]any `json:"optional"`
}

// NewPayload returns the payload that signs the manifest (or index) digest
// of an image in repository, as cosign writes it.
func NewPayload(repository string, digest v1.Hash) ([]byte, error) {
	if repository == "" {
		return nil, errors.New("signature payload: no repository")
	}
	var p Payload
	p.Critical.Identity.DockerReference = repository
	p.Critical.Image.DockerManifestDigest = digest.String()
	p.Critical.Type = SignatureType
	return json.Marshal(p)
}

// GenerateKey returns a new P-256 key pair, the private key as PKCS #8 PEM
// ("PRIVATE KEY", unencrypted: for tests and throwaway keys) and the public
// key as PKIX PEM ("PUBLIC KEY", what `cosign verify --key` reads).
func GenerateKey() (private, public []byte, err error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	pub, err := PublicKeyPEM(&k.PublicKey)
	if err != nil {
		return nil, nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), pub, nil
}

// PublicKeyPEM encodes a public key as PKIX PEM.
func PublicKeyPEM(k *ecdsa.PublicKey) ([]byte, error) {
	der, err := x509.MarshalPKIXPublicKey(k)
	if err != nil {
		return nil, err
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

// LoadPrivateKey reads an ECDSA P-256 private key: PKCS #8 ("PRIVATE
// KEY"), SEC 1 ("EC PRIVATE KEY"), or a key written by `cosign
// generate-key-pair` ("ENCRYPTED SIGSTORE PRIVATE KEY" or the older
// "ENCRYPTED COSIGN PRIVATE KEY": scrypt and NaCl secretbox around PKCS #8),
// decrypted with the password password returns.
func LoadPrivateKey(data []byte, password func() ([]byte, error)) (*ecdsa.PrivateKey, error) {
	block, _ := pem.Decode(data)
	if block == nil {
		return nil, errors.New("private key: no PEM block")
	}
	var (
		key any
		err error
	)
	switch block.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(block.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(block.Bytes)
	case "ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY":
		pass, perr := password()
		if perr != nil {
			return nil, fmt.Errorf("private key: %w", perr)
		}
		der, derr := encrypted.Decrypt(block.Bytes, pass)
		if derr != nil {
			return nil, fmt.Errorf("private key: decrypting the cosign key (is the password right?): %w", derr)
		}
		key, err = x509.ParsePKCS8PrivateKey(der)
	default:
		return nil, fmt.Errorf("private key: PEM block %q, want PRIVATE KEY, EC PRIVATE KEY or a cosign key", block.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	k, ok := key.(*ecdsa.PrivateKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("private key: %T, want an ECDSA P-256 key", key)
	}
	return k, nil
}

// LoadPublicKey reads an ECDSA P-256 public key in PKIX PEM.
func LoadPublicKey(data []byte) (*ecdsa.PublicKey, error) {
	block, _ := pem.Decode(data)
	if block == nil || block.Type != "PUBLIC KEY" {
		return nil, errors.New("public key: no PUBLIC KEY PEM block")
	}
	key, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	k, ok := key.(*ecdsa.PublicKey)
	if !ok || k.Curve != elliptic.P256() {
		return nil, fmt.Errorf("public key: %T, want an ECDSA P-256 key", key)
	}
	return k, nil
}

// Sign returns the base64 signature of payload.
func Sign(k *ecdsa.PrivateKey, payload []byte) (string, error) {
	sum := sha256.Sum256(payload)
	sig, err := ecdsa.SignASN1(rand.Reader, k, sum[:])
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

// verifySignature checks a base64 signature of payload.
func verifySignature(k *ecdsa.PublicKey, payload []byte, sigB64 string) error {
	sig, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace([]byte(sigB64))))
	if err != nil {
		return fmt.Errorf("signature: not base64: %w", err)
	}
	sum := sha256.Sum256(payload)
	if !ecdsa.VerifyASN1(k, sum[:], sig) {
		return errors.New("signature: does not verify with the public key")
	}
	return nil
}

// Verify checks that sigB64 signs payload with k, and that the payload
// signs digest in repository: a valid signature of another image, or of
// the same image under another name, is refused.
func Verify(k *ecdsa.PublicKey, payload []byte, sigB64, repository string, digest v1.Hash) error {
	if err := verifySignature(k, payload, sigB64); err != nil {
		return err
	}
	var p Payload
	dec := json.NewDecoder(bytes.NewReader(payload))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return fmt.Errorf("signature payload: %w", err)
	}
	if p.Critical.Type != SignatureType {
		return fmt.Errorf("signature payload: critical.type %q, want %q", p.Critical.Type, SignatureType)
	}
	if got := p.Critical.Image.DockerManifestDigest; got != digest.String() {
		return fmt.Errorf("signature payload: signs %s, not %s", got, digest)
	}
	if got := p.Critical.Identity.DockerReference; got != repository {
		return fmt.Errorf("signature payload: signs the image as %s, not %s", got, repository)
	}
	return nil
}
