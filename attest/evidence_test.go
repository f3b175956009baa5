package attest_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// signedMeasurementsBlob asks the simulated RoT for signed measurements the
// way the Redfish SPDMGetSignedMeasurements action does and returns the
// action's SignedMeasurements bytes (L1 and the signature), the nonce sent
// and the responder's chain.
func signedMeasurementsBlob(t *testing.T, sim *rotsim.RoT, unsignedFirst ...uint8) ([]byte, [32]byte, *spdm.CertChain) {
	t.Helper()
	ctx := context.Background()
	conn, err := sim.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	anchors := attest.AnchorsFrom(sim.BMCConfig)
	r := spdm.NewRequester(conn, spdm.RequesterConfig{Roots: anchors.Roots(), Now: time.Now})
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	for _, idx := range unsignedFirst {
		if _, err := r.Measurements(ctx, spdm.MeasurementRequest{Operation: idx}); err != nil {
			t.Fatal(err)
		}
	}
	mr, err := r.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
	if err != nil {
		t.Fatal(err)
	}
	var gm spdm.GetMeasurements
	if err := gm.Unmarshal(mr.Evidence.Request); err != nil {
		t.Fatal(err)
	}
	blob := append(append([]byte(nil), mr.Evidence.Transcript...), mr.Evidence.Signature...)
	return blob, gm.Nonce, chain
}

func TestAppraiseSignedMeasurements(t *testing.T) {
	sim := rotsim.New(t, rotsim.Options{})
	blob, nonce, chain := signedMeasurementsBlob(t, sim)
	anchors, pol := attest.AnchorsFrom(sim.BMCConfig), attest.PolicyFrom(sim.BMCConfig)
	now := time.Now()

	sm, err := attest.ParseSignedMeasurements(blob)
	if err != nil {
		t.Fatal(err)
	}
	if sm.Version < spdm.Version12 || sm.Hash != spdm.HashSHA384 || sm.Asym != spdm.AsymECDSAP384 {
		t.Errorf("parsed version %#x hash %#x asym %#x", sm.Version, sm.Hash, sm.Asym)
	}
	res, err := attest.AppraiseSignedMeasurements(blob, nonce, chain.Certs, anchors, pol, now)
	if err != nil {
		t.Fatalf("good evidence: %v", err)
	}
	if res.DeviceID.Subject.SerialNumber != rotsim.Board || res.Manifest == nil {
		t.Errorf("DeviceID serial %q, manifest %v", res.DeviceID.Subject.SerialNumber, res.Manifest)
	}
	// Without the identity root in front (a PEM chain from DeviceID on).
	if _, err := attest.AppraiseSignedMeasurements(blob, nonce, chain.Certs[1:], anchors, pol, now); err != nil {
		t.Fatalf("chain without the root: %v", err)
	}

	// One byte flipped anywhere: the framing, the nonce, a measurement, the
	// signature. Every flip must fail, whatever check catches it.
	for _, at := range []int{1, 10, len(blob) / 3, len(blob) / 2, len(blob) - 200, len(blob) - 50, len(blob) - 1} {
		bad := append([]byte(nil), blob...)
		bad[at] ^= 0x01
		if _, err := attest.AppraiseSignedMeasurements(bad, nonce, chain.Certs, anchors, pol, now); err == nil {
			t.Errorf("byte %d of %d flipped: accepted", at, len(blob))
		}
	}

	other := nonce
	other[0] ^= 0xFF
	_, err = attest.AppraiseSignedMeasurements(blob, other, chain.Certs, anchors, pol, now)
	if f := (*attest.Failure)(nil); !errors.As(err, &f) || f.Check != attest.CheckNonce {
		t.Errorf("another nonce: %v, want a %q failure", err, attest.CheckNonce)
	}
	_, err = attest.AppraiseSignedMeasurements(blob[:len(blob)-1], nonce, chain.Certs, anchors, pol, now)
	if f := (*attest.Failure)(nil); !errors.As(err, &f) || f.Check != attest.CheckFormat {
		t.Errorf("truncated: %v, want a %q failure", err, attest.CheckFormat)
	}
	_, err = attest.AppraiseSignedMeasurements(append(blob, 0), nonce, chain.Certs, anchors, pol, now)
	if err == nil {
		t.Error("a trailing byte: accepted")
	}

	// Another board's anchors: the chain fails.
	sim2 := rotsim.New(t, rotsim.Options{})
	_, err = attest.AppraiseSignedMeasurements(blob, nonce, chain.Certs[1:], attest.AnchorsFrom(sim2.BMCConfig), pol, now)
	if f := (*attest.Failure)(nil); !errors.As(err, &f) || f.Check != attest.CheckChain {
		t.Errorf("another identity root: %v, want a %q failure", err, attest.CheckChain)
	}
}

// The action may ask for other indices first: unsigned pairs precede the signed one in L1.
func TestSignedMeasurementsWithUnsignedPairs(t *testing.T) {
	sim := rotsim.New(t, rotsim.Options{})
	blob, nonce, chain := signedMeasurementsBlob(t, sim, 1, 2)
	sm, err := attest.ParseSignedMeasurements(blob)
	if err != nil {
		t.Fatal(err)
	}
	if sm.Request.Nonce != nonce || sm.Request.Operation != spdm.MeasOpAll {
		t.Errorf("last request: operation %d", sm.Request.Operation)
	}
	if _, err := attest.AppraiseSignedMeasurements(blob, nonce, chain.Certs, attest.AnchorsFrom(sim.BMCConfig), attest.PolicyFrom(sim.BMCConfig), time.Now()); err != nil {
		t.Fatal(err)
	}
}
