package qemu

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"github.com/ironroot-bmc/ironroot/rot"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

// Host is the host side of a QEMU board: its RoT TPM (a swtpm only rotd talks to) and
// rotd, which verifies and measures the active slot's bundle before it boots the VM
// (`rotd run --platform qemu`) and supervises it across BMC resets. `make qemu` and the
// end-to-end tests start boards through it; every process is stopped by its PID.
//
// Layout of Dir: rot/ (rotd's state), tpm-rot/ (the RoT TPM's state), run/ (sockets),
// and the VM's own: disk.img (the BMC state disk), tpm-bmc/ (the BMC TPM),
// initial-admin-password (0600, until changed) and qemu.ready.json.
type Host struct {
	// Rotd is the rotd binary.
	Rotd string
	// Dir is the board's directory; RunDir its sockets (default Dir/run; keep it short).
	Dir, RunDir string
	// Machine is MachineQ35 (default) or MachineAST2600.
	Machine string
	// BoardID, VendorKeys (directory of *.pub) and IdentityRoot (directory of the
	// identity root's key and certificate) provision a new board.
	BoardID, VendorKeys, IdentityRoot string
	// Bundle is the factory image of a new board, and installed as a trial at every
	// start when it differs from the active slot's firmware.
	Bundle string
	// RedfishPort and IPMIPort are the forwards' host ports (0: any, see Ready).
	RedfishPort, IPMIPort int
	// Probation, RequireHealthReport and Heartbeat: rotd's health policy (0: rotd's
	// defaults).
	Probation           time.Duration
	RequireHealthReport bool
	Heartbeat           time.Duration
	NoBMCTPM            bool
	Accel, CPU          string
	// Interactive gives the BMC console this process's standard input (DEBUG images).
	Interactive bool
	// Output receives rotd's log and the BMC console.
	Output io.Writer

	tpm  *tpm.Swtpm
	cmd  *exec.Cmd
	done chan struct{}
	err  error
}

// RotState is rotd's state directory; BMCState the VM's.
func (h *Host) RotState() string { return filepath.Join(h.Dir, "rot") }

// BMCState is the VM's state directory: the board's directory itself.
func (h *Host) BMCState() string { return h.Dir }

// ReadyFile is where rotd's QEMU platform writes the running VM's addresses.
func (h *Host) ReadyFile() string { return filepath.Join(h.BMCState(), DefaultReadyFile) }

func (h *Host) runDir() string {
	if h.RunDir != "" {
		return h.RunDir
	}
	return filepath.Join(h.Dir, "run")
}

func (h *Host) machine() string {
	if h.Machine == "" {
		return MachineQ35
	}
	return h.Machine
}

func (h *Host) output() io.Writer {
	if h.Output == nil {
		return io.Discard
	}
	return h.Output
}

