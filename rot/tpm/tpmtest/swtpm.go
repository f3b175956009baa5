// Package tpmtest starts Debian's swtpm for tests that need a RoT TPM which
// survives a rotd restart (the in-process simulator keeps nothing across
// processes). Every swtpm runs in the test's temporary directory on unix
// sockets and is stopped by PID in t.Cleanup.
package tpmtest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// Swtpm is one swtpm process with its state directory.
type Swtpm struct {
	Dir  string // state and sockets
	Data string // data socket
	Ctrl string // control socket
	cmd  *exec.Cmd
	t    testing.TB
}

// Spec is the --tpm value for rotd.
func (s *Swtpm) Spec() string { return "swtpm:" + s.Data + "," + s.Ctrl }

// Path finds swtpm ($IRONROOT_SWTPM if set, else swtpm on PATH or in
// /usr/bin) or fails the test saying how to install it.
func Path(t testing.TB) string {
	t.Helper()
	name := os.Getenv("IRONROOT_SWTPM")
	candidates := []string{name}
	if name == "" {
		candidates = []string{"swtpm", "/usr/bin/swtpm"}
	}
	for _, p := range candidates {
		if path, err := exec.LookPath(p); err == nil {
			return path
		}
	}
	t.Fatalf("swtpm is not installed (looked for %v): this test needs Debian's swtpm for a RoT TPM that survives a rotd restart; apt-get install swtpm swtpm-tools (.ci/run installs it through `make deps`)", candidates)
	return ""
}

// Start starts a swtpm with its state in dir (created if needed). The
// process is stopped by PID when the test ends.
func Start(t testing.TB, dir string) *Swtpm {
	t.Helper()
	s := &Swtpm{Dir: dir, Data: filepath.Join(dir, "data.sock"), Ctrl: filepath.Join(dir, "ctrl.sock"), t: t}
	if err := os.MkdirAll(filepath.Join(dir, "state"), 0o700); err != nil {
		t.Fatal(err)
	}
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Swtpm) start() {
	s.t.Helper()
	_ = os.Remove(s.Data)
	_ = os.Remove(s.Ctrl)
	s.cmd = exec.Command(Path(s.t), "socket", "--tpm2",
		"--server", "type=unixio,path="+s.Data,
		"--ctrl", "type=unixio,path="+s.Ctrl,
		"--tpmstate", "dir="+filepath.Join(s.Dir, "state"))
	s.cmd.Stdout = os.Stderr
	s.cmd.Stderr = os.Stderr
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("starting swtpm: %v", err)
	}
	for range 200 {
		if exists(s.Data) && exists(s.Ctrl) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	s.Stop()
	s.t.Fatalf("swtpm did not create its sockets in %s", s.Dir)
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }

// Stop kills the swtpm process by its PID (SIGTERM, it saves its state).
func (s *Swtpm) Stop() {
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
	s.cmd = nil
}

// Restart stops swtpm and starts it again on the same state.
func (s *Swtpm) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// String describes the process.
func (s *Swtpm) String() string {
	if s.cmd == nil || s.cmd.Process == nil {
		return "swtpm (stopped)"
	}
	return fmt.Sprintf("swtpm pid %d in %s", s.cmd.Process.Pid, s.Dir)
}
