package ipmi

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// harness is a test board with an IPMI server on a real UDP socket on
// 127.0.0.1:0.
type harness struct {
	tb   *testboard.TB
	srv  *Server
	addr *net.UDPAddr
	port string
	user string
	pass string
}

type harnessOption func(*ServerConfig)

// startIPMI starts a board (IPMI enabled in its first-boot defaults, so the
// admin account has IPMI in its AccountTypes) and an IPMI server for it.
func startIPMI(t testing.TB, opts ...harnessOption) *harness {
	t.Helper()
	defaults := filepath.Join(t.TempDir(), "defaults.json")
	if err := os.WriteFile(defaults, []byte(`{"ipmi_enabled": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	tb := testboard.Start(t, testboard.BoardConfig(func(c *bmc.Config) { c.DefaultsFile = defaults }))
	cfg := ServerConfig{Board: tb.Board, OpenRate: RateLimit{Burst: 1 << 20, Every: time.Millisecond}}
	for _, o := range opts {
		o(&cfg)
	}
	srv, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("new server: %v", err)
	}
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, pc) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(5 * time.Second):
			t.Errorf("serve did not stop")
		}
		pc.Close()
	})
	addr := pc.LocalAddr().(*net.UDPAddr)
	return &harness{tb: tb, srv: srv, addr: addr, port: strconv.Itoa(addr.Port), user: tb.AdminUser, pass: tb.AdminPassword}
}

// tool finds a command on PATH or in /usr/sbin (FreeIPMI), failing the test
// with the Debian package that provides it.
func tool(t *testing.T, name, pkg string) string {
	t.Helper()
	if p, err := exec.LookPath(name); err == nil {
		return p
	}
	for _, dir := range []string{"/usr/sbin", "/sbin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() {
			return p
		}
	}
	t.Fatalf("%s not found on PATH or in /usr/sbin: install the Debian package %s (apt-get install -y %s)", name, pkg, pkg)
	return ""
}

// run runs a tool to completion (bounded by timeout) with its output in a
// file, and returns the output and the error.
func run(t *testing.T, timeout time.Duration, path string, args ...string) (string, error) {
	t.Helper()
	out, err := os.CreateTemp(t.TempDir(), "out-*")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(path, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir())
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", path, err)
	}
	pid := cmd.Process.Pid
	t.Cleanup(func() { _ = killPID(pid) })
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err = <-done:
	case <-time.After(timeout):
		_ = cmd.Process.Kill()
		<-done
		err = errors.New("timed out after " + timeout.String())
	}
	data, rerr := os.ReadFile(out.Name())
	if rerr != nil {
		t.Fatal(rerr)
	}
	return string(data), err
}

func killPID(pid int) error {
	p, err := os.FindProcess(pid)
	if err != nil {
		return err
	}
	return p.Kill()
}

// ipmitool runs ipmitool -I lanplus -C 17 against h as the admin.
func (h *harness) ipmitool(t *testing.T, args ...string) (string, error) {
	t.Helper()
	return h.ipmitoolAs(t, h.user, h.pass, append([]string{"-C", "17"}, args...)...)
}

func (h *harness) ipmitoolAs(t *testing.T, user, pass string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-I", "lanplus", "-H", "127.0.0.1", "-p", h.port, "-U", user, "-P", pass, "-N", "1", "-R", "1"}
	return run(t, 30*time.Second, tool(t, "ipmitool", "ipmitool"), append(base, args...)...)
}

// mustIpmitool runs ipmitool and fails the test on error, showing output.
func (h *harness) mustIpmitool(t *testing.T, args ...string) string {
	t.Helper()
	out, err := h.ipmitool(t, args...)
	if err != nil {
		t.Fatalf("ipmitool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

// freeipmi runs a FreeIPMI tool with -D LAN_2_0 -I 17 as the admin.
func (h *harness) freeipmi(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	base := []string{"-h", "127.0.0.1:" + h.port, "-u", h.user, "-p", h.pass, "-D", "LAN_2_0", "-I", "17", "-l", "ADMIN",
		"--session-timeout=5000", "--retransmission-timeout=500"}
	return run(t, 60*time.Second, tool(t, name, "freeipmi-tools"), append(base, args...)...)
}

func (h *harness) mustFreeipmi(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := h.freeipmi(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

func (h *harness) sdrCache(t *testing.T) []string {
	return []string{"--sdr-cache-directory=" + t.TempDir(), "--sdr-cache-recreate"}
}

func mustContain(t *testing.T, out string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(out, w) {
			t.Errorf("output lacks %q:\n%s", w, out)
		}
	}
}

var _ = bytes.Contains
