// Package tlsidentity owns the BMC's HTTPS identity: a self-signed ECDSA P-384 X.509 v3
// certificate generated on first boot and persisted in the BMC state, and the TLS server
// configuration built around it.
//
// The private key is only ever used through a crypto.Signer, so it can move into the root
// of trust later without touching the TLS server. Until then it is a 0600 PKCS#8 PEM file
// next to the certificate, written crash-safely.
package tlsidentity

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/record"
)

// File names inside the identity directory.
const (
	CertFile = "cert.pem"
	KeyFile  = "key.pem"
)

// Validity is how long a generated certificate is valid. BMC certificates are replaced
// through the CertificateService, not by expiry; ten years is the common choice.
const Validity = 10 * 365 * 24 * time.Hour

// Identity is the certificate and the signer that proves possession of its key.
type Identity struct {
	Leaf   *x509.Certificate
	Signer crypto.Signer
}

// Options describe the certificate generated on first boot.
type Options struct {
	CommonName string    // e.g. the board ID; defaults to "ironroot BMC"
	DNSNames   []string  // subjectAltName DNS entries; "localhost" is always added
	IPs        []net.IP  // subjectAltName IP entries; 127.0.0.1 and ::1 are always added
	Now        time.Time // notBefore is an hour earlier; zero means time.Now
}

// LoadOrCreate reads the identity from dir, or generates and persists a new one when
// neither file exists. A directory holding only one of the two files is an error: it
// means state was damaged, and silently replacing a key would hide that.
func LoadOrCreate(dir string, opt Options) (*Identity, error) {
	certPath, keyPath := filepath.Join(dir, CertFile), filepath.Join(dir, KeyFile)
	certPEM, certErr := os.ReadFile(certPath)
	keyPEM, keyErr := os.ReadFile(keyPath)
	switch {
	case certErr == nil && keyErr == nil:
		return parse(certPEM, keyPEM)
	case errors.Is(certErr, fs.ErrNotExist) && errors.Is(keyErr, fs.ErrNotExist):
		return create(dir, opt)
	case certErr != nil && !errors.Is(certErr, fs.ErrNotExist):
		return nil, fmt.Errorf("read TLS certificate: %w", certErr)
	case keyErr != nil && !errors.Is(keyErr, fs.ErrNotExist):
		return nil, fmt.Errorf("read TLS key: %w", keyErr)
	default:
		return nil, fmt.Errorf("TLS identity in %s is incomplete: one of %s and %s is missing", dir, CertFile, KeyFile)
	}
}

func create(dir string, opt Options) (*Identity, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create TLS identity directory: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate TLS key: %w", err)
	}
	der, err := selfSign(key, opt, rand.Reader)
	if err != nil {
		return nil, err
	}
	pkcs8, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode TLS key: %w", err)
	}
	// Key first: a crash between the two writes leaves a key without a certificate,
	// which LoadOrCreate reports instead of silently regenerating.
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8})
	if err := record.WriteFile(filepath.Join(dir, KeyFile), keyPEM, 0o600); err != nil {
		return nil, fmt.Errorf("write TLS key: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	if err := record.WriteFile(filepath.Join(dir, CertFile), certPEM, 0o644); err != nil {
		return nil, fmt.Errorf("write TLS certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse generated TLS certificate: %w", err)
	}
	return &Identity{Leaf: leaf, Signer: key}, nil
}

func selfSign(key *ecdsa.PrivateKey, opt Options, random io.Reader) ([]byte, error) {
	now := opt.Now
	if now.IsZero() {
		now = time.Now()
	}
	serial, err := rand.Int(random, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("generate certificate serial: %w", err)
	}
	cn := opt.CommonName
	if cn == "" {
		cn = "ironroot BMC"
	}
	pub, err := x509.MarshalPKIXPublicKey(&key.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encode TLS public key: %w", err)
	}
	ski := sha256.Sum256(pub)
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"ironroot"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(Validity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		SubjectKeyId:          ski[:20],
		DNSNames:              append([]string{"localhost"}, opt.DNSNames...),
		IPAddresses:           append([]net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}, opt.IPs...),
	}
	der, err := x509.CreateCertificate(random, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("self-sign TLS certificate: %w", err)
	}
	return der, nil
}

func parse(certPEM, keyPEM []byte) (*Identity, error) {
	cb, _ := pem.Decode(certPEM)
	if cb == nil || cb.Type != "CERTIFICATE" {
		return nil, errors.New("parse TLS certificate: no CERTIFICATE PEM block")
	}
	leaf, err := x509.ParseCertificate(cb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse TLS certificate: %w", err)
	}
	kb, _ := pem.Decode(keyPEM)
	if kb == nil || kb.Type != "PRIVATE KEY" {
		return nil, errors.New("parse TLS key: no PRIVATE KEY PEM block")
	}
	k, err := x509.ParsePKCS8PrivateKey(kb.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse TLS key: %w", err)
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("parse TLS key: %T is not a signing key", k)
	}
	pub, ok := leaf.PublicKey.(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(signer.Public()) {
		return nil, errors.New("TLS key does not match the certificate")
	}
	return &Identity{Leaf: leaf, Signer: signer}, nil
}

// signerOnly hides every method of the key but crypto.Signer's, so nothing in the TLS
// stack can depend on the key being in this process's memory.
type signerOnly struct{ crypto.Signer }

// ServerConfig is the TLS configuration of the management interfaces: TLS 1.2 and 1.3
// only, and for 1.2 only forward-secret AEAD suites that an ECDSA certificate can serve.
func (id *Identity) ServerConfig() *tls.Config {
	cert := tls.Certificate{
		Certificate: [][]byte{id.Leaf.Raw},
		PrivateKey:  signerOnly{id.Signer},
		Leaf:        id.Leaf,
	}
	return &tls.Config{
		Certificates: []tls.Certificate{cert},
		MinVersion:   tls.VersionTLS12,
		CipherSuites: []uint16{
			tls.TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,
			tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,
			tls.TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,
		},
		NextProtos: []string{"h2", "http/1.1"},
	}
}

// CertPool is a pool holding only this identity's certificate, for clients (tests,
// bmcctl) that pin the board's self-signed certificate.
func (id *Identity) CertPool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(id.Leaf)
	return p
}

// errNotTLS ends a connection whose first byte is not a TLS handshake record.
var errNotTLS = errors.New("connection did not start with a TLS handshake record")

// recordTypeHandshake is the TLS record content type every ClientHello starts with.
const recordTypeHandshake = 0x16

// OnlyTLS wraps a listener so that a connection that does not start with a TLS handshake
// record is closed without a byte written back. Without it net/http answers plain HTTP on
// a TLS port with a "400 Bad Request: Client sent an HTTP request to an HTTPS server";
// the management interfaces serve nothing over plain HTTP, not even that.
func OnlyTLS(ln net.Listener) net.Listener { return onlyTLSListener{ln} }

type onlyTLSListener struct{ net.Listener }

func (l onlyTLSListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return &firstByteConn{Conn: c}, nil
}

// firstByteConn checks the first byte read; it is only read by the TLS handshake, from
// one goroutine, so the flag needs no lock.
type firstByteConn struct {
	net.Conn
	checked bool
}

func (c *firstByteConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if !c.checked && n > 0 {
		c.checked = true
		if p[0] != recordTypeHandshake {
			c.Conn.Close()
			return 0, errNotTLS
		}
	}
	return n, err
}
