package identity

import (
	"bytes"
	"crypto/x509"
	"encoding/asn1"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/dice"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

func TestDerivationIsDeterministic(t *testing.T) {
	u, err := NewUDS()
	if err != nil {
		t.Fatal(err)
	}
	k1, err := DeviceIDKey(u)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := DeviceIDKey(u)
	if !k1.Equal(k2) {
		t.Fatal("the same UDS gave two DeviceID keys")
	}
	u2, _ := NewUDS()
	if k3, _ := DeviceIDKey(u2); k3.Equal(k1) {
		t.Fatal("two UDS gave one DeviceID key")
	}
	c1, _ := DeriveCDI(u, []byte("firmware 1"))
	c1b, _ := DeriveCDI(u, []byte("firmware 1"))
	c2, _ := DeriveCDI(u, []byte("firmware 2"))
	a1, _ := AliasKey(c1)
	a1b, _ := AliasKey(c1b)
	a2, _ := AliasKey(c2)
	if !a1.Equal(a1b) || a1.Equal(a2) || a1.Equal(k1) {
		t.Fatal("alias keys do not follow the measurements")
	}
}

func TestProvisioningChain(t *testing.T) {
	dir := t.TempDir()
	root, created, err := EnsureDevRoot(dir, time.Now())
	if err != nil || !created {
		t.Fatalf("dev root: %v %v", created, err)
	}
	again, created, err := EnsureDevRoot(dir, time.Now())
	if err != nil || created || !again.Cert.Equal(root.Cert) {
		t.Fatal("EnsureDevRoot replaced an existing root")
	}
	u, _ := NewUDS()
	key, _ := DeviceIDKey(u)
	csr, err := NewDeviceIDCSR(key, "board-1")
	if err != nil {
		t.Fatal(err)
	}
	dev, err := root.IssueDeviceID(csr, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if !dev.IsCA || !dev.MaxPathLenZero || dev.MaxPathLen != 0 || !key.PublicKey.Equal(dev.PublicKey) {
		t.Fatalf("DeviceID certificate: CA %v pathLen %d/%v", dev.IsCA, dev.MaxPathLen, dev.MaxPathLenZero)
	}
	// A tampered CSR is refused.
	bad := bytes.Clone(csr)
	bad[len(bad)-5] ^= 1
	if _, err := root.IssueDeviceID(bad, time.Now()); err == nil {
		t.Fatal("tampered CSR accepted")
	}
	cdi, _ := DeriveCDI(u, []byte("fw"))
	alias, _ := AliasKey(cdi)
	fwid := dice.FWID{HashAlg: dice.OIDSHA384(), Digest: bytes.Repeat([]byte{7}, 48)}
	cert, err := IssueAlias(key, dev, &alias.PublicKey, AliasRequest{BoardID: "board-1", FirmwareVersion: "1.0", SVN: 3, FWIDs: []dice.FWID{fwid}, NotBefore: time.Now().Add(-time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	roots, inter := x509.NewCertPool(), x509.NewCertPool()
	roots.AddCert(root.Cert)
	inter.AddCert(dev)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("alias chain: %v", err)
	}
	if !cert.NotAfter.Equal(NotAfterForever) {
		t.Fatalf("notAfter %v", cert.NotAfter)
	}
	var found bool
	for _, e := range cert.Extensions {
		if e.Id.Equal(dice.OIDTcbInfo()) {
			found = true
			if e.Critical {
				t.Fatal("TcbInfo is critical")
			}
			tcb, err := dice.ParseTcbInfo(e.Value)
			if err != nil || tcb.SVN.Uint64() != 3 || len(tcb.FWIDs) != 1 || !tcb.FWIDs[0].HashAlg.Equal(asn1.ObjectIdentifier(dice.OIDSHA384())) {
				t.Fatalf("TcbInfo = %+v, %v", tcb, err)
			}
		}
	}
	if !found {
		t.Fatal("no TcbInfo extension")
	}
}

func TestUDSAndSealedAuth(t *testing.T) {
	dir := t.TempDir()
	u, _ := NewUDS()
	if err := SaveUDS(dir, u); err != nil {
		t.Fatal(err)
	}
	if err := SaveUDS(dir, u); err == nil {
		t.Fatal("a second UDS replaced the first")
	}
	got, err := LoadUDS(dir)
	if err != nil || got != u {
		t.Fatalf("LoadUDS = %v", err)
	}
	a := tpm.Auth{Owner: []byte("owner-auth-0123456789"), Lockout: []byte("lockout")}
	if err := SealTPMAuth(dir, u, a); err != nil {
		t.Fatal(err)
	}
	back, err := UnsealTPMAuth(dir, u)
	if err != nil || !bytes.Equal(back.Owner, a.Owner) || !bytes.Equal(back.Lockout, a.Lockout) {
		t.Fatalf("unseal = %+v, %v", back, err)
	}
	other, _ := NewUDS()
	if _, err := UnsealTPMAuth(dir, other); err == nil {
		t.Fatal("another UDS unsealed the TPM auth")
	}
}
