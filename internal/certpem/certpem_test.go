package certpem

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"testing"
	"time"
)

func TestParseKeepsOrderAndSkipsOtherBlocks(t *testing.T) {
	var pemData []byte
	var want []string
	for i, cn := range []string{"root", "leaf"} {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(int64(i + 1)), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
		if err != nil {
			t.Fatal(err)
		}
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})...)
		pemData = append(pemData, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: []byte{1, 2, 3}})...)
		want = append(want, cn)
	}
	certs, err := Parse(pemData)
	if err != nil {
		t.Fatal(err)
	}
	if len(certs) != len(want) {
		t.Fatalf("got %d certificates, want %d", len(certs), len(want))
	}
	for i, c := range certs {
		if c.Subject.CommonName != want[i] {
			t.Errorf("certificate %d is %q, want %q", i, c.Subject.CommonName, want[i])
		}
	}

	bad := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("not DER")})
	if _, err := Parse(append(pemData, bad...)); err == nil {
		t.Error("a CERTIFICATE block that does not parse was accepted")
	}
	if certs, err := Parse([]byte("no PEM here")); err != nil || len(certs) != 0 {
		t.Errorf("data without PEM: %d certificates, %v; want none and no error", len(certs), err)
	}
}
