package e2e

import (
	"bytes"
	"context"
	"crypto/x509"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// BenchmarkGateOpen measures, on a real board (rotd + swtpm + bmcd):
//   - ms-start-to-open: from the bmcd process's start (procfs, 10 ms
//     resolution) to its gate Open, seen from outside over Redfish;
//   - ms-reset-to-open (= ns/op): Manager.Reset → rotd re-verifies and
//     measures the bundle (TPM reset, event log, alias certificate) →
//     a new bmcd → gate Open;
//   - ms-reattest: one re-attestation as the gate does it every interval,
//     against the real rotd responder: signed GET_MEASUREMENTS (all blocks,
//     fresh nonce) + GET_DIGESTS inside a secured session, then attest.Appraise.
func BenchmarkGateOpen(b *testing.B) {
	brd := newBoard(b, boardOptions{Interval: 60 * time.Second})
	brd.start()
	m := brd.waitBMC(0)
	m.waitGate(b, brd, "Open", 20*time.Second)

	var startToOpen time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		tok := m.login(b, brd)
		b.StartTimer()
		r, err := m.do(b, "POST", "/redfish/v1/Managers/bmc/Actions/Manager.Reset", tok, map[string]string{"ResetType": "GracefulRestart"})
		if err != nil || r.status/100 != 2 {
			b.Fatalf("Manager.Reset: %v %d %s", err, r.status, r.body)
		}
		m = brd.waitBMC(m.PID)
		m.waitGate(b, brd, "Open", 30*time.Second)
		d, err := sinceStart(m.PID)
		if err != nil {
			b.Fatal(err)
		}
		startToOpen += d
	}
	b.StopTimer()
	b.ReportMetric(float64(startToOpen.Milliseconds())/float64(b.N), "ms-start-to-open")
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N), "ms-reset-to-open")

	// A board reset drops every RoT link connection: connect after the last one.
	reattest := reattestation(b, brd)
	const rounds = 20
	start := time.Now()
	for range rounds {
		reattest()
	}
	b.ReportMetric(float64(time.Since(start).Microseconds())/1000/rounds, "ms-reattest")
}

// reattestation opens a second SPDM connection to rotd's responder, as the
// gate does (VCA, certificate chain, secured session), and returns one
// re-check of the gate's loop.
func reattestation(b *testing.B, brd *board) func() {
	b.Helper()
	ctx := context.Background()
	root, err := identity.LoadRoot(brd.keys)
	if err != nil {
		b.Fatal(err)
	}
	keys, err := images.LoadVendorKeySet(filepath.Join(brd.keys, "vendor"))
	if err != nil {
		b.Fatal(err)
	}
	anchors := attest.Anchors{BoardID: brd.id, IdentityRoots: []*x509.Certificate{root.Cert}, VendorKeys: keys}
	r, err := spdm.Dial(ctx, brd.rotLink, spdm.RequesterConfig{Roots: anchors.Roots(), Now: time.Now})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = r.Close(ctx) })
	if err := r.Connect(ctx); err != nil {
		b.Fatal(err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		b.Fatal(err)
	}
	s, err := r.StartSession(ctx, spdm.SessionOptions{})
	if err != nil {
		b.Fatal(err)
	}
	neg := r.Negotiated()
	return func() {
		mr, err := s.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Digests(ctx); err != nil {
			b.Fatal(err)
		}
		ev := attest.Evidence{Chain: chain, Hash: neg.BaseHash, Measurements: mr.Evidence}
		if _, err := attest.Appraise(ev, anchors, attest.Policy{MinSVN: 1}, time.Now()); err != nil {
			b.Fatal(err)
		}
	}
}

// sinceStart is how long process pid has run, from procfs (clock ticks of
// 10 ms since boot against /proc/uptime).
func sinceStart(pid int) (time.Duration, error) {
	st, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, err
	}
	up, err := os.ReadFile("/proc/uptime")
	if err != nil {
		return 0, err
	}
	fields := strings.Fields(string(st[bytes.LastIndexByte(st, ')')+1:]))
	// Field 22 (starttime) is the 20th after the command name.
	ticks, err := strconv.ParseFloat(fields[19], 64)
	if err != nil {
		return 0, err
	}
	uptime, err := strconv.ParseFloat(strings.Fields(string(up))[0], 64)
	if err != nil {
		return 0, err
	}
	return time.Duration((uptime - ticks/100) * float64(time.Second)), nil
}
