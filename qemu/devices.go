package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"
)

// BMCTPM is the BMC's own TPM: a swtpm (TPM 2.0, socket mode) attached to the VM as
// tpm-tis. Its state directory belongs to the board, so the TPM's persistent state
// survives BMC resets; the process itself ends with each VM (QEMU sends CMD_SHUTDOWN on
// exit) and Board.PowerOn starts it again. It is never the RoT TPM, which only rotd
// talks to.
type BMCTPM struct {
	cmd  *exec.Cmd
	sock string
	done chan struct{}
}

// StartBMCTPM starts swtpm with its state in stateDir and its control socket in runDir.
func StartBMCTPM(ctx context.Context, stateDir, runDir string, log io.Writer) (*BMCTPM, error) {
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		return nil, errors.New("swtpm not found: install the Debian packages swtpm and swtpm-tools (.ci/run does)")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("BMC TPM state: %w", err)
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("BMC TPM run dir: %w", err)
	}
	sock := filepath.Join(runDir, "tpm-bmc.sock")
	os.Remove(sock)
	cmd := exec.Command(bin, "socket", "--tpm2", "--tpmstate", "dir="+stateDir,
		"--ctrl", "type=unixio,path="+sock, "--flags", "not-need-init")
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start swtpm: %w", err)
	}
	t := &BMCTPM{cmd: cmd, sock: sock, done: make(chan struct{})}
	go func() {
		_ = cmd.Wait()
		close(t.done)
	}()
	// Ready when the control socket accepts (at most 5 s).
	deadline := time.Now().Add(5 * time.Second)
	for {
		c, err := net.Dial("unix", sock)
		if err == nil {
			c.Close()
			return t, nil
		}
		select {
		case <-t.done:
			return nil, errors.New("swtpm exited at start (see its log)")
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Stop()
			return nil, fmt.Errorf("swtpm control socket %s: %w", sock, err)
		}
	}
}

// Running reports whether swtpm is still running.
func (t *BMCTPM) Running() bool {
	select {
	case <-t.done:
		return false
	default:
		return true
	}
}

// Socket is swtpm's control socket (for Config.TPMSocket).
func (t *BMCTPM) Socket() string { return t.sock }

// PID is swtpm's process ID.
func (t *BMCTPM) PID() int { return t.cmd.Process.Pid }

// Stop ends swtpm by its PID (SIGTERM, then SIGKILL after 3 s).
func (t *BMCTPM) Stop() {
	select {
	case <-t.done:
		return
	default:
	}
	_ = t.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-t.done:
	case <-time.After(3 * time.Second):
		_ = t.cmd.Process.Kill()
		<-t.done
	}
}

// StateDiskSize is the size of a new state disk.
const StateDiskSize = 64 << 20

// CreateStateDisk makes the BMC state disk (ext4 on a sparse file) unless path exists.
// mkfs.ext4 is looked up on PATH and in /usr/sbin (Debian puts it there).
func CreateStateDisk(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return nil
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("state disk: %w", err)
	}
	mkfs, err := exec.LookPath("mkfs.ext4")
	if err != nil {
		mkfs = "/usr/sbin/mkfs.ext4"
		if _, err := os.Stat(mkfs); err != nil {
			return errors.New("mkfs.ext4 not found: install the Debian package e2fsprogs (.ci/run does)")
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("state disk: %w", err)
	}
	tmp := path + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("state disk: %w", err)
	}
	err = f.Truncate(StateDiskSize)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("state disk: %w", err)
	}
	out, err := exec.CommandContext(ctx, mkfs, "-q", "-F", "-L", "bmc-state", "-E", "root_owner=0:0", tmp).CombinedOutput()
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("mkfs.ext4 %s: %w: %s", tmp, err, out)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("state disk: %w", err)
	}
	return nil
}
