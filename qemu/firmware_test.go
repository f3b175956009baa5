package qemu

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/images/uroot"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
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

func sealed(t *testing.T, name string, data []byte) *supervise.Image {
	t.Helper()
	img, err := supervise.Seal(name, bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

// TestBundleAndInitrd: BuildBundle signs the board's components under their names; the
// VM's initrd is exactly initramfs + modules + the wrapped bmc-config, sealed; a boot
// without the modules is refused.
func TestBundleAndInitrd(t *testing.T) {
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
	f, err := os.Open(bundle)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	b, err := images.Open(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]*bytes.Buffer{}
	_, err = b.VerifyAndCopy(keys, manifest.Policy{BoardID: "b1", MinSVN: 2}, func(c manifest.Component) (io.Writer, error) {
		got[c.Name] = &bytes.Buffer{}
		return got[c.Name], nil
	})
	if err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string][]byte{ComponentKernel: kernel, ComponentInitramfs: initramfs, ComponentModules: modules, ComponentBMCConfig: config} {
		if g := got[name]; g == nil || !bytes.Equal(g.Bytes(), want) {
			t.Errorf("component %s: not the signed bytes", name)
		}
	}

	imgs := map[string]*supervise.Image{
		ComponentInitramfs: sealed(t, "i", initramfs), ComponentModules: sealed(t, "m", modules), ComponentBMCConfig: sealed(t, "c", config),
	}
	initrd, err := AssembleInitrd(imgs)
	if err != nil {
		t.Fatal(err)
	}
	defer initrd.Close()
	h, err := uroot.FileArchiveHeader(BMCConfigPath, int64(len(config)))
	if err != nil {
		t.Fatal(err)
	}
	want := bytes.Join([][]byte{initramfs, modules, h, config, uroot.FileArchiveTrailer(int64(len(config)))}, nil)
	gotInitrd, err := initrd.ReadAll()
	if err != nil || !bytes.Equal(gotInitrd, want) {
		t.Errorf("initrd memfd: %d bytes, %v; want %d bytes", len(gotInitrd), err, len(want))
	}
	seals, err := unix.FcntlInt(initrd.File().Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals&unix.F_SEAL_WRITE == 0 {
		t.Errorf("initrd memfd seals %#x, %v; want F_SEAL_WRITE", seals, err)
	}
	delete(imgs, ComponentModules)
	if _, err := AssembleInitrd(imgs); err == nil {
		t.Error("an initrd without the modules was assembled")
	}
}
