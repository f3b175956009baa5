package mgmtif_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"golang.org/x/sys/unix"
)

func TestLoadBMCConfig(t *testing.T) {
	rot := rotsim.New(t, rotsim.Options{})
	raw, err := rot.BMCConfig.Encode()
	if err != nil {
		t.Fatal(err)
	}
	memfd := func(seal int) int {
		fd, err := unix.MemfdCreate("bmc-config", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
		if err != nil {
			t.Skipf("memfd: %v", err)
		}
		if _, err := unix.Write(fd, raw); err != nil {
			t.Fatal(err)
		}
		if seal != 0 {
			if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seal); err != nil {
				t.Fatal(err)
			}
		}
		return fd
	}
	bc, err := mgmtif.LoadBMCConfig(memfd(unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL))
	if err != nil || bc.BoardID != rotsim.Board {
		t.Fatalf("%+v %v", bc, err)
	}
	if _, err := mgmtif.LoadBMCConfig(memfd(0)); err == nil {
		t.Fatal("unsealed memfd accepted")
	}
	p := filepath.Join(t.TempDir(), "bmc-config")
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := mgmtif.LoadBMCConfig(int(f.Fd())); err == nil {
		t.Fatal("a plain file accepted as bmc-config")
	}
}
