package image

import (
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"
)

var (
	indexDigest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	otherDigest = v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
)

// TestPayloadFormat pins the payload to the bytes cosign writes for an
// image signed by digest (sigstore/sigstore pkg/signature/payload): the
// same JSON, so that cosign verifies what this package signs.
func TestPayloadFormat(t *testing.T) {
	got, err := NewPayload(Repository, indexDigest)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"critical":{"identity":{"docker-reference":"ghcr.io/tollgate-dev/tollgate"},"image":{"docker-manifest-digest":"sha256:` +
		indexDigest.Hex + `"},"type":"cosign container image signature"},"optional":null}`
	if string(got) != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
}

func throwaway(t *testing.T) (priv, pub []byte) {
	t.Helper()
	priv, pub, err := GenerateKey()
	if err != nil {
		t.Fatal(err)
	}
	return priv, pub
}

func noPassword() ([]byte, error) { return nil, errors.New("no password") }

func TestSignVerify(t *testing.T) {
	privPEM, pubPEM := throwaway(t)
	k, err := LoadPrivateKey(privPEM, noPassword)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := LoadPublicKey(pubPEM)
	if err != nil {
		t.Fatal(err)
	}
	payload, _ := NewPayload(Repository, indexDigest)
	sig, err := Sign(k, payload)
	if err != nil {
		t.Fatal(err)
	}
	if err := Verify(pub, payload, sig+"\n", Repository, indexDigest); err != nil {
		t.Fatalf("a fresh signature does not verify: %v", err)
	}

	_, otherPubPEM := throwaway(t)
	forOther, _ := NewPayload(Repository, otherDigest)
	otherSig, _ := Sign(k, forOther)
	asMirror, _ := NewPayload("registry.example.com/tollgate", indexDigest)
	mirrorSig, _ := Sign(k, asMirror)
	tampered := []byte(strings.Replace(string(payload), "ab", "ba", 1))
	for name, tc := range map[string]struct {
		pub     []byte
		payload []byte
		sig     string
		want    string
	}{
		"another key":             {otherPubPEM, payload, sig, "does not verify"},
		"tampered payload":        {pubPEM, tampered, sig, "does not verify"},
		"signature of another":    {pubPEM, forOther, otherSig, "signs sha256:cdcd"},
		"under another name":      {pubPEM, asMirror, mirrorSig, "as registry.example.com/tollgate"},
		"not base64":              {pubPEM, payload, "%%%", "not base64"},
		"signature of the digest": {pubPEM, []byte(indexDigest.String()), mustSign(t, k, []byte(indexDigest.String())), "signature payload"},
	} {
		p, err := LoadPublicKey(tc.pub)
		if err != nil {
			t.Fatal(err)
		}
		err = Verify(p, tc.payload, tc.sig, Repository, indexDigest)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}

func mustSign(t *testing.T, k *ecdsa.PrivateKey, payload []byte) string {
	t.Helper()
	s, err := Sign(k, payload)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestCosignKeys reads keys in the forms cosign and openssl write them.
func TestCosignKeys(t *testing.T) {
	privPEM, _ := throwaway(t)
	block, _ := pem.Decode(privPEM)
	parsed, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	k := parsed.(*ecdsa.PrivateKey)
	// cosign generate-key-pair: scrypt and secretbox around PKCS #8.
	enc, err := encrypted.Encrypt(block.Bytes, []byte("hunter2"))
	if err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"} {
		cosignKey := pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: enc})
		got, err := LoadPrivateKey(cosignKey, func() ([]byte, error) { return []byte("hunter2"), nil })
		if err != nil || !got.Equal(k) {
			t.Errorf("%s: %v", typ, err)
		}
		if _, err := LoadPrivateKey(cosignKey, func() ([]byte, error) { return []byte("wrong"), nil }); err == nil || !strings.Contains(err.Error(), "password") {
			t.Errorf("%s with a wrong password: %v", typ, err)
		}
		if _, err := LoadPrivateKey(cosignKey, noPassword); err == nil || !strings.Contains(err.Error(), "no password") {
			t.Errorf("%s without a password: %v", typ, err)
		}
	}
	// openssl ecparam -genkey: SEC 1.
	der, _ := x509.MarshalECPrivateKey(k)
	if got, err := LoadPrivateKey(pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: der}), noPassword); err != nil || !got.Equal(k) {
		t.Errorf("SEC 1: %v", err)
	}
	for name, data := range map[string][]byte{
		"no PEM":   []byte("not a key"),
		"RSA type": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: []byte{1}}),
	} {
		if _, err := LoadPrivateKey(data, noPassword); err == nil {
			t.Errorf("%s: loaded", name)
		}
	}
	if _, err := LoadPublicKey(privPEM); err == nil {
		t.Error("a private key loaded as the public key")
	}
}
