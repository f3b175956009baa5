package e2e

import (
	"errors"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/mgmtif"
)

// linkTimeout is the gate's bound on one exchange on the RoT link for an
// interval (bmcd derives it, bmc-config does not carry it).
func linkTimeout(interval time.Duration) time.Duration {
	return mgmtif.Schedule(interval, 0, 0).LinkTimeout
}

// TestGateOpensOnRealBoard: rotd verifies and releases bmcd, whose gate
// attests rotd over SPDM on TCP; Redfish then answers.
func TestGateOpensOnRealBoard(t *testing.T) {
	t.Parallel()
	b := newBoard(t, boardOptions{})
	b.start()
	m := b.waitBMC(0)
	d := m.waitGate(t, b, "Open", 20*time.Second)
	t.Logf("gate Open %v after bmcd's ready file", d)
	r, err := m.do(t, "GET", "/redfish/v1/", "", nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("service root: %v %d", err, r.status)
	}
	tok := m.login(t, b)
	r, err = m.do(t, "GET", "/redfish/v1/Systems", tok, nil)
	if err != nil || r.status != http.StatusOK {
		t.Fatalf("Systems with a session: %v %d %s", err, r.status, r.body)
	}
	if !strings.Contains(b.log(), "gate state changed") {
		t.Error("bmcd logged no gate transition")
	}

	t.Run("bmcctl attest", func(t *testing.T) {
		// bmcctl attest against the real board: the nonce goes through bmcd's
		// gate link to rotd, the verification is offline with the operator's files.
		r, err := m.do(t, "GET", "/redfish/v1/ComponentIntegrity/RoT", tok, nil)
		if err != nil {
			t.Fatal(err)
		}
		if r.status == http.StatusNotFound || !strings.Contains(string(r.body), `"VerificationStatus":"Success"`) {
			// TODO(lead): remove once cmd/bmcd passes the gate as redfish.Config.Attestation.
			t.Skipf("bmcd does not show the gate's attestation in Redfish yet (redfish.Config.Attestation not wired in cmd/bmcd): %d %.200s", r.status, r.body)
		}
		attestArgs := []string{"attest", "--url", m.URL, "--cacert", filepath.Join(b.dir, "bmc", "tls", "cert.pem"),
			"--user", "admin", "--password", adminPassword,
			"--identity-root", filepath.Join(b.keys, "identity-root.pem"), "--vendor-keys", filepath.Join(b.keys, "vendor")}
		out, err := exec.Command(bin("bmcctl"), append(attestArgs, "--serial", b.id, "--min-svn", "1")...).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "attested: board") {
			t.Fatalf("bmcctl attest of the real board: %v\n%s", err, out)
		}
		t.Logf("bmcctl attest:\n%s", out)
		out, err = exec.Command(bin("bmcctl"), append(attestArgs, "--serial", "another-board")...).CombinedOutput()
		if ee := (*exec.ExitError)(nil); !errors.As(err, &ee) || ee.ExitCode() != 1 || !strings.Contains(string(out), "FAIL  DeviceID serial") {
			t.Errorf("bmcctl attest with another board's serial: %v\n%s", err, out)
		}
	})
}

