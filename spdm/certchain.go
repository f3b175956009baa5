// This file implements the SPDM certificate chain format of DSP0274 1.2/1.3
// clause 10.7.1 (table "Certificate chain format": Length, Reserved,
// RootHash, Certificates) and the requester's checks of clause 10.7 and the
// certificate requirements of DSP0274 Annex "Leaf certificate" / "Device
// certificate model" / "Alias certificate model": X.509 v3, BasicConstraints
// (CA only above the leaf), KeyUsage digitalSignature on the leaf, the leaf
// key matching the negotiated BaseAsymAlgo, validity at a caller's clock,
// the SPDM extended key usages (id-DMTF-eku-responder-auth / requester-auth)
// and the SPDM extension's hardware identity OID, which an alias
// certificate must not carry (DSP0274 "SPDM certificate extensions").

package spdm

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/x509"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// MaxCertChainSize bounds an SPDM certificate chain (u16 Length field).
const MaxCertChainSize = 0xFFFF

// DMTF OIDs of DSP0274 (1.3.6.1.4.1.412.274.*).
var (
	oidDMTFHardwareIdentity = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 412, 274, 2}
	oidDMTFEKUResponderAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 412, 274, 3}
	oidDMTFEKURequesterAuth = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 412, 274, 4}
	oidDMTFSPDMExtension    = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 412, 274, 6}
)

// ErrCertChain reports a certificate chain that fails verification.
var ErrCertChain = errors.New("spdm: certificate chain rejected")

// CertChain is a parsed SPDM certificate chain.
type CertChain struct {
	// Raw is the chain exactly as CERTIFICATE carries it (Length,
	// Reserved, RootHash, certificates).
	Raw      []byte
	RootHash []byte
	// Certs are the certificates, root (or first) first, leaf last.
	Certs []*x509.Certificate
	// Digest is H(Raw), the value DIGESTS and CHALLENGE_AUTH carry.
	Digest []byte
	// Model is the certificate model the chain was checked against.
	Model uint8
}

// Leaf returns the leaf certificate.
func (c *CertChain) Leaf() *x509.Certificate { return c.Certs[len(c.Certs)-1] }

// BuildCertChain returns the SPDM chain for DER certificates (root first).
func BuildCertChain(h crypto.Hash, ders [][]byte) ([]byte, error) {
	if len(ders) == 0 {
		return nil, fmt.Errorf("%w: no certificates", ErrCertChain)
	}
	rh := h.New()
	rh.Write(ders[0])
	b := make([]byte, 4, 4+h.Size())
	b = rh.Sum(b)
	for _, d := range ders {
		b = append(b, d...)
	}
	if len(b) > MaxCertChainSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrCertChain, len(b))
	}
	binary.LittleEndian.PutUint16(b, uint16(len(b)))
	return b, nil
}

// ParseCertChain parses an SPDM chain and checks its Length and RootHash.
func ParseCertChain(h crypto.Hash, raw []byte) (*CertChain, error) {
	hs := h.Size()
	if len(raw) < 4+hs {
		return nil, fmt.Errorf("%w: %d-byte chain", ErrCertChain, len(raw))
	}
	if n := int(binary.LittleEndian.Uint16(raw)); n != len(raw) {
		return nil, fmt.Errorf("%w: Length %d, got %d bytes", ErrCertChain, n, len(raw))
	}
	certs, err := x509.ParseCertificates(raw[4+hs:])
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCertChain, err)
	}
	if len(certs) == 0 {
		return nil, fmt.Errorf("%w: no certificates", ErrCertChain)
	}
	c := &CertChain{Raw: raw, RootHash: raw[4 : 4+hs], Certs: certs}
	d := h.New()
	d.Write(raw)
	c.Digest = d.Sum(nil)
	return c, nil
}

// VerifyOptions configures certificate chain verification.
type VerifyOptions struct {
	Roots *x509.CertPool
	// Now is the verification time; required (no wall clock is assumed).
	Now time.Time
	// Asym is the negotiated BaseAsymAlgo the leaf key must match.
	Asym BaseAsymAlgo
	// Model is CertModelDevice or CertModelAlias.
	Model uint8
}

