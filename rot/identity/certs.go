package identity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"time"

	"github.com/ironroot-bmc/ironroot/dice"
	"github.com/ironroot-bmc/ironroot/rot/record"
)

// Development identity root file names (in .dev-keys/).
const (
	RootKeyFile  = "identity-root.key" // PKCS#8 P-384, 0600
	RootCertFile = "identity-root.pem"
)

// NotAfterForever is the notAfter of certificates with no well-defined
// expiration (IEEE 802.1AR, RFC 5280 4.1.2.5): 99991231235959Z.
var NotAfterForever = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)

// Root is an identity root: the manufacturer CA that signs DeviceID
// certificates. The production key is offline; the development one lives
// in .dev-keys/.
type Root struct {
	Cert *x509.Certificate
	Key  crypto.Signer
}

// EnsureDevRoot loads the development identity root from dir, creating it
// the first time (never replacing an existing one).
func EnsureDevRoot(dir string, now time.Time) (*Root, bool, error) {
	r, err := LoadRoot(dir)
	if err == nil {
		return r, false, nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return nil, false, err
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, false, fmt.Errorf("creating identity root: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, false, fmt.Errorf("creating identity root: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{Organization: []string{"ironroot development"}, CommonName: "ironroot development identity root"},
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              NotAfterForever,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            1,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, false, fmt.Errorf("creating identity root: %w", err)
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, false, fmt.Errorf("creating identity root: %w", err)
	}
	if err := record.WriteFile(filepath.Join(dir, RootKeyFile), pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), 0o600); err != nil {
		return nil, false, err
	}
	if err := record.WriteFile(filepath.Join(dir, RootCertFile), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return nil, false, err
	}
	r, err = LoadRoot(dir)
	return r, true, err
}

// LoadRoot reads an identity root's key and certificate from dir.
func LoadRoot(dir string) (*Root, error) {
	cert, err := ReadCertificate(filepath.Join(dir, RootCertFile))
	if err != nil {
		return nil, err
	}
	kp := filepath.Join(dir, RootKeyFile)
	fi, err := os.Stat(kp)
	if err != nil {
		return nil, fmt.Errorf("loading identity root key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("loading identity root key: %s is mode %v, must be 0600", kp, fi.Mode().Perm())
	}
	b, err := os.ReadFile(kp)
	if err != nil {
		return nil, fmt.Errorf("loading identity root key: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("loading identity root key: no PEM block in %s", kp)
	}
	k, err := x509.ParsePKCS8PrivateKey(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("loading identity root key: %w", err)
	}
	signer, ok := k.(*ecdsa.PrivateKey)
	if !ok || !signer.PublicKey.Equal(cert.PublicKey) {
		return nil, fmt.Errorf("loading identity root: key in %s does not match %s", RootKeyFile, RootCertFile)
	}
	return &Root{Cert: cert, Key: signer}, nil
}

// ReadCertificate reads one PEM certificate.
func ReadCertificate(path string) (*x509.Certificate, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading certificate: %w", err)
	}
	blk, _ := pem.Decode(b)
	if blk == nil || blk.Type != "CERTIFICATE" {
		return nil, fmt.Errorf("reading certificate %s: no PEM CERTIFICATE block", path)
	}
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		return nil, fmt.Errorf("reading certificate %s: %w", path, err)
	}
	return c, nil
}

// WriteCertificate writes one PEM certificate crash-safely.
func WriteCertificate(path string, c *x509.Certificate) error {
	return record.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Raw}), 0o644)
}

func randomSerial() *big.Int {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[0] &= 0x7F
	b[0] |= 0x01
	return new(big.Int).SetBytes(b)
}

func keyID(pub *ecdsa.PublicKey) []byte {
	der, _ := x509.MarshalPKIXPublicKey(pub)
	sum := sha512.Sum384(der)
	return sum[:20]
}

