package tpm_test

import (
	"bytes"
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/sha512"
	"log/slog"
	"testing"

	"github.com/ironroot-bmc/ironroot/rot/tpm"
	"github.com/ironroot-bmc/ironroot/rot/tpm/tpmtest"
)

// An external test: tpmtest starts swtpm through this package's StartSwtpm.
func TestSwtpmPowerOnResetsPCRs(t *testing.T) {
	ctx := context.Background()
	sw := tpmtest.Start(t, t.TempDir())
	tp, err := tpm.Open(ctx, sw.Spec())
	if err != nil {
		t.Fatal(err)
	}
	defer tp.Close()
	if err := tp.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	auth := tpm.Auth{Owner: bytes.Repeat([]byte{1}, 32), Lockout: bytes.Repeat([]byte{2}, 32)}
	f, err := tp.Provision(tpm.Fuses{KeySetHash: sha512.Sum384([]byte("keys")), BoardID: "test-board"}, auth, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	if err := tp.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	d256 := sha256.Sum256([]byte("x"))
	d384 := sha512.Sum384([]byte("x"))
	if err := tp.Extend(0, map[crypto.Hash][]byte{crypto.SHA256: d256[:], crypto.SHA384: d384[:]}); err != nil {
		t.Fatal(err)
	}
	if _, err := tp.RaiseFloor(f, 2, auth.Owner); err != nil {
		t.Fatal(err)
	}
	if err := tp.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	got, err := tp.ReadPCR(0, crypto.SHA384)
	if err != nil || !bytes.Equal(got, make([]byte, 48)) {
		t.Fatalf("PCR0 after power-on = %x, %v, want zero", got, err)
	}
	if floor, err := tp.Floor(f); err != nil || floor != 2 {
		t.Fatalf("floor after power-on = %d, %v", floor, err)
	}
}
