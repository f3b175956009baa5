package rot

import (
	"bytes"
	"context"
	"crypto"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-tpm-tools/simulator"
	"github.com/google/go-tpm/tpm2/transport"
	"github.com/ironroot-bmc/ironroot/dice"
	"github.com/ironroot-bmc/ironroot/rot/control"
	"github.com/ironroot-bmc/ironroot/rot/measure"
	"github.com/ironroot-bmc/ironroot/rot/rottest"
	"github.com/ironroot-bmc/ironroot/rot/slot"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
	"github.com/ironroot-bmc/ironroot/rot/tpm/tpmtest"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// sim is this test binary's one TPM simulator (one per process); each test
// starts it from a manufacture reset. Tests using it do not run in
// parallel.
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

const testBoard = "test-board"

func simTPM(t *testing.T) *tpm.TPM {
	t.Helper()
	if err := sim.ManufactureReset(); err != nil {
		t.Fatal(err)
	}
	return simTPMFor(t)
}

func simTPMFor(testing.TB) *tpm.TPM {
	return tpm.New(transport.FromReadWriter(sim), func(context.Context) error { return sim.Reset() })
}

func testLog(t *testing.T) *slog.Logger {
	if testing.Verbose() {
		return slog.New(slog.NewTextHandler(os.Stderr, nil)).With("test", t.Name())
	}
	return slog.New(slog.DiscardHandler)
}

// board is a provisioned test board.
type board struct {
	dir    string
	cfg    Config
	vendor *rottest.Vendor
}

// sleeper is a bmcd that runs until stopped.
const sleeper = "exec sleep 600"

func newBoard(t *testing.T, tp *tpm.TPM, factory rottest.Firmware) *board {
	t.Helper()
	dir := t.TempDir()
	b := &board{dir: dir, vendor: rottest.NewVendor(t, filepath.Join(dir, "keys"))}
	b.cfg = Config{
		StateDir: filepath.Join(dir, "rot"), TPM: tp, Log: testLog(t), Version: "test",
		Platform: &ProcessPlatform{Stdout: io.Discard, Stderr: io.Discard},
	}
	factory.Board = testBoard
	err := Provision(context.Background(), b.cfg, Provisioning{
		BoardID: testBoard, VendorKeysDir: b.vendor.Dir, Root: b.vendor.Root,
		Bundle: b.vendor.Bundle(t, dir, factory),
	})
	if err != nil {
		t.Fatalf("provision: %v", err)
	}
	return b
}

func (b *board) bundle(t *testing.T, fw rottest.Firmware) string {
	t.Helper()
	if fw.Board == "" {
		fw.Board = testBoard
	}
	return b.vendor.Bundle(t, b.dir, fw)
}

func (b *board) open(t *testing.T) *Device {
	t.Helper()
	d, lock, err := Open(context.Background(), b.cfg)
	if err != nil {
		t.Fatalf("open: %v", err)
	}
	t.Cleanup(func() { lock.Close() })
	return d
}

func TestBootPCRsEqualEventLogReplay(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	d := b.open(t)
	booted, err := d.Boot(context.Background())
	if err != nil {
		t.Fatalf("boot: %v", err)
	}
	defer booted.Close()

	raw, err := os.ReadFile(filepath.Join(b.cfg.StateDir, BootDir, EventLogFile))
	if err != nil {
		t.Fatal(err)
	}
	log, err := measure.Parse(raw)
	if err != nil {
		t.Fatalf("parsing the event log rotd wrote: %v", err)
	}
	if len(log.Banks) != 2 || log.Banks[0] != crypto.SHA256 || log.Banks[1] != crypto.SHA384 {
		t.Fatalf("event log banks = %v", log.Banks)
	}
	replay := log.Replay()
	for _, bank := range log.Banks {
		for _, pcr := range []int{PCRCode, PCRConfig, PCRPolicy} {
			got, err := tp.ReadPCR(pcr, bank)
			if err != nil {
				t.Fatal(err)
			}
			if want := replay[bank][uint32(pcr)]; !bytes.Equal(got, want) {
				t.Errorf("PCR %d %v = %x, event log replay = %x", pcr, bank, got, want)
			}
		}
	}
	// The component events carry the digests of the verified bytes.
	script := rottest.Firmware{Version: "1.0", Script: sleeper}.BMCScript()
	var found bool
	for _, e := range log.Events {
		if e.Type == measure.EvNonhostCode && string(e.Data) == "bmcd 1.0" {
			found = true
			want := log.Digests(script)
			for _, dg := range e.Digests {
				if !bytes.Equal(dg.Digest, want[dg.Hash]) {
					t.Errorf("bmcd event %v digest %x, want %x", dg.Hash, dg.Digest, want[dg.Hash])
				}
			}
		}
	}
	if !found {
		t.Fatal("no EV_NONHOST_CODE event for bmcd")
	}
	// The released image holds exactly the verified bytes.
	img, err := booted.Images["bmcd"].ReadAll()
	if err != nil || !bytes.Equal(img, script) {
		t.Fatalf("sealed bmcd image differs from the signed component: %v", err)
	}
	// A second power-on starts from zero again: replay still matches.
	booted.Close()
	booted2, err := d.Boot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer booted2.Close()
	got, _ := tp.ReadPCR(PCRCode, crypto.SHA384)
	if want := booted2.EventLog.Replay()[crypto.SHA384][PCRCode]; !bytes.Equal(got, want) {
		t.Fatalf("after a second boot PCR0 = %x, replay %x", got, want)
	}
}

func TestAliasKeyFollowsFirmware(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	d := b.open(t)
	ctx := context.Background()
	boot := func() *Booted {
		t.Helper()
		bt, err := d.Boot(ctx)
		if err != nil {
			t.Fatalf("boot: %v", err)
		}
		bt.Close()
		return bt
	}
	first := boot()
	again := boot()
	if !first.AliasKey.Equal(again.AliasKey) {
		t.Fatal("the same firmware gave two alias keys")
	}
	// The same firmware re-signed (new signatures) keeps the key.
	if _, err := d.install(bytes.NewReader(mustRead(t, b.bundle(t, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})))); err != nil {
		t.Fatal(err)
	}
	if resigned := boot(); !resigned.AliasKey.Equal(first.AliasKey) {
		t.Fatal("re-signing the same firmware changed the alias key")
	}
	if _, err := d.install(bytes.NewReader(mustRead(t, b.bundle(t, rottest.Firmware{Version: "1.1", SVN: 1, Script: sleeper + " # changed"})))); err != nil {
		t.Fatal(err)
	}
	other := boot()
	if other.AliasKey.Equal(first.AliasKey) {
		t.Fatal("different firmware gave the same alias key")
	}

	// Chain: identity root -> DeviceID -> alias, with the TcbInfo.
	roots := x509.NewCertPool()
	roots.AddCert(b.vendor.Root.Cert)
	inter := x509.NewCertPool()
	inter.AddCert(d.deviceIDCert)
	if _, err := other.AliasCert.Verify(x509.VerifyOptions{Roots: roots, Intermediates: inter, CurrentTime: time.Now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageAny}}); err != nil {
		t.Fatalf("alias chain: %v", err)
	}
	if !d.deviceIDCert.IsCA || d.deviceIDCert.MaxPathLen != 0 || !d.deviceIDCert.MaxPathLenZero {
		t.Fatal("DeviceID certificate is not CA:TRUE, pathLen 0")
	}
	tcb, ok, err := dice.FromCertificate(other.AliasCert)
	if err != nil || !ok {
		t.Fatalf("alias certificate TcbInfo: ok=%v err=%v", ok, err)
	}
	for _, e := range other.AliasCert.Extensions {
		if e.Id.Equal(dice.OIDTcbInfo()) && e.Critical {
			t.Fatal("TcbInfo extension is critical")
		}
	}
	bmcd, _ := other.Manifest.Component("bmcd")
	if len(tcb.FWIDs) != 3 || !bytes.Equal(tcb.FWIDs[0].Digest, bmcd.SHA384[:]) || tcb.Version != "1.1" {
		t.Fatalf("TcbInfo = %+v", tcb)
	}
	if !other.AliasCert.NotAfter.Equal(time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)) {
		t.Fatalf("alias notAfter = %v", other.AliasCert.NotAfter)
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// running runs d in the background and returns a stop function that
// returns Run's error.
func running(t *testing.T, d *Device, stage string) func() error {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- d.Run(ctx, stage) }()
	var once bool
	var err error
	stop := func() error {
		if !once {
			once = true
			cancel()
			select {
			case err = <-done:
			case <-time.After(20 * time.Second):
				t.Fatal("rotd did not stop")
			}
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return stop
}

func waitStatus(t *testing.T, d *Device, what string, ok func(control.Status) bool) control.Status {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		st := d.Status()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s; status %+v", what, st)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func slotState(st control.Status, n slot.Name) string {
	for _, s := range st.Slots {
		if s.Name == string(n) {
			return s.State
		}
	}
	return ""
}

func TestTrialWithoutHealthReportIsReverted(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	b.cfg.RequireHealthReport = true
	b.cfg.Probation = 300 * time.Millisecond
	d := b.open(t)
	stop := running(t, d, b.bundle(t, rottest.Firmware{Version: "2.0", SVN: 2, Script: sleeper}))
	st := waitStatus(t, d, "slot b reverted and slot a running again", func(st control.Status) bool {
		return slotState(st, slot.B) == string(slot.Rejected) && st.State == "running" && st.Slot == "a"
	})
	if st.SVNFloor != 1 {
		t.Fatalf("SVN floor = %d after a revert, want 1 (raised only on commit)", st.SVNFloor)
	}
	if err := stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestHealthReportCommitsAndRaisesFloor(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	b.cfg.RequireHealthReport = true
	b.cfg.Probation = time.Minute
	d := b.open(t)
	running(t, d, b.bundle(t, rottest.Firmware{Version: "2.0", SVN: 2, Script: sleeper}))
	waitStatus(t, d, "slot b on probation", func(st control.Status) bool { return st.State == "running" && st.Slot == "b" && st.Probation != "" })
	if st := d.Status(); st.SVNFloor != 1 {
		t.Fatalf("floor before commit = %d", st.SVNFloor)
	}
	sock := filepath.Join(b.cfg.StateDir, ControlSocket)
	fi, err := os.Stat(sock)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("control socket mode: %v %v", fi, err)
	}
	if _, err := control.Call(context.Background(), sock, control.Request{Op: "health"}, nil); err != nil {
		t.Fatalf("health report: %v", err)
	}
	st := waitStatus(t, d, "slot b committed", func(st control.Status) bool { return slotState(st, slot.B) == string(slot.Committed) })
	if st.SVNFloor != 2 || slotState(st, slot.A) != string(slot.Standby) {
		t.Fatalf("after commit: floor %d, slot a %s", st.SVNFloor, slotState(st, slot.A))
	}
	if f, _ := tp.Floor(d.fuses); f != 2 {
		t.Fatalf("TPM floor = %d", f)
	}
}

func TestBMCResetReverifiesAndRestarts(t *testing.T) {
	tp := simTPM(t)
	marker := filepath.Join(t.TempDir(), "reset-once")
	script := "if [ -e " + marker + " ]; then exec sleep 600; fi\ntouch " + marker + "\nexit 3"
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: script})
	d := b.open(t)
	running(t, d, "")
	waitStatus(t, d, "bmcd running after one BMC reset", func(st control.Status) bool {
		for _, s := range st.Slots {
			if s.Name == "a" && s.Boots >= 2 {
				return st.State == "running"
			}
		}
		return false
	})
}

