package slot

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/rottest"
)

const board = "slot-test"

// verifyFile is the check rotd runs on a slot file: the whole bundle.
func verifyFile(keys manifest.KeySet) func(path string) (Info, error) {
	return func(path string) (Info, error) {
		f, err := os.Open(path)
		if err != nil {
			return Info{}, err
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return Info{}, err
		}
		b, err := images.Open(f, fi.Size())
		if err != nil {
			return Info{}, err
		}
		v, err := b.VerifyAndCopy(keys, manifest.Policy{BoardID: board}, func(manifest.Component) (io.Writer, error) { return io.Discard, nil })
		if err != nil {
			return Info{}, err
		}
		d := manifest.Digest(v.Signed)
		return Info{ManifestDigest: hex.EncodeToString(d[:]), FirmwareVersion: v.Manifest.FirmwareVersion, SVN: v.Manifest.SVN}, nil
	}
}

func TestLifecycle(t *testing.T) {
	v := rottest.NewVendor(t, t.TempDir())
	s, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(s.BootOrder()) != 0 {
		t.Fatal("an empty store has something to boot")
	}
	install := func(ver string) Name {
		t.Helper()
		raw, err := v.BundleBytes(rottest.Firmware{Board: board, Version: ver, SVN: 1})
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Install(bytes.NewReader(raw), verifyFile(v.Keys))
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	a := install("1")
	if a != A || s.Meta().Slots[A].State != Trial || s.Meta().Active != A {
		t.Fatalf("first install: %+v", s.Meta())
	}
	if err := s.Commit(A); err != nil {
		t.Fatal(err)
	}
	b := install("2")
	if b != B || s.Meta().Active != B || s.Meta().Committed != A {
		t.Fatalf("second install: %+v", s.Meta())
	}
	if got := s.BootOrder(); len(got) != 2 || got[0] != B || got[1] != A {
		t.Fatalf("boot order = %v", got)
	}
	if err := s.Revert(B, "no health report"); err != nil {
		t.Fatal(err)
	}
	m := s.Meta()
	if m.Active != A || m.Slots[B].State != Rejected || m.Slots[B].Reason != "no health report" {
		t.Fatalf("after revert: %+v", m)
	}
	if err := s.Commit(B); !errors.Is(err, ErrTransition) {
		t.Fatalf("committing a rejected slot = %v", err)
	}
	// The next install goes to B again (never over the committed A).
	if n := install("3"); n != B {
		t.Fatalf("install after revert went to %s", n)
	}
	if err := s.Commit(B); err != nil {
		t.Fatal(err)
	}
	m = s.Meta()
	if m.Committed != B || m.Slots[A].State != Standby {
		t.Fatalf("after commit of B: %+v", m)
	}
	// A bad bundle leaves the target empty and the committed slot active.
	if _, err := s.Install(strings.NewReader("not a bundle"), verifyFile(v.Keys)); err == nil {
		t.Fatal("garbage installed")
	}
	m = s.Meta()
	if m.Active != B || m.Slots[A].State != Empty {
		t.Fatalf("after a failed install: %+v", m)
	}
	// Reopening reads the same record.
	s2, err := Open(s.dir)
	if err != nil {
		t.Fatal(err)
	}
	if s2.Meta().Committed != B || s2.Meta().Slots[B].FirmwareVersion != "3" {
		t.Fatalf("reopened: %+v", s2.Meta())
	}
}

func TestTransitionTableIsClosed(t *testing.T) {
	for from, evs := range transitions {
		for ev, to := range evs {
			if _, ok := transitions[to]; !ok {
				t.Errorf("%s --%s--> %s: target state has no row", from, ev, to)
			}
		}
	}
}

// installerEnv makes the test binary an installer process (see
// TestInstallerProcess).
const installerEnv = "IRONROOT_SLOT_INSTALLER"

// TestInstallerProcess is the child of TestKillDuringInstall: rotd's
// install path (write, sync, verify, record, commit) in a loop until it is
// killed.
func TestInstallerProcess(t *testing.T) {
	dir := os.Getenv(installerEnv)
	if dir == "" {
		t.Skip("helper process for TestKillDuringInstall")
	}
	keys, err := images.LoadVendorKeySet(filepath.Join(dir, "keys", "vendor"))
	if err != nil {
		t.Fatal(err)
	}
	bundles, _ := filepath.Glob(filepath.Join(dir, "*.bundle"))
	for i := 0; ; i++ {
		s, err := Open(filepath.Join(dir, "slots"))
		if err != nil {
			t.Fatal(err)
		}
		raw, err := os.ReadFile(bundles[i%len(bundles)])
		if err != nil {
			t.Fatal(err)
		}
		n, err := s.Install(bytes.NewReader(raw), verifyFile(keys))
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			if err := s.Commit(n); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func TestKillDuringInstall(t *testing.T) {
	dir := t.TempDir()
	v := rottest.NewVendor(t, filepath.Join(dir, "keys"))
	big := make([]byte, 2<<20) // slow enough that kills land mid-write
	rand.Read(big)
	for _, ver := range []string{"2", "3"} {
		raw, err := v.BundleBytes(rottest.Firmware{Board: board, Version: ver, SVN: 1, Config: big})
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "v"+ver+".bundle"), raw, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := Open(filepath.Join(dir, "slots"))
	if err != nil {
		t.Fatal(err)
	}
	factory, _ := v.BundleBytes(rottest.Firmware{Board: board, Version: "1", SVN: 1})
	n, err := s.Install(bytes.NewReader(factory), verifyFile(v.Keys))
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Commit(n); err != nil {
		t.Fatal(err)
	}

	const kills = 15
	for i := range kills {
		cmd := exec.Command(os.Args[0], "-test.run=^TestInstallerProcess$", "-test.count=1")
		cmd.Env = append(os.Environ(), installerEnv+"="+dir)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		delay, _ := rand.Int(rand.Reader, big0(400))
		time.Sleep(20*time.Millisecond + time.Duration(delay.Int64())*time.Millisecond)
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
		if st := cmd.ProcessState; st != nil && st.Exited() {
			t.Fatalf("kill %d: installer exited by itself (%v): it failed", i, st)
		}

		s, err := Open(filepath.Join(dir, "slots"))
		if err != nil {
			t.Fatalf("kill %d: slot record unreadable: %v", i, err)
		}
		var booted Name
		for _, n := range s.BootOrder() {
			if _, err := verifyFile(v.Keys)(s.Path(n)); err == nil {
				booted = n
				break
			}
		}
		if booted == "" {
			t.Fatalf("kill %d: no slot verifies; record %+v", i, s.Meta())
		}
		if m := s.Meta(); m.Committed == "" || !m.Slots[m.Committed].State.Bootable() {
			t.Fatalf("kill %d: no committed slot: %+v", i, m)
		}
		if _, err := verifyFile(v.Keys)(s.Path(s.Meta().Committed)); err != nil {
			t.Fatalf("kill %d: committed slot %s does not verify: %v", i, s.Meta().Committed, err)
		}
		if tmps, _ := filepath.Glob(filepath.Join(dir, "slots", ".*.tmp*")); len(tmps) != 0 {
			t.Fatalf("kill %d: Open left temporary files %v", i, tmps)
		}
	}
}

func big0(n int64) *big.Int { return big.NewInt(n) }

func FuzzParseMeta(f *testing.F) {
	f.Add([]byte(`{"version":1,"active":"a","committed":"a","slots":{"a":{"state":"committed","svn":1,"boots":2},"b":{"state":"empty","svn":0,"boots":0}}}`))
	f.Add([]byte(`{"version":1,"active":"b","committed":"","slots":{"a":{"state":"rejected","svn":1,"boots":0,"reason":"x"},"b":{"state":"trial","svn":2,"boots":1}}}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseMeta(b)
		if err != nil {
			return
		}
		// A record that parses names valid slots in known states, and
		// boot order never names a slot that cannot boot.
		s := &Store{dir: t.TempDir(), meta: m}
		for _, n := range s.BootOrder() {
			if !m.Slots[n].State.Bootable() {
				t.Fatalf("boot order names slot %s in state %s", n, m.Slots[n].State)
			}
		}
		if tgt := s.InstallTarget(); tgt == m.Committed {
			t.Fatalf("install target is the committed slot %s", tgt)
		}
	})
}
