package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/rot/control"
	"github.com/ironroot-bmc/ironroot/rot/rottest"
	"github.com/ironroot-bmc/ironroot/rot/tpm/tpmtest"
)

// rotdBinary builds rotd (CGO_ENABLED=0, as shipped) into dir.
func rotdBinary(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "rotd")
	cmd := exec.Command("go", "build", "-o", bin, ".")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("building rotd: %v\n%s", err, out)
	}
	return bin
}

type rotdProc struct {
	cmd     *exec.Cmd
	logPath string
}

// log returns what rotd wrote so far.
func (p *rotdProc) log() string {
	b, _ := os.ReadFile(p.logPath)
	return string(b)
}

// startRotd starts rotd with its output in a file: a BMC that outlives a
// killed rotd keeps the descriptors, so a pipe would never reach EOF.
func startRotd(t *testing.T, bin string, args ...string) *rotdProc {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "rotd-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	p := &rotdProc{cmd: exec.Command(bin, args...), logPath: f.Name()}
	p.cmd.Stdout, p.cmd.Stderr = f, f
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if p.cmd.ProcessState == nil {
			_ = p.cmd.Process.Signal(syscall.SIGTERM)
			done := make(chan struct{})
			go func() { _ = p.cmd.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(15 * time.Second):
				_ = p.cmd.Process.Kill()
				<-done
			}
		}
		if t.Failed() {
			t.Logf("rotd %s log:\n%s", args[0], p.log())
		}
	})
	return p
}

func status(t *testing.T, bin, state string) (control.Status, error) {
	out, err := exec.Command(bin, "status", "--state", state, "--json").Output()
	if err != nil {
		return control.Status{}, err
	}
	var st control.Status
	err = json.Unmarshal(out, &st)
	return st, err
}

func waitFor(t *testing.T, bin, state, what string, ok func(control.Status) bool) control.Status {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := status(t, bin, state)
		if err == nil && ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s: status %+v, %v", what, st, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}

// TestRotdEndToEnd drives the real rotd binary with a per-test swtpm:
// provision, boot, install over the control socket, kill -9 of rotd (its
// BMC outlives it), restart (the earlier BMC is ended, the trial slot
// boots again), health report (commit, SVN floor raised), stop.
func TestRotdEndToEnd(t *testing.T) {
	dir := t.TempDir()
	bin := rotdBinary(t, dir)
	sw := tpmtest.Start(t, filepath.Join(dir, "swtpm"))
	v := rottest.NewVendor(t, filepath.Join(dir, "keys"))
	state := filepath.Join(dir, "rot")
	const board = "e2e-board"
	fw1 := v.Bundle(t, dir, rottest.Firmware{Board: board, Version: "1.0", SVN: 1, Script: "exec sleep 600"})
	fw2 := v.Bundle(t, dir, rottest.Firmware{Board: board, Version: "2.0", SVN: 2, Script: "exec sleep 600"})

	out, err := exec.Command(bin, "provision", "--state", state, "--tpm", sw.Spec(), "--board-id", board,
		"--vendor-keys", v.Dir, "--identity-root", v.RootDir, "--bundle", fw1).CombinedOutput()
	if err != nil {
		t.Fatalf("provision: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "provision", "--state", state, "--tpm", sw.Spec(), "--board-id", board,
		"--vendor-keys", v.Dir, "--identity-root", v.RootDir).CombinedOutput(); err == nil || !strings.Contains(string(out), "already provisioned") {
		t.Fatalf("second provision: %v\n%s", err, out)
	}

	runArgs := []string{"run", "--state", state, "--tpm", sw.Spec(), "--require-health-report", "--probation", "1m", "--spdm-addr", "127.0.0.1:0", "--", "--bmcd-flag"}
	r1 := startRotd(t, bin, runArgs...)
	st := waitFor(t, bin, state, "slot a running", func(st control.Status) bool { return st.State == "running" && st.Slot == "a" })
	if st.SVNFloor != 1 || len(st.Measurements) != 6 || st.PCRs["SHA-384"]["0"] == "" {
		t.Fatalf("status: %+v", st)
	}
	for _, want := range []string{"check=signature", "check=svn", "EV_NONHOST_CODE", "BMC released"} {
		if !strings.Contains(r1.log(), want) {
			t.Errorf("rotd log lacks %q", want)
		}
	}

	out, err = exec.Command(bin, "install", "--state", state, fw2).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "slot b") {
		t.Fatalf("install: %v\n%s", err, out)
	}

	// kill -9 rotd: its bmcd survives as an orphan.
	oldBMC := st.BMCPID
	_ = r1.cmd.Process.Signal(syscall.SIGKILL)
	_ = r1.cmd.Wait()
	if !alive(oldBMC) {
		t.Fatal("bmcd died with rotd; the pidfile path is untested")
	}
	t.Cleanup(func() { _ = syscall.Kill(oldBMC, syscall.SIGKILL) }) // only if the restarted rotd failed to

	startRotd(t, bin, runArgs...)
	st = waitFor(t, bin, state, "trial slot b running", func(st control.Status) bool { return st.State == "running" && st.Slot == "b" })
	if alive(oldBMC) {
		t.Fatalf("the BMC of the killed rotd (pid %d) still runs", oldBMC)
	}
	if st.Probation == "" || st.SVNFloor != 1 {
		t.Fatalf("status: %+v", st)
	}
	if out, err := exec.Command(bin, "health", "--state", state).CombinedOutput(); err != nil {
		t.Fatalf("health: %v\n%s", err, out)
	}
	waitFor(t, bin, state, "slot b committed", func(st control.Status) bool { return st.SVNFloor == 2 })
	text, err := exec.Command(bin, "status", "--state", state).Output()
	if err != nil || !strings.Contains(string(text), "slot b*   committed") {
		t.Fatalf("status text: %v\n%s", err, text)
	}
	t.Logf("rotd status:\n%s", text)
}
