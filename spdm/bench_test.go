// Benchmark of one full DSP0274/DSP0277 attestation over loopback TCP.

package spdm

import (
	"context"
	"crypto/elliptic"
	"testing"
)

// BenchmarkFullAttestation runs one full attestation per iteration, Go
// requester against Go responder over loopback TCP: VCA, DIGESTS,
// CERTIFICATE, CHALLENGE, MEASUREMENTS (all, signed), KEY_EXCHANGE/FINISH,
// one in-session MEASUREMENTS, END_SESSION.
func BenchmarkFullAttestation(b *testing.B) {
	id := newTestIdentity(b, elliptic.P384(), 0)
	addr := startTCP(b, testResponderConfig(id))
	cfg := testRequesterConfig(id)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		r, err := Dial(ctx, addr, cfg)
		if err != nil {
			b.Fatal(err)
		}
		if err := r.Connect(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Digests(ctx); err != nil {
			b.Fatal(err)
		}
		if _, err := r.CertificateChain(ctx, 0); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Challenge(ctx, 0, SummaryAll); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Measurements(ctx, MeasurementRequest{Operation: MeasOpAll, Signed: true}); err != nil {
			b.Fatal(err)
		}
		s, err := r.StartSession(ctx, SessionOptions{SummaryType: SummaryAll})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := s.Measurements(ctx, MeasurementRequest{Operation: MeasOpAll, Signed: true}); err != nil {
			b.Fatal(err)
		}
		if err := s.End(ctx); err != nil {
			b.Fatal(err)
		}
		if err := r.Close(ctx); err != nil {
			b.Fatal(err)
		}
	}
}
