package tpm

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"log/slog"
	"os"
	"testing"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
)

// sim is the one simulator of this test binary (the simulator allows one
// per process); every test starts from a manufacture reset.
var sim *simulator.Simulator

func TestMain(m *testing.M) {
	s, err := simulator.Get()
	if err != nil {
		panic(err)
	}
	sim = s
	code := m.Run()
	_ = sim.Close()
	os.Exit(code)
}

func freshSim(t *testing.T) *TPM {
	t.Helper()
	if err := sim.ManufactureReset(); err != nil {
		t.Fatal(err)
	}
	return New(transport.FromReadWriter(sim), func(context.Context) error { return sim.Reset() })
}

func testAuth() Auth {
	return Auth{Owner: bytes.Repeat([]byte{1}, 32), Lockout: bytes.Repeat([]byte{2}, 32)}
}

func provision(t *testing.T, tp *TPM) Fuses {
	t.Helper()
	f, err := tp.Provision(Fuses{KeySetHash: sha512.Sum384([]byte("keys")), BoardID: "test-board"}, testAuth(), slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return f
}

func TestProvisionFusesAndFloor(t *testing.T) {
	ctx := context.Background()
	tp := freshSim(t)
	f := provision(t, tp)
	if f.BoardID != "test-board" || f.KeySetHash != sha512.Sum384([]byte("keys")) {
		t.Fatalf("fuses = %+v", f)
	}
	if _, err := tp.Provision(f, testAuth(), slog.New(slog.DiscardHandler)); !errors.Is(err, ErrProvisioned) {
		t.Fatalf("second provision: %v, want ErrProvisioned", err)
	}
	if err := tp.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	banks, err := tp.Banks()
	if err != nil {
		t.Fatal(err)
	}
	if len(banks) != 2 || banks[0] != crypto.SHA256 || banks[1] != crypto.SHA384 {
		t.Fatalf("banks after provisioning + power-on = %v, want SHA-256 and SHA-384", banks)
	}
	floor, err := tp.Floor(f)
	if err != nil || floor != 0 {
		t.Fatalf("floor = %d, %v", floor, err)
	}
	if floor, err = tp.RaiseFloor(f, 3, testAuth().Owner); err != nil || floor != 3 {
		t.Fatalf("raise to 3 = %d, %v", floor, err)
	}
	if floor, err = tp.RaiseFloor(f, 1, testAuth().Owner); err != nil || floor != 3 {
		t.Fatalf("raise to 1 = %d, %v (must stay 3)", floor, err)
	}
	if _, err := tp.RaiseFloor(f, 5, []byte("wrong")); err == nil {
		t.Fatal("raising the floor with a wrong owner auth worked")
	}
	got, err := tp.Fuses()
	if err != nil || got != f {
		t.Fatalf("fuses after power-on = %+v, %v", got, err)
	}
}

func TestExtendBothBanks(t *testing.T) {
	tp := freshSim(t)
	provision(t, tp)
	if err := tp.PowerOn(context.Background()); err != nil {
		t.Fatal(err)
	}
	d256 := sha256.Sum256([]byte("x"))
	d384 := sha512.Sum384([]byte("x"))
	if err := tp.Extend(0, map[crypto.Hash][]byte{crypto.SHA256: d256[:], crypto.SHA384: d384[:]}); err != nil {
		t.Fatal(err)
	}
	want256 := sha256.Sum256(append(make([]byte, 32), d256[:]...))
	got, err := tp.ReadPCR(0, crypto.SHA256)
	if err != nil || !bytes.Equal(got, want256[:]) {
		t.Fatalf("PCR0 sha256 = %x, %v, want %x", got, err, want256)
	}
	want384 := sha512.Sum384(append(make([]byte, 48), d384[:]...))
	got, err = tp.ReadPCR(0, crypto.SHA384)
	if err != nil || !bytes.Equal(got, want384[:]) {
		t.Fatalf("PCR0 sha384 = %x, %v, want %x", got, err, want384)
	}
}

func FuzzParseFuses(f *testing.F) {
	good, _ := Fuses{KeySetHash: sha512.Sum384([]byte("k")), BoardID: "board", CounterBase: 7}.marshal()
	f.Add(good)
	f.Add(make([]byte, fuseSize))
	f.Fuzz(func(t *testing.T, b []byte) {
		fu, err := parseFuses(b)
		if err != nil {
			return
		}
		enc, err := fu.marshal()
		if err != nil {
			t.Fatalf("parsed fuses do not encode: %v", err)
		}
		back, err := parseFuses(enc)
		if err != nil || back != fu {
			t.Fatalf("round trip: %+v != %+v (%v)", back, fu, err)
		}
	})
}