func TestBMCExitStopsBoard(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: "exit 7"})
	d := b.open(t)
	err := d.Run(context.Background(), "")
	var exit *BMCExitError
	if !errors.As(err, &exit) || exit.Code != 7 {
		t.Fatalf("run = %v, want bmcd exit status 7", err)
	}
}

func TestRecoveryWhenNoSlotVerifies(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	// Flip one byte of the bmcd payload (the last bytes of the file are
	// the bmc-config component; the script is before it).
	p := filepath.Join(b.cfg.StateDir, SlotsDir, "a.bundle")
	raw := mustRead(t, p)
	raw[len(raw)-40] ^= 0x01
	if err := os.WriteFile(p, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	d := b.open(t)
	if _, err := d.Boot(context.Background()); !errors.Is(err, ErrRecovery) {
		t.Fatalf("boot of a tampered slot = %v, want ErrRecovery", err)
	}
	if got, _ := tp.ReadPCR(PCRCode, crypto.SHA384); !bytes.Equal(got, make([]byte, 48)) {
		t.Fatalf("PCR0 = %x after a failed verification, want nothing extended", got)
	}
	running(t, d, "")
	sock := filepath.Join(b.cfg.StateDir, ControlSocket)
	waitStatus(t, d, "recovery with the control socket up", func(st control.Status) bool {
		r, err := control.Call(context.Background(), sock, control.Request{Op: "status"}, nil)
		return err == nil && r.Status.State == "recovery"
	})
	// Recovery never needs the BMC: install over the local control socket.
	bundle := mustRead(t, b.bundle(t, rottest.Firmware{Version: "1.1", SVN: 1, Script: sleeper}))
	resp, err := control.Call(context.Background(), sock,
		control.Request{Op: "install", Size: int64(len(bundle))}, bytes.NewReader(bundle))
	if err != nil {
		t.Fatalf("install: %v", err)
	}
	t.Log(resp.Message)
	waitStatus(t, d, "running the installed firmware", func(st control.Status) bool {
		for _, s := range st.Slots {
			if s.Name == st.Slot && s.FirmwareVersion == "1.1" {
				return st.State == "running"
			}
		}
		return false
	})
}

func TestInstallRefusesBadBundles(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "2.0", SVN: 2, Script: sleeper})
	d := b.open(t)
	cases := map[string][]byte{
		"older SVN":   mustRead(t, b.bundle(t, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})),
		"wrong board": mustRead(t, b.bundle(t, rottest.Firmware{Board: "other", Version: "2.1", SVN: 2, Script: sleeper})),
	}
	other := rottest.NewVendor(t, t.TempDir())
	wrongKey, err := other.BundleBytes(rottest.Firmware{Board: testBoard, Version: "2.1", SVN: 2, Script: sleeper})
	if err != nil {
		t.Fatal(err)
	}
	cases["unknown vendor key"] = wrongKey
	for name, raw := range cases {
		if _, err := d.install(bytes.NewReader(raw)); err == nil {
			t.Errorf("%s: install accepted", name)
		}
	}
	meta := d.slots.Meta()
	if meta.Active != slot.A || meta.Slots[slot.A].State != slot.Committed || meta.Slots[slot.B].State != slot.Empty {
		t.Fatalf("slots after refused installs: %+v", meta)
	}
}