// NewDeviceIDCSR builds the certificate signing request for the DeviceID key.
func NewDeviceIDCSR(key *ecdsa.PrivateKey, boardID string) ([]byte, error) {
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{
			Organization: []string{"ironroot"},
			CommonName:   fmt.Sprintf("ironroot DeviceID %x", keyID(&key.PublicKey)[:8]),
			SerialNumber: boardID,
		},
		SignatureAlgorithm: x509.ECDSAWithSHA384,
	}, key)
	if err != nil {
		return nil, fmt.Errorf("creating DeviceID CSR: %w", err)
	}
	return der, nil
}

// IssueDeviceID is the identity root's side of provisioning: it checks the
// CSR's self-signature and key type and issues the DeviceID certificate
// (CA:TRUE, pathLen 0: it signs only alias certificates).
func (r *Root) IssueDeviceID(csrDER []byte, now time.Time) (*x509.Certificate, error) {
	csr, err := x509.ParseCertificateRequest(csrDER)
	if err != nil {
		return nil, fmt.Errorf("issuing DeviceID: %w", err)
	}
	if err := csr.CheckSignature(); err != nil {
		return nil, fmt.Errorf("issuing DeviceID: CSR signature: %w", err)
	}
	pub, ok := csr.PublicKey.(*ecdsa.PublicKey)
	if !ok || pub.Curve != elliptic.P384() {
		return nil, fmt.Errorf("issuing DeviceID: CSR key is not P-384")
	}
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               csr.Subject,
		NotBefore:             now.Add(-time.Hour).UTC(),
		NotAfter:              NotAfterForever,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
		SubjectKeyId:          keyID(pub),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, r.Cert, pub, r.Key)
	if err != nil {
		return nil, fmt.Errorf("issuing DeviceID: %w", err)
	}
	return x509.ParseCertificate(der)
}

// AliasRequest is what the alias certificate states about this boot.
type AliasRequest struct {
	BoardID         string
	FirmwareVersion string
	SVN             uint64
	// FWIDs are the measurements, in measurement order (components, then
	// the signed manifest).
	FWIDs []dice.FWID
	// Flags are the DICE operational flags (recovery, debug...).
	Flags dice.OperationalFlags
	// NotBefore is the certificate's notBefore (rotd uses the manifest's
	// build time: the certificate then depends on the firmware only).
	NotBefore time.Time
}

// IssueAlias issues the alias certificate for aliasPub, signed by the
// DeviceID key, with the measurements in a non-critical TcbInfo extension.
func IssueAlias(deviceID *ecdsa.PrivateKey, deviceIDCert *x509.Certificate, aliasPub *ecdsa.PublicKey, req AliasRequest) (*x509.Certificate, error) {
	flags := req.Flags
	tcb := dice.TcbInfo{
		Vendor:  "ironroot",
		Model:   req.BoardID,
		Version: req.FirmwareVersion,
		SVN:     new(big.Int).SetUint64(req.SVN),
		Layer:   big.NewInt(1),
		FWIDs:   req.FWIDs,
		Flags:   &flags,
	}
	ext, err := tcb.Extension()
	if err != nil {
		return nil, fmt.Errorf("issuing alias certificate: %w", err)
	}
	kid := keyID(aliasPub)
	serial := new(big.Int).SetBytes(append([]byte{0x01}, kid[:15]...))
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject: pkix.Name{
			Organization: []string{"ironroot"},
			CommonName:   fmt.Sprintf("ironroot alias %x", kid[:8]),
			SerialNumber: req.BoardID,
		},
		NotBefore:             req.NotBefore.UTC(),
		NotAfter:              NotAfterForever,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  false,
		SubjectKeyId:          kid,
		ExtraExtensions:       []pkix.Extension{ext},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, deviceIDCert, aliasPub, deviceID)
	if err != nil {
		return nil, fmt.Errorf("issuing alias certificate: %w", err)
	}
	return x509.ParseCertificate(der)
}
