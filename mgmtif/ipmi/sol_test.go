package ipmi

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/mgmtif/console"
)

// openPTY returns a pseudo-terminal's master and slave.
func openPTY(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open /dev/ptmx: %v", err)
	}
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlock pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|unix.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("open pty slave: %v", err)
	}
	t.Cleanup(func() { m.Close(); s.Close() })
	return m, s
}

// ptyOutput collects what a process writes to the pty.
type ptyOutput struct {
	mu sync.Mutex
	b  strings.Builder
}

func (o *ptyOutput) String() string { o.mu.Lock(); defer o.mu.Unlock(); return o.b.String() }

// waitFor waits (bounded) until the output contains want.
func (o *ptyOutput) waitFor(t *testing.T, want string, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !strings.Contains(o.String(), want) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q within %s; output:\n%s", want, d, o.String())
		}
		time.Sleep(20 * time.Millisecond) // polling a real process, not the board clock
	}
}

func withConsole(t testing.TB) harnessOption {
	return func(c *ServerConfig) {
		h := console.New(c.Board.Clock, c.Board.Power.State, c.Board.ID())
		t.Cleanup(h.Stop)
		c.Console = h
	}
}

func TestSOLActivate(t *testing.T) {
	h := startIPMI(t, withConsole(t))
	m, s := openPTY(t)
	cmd := exec.Command(tool(t, "ipmitool", "ipmitool"), "-I", "lanplus", "-H", "127.0.0.1", "-p", h.port,
		"-U", h.user, "-P", h.pass, "-C", "17", "-N", "1", "-R", "3", "sol", "activate")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = s, s, s
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true, Setctty: true, Ctty: 0}
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = killPID(pid) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var out ptyOutput
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := m.Read(buf)
			if n > 0 {
				out.mu.Lock()
				out.b.Write(buf[:n])
				out.mu.Unlock()
			}
			if err != nil {
				return
			}
		}
	}()
	out.waitFor(t, "SOL Session operational", 10*time.Second)

	// A second SOL activation is refused while this one is active.
	if o, err := h.ipmitool(t, "sol", "activate"); err == nil {
		t.Errorf("second sol activate accepted:\n%s", o)
	}

	// Power the host on: its boot log and login prompt arrive over SOL.
	if err := h.tb.Board.Power.Reset(power.ResetOn); err != nil {
		t.Fatal(err)
	}
	h.tb.Clock.Advance(10 * time.Second)
	out.waitFor(t, "Linux version", 10*time.Second)
	out.waitFor(t, h.tb.Board.ID()+" login: ", 10*time.Second)
	if _, err := m.Write([]byte("root\r")); err != nil {
		t.Fatal(err)
	}
	out.waitFor(t, "login: root", 10*time.Second)

	// "~." ends the session.
	if _, err := m.Write([]byte("~.")); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatalf("ipmitool: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("ipmitool sol activate did not end after ~.; output:\n%s", out.String())
	}
	h.srv.mu.Lock()
	active := h.srv.sol != nil
	h.srv.mu.Unlock()
	if active {
		t.Error("SOL still active after ~.")
	}
	// A USER-level session may not activate SOL.
	ro := newClient(t, h)
	if _, err := h.tb.Board.Accounts.Create("viewer", "Viewer-Pass-1", "ReadOnly", []account.AccountType{account.TypeRedfish, account.TypeIPMI}, false); err != nil {
		t.Fatal(err)
	}
	if err := ro.login("viewer", "Viewer-Pass-1", privUser); err != nil {
		t.Fatal(err)
	}
	if cc, _, _ := ro.cmd(netFnApp, cmdActivatePayload, 0x01, 0x01, 0xC0, 0, 0, 0); cc != ccPrivilege {
		t.Errorf("USER Activate Payload SOL: cc %#x, want D4h", cc)
	}
}
