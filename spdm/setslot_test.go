package spdm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"math/big"
	"net"
	"testing"
)

// SetSlot replaces a slot under live connections: the next DIGESTS (inside
// a session too) carries the new chain's digest.
func TestResponderSetSlot(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	rsp, err := NewResponder(testResponderConfig(id))
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { _, _ = rsp.ServeConn(ctx, b); b.Close() }()
	r := NewRequester(a, testRequesterConfig(id))
	defer r.Close(context.Background())
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.StartSession(ctx, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	d, err := s.Digests(ctx)
	if err != nil || !bytes.Equal(d.Digests[0], chain.Digest) {
		t.Fatalf("digests before: %v", err)
	}
	ders := id.reissueLeaf(t, func(c *x509.Certificate) { c.SerialNumber = big.NewInt(4242) })
	if err := rsp.SetSlot(0, &CertSlot{Chain: ders, Signer: id.leaf}); err != nil {
		t.Fatal(err)
	}
	d, err = s.Digests(ctx)
	if err != nil || bytes.Equal(d.Digests[0], chain.Digest) {
		t.Fatalf("digests after SetSlot unchanged (%v)", err)
	}
	other, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err := rsp.SetSlot(1, &CertSlot{Chain: ders, Signer: other}); err == nil {
		t.Fatal("slot with another curve accepted")
	}
	if err := rsp.SetSlot(8, nil); err == nil {
		t.Fatal("slot 8 accepted")
	}
}
