// Test identities and servers for the requester/responder tests: a
// generated P-384 (or P-256) root → DeviceID CA → alias leaf chain (DSP0274
// alias certificate model) and measurement blocks like the root of trust's.

package spdm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"math/big"
	"net"
	"strings"
	"testing"
	"time"
)

// testIdentity is a generated P-384 root → DeviceID CA → alias leaf chain.
type testIdentity struct {
	roots *x509.CertPool
	ders  [][]byte // root first
	leaf  *ecdsa.PrivateKey
	// issuer and issuerKey sign the leaf (the DeviceID CA).
	issuer    *x509.Certificate
	issuerKey *ecdsa.PrivateKey
}

// reissueLeaf returns the chain with a new leaf for the same key, its
// template changed by mod.
func (id *testIdentity) reissueLeaf(t testing.TB, mod func(*x509.Certificate)) [][]byte {
	t.Helper()
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(99), Subject: pkix.Name{CommonName: "reissued alias"},
		NotBefore: testNow.Add(-24 * time.Hour), NotAfter: testNow.Add(24 * time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature}
	mod(tmpl)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, id.issuer, &id.leaf.PublicKey, id.issuerKey)
	if err != nil {
		t.Fatal(err)
	}
	out := append([][]byte(nil), id.ders[:len(id.ders)-1]...)
	return append(out, der)
}

var testNow = time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)

func newTestIdentity(t testing.TB, curve elliptic.Curve, extraCAs int) *testIdentity {
	t.Helper()
	mk := func(tmpl, parent *x509.Certificate, pub crypto.PublicKey, priv crypto.Signer) *x509.Certificate {
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	key := func() *ecdsa.PrivateKey {
		k, err := ecdsa.GenerateKey(curve, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	serial := int64(1)
	ca := func(name string) *x509.Certificate {
		serial++
		return &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: name},
			NotBefore: testNow.Add(-24 * time.Hour), NotAfter: testNow.Add(10 * 365 * 24 * time.Hour),
			IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageCRLSign}
	}
	rootKey := key()
	rootT := ca("test root")
	root := mk(rootT, rootT, &rootKey.PublicKey, rootKey)
	id := &testIdentity{roots: x509.NewCertPool(), ders: [][]byte{root.Raw}}
	id.roots.AddCert(root)
	parent, parentKey := root, rootKey
	for i := range 1 + extraCAs {
		k := key()
		c := mk(ca("test DeviceID CA "+strings.Repeat("x", i)), parent, &k.PublicKey, parentKey)
		id.ders = append(id.ders, c.Raw)
		parent, parentKey = c, k
	}
	id.leaf = key()
	serial++
	leafT := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "test alias"},
		NotBefore: testNow.Add(-24 * time.Hour), NotAfter: testNow.Add(5 * 365 * 24 * time.Hour),
		BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature}
	leaf := mk(leafT, parent, &id.leaf.PublicKey, parentKey)
	id.issuer, id.issuerKey = parent, parentKey
	id.ders = append(id.ders, leaf.Raw)
	return id
}

func testMeasurements() MeasurementList {
	manifest := make([]byte, 4700) // like the RoT's ML-DSA-87 signed manifest
	for i := range manifest {
		manifest[i] = byte(i)
	}
	return MeasurementList{
		{Index: 1, Type: MeasTypeMutableFirmware, Value: []byte("component one"), Digest: true},
		{Index: 2, Type: MeasTypeMutableFirmware, Value: []byte("component two"), Digest: true},
		{Index: 3, Type: MeasTypeVersion, Value: []byte("1.2.3")},
		{Index: 4, Type: MeasTypeSVN, Value: []byte{7, 0, 0, 0, 0, 0, 0, 0}},
		{Index: 0xFD, Type: MeasTypeManifest, Value: manifest},
		{Index: 0xFE, Type: MeasTypeDeviceMode, Value: make([]byte, 16)},
	}
}

func testResponderConfig(id *testIdentity) ResponderConfig {
	return ResponderConfig{
		Slots:           []*CertSlot{{Chain: id.ders, Signer: id.leaf}},
		Measurements:    testMeasurements(),
		AliasCert:       true,
		HeartbeatPeriod: 10,
		Vendor: func(_ context.Context, sid uint32, req *VendorDefined) (*VendorDefined, error) {
			return &VendorDefined{StandardID: req.StandardID, VendorID: req.VendorID, Payload: append([]byte("echo:"), req.Payload...)}, nil
		},
	}
}

// startTCP serves a responder on 127.0.0.1:0 until the test ends.
func startTCP(t testing.TB, cfg ResponderConfig) string {
	t.Helper()
	rsp, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- rsp.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		l.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return l.Addr().String()
}

// startPipe serves a responder on one end of a net.Pipe.
func startPipe(t testing.TB, cfg ResponderConfig) net.Conn {
	t.Helper()
	rsp, err := NewResponder(cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = rsp.ServeConn(ctx, b)
		b.Close()
	}()
	t.Cleanup(func() {
		cancel()
		a.Close()
		b.Close()
		<-done
	})
	return a
}

func testRequesterConfig(id *testIdentity) RequesterConfig {
	return RequesterConfig{Roots: id.roots, Now: func() time.Time { return testNow }}
}
