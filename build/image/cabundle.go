package image

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"slices"
)

// CABundle concatenates the PEM certificates of the *.crt files in dir in
// name order, as Debian's update-ca-certificates does with the Mozilla
// roots of the ca-certificates package (usr/share/ca-certificates/mozilla).
// Every block must be a certificate that parses: a broken or foreign file
// fails the build rather than ship a bundle Go would half read. It returns
// the bundle and the number of certificates.
func CABundle(dir string) ([]byte, int, error) {
	names, err := filepath.Glob(filepath.Join(dir, "*.crt"))
	if err != nil {
		return nil, 0, err
	}
	slices.Sort(names)
	var out bytes.Buffer
	n := 0
	for _, name := range names {
		b, err := os.ReadFile(name)
		if err != nil {
			return nil, 0, err
		}
		found := 0
		for rest := b; ; {
			var block *pem.Block
			block, rest = pem.Decode(rest)
			if block == nil {
				if len(bytes.TrimSpace(rest)) > 0 {
					return nil, 0, fmt.Errorf("CA bundle: %s: data that is not PEM after certificate %d", name, found)
				}
				break
			}
			if block.Type != "CERTIFICATE" {
				return nil, 0, fmt.Errorf("CA bundle: %s: a %q PEM block, want CERTIFICATE", name, block.Type)
			}
			if _, err := x509.ParseCertificate(block.Bytes); err != nil {
				return nil, 0, fmt.Errorf("CA bundle: %s: certificate %d: %w", name, found+1, err)
			}
			if err := pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: block.Bytes}); err != nil {
				return nil, 0, err
			}
			found++
		}
		if found == 0 {
			return nil, 0, fmt.Errorf("CA bundle: %s holds no certificate", name)
		}
		n += found
	}
	if n == 0 {
		return nil, 0, fmt.Errorf("CA bundle: no *.crt file in %s", dir)
	}
	return out.Bytes(), n, nil
}