// Verify checks the chain against the roots and the DSP0274 certificate
// requirements.
func (c *CertChain) Verify(h crypto.Hash, opts VerifyOptions) error {
	if opts.Roots == nil {
		return fmt.Errorf("%w: no trust anchors", ErrCertChain)
	}
	if opts.Now.IsZero() {
		return fmt.Errorf("%w: no verification time", ErrCertChain)
	}
	rh := h.New()
	rh.Write(c.Certs[0].Raw)
	firstIsRoot := bytes.Equal(rh.Sum(nil), c.RootHash)
	leaf := c.Leaf()
	for i, cert := range c.Certs {
		if cert.Version != 3 {
			return fmt.Errorf("%w: certificate %d is X.509 v%d", ErrCertChain, i, cert.Version)
		}
		if cert == leaf {
			continue
		}
		if !cert.BasicConstraintsValid || !cert.IsCA {
			return fmt.Errorf("%w: certificate %d (%s) is not a CA", ErrCertChain, i, cert.Subject)
		}
		if cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageCertSign == 0 {
			return fmt.Errorf("%w: certificate %d (%s) lacks keyCertSign", ErrCertChain, i, cert.Subject)
		}
	}
	if leaf.IsCA {
		return fmt.Errorf("%w: leaf %s is a CA", ErrCertChain, leaf.Subject)
	}
	if leaf.KeyUsage&x509.KeyUsageDigitalSignature == 0 {
		return fmt.Errorf("%w: leaf %s lacks KeyUsage digitalSignature", ErrCertChain, leaf.Subject)
	}
	var reqAuth, rspAuth bool
	for _, o := range leaf.UnknownExtKeyUsage {
		reqAuth = reqAuth || o.Equal(oidDMTFEKURequesterAuth)
		rspAuth = rspAuth || o.Equal(oidDMTFEKUResponderAuth)
	}
	if reqAuth && !rspAuth {
		return fmt.Errorf("%w: leaf %s is for requester authentication only", ErrCertChain, leaf.Subject)
	}
	hwID, err := asn1.Marshal(oidDMTFHardwareIdentity)
	if err != nil {
		return err
	}
	for _, ext := range leaf.Extensions {
		if ext.Id.Equal(oidDMTFSPDMExtension) && opts.Model == CertModelAlias && bytes.Contains(ext.Value, hwID) {
			return fmt.Errorf("%w: alias certificate %s carries the hardware identity OID", ErrCertChain, leaf.Subject)
		}
	}
	switch opts.Model {
	case CertModelAlias:
		// The alias model needs the DeviceID CA between the root and the alias leaf.
		if len(c.Certs) < 2 {
			return fmt.Errorf("%w: alias certificate model needs a DeviceID CA above the leaf", ErrCertChain)
		}
	case CertModelDevice, CertModelNone, CertModelGeneric:
	default:
		return fmt.Errorf("%w: unknown certificate model %d", ErrCertChain, opts.Model)
	}
	pub, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || opts.Asym.Curve() == nil || pub.Curve != opts.Asym.Curve() {
		return fmt.Errorf("%w: leaf key %T does not match BaseAsymAlgo 0x%x", ErrCertChain, leaf.PublicKey, uint32(opts.Asym))
	}
	inter := x509.NewCertPool()
	for _, cert := range c.Certs[:len(c.Certs)-1] {
		inter.AddCert(cert)
	}
	chains, err := leaf.Verify(x509.VerifyOptions{
		Roots:         opts.Roots,
		Intermediates: inter,
		CurrentTime:   opts.Now,
		KeyUsages:     []x509.ExtKeyUsage{x509.ExtKeyUsageAny},
	})
	if err != nil {
		return fmt.Errorf("%w: %w", ErrCertChain, err)
	}
	if firstIsRoot {
		// The RootHash names the first certificate: it must be the anchor.
		found := false
		for _, ch := range chains {
			if ch[len(ch)-1].Equal(c.Certs[0]) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%w: chain root is not a trust anchor", ErrCertChain)
		}
	} else {
		// RootHash must name the anchor the chain was verified to.
		found := false
		for _, ch := range chains {
			d := h.New()
			d.Write(ch[len(ch)-1].Raw)
			if bytes.Equal(d.Sum(nil), c.RootHash) {
				found = true
			}
		}
		if !found {
			return fmt.Errorf("%w: RootHash matches no trust anchor", ErrCertChain)
		}
	}
	c.Model = opts.Model
	return nil
}
