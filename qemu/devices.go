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

// Swtpm is a TPM 2.0 simulator process (swtpm, socket mode) of a board, stopped by its
// PID. A board has two, never shared: the BMC TPM, attached to the VM as tpm-tis
// (control socket only; its state directory belongs to the board, so its persistent
// state survives BMC resets, while the process ends with each VM because QEMU sends
// CMD_SHUTDOWN on exit), and the RoT TPM, which only rotd talks to (data and control
// sockets; rotd resets it at every board power-on).
type Swtpm struct {
	cmd        *exec.Cmd
	ctrl, data string
	done       chan struct{}
}

// StartBMCTPM starts the BMC TPM with its state in stateDir and its control socket in
// runDir.
func StartBMCTPM(ctx context.Context, stateDir, runDir string, log io.Writer) (*Swtpm, error) {
	return StartSwtpm(ctx, stateDir, runDir, "tpm-bmc", false, log)
}

// StartRoTTPM starts the RoT TPM with its state in stateDir and its data and control
// sockets in runDir; Spec is what rotd's --tpm takes.
func StartRoTTPM(ctx context.Context, stateDir, runDir string, log io.Writer) (*Swtpm, error) {
	return StartSwtpm(ctx, stateDir, runDir, "tpm-rot", true, log)
}

// StartSwtpm starts swtpm with its state in stateDir and its sockets runDir/NAME.sock
// (control) and runDir/NAME.data.sock (with data: commands go there instead of through
// QEMU's control channel).
func StartSwtpm(ctx context.Context, stateDir, runDir, name string, data bool, log io.Writer) (*Swtpm, error) {
	bin, err := exec.LookPath("swtpm")
	if err != nil {
		return nil, errors.New("swtpm not found: install the Debian packages swtpm and swtpm-tools (.ci/run does)")
	}
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s state: %w", name, err)
	}
	if err := os.MkdirAll(runDir, 0o700); err != nil {
		return nil, fmt.Errorf("%s run dir: %w", name, err)
	}
	t := &Swtpm{ctrl: filepath.Join(runDir, name+".sock"), done: make(chan struct{})}
	os.Remove(t.ctrl)
	args := []string{"socket", "--tpm2", "--tpmstate", "dir=" + stateDir, "--ctrl", "type=unixio,path=" + t.ctrl}
	if data {
		t.data = filepath.Join(runDir, name+".data.sock")
		os.Remove(t.data)
		args = append(args, "--server", "type=unixio,path="+t.data)
	} else {
		args = append(args, "--flags", "not-need-init")
	}
	t.cmd = exec.Command(bin, args...)
	t.cmd.Stdout, t.cmd.Stderr = log, log
	t.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := t.cmd.Start(); err != nil {
		return nil, fmt.Errorf("start swtpm: %w", err)
	}
	go func() {
		_ = t.cmd.Wait()
		close(t.done)
	}()
	// Ready when the sockets accept (at most 5 s).
	deadline := time.Now().Add(5 * time.Second)
	for _, sock := range []string{t.ctrl, t.data} {
		if sock == "" {
			continue
		}
		for {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-t.done:
				return nil, fmt.Errorf("swtpm (%s) exited at start (see its log)", name)
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				t.Stop()
				return nil, fmt.Errorf("swtpm socket %s: %w", sock, err)
			}
		}
	}
	return t, nil
}

// Spec is the TPM as rotd's --tpm flag names it (swtpm:DATA,CTRL); RoT TPM only.
func (t *Swtpm) Spec() string { return "swtpm:" + t.data + "," + t.ctrl }

// Running reports whether swtpm is still running.
func (t *Swtpm) Running() bool {
	select {
	case <-t.done:
		return false
	default:
		return true
	}
}

// Socket is swtpm's control socket (for Config.TPMSocket).
func (t *Swtpm) Socket() string { return t.ctrl }

// PID is swtpm's process ID.
func (t *Swtpm) PID() int { return t.cmd.Process.Pid }

// Stop ends swtpm by its PID (SIGTERM, then SIGKILL after 3 s).
func (t *Swtpm) Stop() { terminate(t.cmd.Process, t.done, 3*time.Second) }

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