// TestSVNFloorSurvivesRestartsAndFileRollback restarts rotd (a new TPM
// connection and a Device loaded from disk) and swtpm, and copies rotd's
// whole state back to the time before the floor was raised: the floor
// lives in the TPM's NV counter, so neither lowers it, and the old slot
// no longer boots.
func TestSVNFloorSurvivesRestartsAndFileRollback(t *testing.T) {
	ctx := context.Background()
	sw := tpmtest.Start(t, filepath.Join(t.TempDir(), "swtpm"))
	openTPM := func() *tpm.TPM {
		t.Helper()
		tp, err := tpm.Open(ctx, sw.Spec())
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { tp.Close() })
		return tp
	}
	tp := openTPM()
	if err := tp.PowerOn(ctx); err != nil {
		t.Fatal(err)
	}
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	snapshot := filepath.Join(t.TempDir(), "rot-before")
	copyDir(t, b.cfg.StateDir, snapshot)

	d, lock1, err := Open(ctx, b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	n, err := d.install(bytes.NewReader(mustRead(t, b.bundle(t, rottest.Firmware{Version: "2.0", SVN: 2, Script: sleeper}))))
	if err != nil {
		t.Fatal(err)
	}
	if err := d.commit(n); err != nil {
		t.Fatal(err)
	}
	if d.Status().SVNFloor != 2 {
		t.Fatalf("floor = %d after commit", d.Status().SVNFloor)
	}

	// rotd and swtpm restart.
	lock1.Close()
	tp.Close()
	sw.Restart()
	b.cfg.TPM = openTPM()
	d2, lock, err := Open(ctx, b.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := d2.Status().SVNFloor; got != 2 {
		t.Fatalf("floor after rotd + swtpm restart = %d, want 2", got)
	}
	lock.Close()

	// Copy rotd's files back to before the commit, restart again.
	if err := os.RemoveAll(b.cfg.StateDir); err != nil {
		t.Fatal(err)
	}
	copyDir(t, snapshot, b.cfg.StateDir)
	b.cfg.TPM.Close()
	sw.Restart()
	b.cfg.TPM = openTPM()
	d3 := b.open(t)
	if got := d3.Status().SVNFloor; got != 2 {
		t.Fatalf("floor after restoring old rotd files = %d, want 2", got)
	}
	// The restored record says slot a (SVN 1) is committed: it must not boot.
	if _, err := d3.Boot(ctx); !errors.Is(err, ErrRecovery) {
		t.Fatalf("boot of the SVN 1 slot below floor 2 = %v, want ErrRecovery", err)
	}
	if r := d3.slots.Meta().Slots[slot.A].Reason; !strings.Contains(r, "SVN below floor") {
		t.Fatalf("slot a rejected for %q, want the SVN floor", r)
	}
}

// copyDir copies a directory keeping modes, as an attacker with rotd's
// files would.
func copyDir(t *testing.T, src, dst string) {
	t.Helper()
	if out, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		t.Fatalf("cp -a: %v: %s", err, out)
	}
}

