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

func TestAppraiseAndReplay(t *testing.T) {
	sim := rotsim.New(t, rotsim.Options{})
	ctx := context.Background()
	conn, err := sim.Dial(ctx)
	if err != nil {
		t.Fatal(err)
	}
	anchors, pol := attest.AnchorsFrom(sim.BMCConfig), attest.PolicyFrom(sim.BMCConfig)
	r := spdm.NewRequester(conn, spdm.RequesterConfig{Roots: anchors.Roots(), Now: time.Now})
	defer r.Close(ctx)
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	chain, err := r.CertificateChain(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	s, err := r.StartSession(ctx, spdm.SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	get := func() *spdm.Evidence {
		mr, err := s.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
		if err != nil {
			t.Fatal(err)
		}
		return mr.Evidence
	}
	first, second := get(), get()
	h := r.Negotiated().BaseHash
	res, err := attest.Appraise(attest.Evidence{Chain: chain, Hash: h, Measurements: second}, anchors, pol, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if res.DeviceID == nil || res.Alias == nil || len(res.SignedManifest) == 0 {
		t.Fatalf("%+v", res)
	}

	check := func(name string, ev spdm.Evidence, want attest.Check) {
		t.Helper()
		_, err := attest.Appraise(attest.Evidence{Chain: chain, Hash: h, Measurements: &ev}, anchors, pol, time.Now())
		var f *attest.Failure
		if !errors.As(err, &f) || f.Check != want {
			t.Fatalf("%s: %v, want a %s failure", name, err, want)
		}
	}
	// The first response replayed against the second request's transcript.
	replay := *second
	replay.Response, replay.Signature = first.Response, first.Signature
	check("replayed response", replay, attest.CheckSignature)
	tampered := *second
	tampered.Transcript = append([]byte(nil), second.Transcript...)
	tampered.Transcript[len(tampered.Transcript)-200] ^= 1
	check("tampered transcript", tampered, attest.CheckSignature)

	if _, err := attest.Appraise(attest.Evidence{Chain: chain, Hash: h, Measurements: second}, anchors, attest.Policy{MinSVN: 99}, time.Now()); err == nil {
		t.Fatal("SVN floor ignored")
	}
	if _, err := attest.Appraise(attest.Evidence{Chain: chain, Hash: h, Measurements: second}, anchors, pol, time.Time{}); err == nil {
		t.Fatal("zero certificate time accepted")
	}
}

func TestDeviceMode(t *testing.T) {
	ok := make([]byte, 16)
	ok[4] = byte(attest.OpModeNormal)
	dm, err := attest.ParseDeviceMode(ok)
	if err != nil || dm.Acceptable() != nil {
		t.Fatalf("%+v %v", dm, err)
	}
	dbg := append([]byte(nil), ok...)
	dbg[12] = byte(attest.DebugNonInvasiveWasActive)
	dm, _ = attest.ParseDeviceMode(dbg)
	if !errors.Is(dm.Acceptable(), attest.ErrDebugMode) {
		t.Fatal("debug since reset accepted")
	}
	mfg := append([]byte(nil), ok...)
	mfg[4] = byte(attest.OpModeManufacturing)
	dm, _ = attest.ParseDeviceMode(mfg)
	if dm.Acceptable() == nil {
		t.Fatal("manufacturing mode accepted")
	}
	if _, err := attest.ParseDeviceMode(ok[:15]); err == nil {
		t.Fatal("short device mode accepted")
	}
}

func TestMonotonicTime(t *testing.T) {
	now := attest.MonotonicTime()
	a := now()
	time.Sleep(2 * time.Millisecond)
	if b := now(); !b.After(a) || b.Sub(a) > time.Second {
		t.Fatalf("%v %v", a, b)
	}
}
