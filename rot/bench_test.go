package rot

import (
	"context"
	"crypto/rand"
	"io"
	"log/slog"
	"path/filepath"
	"testing"

	"github.com/ironroot-bmc/ironroot/rot/rottest"
)

// BenchmarkBoot measures one board power-on on the simulator: reset the
// TPM, verify a bundle with a 16 MiB component into sealed memfds, extend
// both banks, write the event log, derive the alias certificate.
func BenchmarkBoot(b *testing.B) {
	if err := sim.ManufactureReset(); err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	v := rottest.NewVendor(b, filepath.Join(dir, "keys"))
	payload := make([]byte, 16<<20)
	rand.Read(payload)
	tp := simTPMFor(b)
	cfg := Config{StateDir: filepath.Join(dir, "rot"), TPM: tp, Log: slog.New(slog.DiscardHandler), Platform: &ProcessPlatform{Stdout: io.Discard, Stderr: io.Discard}}
	bundle := v.Bundle(b, dir, rottest.Firmware{Board: testBoard, Version: "1.0", SVN: 1, Script: sleeper, Extra: payload})
	if err := Provision(context.Background(), cfg, Provisioning{BoardID: testBoard, VendorKeysDir: v.Dir, Root: v.Root, Bundle: bundle}); err != nil {
		b.Fatal(err)
	}
	d, lock, err := Open(context.Background(), cfg)
	if err != nil {
		b.Fatal(err)
	}
	defer lock.Close()
	b.SetBytes(int64(len(payload)))
	b.ResetTimer()
	for b.Loop() {
		booted, err := d.Boot(context.Background())
		if err != nil {
			b.Fatal(err)
		}
		booted.Close()
	}
}