func TestVendorKeysSwappedOnDiskAreRefused(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	// An attacker with rotd's files adds their own key: the set no longer
	// hashes to the value in the TPM's write-once index.
	other := rottest.NewVendor(t, t.TempDir())
	pub := mustRead(t, filepath.Join(other.Dir, "vendor-es384.pub"))
	if err := os.WriteFile(filepath.Join(b.cfg.StateDir, VendorKeysDir, "attacker.pub"), pub, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := Open(context.Background(), b.cfg); err == nil || !strings.Contains(err.Error(), "fuses") {
		t.Fatalf("open with a swapped key set = %v, want a refusal naming the fuses", err)
	}
}

func TestTrialBootCounterReverts(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	b.cfg.MaxTrialBoots = 2
	d := b.open(t)
	if _, err := d.install(bytes.NewReader(mustRead(t, b.bundle(t, rottest.Firmware{Version: "2.0", SVN: 2, Script: sleeper})))); err != nil {
		t.Fatal(err)
	}
	// Power cuts during probation: each boot counts.
	for i, want := range []slot.Name{slot.B, slot.B, slot.A} {
		bt, err := d.Boot(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		bt.Close()
		if bt.Slot != want {
			t.Fatalf("boot %d ran slot %s, want %s", i+1, bt.Slot, want)
		}
	}
	if m := d.slots.Meta(); m.Slots[slot.B].State != slot.Rejected || m.Active != slot.A {
		t.Fatalf("after the trial boots ran out: %+v", m)
	}
}

// A BMC that attested and then fell silent on the RoT link for three heartbeat periods
// hangs: rotd ends it and boots the board again (a BMC reset).
func TestSilentRoTLinkResetsBMC(t *testing.T) {
	tp := simTPM(t)
	b := newBoard(t, tp, rottest.Firmware{Version: "1.0", SVN: 1, Script: sleeper})
	sock := filepath.Join(b.dir, "rl.sock")
	b.cfg.SPDMAddr, b.cfg.HeartbeatPeriod = "unix:"+sock, 1
	d := b.open(t)
	running(t, d, "")
	first := waitStatus(t, d, "the BMC running", func(st control.Status) bool { return st.State == "running" && st.BMCPID != 0 })

	// The BMC speaks on the link once, then never again.
	c, err := net.Dial("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	fc := spdm.NewFrameConn(c)
	if err := fc.WriteFrame(spdm.Frame{Command: spdm.CommandTest, TransportType: spdm.TransportMCTP, Payload: []byte("hello")}); err != nil {
		t.Fatal(err)
	}
	if _, err := fc.ReadFrame(); err != nil {
		t.Fatalf("no answer on the RoT link: %v", err)
	}
	spoke := time.Now()
	again := waitStatus(t, d, "a new BMC after the link fell silent", func(st control.Status) bool {
		return st.State == "running" && st.BMCPID != 0 && st.BMCPID != first.BMCPID
	})
	if took := time.Since(spoke); took < 3*time.Second {
		t.Errorf("BMC reset %v after its last word on the link, before three 1 s heartbeat periods", took)
	}
	if alive(first.BMCPID) {
		t.Errorf("the hung BMC (pid %d) still runs", first.BMCPID)
	}
	t.Logf("BMC %d reset after %v of silence; now %d", first.BMCPID, time.Since(spoke).Round(100*time.Millisecond), again.BMCPID)
}

// alive reports whether process pid exists (and is not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && b[i+2] != 'Z'
}

// kernelPlatform is a board whose BMC boots from a kernel component (a QEMU board's
// shape), for the bundle-content check; it never releases anything.
type kernelPlatform struct{}

func (kernelPlatform) Components() []string { return []string{"bmc-kernel"} }
func (kernelPlatform) Release(context.Context, *Booted) (BMC, error) {
	return nil, errors.New("not released in this test")
}

// A bundle lacking what the board's platform boots is refused like a bad signature: the
// sim board's bundle (bmcd) on a board that boots a kernel.
func TestBundleWithoutThePlatformsComponentsRefused(t *testing.T) {
	tp := simTPM(t)
	dir := t.TempDir()
	vendor := rottest.NewVendor(t, filepath.Join(dir, "keys"))
	cfg := Config{StateDir: filepath.Join(dir, "rot"), TPM: tp, Log: testLog(t), Platform: kernelPlatform{}}
	err := Provision(context.Background(), cfg, Provisioning{
		BoardID: testBoard, VendorKeysDir: vendor.Dir, Root: vendor.Root,
		Bundle: vendor.Bundle(t, dir, rottest.Firmware{Board: testBoard, Version: "1.0", SVN: 1, Script: sleeper}),
	})
	if !errors.Is(err, ErrIncomplete) || !strings.Contains(err.Error(), "bmc-kernel") {
		t.Fatalf("provisioning with a bundle without bmc-kernel: %v; want ErrIncomplete naming bmc-kernel", err)
	}
}
