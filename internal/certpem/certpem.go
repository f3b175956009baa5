// Package certpem reads X.509 certificates out of PEM data: the identity roots a
// bmc-config carries and the certificate chains the command-line tools read. It owns
// only that decoding; what a certificate is trusted for is its callers' business.
package certpem

import (
	"crypto/x509"
	"encoding/pem"
	"fmt"
)

// Parse returns every CERTIFICATE block of b in order (other block types are
// skipped). An empty result is not an error; callers say what they expected.
func Parse(b []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			return certs, nil
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d of the PEM data: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
}
