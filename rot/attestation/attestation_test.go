package attestation_test

import (
	"bytes"
	"context"
	"errors"
	"net"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/rot/attestation"
	"github.com/ironroot-bmc/ironroot/rotlink"
	"github.com/ironroot-bmc/ironroot/spdm"
)

func control(t *testing.T, send func(context.Context, spdm.VendorDefined) (*spdm.VendorDefined, error), op rotlink.Op) ([]byte, error) {
	t.Helper()
	p, _ := rotlink.Request(op).Marshal()
	rsp, err := send(context.Background(), spdm.VendorDefined{StandardID: rotlink.StandardIDIANA, VendorID: rotlink.VendorID(), Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rotlink.Parse(rsp.Payload)
	if err != nil {
		t.Fatal(err)
	}
	return m.Check(op)
}

func TestServerOnTCP(t *testing.T) {
	sim := rotsim.New(t, rotsim.Options{})
	healthy := 0
	srv := attestation.NewServer(attestation.Config{
		SealingKey: sim.SealingKey,
		Healthy:    func(context.Context) (string, error) { healthy++; return "ok", nil },
	})
	if err := srv.SetBoot(sim.Boot); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make(chan net.Addr, 1)
	done := make(chan error, 1)
	go func() { done <- srv.ListenAndServe(ctx, "127.0.0.1:0", func(a net.Addr) { addrs <- a }) }()
	defer func() { cancel(); <-done }()
	addr := (<-addrs).String()

	anchors := attest.AnchorsFrom(sim.BMCConfig)
	r, err := spdm.Dial(ctx, addr, spdm.RequesterConfig{Roots: anchors.Roots(), Now: attest.MonotonicTime()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	// Outside a session every control message is refused.
	var re *rotlink.ResponseError
	if _, err := control(t, r.VendorDefined, rotlink.OpGetSealingKey); !errors.As(err, &re) || re.Status != rotlink.StatusNotInSession {
		t.Fatalf("sealing key outside a session: %v", err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(chain.Certs) != 3 || !chain.Certs[0].Equal(sim.Boot.IdentityRoot) || !chain.Leaf().Equal(sim.Boot.Alias) {
		t.Fatal("slot 0 is not identity root → DeviceID → alias")
	}
	s, err := r.StartSession(ctx, spdm.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	key, err := control(t, s.VendorDefined, rotlink.OpGetSealingKey)
	if err != nil || !bytes.Equal(key, sim.SealingKey) {
		t.Fatalf("sealing key %x %v", key, err)
	}
	if _, err := control(t, s.VendorDefined, rotlink.OpReportHealthy); err != nil || healthy != 1 {
		t.Fatalf("health: %v (%d)", err, healthy)
	}
	if _, err := control(t, s.VendorDefined, rotlink.OpGetStatus); err == nil {
		t.Fatal("status without a Status handler")
	}
	mr, err := s.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := attest.Appraise(attest.Evidence{Chain: chain, Hash: r.Negotiated().BaseHash, Measurements: mr.Evidence}, anchors, attest.PolicyFrom(sim.BMCConfig), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.Manifest.SVN != sim.Manifest.SVN {
		t.Fatal(res.Manifest.SVN)
	}

	// A new boot drops the connection.
	if err := srv.SetBoot(sim.Boot); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Digests(ctx); err == nil {
		t.Fatal("connection to the earlier boot survived SetBoot")
	}
}

func TestSealingKeyInputs(t *testing.T) {
	a := rotsim.New(t, rotsim.Options{})
	k1, _ := attestation.SealingKey(a.UDS, a.Vendor.Keys)
	k2, _ := attestation.SealingKey(a.UDS, a.Vendor.Keys)
	if !bytes.Equal(k1, k2) || len(k1) != rotlink.SealingKeySize || !bytes.Equal(k1, a.SealingKey) {
		t.Fatal("sealing key not deterministic")
	}
	b := rotsim.New(t, rotsim.Options{SVN: 9})
	if k, _ := attestation.SealingKey(b.UDS, a.Vendor.Keys); bytes.Equal(k, k1) {
		t.Fatal("another UDS, same key")
	}
	if k, _ := attestation.SealingKey(a.UDS, b.Vendor.Keys); bytes.Equal(k, k1) {
		t.Fatal("another vendor key set, same key")
	}
}

func TestBootChecked(t *testing.T) {
	sim := rotsim.New(t, rotsim.Options{})
	bad := sim.Boot
	bad.DeviceID, bad.IdentityRoot = sim.Boot.IdentityRoot, sim.Boot.DeviceID
	if _, err := attestation.ResponderConfig(attestation.Config{}, bad); err == nil {
		t.Fatal("broken chain accepted")
	}
}

// FuzzVendorHandler: whatever payload arrives inside or outside a session,
// the handler answers with a well-formed response of the protocol and
// hands out the sealing key only to a well-formed request in a session.
func FuzzVendorHandler(f *testing.F) {
	sim := rotsim.New(f, rotsim.Options{})
	rc, err := attestation.ResponderConfig(attestation.Config{SealingKey: sim.SealingKey}, sim.Boot)
	if err != nil {
		f.Fatal(err)
	}
	for _, op := range []rotlink.Op{rotlink.OpGetSealingKey, rotlink.OpGetStatus, rotlink.OpReportHealthy, rotlink.OpGetBootLog, 0x7F} {
		p, _ := rotlink.Request(op).Marshal()
		f.Add(p, uint32(0))
		f.Add(p, uint32(0x10001))
	}
	f.Fuzz(func(t *testing.T, payload []byte, session uint32) {
		rsp, err := rc.Vendor(context.Background(), session, &spdm.VendorDefined{StandardID: rotlink.StandardIDIANA, VendorID: rotlink.VendorID(), Payload: payload})
		if err != nil {
			t.Fatal(err)
		}
		m, err := rotlink.Parse(rsp.Payload)
		if err != nil || !m.IsResponse() {
			t.Fatalf("response %x: %v", rsp.Payload, err)
		}
		if m.Status == rotlink.StatusSuccess && bytes.Equal(m.Body, sim.SealingKey) {
			req, err := rotlink.Parse(payload)
			if err != nil || session == 0 || req.Op != rotlink.OpGetSealingKey || len(req.Body) != 0 {
				t.Fatalf("sealing key handed out for %x in session %#x", payload, session)
			}
		}
	})
}
