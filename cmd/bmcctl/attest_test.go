package main

import (
	"bytes"
	"context"
	"encoding/pem"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// simEvidence produces what SPDMGetSignedMeasurements answers, with spdm's
// requester against the simulated RoT: L1 + signature, and the PEM chain
// leaf first (as a Certificate resource may hold it).
func simEvidence(t *testing.T, sim *rotsim.RoT) (Evidence, [32]byte) {
	t.Helper()
	ctx := context.Background()
	conn, err := sim.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	r := spdm.NewRequester(conn, spdm.RequesterConfig{Roots: attest.AnchorsFrom(sim.BMCConfig).Roots(), Now: time.Now})
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	mr, err := r.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
	if err != nil {
		t.Fatal(err)
	}
	var gm spdm.GetMeasurements
	if err := gm.Unmarshal(mr.Evidence.Request); err != nil {
		t.Fatal(err)
	}
	var chainPEM bytes.Buffer
	certs := slices.Clone(chain.Certs)
	slices.Reverse(certs)
	for _, c := range certs {
		_ = pem.Encode(&chainPEM, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return Evidence{
		SignedMeasurements: append(slices.Clone(mr.Evidence.Transcript), mr.Evidence.Signature...),
		Version:            "1.3", HashingAlgorithm: "TPM_ALG_SHA_384", SigningAlgorithm: "TPM_ALG_ECDSA_ECC_NIST_P384",
		CertificateChain: chainPEM.Bytes(),
	}, gm.Nonce
}

func TestVerifyEvidence(t *testing.T) {
	sim := rotsim.New(t, rotsim.Options{})
	ev, nonce := simEvidence(t, sim)
	sm, err := attest.ParseSignedMeasurements(ev.SignedMeasurements)
	if err != nil {
		t.Fatal(err)
	}
	ev.Version = algorithmNames(sm)[0]
	want := Expect{Nonce: nonce, Anchors: attest.AnchorsFrom(sim.BMCConfig), Policy: attest.PolicyFrom(sim.BMCConfig),
		Serial: rotsim.Board, At: time.Now()}
	want.Anchors.BoardID = "" // bmcctl's default: the board the DeviceID names

	v, err := VerifyEvidence(ev, want)
	if err != nil {
		t.Fatalf("good board: %v", err)
	}
	var out bytes.Buffer
	printVerdict(&out, v)
	for _, c := range checkOrder {
		if !strings.Contains(out.String(), "ok    "+string(c)) {
			t.Errorf("report lacks a passed %q:\n%s", c, out.String())
		}
	}
	t.Logf("report:\n%s", out.String())

	// The certificate serial (hex) names the board as well.
	byCert := want
	byCert.Serial = certSerial(v.Result.DeviceID.SerialNumber)
	if _, err := VerifyEvidence(ev, byCert); err != nil {
		t.Errorf("serial by certificate serial %s: %v", byCert.Serial, err)
	}

	// One byte flipped in the evidence blob.
	tampered := ev
	tampered.SignedMeasurements = slices.Clone(ev.SignedMeasurements)
	tampered.SignedMeasurements[len(tampered.SignedMeasurements)/2] ^= 0x01
	v, err = VerifyEvidence(tampered, want)
	if err == nil {
		t.Fatal("tampered evidence accepted")
	}
	out.Reset()
	printVerdict(&out, v)
	if !strings.Contains(out.String(), "FAIL") {
		t.Errorf("report of the tampered blob:\n%s", out.String())
	}

	// Another board's serial.
	other := want
	other.Serial = "ironroot-other-board"
	_, err = VerifyEvidence(ev, other)
	if f := (*attest.Failure)(nil); !errors.As(err, &f) || f.Check != CheckSerial {
		t.Errorf("serial differs: %v, want a %q failure", err, CheckSerial)
	}

	// The algorithms Redfish names must be those negotiated.
	lying := ev
	lying.HashingAlgorithm = "TPM_ALG_SHA_256"
	if _, err := VerifyEvidence(lying, want); err == nil {
		t.Error("a HashingAlgorithm that differs from the messages was accepted")
	}
}