// TestGateLocksWhileRoTStopped: SIGSTOP rotd → Locked within one interval
// (the gate re-checks every interval − link timeout and each exchange
// times out within the link timeout): 503 with Retry-After, no login,
// earlier sessions revoked; SIGCONT → Open again after a fresh pass.
func TestGateLocksWhileRoTStopped(t *testing.T) {
	t.Parallel()
	// 4 s: a link timeout of 1 s (the floor) and re-checks every 2.9 s.
	const interval = 4 * time.Second
	b := newBoard(t, boardOptions{Interval: interval})
	b.start()
	m := b.waitBMC(0)
	m.waitGate(t, b, "Open", 20*time.Second)
	tok := m.login(t, b)
	if r, err := m.do(t, "GET", "/redfish/v1/SessionService/Sessions", tok, nil); err != nil || r.status != http.StatusOK {
		t.Fatalf("session before the stop: %v %d", err, r.status)
	}

	if err := b.rotd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			_ = b.rotd.Process.Signal(syscall.SIGCONT)
		}
	}()
	// Waited a little longer than the interval so that a late lock is
	// reported with its time.
	d := m.waitGate(t, b, "Locked", interval+5*time.Second)
	t.Logf("gate Locked %v after SIGSTOP (interval %v, link timeout %v)", d, interval, linkTimeout(interval))
	// The schedule itself (Locked < one interval after the last good check) is asserted
	// exactly on a fake clock in mgmtif's TestGateRoTStalls. Here d also holds how long the
	// test takes to see the lock (a Redfish poll every 20 ms, on 2 loaded CI cores), so a
	// bounded observation slack is allowed on top of the interval.
	const observeSlack = time.Second
	if d > interval+observeSlack {
		t.Errorf("gate Locked %v after SIGSTOP, not within the interval %v (+%v to observe it)", d, interval, observeSlack)
	}

	r, err := m.do(t, "GET", "/redfish/v1/Systems", tok, nil)
	if err != nil || r.status != http.StatusServiceUnavailable || r.header.Get("Retry-After") == "" {
		t.Errorf("Systems while Locked: %v %d Retry-After %q", err, r.status, r.header.Get("Retry-After"))
	}
	if !strings.Contains(string(r.body), "ServiceTemporarilyUnavailable") {
		t.Errorf("503 body lacks Base.ServiceTemporarilyUnavailable: %s", r.body)
	}
	r, err = m.do(t, "POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": adminPassword})
	if err != nil || r.status == http.StatusCreated || r.header.Get("X-Auth-Token") != "" {
		t.Errorf("login while Locked: %v %d", err, r.status)
	}
	if r, err := m.do(t, "GET", "/redfish/v1/", "", nil); err != nil || r.status != http.StatusOK {
		t.Errorf("service root (discovery) while Locked: %v %d", err, r.status)
	}

	if err := b.rotd.Process.Signal(syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	stopped = false
	// A retry every interval (RetryDelay ≤ interval) and ~20 ms to attest.
	d = m.waitGate(t, b, "Open", 3*interval+5*time.Second)
	t.Logf("gate Open %v after SIGCONT", d)
	if r, err := m.do(t, "GET", "/redfish/v1/SessionService/Sessions", tok, nil); err != nil || r.status != http.StatusUnauthorized {
		t.Errorf("the session opened before the lock: %v %d, want 401 (revoked)", err, r.status)
	}
	tok = m.login(t, b)
	if r, err := m.do(t, "GET", "/redfish/v1/Systems", tok, nil); err != nil || r.status != http.StatusOK {
		t.Errorf("Systems after the fresh pass: %v %d", err, r.status)
	}
}

// TestRoTRestartIsBoardReset: kill -9 rotd and start it again: the new rotd
// ends the orphaned bmcd, verifies again, starts a new bmcd, whose gate
// attests the new boot.
func TestRoTRestartIsBoardReset(t *testing.T) {
	t.Parallel()
	b := newBoard(t, boardOptions{})
	b.start()
	m := b.waitBMC(0)
	m.waitGate(t, b, "Open", 20*time.Second)
	old := m.PID

	b.kill()
	if !alive(old) {
		t.Fatalf("bmcd %d died with rotd", old)
	}
	m.waitGate(t, b, "Locked", linkTimeout(defaultInterval)+5*time.Second)

	start := time.Now()
	b.start()
	m2 := b.waitBMC(old)
	d := m2.waitGate(t, b, "Open", 20*time.Second)
	t.Logf("after the RoT restart: new bmcd %d, gate Open %v after its ready file, %v after rotd started", m2.PID, d, time.Since(start))
	deadline := time.Now().Add(10 * time.Second)
	for alive(old) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if alive(old) {
		t.Errorf("the bmcd of the killed rotd (pid %d) still runs", old)
	}
}

// TestSVNBelowFloorNeverOpens: the bundle's SVN (1) is below bmc-config's
// minimum (3). rotd boots it (its own floor is the provisioned SVN; the
// bmc-config minimum is the gate's policy), and the gate never opens,
// saying why in the event log.
func TestSVNBelowFloorNeverOpens(t *testing.T) {
	t.Parallel()
	const interval = 2 * time.Second
	b := newBoard(t, boardOptions{SVN: 1, MinSVN: 3, Interval: interval})
	b.start()
	m := b.waitBMC(0)
	deadline := time.Now().Add(3 * interval)
	for time.Now().Before(deadline) {
		if s := m.gateState(t); s != "Locked" {
			t.Fatalf("gate %s with firmware below the SVN floor", s)
		}
		if strings.Contains(b.log(), "below the floor") {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if !strings.Contains(b.log(), "firmware SVN 1 is below the floor 3") {
		t.Fatalf("no gate transition naming the SVN floor in the log")
	}
	r, err := m.do(t, "POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": "x"})
	if err != nil || r.status != http.StatusServiceUnavailable {
		t.Errorf("login: %v %d, want 503", err, r.status)
	}
}
