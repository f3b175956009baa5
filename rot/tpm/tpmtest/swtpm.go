// Package tpmtest starts Debian's swtpm for tests that need a RoT TPM which
// survives a rotd restart (the in-process simulator keeps nothing across
// processes). Every swtpm runs in the test's temporary directory on unix
// sockets and is stopped by PID in t.Cleanup; the launcher is rot/tpm's
// StartSwtpm.
package tpmtest

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

// Swtpm is one swtpm process with its state directory.
type Swtpm struct {
	Dir  string // state and sockets
	Data string // data socket
	Ctrl string // control socket
	proc *tpm.Swtpm
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
	s.start()
	t.Cleanup(s.Stop)
	return s
}

func (s *Swtpm) start() {
	s.t.Helper()
	p, err := tpm.StartSwtpm(context.Background(), tpm.SwtpmConfig{
		Bin: Path(s.t), StateDir: filepath.Join(s.Dir, "state"), Ctrl: s.Ctrl, Data: s.Data,
		Output: os.Stderr, StopTimeout: 5 * time.Second,
	})
	if err != nil {
		s.t.Fatalf("swtpm in %s: %v", s.Dir, err)
	}
	s.proc = p
}

// Stop kills the swtpm process by its PID (SIGTERM, it saves its state).
func (s *Swtpm) Stop() {
	if s.proc == nil {
		return
	}
	s.proc.Stop()
	s.proc = nil
}

// Restart stops swtpm and starts it again on the same state.
func (s *Swtpm) Restart() {
	s.t.Helper()
	s.Stop()
	s.start()
}

// String describes the process.
func (s *Swtpm) String() string {
	if s.proc == nil {
		return "swtpm (stopped)"
	}
	return fmt.Sprintf("swtpm pid %d in %s", s.proc.PID(), s.Dir)
}
