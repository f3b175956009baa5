package mgmtif_test

import (
	"context"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/mgmtif"
)

// BenchmarkGateOpen is the gate's part of "bmcd start to Open": a new gate
// attests the RoT over net.Pipe (VCA, DIGESTS, CERTIFICATE, CHALLENGE,
// KEY_EXCHANGE/FINISH, signed measurements with the 0xFD manifest through
// CHUNK_GET, appraisal, ReportHealthy).
func BenchmarkGateOpen(b *testing.B) {
	rot := rotsim.New(b, rotsim.Options{})
	for b.Loop() {
		cfg := mgmtif.NewGateConfig(rot.BMCConfig)
		cfg.Dial = rot.Dial
		g, err := mgmtif.NewGate(cfg)
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); _ = g.Run(ctx) }()
		if _, err := g.Wait(ctx, func(s mgmtif.Status) bool { return s.State == mgmtif.Open }); err != nil {
			b.Fatal(err)
		}
		cancel()
		<-done
	}
}

// BenchmarkReattest is one re-check inside the session: signed
// GET_MEASUREMENTS with a fresh nonce, appraisal, GET_DIGESTS.
func BenchmarkReattest(b *testing.B) {
	h := start(b, rotsim.New(b, rotsim.Options{}))
	h.waitState(b, mgmtif.Open)
	for b.Loop() {
		if st := h.pass(b); st.State != mgmtif.Open {
			b.Fatalf("%+v", st)
		}
	}
}
