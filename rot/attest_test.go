package rot

import (
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/control"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rot/rottest"
	"github.com/ironroot-bmc/ironroot/rot/slot"
	"github.com/ironroot-bmc/ironroot/rotlink"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// TestGateAttestsARealBoot is the RoT link end to end inside one process:
// rotd boots a trial slot and serves SPDM on 127.0.0.1:0; a requester
// with the bmc-config's anchors (as bmcd's gate) gets the chain, signed
// measurements, appraises them, and reports healthy in a secured session,
// which commits the slot.
func TestGateAttestsARealBoot(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	b.cfg.SPDMAddr = "127.0.0.1:0"
	b.cfg.RequireHealthReport = true
	b.cfg.Probation = time.Minute
	d := b.open(t)
	fw2 := rottest.Firmware{Board: testBoard, Version: "2.0", SVN: 2, Script: sleeper}
	running(t, d, b.bundle(t, fw2))
	waitStatus(t, d, "trial slot b running", func(st control.Status) bool { return st.State == "running" && st.Slot == "b" })

	addr, err := os.ReadFile(filepath.Join(b.cfg.StateDir, RotLinkAddr))
	if err != nil {
		t.Fatal(err)
	}
	cfgBytes, err := (&manifest.BMCConfig{BoardID: testBoard, IdentityRoots: []*x509.Certificate{b.vendor.Root.Cert}, VendorKeys: b.vendor.Keys,
		Gate: manifest.GatePolicy{MeasurementInterval: 10 * time.Second, HeartbeatPeriod: 30 * time.Second, MinSVN: 2}}).Encode()
	if err != nil {
		t.Fatal(err)
	}
	bmcCfg, err := manifest.ParseBMCConfig(cfgBytes)
	if err != nil {
		t.Fatal(err)
	}
	anchors := attest.AnchorsFrom(bmcCfg)
	ctx := context.Background()
	r, err := spdm.Dial(ctx, strings.TrimSpace(string(addr)), spdm.RequesterConfig{Roots: anchors.Roots(), Now: attest.MonotonicTime()})
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !chain.Leaf().Equal(mustAlias(t, b)) {
		t.Fatal("slot 0 leaf is not this boot's alias certificate")
	}
	s, err := r.StartSession(ctx, spdm.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	mr, err := s.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
	if err != nil {
		t.Fatal(err)
	}
	res, err := attest.Appraise(attest.Evidence{Chain: chain, Hash: r.Negotiated().BaseHash, Measurements: mr.Evidence}, anchors, attest.PolicyFrom(bmcCfg), time.Now())
	if err != nil {
		t.Fatalf("the gate's appraisal of rotd's boot: %v", err)
	}
	if res.Manifest.SVN != 2 || res.Manifest.FirmwareVersion != "2.0" {
		t.Fatalf("appraised manifest %+v", res.Manifest)
	}
	p, _ := rotlink.Request(rotlink.OpReportHealthy).Marshal()
	rsp, err := s.VendorDefined(ctx, spdm.VendorDefined{StandardID: rotlink.StandardIDIANA, VendorID: rotlink.VendorID(), Payload: p})
	if err != nil {
		t.Fatal(err)
	}
	m, err := rotlink.Parse(rsp.Payload)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := m.Check(rotlink.OpReportHealthy); err != nil {
		t.Fatalf("ReportHealthy: %v", err)
	}
	st := waitStatus(t, d, "slot b committed by the SPDM health report", func(st control.Status) bool {
		return slotState(st, slot.B) == string(slot.Committed)
	})
	if st.SVNFloor != 2 {
		t.Fatalf("floor %d", st.SVNFloor)
	}
}

func mustAlias(t *testing.T, b *board) *x509.Certificate {
	t.Helper()
	c, err := identity.ReadCertificate(filepath.Join(b.cfg.StateDir, BootDir, AliasCertFile))
	if err != nil {
		t.Fatal(err)
	}
	return c
}
