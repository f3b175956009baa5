package qemu

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

// StartBMCTPM starts the BMC TPM with its state in stateDir and its control socket in
// runDir.
func StartBMCTPM(ctx context.Context, stateDir, runDir string, log io.Writer) (*tpm.Swtpm, error) {
	return StartSwtpm(ctx, stateDir, runDir, "tpm-bmc", false, log)
}

// StartRoTTPM starts the RoT TPM with its state in stateDir and its data and control
// sockets in runDir; Spec is what rotd's --tpm takes.
func StartRoTTPM(ctx context.Context, stateDir, runDir string, log io.Writer) (*tpm.Swtpm, error) {
	return StartSwtpm(ctx, stateDir, runDir, "tpm-rot", true, log)
}

// StartSwtpm starts swtpm (a TPM 2.0 simulator, rot/tpm's launcher) with its state in
// stateDir and its sockets runDir/NAME.sock (control) and runDir/NAME.data.sock (with
// data: commands go there instead of through QEMU's control channel). A board has two,
// never shared: the BMC TPM, attached to the VM as tpm-tis (control socket only, and
// --flags not-need-init; its state directory belongs to the board, so its persistent
// state survives BMC resets, while the process ends with each VM because QEMU sends
// CMD_SHUTDOWN on exit), and the RoT TPM, which only rotd talks to (data and control
// sockets; rotd resets it at every board power-on).
func StartSwtpm(ctx context.Context, stateDir, runDir, name string, data bool, log io.Writer) (*tpm.Swtpm, error) {
	cfg := tpm.SwtpmConfig{StateDir: stateDir, Ctrl: filepath.Join(runDir, name+".sock"), Output: log}
	if data {
		cfg.Data = filepath.Join(runDir, name+".data.sock")
	} else {
		cfg.Flags = "not-need-init"
	}
	t, err := tpm.StartSwtpm(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return t, nil
}

// terminate ends process p, whose waiter closes done: SIGTERM, then SIGKILL after grace.
// It returns once p has exited; at once if it already had.
func terminate(p *os.Process, done <-chan struct{}, grace time.Duration) {
	select {
	case <-done:
		return
	default:
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-done:
	case <-time.After(grace):
		_ = p.Kill()
		<-done
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