// Start starts the RoT TPM, provisions the board on its first start, then starts rotd.
func (h *Host) Start(ctx context.Context) error {
	if err := os.MkdirAll(h.Dir, 0o700); err != nil {
		return err
	}
	tpmDir := filepath.Join(h.Dir, "tpm-rot")
	provisioned := exists(filepath.Join(h.RotState(), rot.IdentityDir, identity.DeviceIDCert))
	if !provisioned {
		// A board whose rotd state is gone is a new board: its RoT TPM starts blank.
		if err := os.RemoveAll(tpmDir); err != nil {
			return err
		}
	}
	t, err := StartRoTTPM(ctx, tpmDir, h.runDir(), h.output())
	if err != nil {
		return err
	}
	h.tpm = t
	if !provisioned {
		out, err := exec.CommandContext(ctx, h.Rotd, "provision", "--state", h.RotState(), "--tpm", t.Spec(),
			"--board-id", h.BoardID, "--vendor-keys", h.VendorKeys, "--identity-root", h.IdentityRoot,
			"--bundle", h.Bundle, "--platform", "qemu", "--qemu-machine", h.machine()).CombinedOutput()
		if err != nil {
			h.tpm.Stop()
			return fmt.Errorf("rotd provision: %w\n%s", err, out)
		}
	}
	os.Remove(h.ReadyFile())
	args := []string{"run", "--state", h.RotState(), "--tpm", t.Spec(), "--platform", "qemu",
		"--qemu-state", h.BMCState(), "--qemu-run", h.runDir(),
		"--redfish-port", strconv.Itoa(h.RedfishPort), "--ipmi-port", strconv.Itoa(h.IPMIPort)}
	args = append(args, "--qemu-machine", h.machine())
	if h.Bundle != "" {
		args = append(args, "--install", h.Bundle)
	}
	if h.Probation != 0 {
		args = append(args, "--probation", h.Probation.String())
	}
	if h.RequireHealthReport {
		args = append(args, "--require-health-report")
	}
	if h.Heartbeat != 0 {
		args = append(args, "--heartbeat", h.Heartbeat.String())
	}
	if h.NoBMCTPM {
		args = append(args, "--no-bmc-tpm")
	}
	if h.Accel != "" {
		args = append(args, "--qemu-accel", h.Accel)
	}
	if h.CPU != "" {
		args = append(args, "--qemu-cpu", h.CPU)
	}
	if h.Interactive {
		args = append(args, "--qemu-console-stdin")
	}
	h.cmd = exec.Command(h.Rotd, args...)
	h.cmd.Stdout, h.cmd.Stderr = h.output(), h.output()
	if h.Interactive {
		h.cmd.Stdin = os.Stdin
	}
	// rotd ends its VM when it gets SIGTERM: also when this process dies.
	h.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	if err := h.cmd.Start(); err != nil {
		h.tpm.Stop()
		return fmt.Errorf("starting rotd: %w", err)
	}
	h.done = make(chan struct{})
	go func() {
		h.err = h.cmd.Wait()
		close(h.done)
	}()
	return nil
}

// Done is closed when rotd has exited.
func (h *Host) Done() <-chan struct{} { return h.done }

// Err is rotd's exit error after Done.
func (h *Host) Err() error {
	<-h.done
	return h.err
}

// RotdPID is rotd's process ID.
func (h *Host) RotdPID() int { return h.cmd.Process.Pid }

// Ready reads the ready file ("not yet" is an error wrapping os.ErrNotExist).
func (h *Host) Ready() (Ready, error) {
	var r Ready
	b, err := os.ReadFile(h.ReadyFile())
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, fmt.Errorf("%s: %w", h.ReadyFile(), err)
	}
	return r, nil
}

// WaitReady waits until a VM other than QEMU pid not has been powered on (and, with
// password, until its first-boot password was saved) and returns its addresses.
func (h *Host) WaitReady(ctx context.Context, not int, password bool) (Ready, error) {
	for {
		r, err := h.Ready()
		if err == nil && r.QEMUPID != 0 && r.QEMUPID != not && (!password || r.PasswordFile != "") {
			return r, nil
		}
		select {
		case <-ctx.Done():
			return r, fmt.Errorf("waiting for the QEMU board to power on: %w", ctx.Err())
		case <-h.done:
			return r, fmt.Errorf("rotd exited: %v", h.err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// RotdCommand runs a rotd client command (install, status, health) against this board.
func (h *Host) RotdCommand(ctx context.Context, args ...string) (string, error) {
	a := append([]string{args[0], "--state", h.RotState()}, args[1:]...)
	out, err := exec.CommandContext(ctx, h.Rotd, a...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("rotd %s: %w: %s", args[0], err, out)
	}
	return string(out), nil
}

// Stop ends rotd (which stops its VM) with SIGTERM, SIGKILL after 20 s; then a VM that
// rotd's BMC pidfile still records (rotd removes it once it stopped the VM itself; the
// PID and start time name that one QEMU process), and the RoT TPM — all by PID.
func (h *Host) Stop() {
	if h.done != nil {
		terminate(h.cmd.Process, h.done, 20*time.Second)
	}
	log := slog.New(slog.NewTextHandler(h.output(), nil))
	if err := supervise.EndStale(filepath.Join(h.RotState(), rot.BMCPIDFile), 5*time.Second, log); err != nil {
		log.Error("qemu board: stopping the VM rotd left", "err", err)
	}
	if h.tpm != nil {
		h.tpm.Stop()
	}
}

func exists(p string) bool { _, err := os.Stat(p); return err == nil }
