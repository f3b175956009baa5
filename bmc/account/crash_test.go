package account

import (
	"bufio"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

// crashDirEnv tells the re-executed test binary to act as the crashing
// bmcd of TestKillAfterAcknowledgedChange.
const crashDirEnv = "IRONROOT_ACCOUNT_CRASH_DIR"

// TestKillAfterAcknowledgedChange: a process that is killed (SIGKILL)
// right after Create, Update and a lockout returned loses none of them.
func TestKillAfterAcknowledgedChange(t *testing.T) {
	if dir := os.Getenv(crashDirEnv); dir != "" {
		crashChild(dir)
		return
	}
	dir := t.TempDir()
	cmd, sc := startChild(t, "TestKillAfterAcknowledgedChange", crashDirEnv, dir)
	acked := false
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "acked" {
			acked = true
			break
		}
	}
	cmd.Process.Kill() // SIGKILL: no deferred code, no flush
	cmd.Wait()
	if !acked {
		t.Fatal("child did not acknowledge its changes")
	}
	key, err := LoadOrCreateSealingKey(filepath.Join(dir, "sealing.key"))
	if err != nil {
		t.Fatal(err)
	}
	s, err := Open(Config{Dir: dir, SealingKey: key, Clock: clock.NewFake(testStart), iterations: testIterations})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.ByName("operator")
	if err != nil || a.Role != Operator || !a.HasType(TypeIPMI) {
		t.Fatalf("acknowledged update lost: %+v, %v", a, err)
	}
	if !a.Locked {
		t.Error("acknowledged lockout lost")
	}
	if _, err := s.Authenticate("admin", "admin-pass1"); err != nil {
		t.Errorf("acknowledged create lost: %v", err)
	}
	if k, err := s.IPMIKey(a.ID); err != nil || string(k) != "operator-pw" {
		t.Errorf("IPMI key = %q, %v", k, err)
	}
}

// crashChild makes acknowledged changes, says so, and waits to be killed.
func crashChild(dir string) {
	fail := func(err error) { os.Stdout.WriteString("error: " + err.Error() + "\n"); os.Exit(2) }
	key, err := LoadOrCreateSealingKey(filepath.Join(dir, "sealing.key"))
	if err != nil {
		fail(err)
	}
	s, err := Open(Config{Dir: dir, SealingKey: key, Clock: clock.NewFake(testStart), iterations: testIterations})
	if err != nil {
		fail(err)
	}
	if _, err := s.Create("admin", "admin-pass1", Administrator, nil, false); err != nil {
		fail(err)
	}
	a, err := s.Create("user", "operator-pw", ReadOnly, nil, false)
	if err != nil {
		fail(err)
	}
	if _, err := s.Update(a.ID, Patch{UserName: ptr("operator"), Role: ptr(Operator), AccountTypes: &[]AccountType{TypeRedfish, TypeIPMI}}); err != nil {
		fail(err)
	}
	for range DefaultPolicy().LockoutThreshold {
		if _, err := s.Authenticate("operator", "wrong-password"); !errors.Is(err, ErrBadCredentials) {
			fail(err)
		}
	}
	os.Stdout.WriteString("acked\n")
	time.Sleep(time.Minute) // killed long before
	os.Exit(3)
}

// startChild re-executes this test binary running only test, with env=dir telling it to
// act as the process that will be killed; it returns the process and a scanner over its
// standard output, on which the child reports its progress line by line.
func startChild(t *testing.T, test, env, dir string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$")
	cmd.Env = append(os.Environ(), env+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, bufio.NewScanner(out)
}
