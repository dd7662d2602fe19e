// Package certs serves Tollgate's webhook TLS: self-signed mode (a CA and a
// serving certificate kept in a Secret that replicas share, caBundle written
// into Tollgate's own webhook configurations, rotation before expiry with the
// old CA trusted during the overlap), the sync of the Secret into each
// replica's certificate directory (which the webhook server reloads without a
// restart), and the start-up checks of a mounted key pair (cert-manager mode).
package certs

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// KeyPair is a certificate and its private key, PEM-encoded.
type KeyPair struct {
	CertPEM []byte
	KeyPEM  []byte
	Cert    *x509.Certificate
}

// backdate covers clock skew between Tollgate and the API server.
const backdate = 5 * time.Minute

func newKey() (*ecdsa.PrivateKey, []byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	der, err := x509.MarshalPKCS8PrivateKey(k)
	if err != nil {
		return nil, nil, err
	}
	return k, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func serial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
}

// NewCA creates a self-signed CA valid from now for lifetime.
func NewCA(commonName string, now time.Time, lifetime time.Duration) (KeyPair, error) {
	key, keyPEM, err := newKey()
	if err != nil {
		return KeyPair{}, err
	}
	sn, err := serial()
	if err != nil {
		return KeyPair{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          sn,
		Subject:               pkix.Name{CommonName: commonName, Organization: []string{"Tollgate"}},
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(lifetime),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return KeyPair{}, err
	}
	return parsePair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
}

// NewServing creates a serving certificate for the DNS names and IPs,
// signed by ca, valid from now for lifetime (never past the CA's expiry).
func NewServing(ca KeyPair, dnsNames []string, ips []net.IP, now time.Time, lifetime time.Duration) (KeyPair, error) {
	caKey, err := parseKey(ca.KeyPEM)
	if err != nil {
		return KeyPair{}, err
	}
	key, keyPEM, err := newKey()
	if err != nil {
		return KeyPair{}, err
	}
	sn, err := serial()
	if err != nil {
		return KeyPair{}, err
	}
	notAfter := now.Add(lifetime)
	if notAfter.After(ca.Cert.NotAfter) {
		notAfter = ca.Cert.NotAfter
	}
	cn := "tollgate"
	if len(dnsNames) > 0 {
		cn = dnsNames[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber: sn,
		Subject:      pkix.Name{CommonName: cn, Organization: []string{"Tollgate"}},
		NotBefore:    now.Add(-backdate),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		DNSNames:     dnsNames,
		IPAddresses:  ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.Cert, &key.PublicKey, caKey)
	if err != nil {
		return KeyPair{}, err
	}
	return parsePair(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), keyPEM)
}

func parseKey(keyPEM []byte) (any, error) {
	b, _ := pem.Decode(keyPEM)
	if b == nil {
		return nil, errors.New("no PEM block in the private key")
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return x509.ParsePKCS1PrivateKey(b.Bytes)
}

// parsePair parses a certificate and key and checks that they belong together.
func parsePair(certPEM, keyPEM []byte) (KeyPair, error) {
	if _, err := tls.X509KeyPair(certPEM, keyPEM); err != nil {
		return KeyPair{}, err
	}
	b, _ := pem.Decode(certPEM)
	if b == nil {
		return KeyPair{}, errors.New("no PEM block in the certificate")
	}
	c, err := x509.ParseCertificate(b.Bytes)
	if err != nil {
		return KeyPair{}, err
	}
	return KeyPair{CertPEM: certPEM, KeyPEM: keyPEM, Cert: c}, nil
}

// ParseCerts parses every certificate of a PEM bundle.
func ParseCerts(bundle []byte) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for rest := bundle; ; {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	if len(out) == 0 {
		return nil, errors.New("no certificate in the bundle")
	}
	return out, nil
}

// CheckCertDir verifies at start that the key pair in dir loads and
// belongs together, and reports its expiry, so that a wrong mount fails
// loudly instead of at the first TLS handshake.
func CheckCertDir(dir, certName, keyName string, now time.Time) (*x509.Certificate, error) {
	certPath, keyPath := filepath.Join(dir, certName), filepath.Join(dir, keyName)
	certPEM, err := os.ReadFile(certPath)
	if err != nil {
		return nil, fmt.Errorf("serving certificate: %w", err)
	}
	keyPEM, err := os.ReadFile(keyPath)
	if err != nil {
		return nil, fmt.Errorf("serving key: %w", err)
	}
	kp, err := parsePair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("the key pair %s and %s is not usable: %w", certPath, keyPath, err)
	}
	if now.After(kp.Cert.NotAfter) {
		return kp.Cert, fmt.Errorf("the serving certificate %s expired at %s", certPath, kp.Cert.NotAfter.Format(time.RFC3339))
	}
	return kp.Cert, nil
}

// writeFileAtomic replaces path's content at once, so that the webhook
// server's file watcher never reads a half-written file.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

func pemCert(c *x509.Certificate) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
}
