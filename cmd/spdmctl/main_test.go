package main

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/spdm"
)

// identity returns a root PEM and a responder slot (root → DeviceID CA → alias).
func identity(t *testing.T) ([]byte, *spdm.CertSlot) {
	t.Helper()
	now := time.Now()
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	mk := func(serial int64, cn string, ca bool, pub, parentKey *ecdsa.PrivateKey, parent *x509.Certificate) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * time.Hour), BasicConstraintsValid: true, IsCA: ca,
			KeyUsage: x509.KeyUsageDigitalSignature}
		if ca {
			tmpl.KeyUsage = x509.KeyUsageCertSign
		}
		if parent == nil {
			parent = tmpl
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &pub.PublicKey, parentKey)
		if err != nil {
			t.Fatal(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c
	}
	rk, dk, lk := key(), key(), key()
	root := mk(1, "spdmctl test root", true, rk, rk, nil)
	dev := mk(2, "spdmctl DeviceID", true, dk, rk, root)
	leaf := mk(3, "spdmctl alias", false, lk, dk, dev)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: root.Raw}),
		&spdm.CertSlot{Chain: [][]byte{root.Raw, dev.Raw, leaf.Raw}, Signer: lk}
}

func serve(t *testing.T, slot *spdm.CertSlot) string {
	t.Helper()
	rsp, err := spdm.NewResponder(spdm.ResponderConfig{
		Slots:     []*spdm.CertSlot{slot},
		AliasCert: true,
		Measurements: spdm.MeasurementList{
			{Index: 1, Type: spdm.MeasTypeMutableFirmware, Value: []byte("fw"), Digest: true},
			{Index: 0xFE, Type: spdm.MeasTypeDeviceMode, Value: make([]byte, 16)},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = rsp.Serve(ctx, l) }()
	t.Cleanup(func() { cancel(); l.Close(); <-done })
	return l.Addr().String()
}

func TestAttest(t *testing.T) {
	rootPEM, slot := identity(t)
	addr := serve(t, slot)
	dir := t.TempDir()
	root := filepath.Join(dir, "root.pem")
	if err := os.WriteFile(root, rootPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"attest", "--addr", addr, "--root", root, "--session"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s\n%s", code, errb.String(), out.String())
	}
	for _, want := range []string{"SPDM version:     1.3", "ECDSA P-384", "CHALLENGE_AUTH verified", "index 0x01", "session 0x", "session measurements", "attestation OK"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
	// Wrong root: non-zero exit with a clear message.
	otherPEM, _ := identity(t)
	other := filepath.Join(dir, "other.pem")
	if err := os.WriteFile(other, otherPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	out.Reset()
	errb.Reset()
	if code := run(context.Background(), []string{"attest", "--addr", addr, "--root", other}, &out, &errb); code != 1 {
		t.Fatalf("untrusted root: exit %d", code)
	}
	if !strings.Contains(errb.String(), "attestation FAILED") || !strings.Contains(errb.String(), "certificate") {
		t.Errorf("message: %s", errb.String())
	}
	// Nothing listening.
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	dead := l.Addr().String()
	l.Close()
	if code := run(context.Background(), []string{"attest", "--addr", dead, "--root", root}, &out, &errb); code != 1 {
		t.Fatalf("dead address: exit %d", code)
	}
	if code := run(context.Background(), []string{"attest"}, &out, &errb); code != 2 {
		t.Fatalf("missing --root: exit %d", code)
	}
}
