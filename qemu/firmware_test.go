package qemu

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/images/uroot"
	"golang.org/x/sys/unix"
)

func writeFile(t *testing.T, dir, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestFirmwareVerifiedBytes: the memfds hold exactly the verified bytes (kernel alone;
// initramfs + modules + the wrapped bmc-config as the initrd), sealed; a bundle for
// another board or with a changed byte is refused.
func TestFirmwareVerifiedBytes(t *testing.T) {
	dir := t.TempDir()
	keysDir := filepath.Join(dir, "keys")
	if _, err := images.GenerateVendorKeys(keysDir); err != nil {
		t.Fatal(err)
	}
	keys, err := images.LoadVendorKeySet(keysDir)
	if err != nil {
		t.Fatal(err)
	}
	kernel := []byte("kernel bytes")
	initramfs := bytes.Repeat([]byte("i"), 512)
	modules := bytes.Repeat([]byte("m"), 256)
	config := []byte("bmc-config!")
	spec := BundleSpec{
		Meta:      images.Meta{BoardID: "b1", FirmwareVersion: "v1", SVN: 2, BuildTime: time.Unix(1795000000, 0)},
		Kernel:    writeFile(t, dir, "k", kernel),
		Initramfs: writeFile(t, dir, "i", initramfs),
		Modules:   writeFile(t, dir, "m", modules),
		BMCConfig: writeFile(t, dir, "c", config),
		KeysDir:   keysDir,
	}
	bundle := filepath.Join(dir, "fw", "b1.bundle")
	if err := BuildBundle(bundle, spec); err != nil {
		t.Fatal(err)
	}
	fw, err := VerifyFirmware(bundle, keys, manifest.Policy{BoardID: "b1", MinSVN: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer fw.Close()
	gotKernel, err := fw.Kernel.ReadAll()
	if err != nil || !bytes.Equal(gotKernel, kernel) {
		t.Errorf("kernel memfd = %q, %v", gotKernel, err)
	}
	h, err := uroot.FileArchiveHeader(BMCConfigPath, int64(len(config)))
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{initramfs, modules, h, config, uroot.FileArchiveTrailer(int64(len(config)))}, nil)
	gotInitrd, err := fw.Initrd.ReadAll()
	if err != nil || !bytes.Equal(gotInitrd, want) {
		t.Errorf("initrd memfd: %d bytes, %v; want %d bytes", len(gotInitrd), err, len(want))
	}
	for _, img := range []interface{ File() *os.File }{fw.Kernel, fw.Initrd} {
		seals, err := unix.FcntlInt(img.File().Fd(), unix.F_GET_SEALS, 0)
		if err != nil || seals&unix.F_SEAL_WRITE == 0 {
			t.Errorf("memfd seals %#x, %v; want F_SEAL_WRITE", seals, err)
		}
	}
	if len(fw.Verified.Components) != 4 || fw.Verified.Manifest.FirmwareVersion != "v1" {
		t.Errorf("verified manifest: %d components, version %q", len(fw.Verified.Components), fw.Verified.Manifest.FirmwareVersion)
	}

	if _, err := VerifyFirmware(bundle, keys, manifest.Policy{BoardID: "other"}); err == nil {
		t.Error("a bundle for another board was accepted")
	}
	data, err := os.ReadFile(bundle)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-len(config)-1] ^= 1 // a byte of the modules
	tampered := writeFile(t, dir, "tampered.bundle", data)
	if _, err := VerifyFirmware(tampered, keys, manifest.Policy{BoardID: "b1"}); err == nil {
		t.Error("a tampered bundle was accepted")
	}
}
