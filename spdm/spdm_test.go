// Go requester against Go responder over TCP and net.Pipe, SPDM 1.2 and
// 1.3, with and without a session (DSP0274 clauses 10.3-10.22, DSP0277),
// encrypted handshake and handshake in the clear.

package spdm

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"testing"
	"time"
)

func testCtx(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// attest runs the full gate flow and checks every result.
func attest(t *testing.T, r *Requester, withSession bool, wantVersion Version) {
	t.Helper()
	ctx := testCtx(t)
	if err := r.Connect(ctx); err != nil {
		t.Fatalf("Connect: %v", err)
	}
	if got := r.Negotiated().Version; got != wantVersion {
		t.Fatalf("version %s, want %s", got, wantVersion)
	}
	d, err := r.Digests(ctx)
	if err != nil {
		t.Fatalf("Digests: %v", err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		t.Fatalf("CertificateChain: %v", err)
	}
	if !bytes.Equal(d.Digests[0], chain.Digest) {
		t.Fatalf("DIGESTS entry does not match the chain")
	}
	if _, err := r.Challenge(ctx, 0, SummaryAll); err != nil {
		t.Fatalf("Challenge: %v", err)
	}
	cnt, err := r.Measurements(ctx, MeasurementRequest{Operation: MeasOpCount})
	if err != nil || cnt.Count != 6 {
		t.Fatalf("count: %v %+v", err, cnt)
	}
	one, err := r.Measurements(ctx, MeasurementRequest{Operation: 2})
	if err != nil || len(one.Blocks) != 1 || one.Blocks[0].Index != 2 || one.Blocks[0].Raw() {
		t.Fatalf("index 2: %v", err)
	}
	raw, err := r.Measurements(ctx, MeasurementRequest{Operation: 1, Raw: true, Signed: true})
	if err != nil || string(raw.Blocks[0].Value) != "component one" {
		t.Fatalf("raw index 1: %v", err)
	}
	all, err := r.Measurements(ctx, MeasurementRequest{Operation: MeasOpAll, Signed: true})
	if err != nil {
		t.Fatalf("signed all: %v", err)
	}
	if len(all.Blocks) != 6 || all.Evidence == nil {
		t.Fatalf("signed all: %d blocks", len(all.Blocks))
	}
	if err := all.Evidence.Verify(chain.Leaf().PublicKey); err != nil {
		t.Fatalf("offline re-verification: %v", err)
	}
	if !withSession {
		return
	}
	s, err := r.StartSession(ctx, SessionOptions{SlotID: 0, SummaryType: SummaryAll})
	if err != nil {
		t.Fatalf("StartSession: %v", err)
	}
	if s.HeartbeatPeriod != 10 {
		t.Errorf("heartbeat period %d", s.HeartbeatPeriod)
	}
	for range 3 {
		sm, err := s.Measurements(ctx, MeasurementRequest{Operation: MeasOpAll, Signed: true})
		if err != nil {
			t.Fatalf("session measurements: %v", err)
		}
		if err := sm.Evidence.Verify(chain.Leaf().PublicKey); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Heartbeat(ctx); err != nil {
		t.Fatalf("Heartbeat: %v", err)
	}
	vr, err := s.VendorDefined(ctx, VendorDefined{StandardID: 0x10, VendorID: []byte{1, 2}, Payload: []byte("GetStatus")})
	if err != nil || string(vr.Payload) != "echo:GetStatus" {
		t.Fatalf("VendorDefined: %v %+v", err, vr)
	}
	if _, err := s.Digests(ctx); err != nil {
		t.Fatalf("session digests: %v", err)
	}
	if err := s.End(ctx); err != nil {
		t.Fatalf("End: %v", err)
	}
	// The connection stays usable after the session.
	if _, err := r.Measurements(ctx, MeasurementRequest{Operation: 3, Signed: true}); err != nil {
		t.Fatalf("measurements after session: %v", err)
	}
}

func TestRequesterResponderTCP(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	for _, tc := range []struct {
		name    string
		version Version
		session bool
		clear   bool
	}{
		{"1.2", Version12, false, false},
		{"1.3", Version13, false, false},
		{"1.2-session", Version12, true, false},
		{"1.3-session", Version13, true, false},
		{"1.2-session-clear", Version12, true, true},
		{"1.3-session-clear", Version13, true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := testResponderConfig(id)
			cfg.HandshakeInTheClear = tc.clear
			addr := startTCP(t, cfg)
			rc := testRequesterConfig(id)
			rc.Versions = []Version{tc.version}
			rc.HandshakeInTheClear = tc.clear
			r, err := Dial(testCtx(t), addr, rc)
			if err != nil {
				t.Fatal(err)
			}
			defer r.Close(context.Background())
			attest(t, r, tc.session, tc.version)
			if tc.session && r.Negotiated().HandshakeInTheClear != tc.clear {
				t.Errorf("handshake in the clear = %v", r.Negotiated().HandshakeInTheClear)
			}
		})
	}
}

func TestRequesterResponderPipe(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	for _, v := range []Version{Version12, Version13} {
		t.Run(v.String(), func(t *testing.T) {
			conn := startPipe(t, testResponderConfig(id))
			rc := testRequesterConfig(id)
			rc.Versions = []Version{v}
			r := NewRequester(conn, rc)
			attest(t, r, true, v)
		})
	}
}
