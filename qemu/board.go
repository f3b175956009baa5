package qemu

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"sync"

	"github.com/ironroot-bmc/ironroot/images/manifest"
)

// Board is one QEMU x86 board: its state directory (state disk, BMC TPM state), its
// signed bundle and the trust it verifies the bundle with, and the BMC TPM that lives
// across power-ons. Each PowerOn re-verifies the bundle before QEMU starts.
type Board struct {
	ID string
	// Machine is MachineQ35 (default) or MachineAST2600 (no state disk, TPM or RoT link).
	Machine string
	// StateDir holds disk.img (the BMC state disk), tpm-bmc/ and initial-admin-password.
	StateDir string
	// RunDir holds the sockets (short path; default StateDir/run).
	RunDir string
	Bundle string
	Keys   manifest.KeySet
	Policy manifest.Policy
	// RedfishPort and IPMIPort: host ports on 127.0.0.1 (0: any, read back).
	RedfishPort, IPMIPort int
	// BMCTPM attaches a second swtpm as the BMC's tpm-tis.
	BMCTPM bool
	// Accel is QEMU's accelerator (default tcg; kvm is opt-in, see the boot facts).
	Accel string
	// CPU is QEMU's -cpu model (default: QEMU's).
	CPU string
	// NoStateDisk and NoRoTLink leave those out (the minimal baseline image).
	NoStateDisk, NoRoTLink bool
	Console                io.Writer
	// ConsoleInput feeds the console (DEBUG images); see Config.ConsoleInput.
	ConsoleInput io.Reader
	Logger       *slog.Logger

	tpm *BMCTPM
}

func (b *Board) runDir() string {
	if b.RunDir != "" {
		return b.RunDir
	}
	return filepath.Join(b.StateDir, "run")
}

// PowerOn verifies the bundle into sealed memfds, makes sure the state disk and the BMC
// TPM exist, and starts QEMU. The console goes through the returned Console watcher.
func (b *Board) PowerOn(ctx context.Context) (*VM, *Console, error) {
	fw, err := VerifyFirmware(b.Bundle, b.Keys, b.Policy)
	if err != nil {
		return nil, nil, err
	}
	defer fw.Close() // QEMU holds its own descriptors once started
	ast := b.Machine == MachineAST2600
	disk := ""
	if !b.NoStateDisk && !ast {
		disk = filepath.Join(b.StateDir, "disk.img")
		if err := CreateStateDisk(ctx, disk); err != nil {
			return nil, nil, err
		}
	}
	tpmSock := ""
	if b.BMCTPM && !ast {
		// QEMU sends swtpm CMD_SHUTDOWN when it exits, so the BMC TPM ends with every VM;
		// the board starts it again (same state directory: its NV and keys persist).
		if b.tpm != nil && !b.tpm.Running() {
			b.tpm.Stop()
			b.tpm = nil
		}
		if b.tpm == nil {
			t, err := StartBMCTPM(ctx, filepath.Join(b.StateDir, "tpm-bmc"), b.runDir(), b.Console)
			if err != nil {
				return nil, nil, err
			}
			b.tpm = t
		}
		tpmSock = b.tpm.Socket()
	}
	con := NewConsole(b.Console)
	rot := "ttyS1"
	if b.NoRoTLink || ast {
		rot = ""
	}
	vm, err := Start(ctx, Config{
		BoardID: b.ID, Machine: b.Machine, Kernel: fw.Kernel, Initrd: fw.Initrd, DTB: fw.DTB, RunDir: b.runDir(),
		StateDisk: disk, RedfishPort: b.RedfishPort, IPMIPort: b.IPMIPort,
		TPMSocket: tpmSock, RoTLink: rot, Console: con, Logger: b.Logger, Accel: b.Accel, CPU: b.CPU,
		ConsoleInput: b.ConsoleInput,
	})
	if err != nil {
		return nil, nil, err
	}
	return vm, con, nil
}

// Close stops the BMC TPM (QEMU must have been stopped).
func (b *Board) Close() {
	if b.tpm != nil {
		b.tpm.Stop()
		b.tpm = nil
	}
}

// TPMPID is the BMC TPM's swtpm PID (0 if none runs).
func (b *Board) TPMPID() int {
	if b.tpm == nil {
		return 0
	}
	return b.tpm.PID()
}

var (
	firstBootRE = regexp.MustCompile(`first boot: created account "([^"]+)" with password (\S+)`)
	exitRE      = regexp.MustCompile(`ironroot: bmcd exited with status (\d+)`)
)

// Console watches the guest's serial console: it passes every byte on and picks out the
// first-boot credentials and bmcd's exit line.
type Console struct {
	out io.Writer

	mu        sync.Mutex
	line      []byte
	tail      bytes.Buffer // last 64 KiB, for failure messages
	user, pw  string
	exitLine  string
	firstBoot chan struct{}
}

// NewConsole returns a console watcher writing through to out (nil: discard).
func NewConsole(out io.Writer) *Console {
	if out == nil {
		out = io.Discard
	}
	return &Console{out: out, firstBoot: make(chan struct{})}
}

// Write implements io.Writer.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	for _, ch := range p {
		if ch != '\n' {
			if len(c.line) < 4096 {
				c.line = append(c.line, ch)
			}
			continue
		}
		c.scan(string(c.line))
		c.line = c.line[:0]
	}
	c.tail.Write(p)
	if c.tail.Len() > 128<<10 {
		keep := bytes.Clone(c.tail.Bytes()[c.tail.Len()-64<<10:])
		c.tail.Reset()
		c.tail.Write(keep)
	}
	c.mu.Unlock()
	_, _ = c.out.Write(p)
	return len(p), nil
}

func (c *Console) scan(line string) {
	if m := firstBootRE.FindStringSubmatch(line); m != nil && c.pw == "" {
		c.user, c.pw = m[1], m[2]
		close(c.firstBoot)
	}
	if m := exitRE.FindString(line); m != "" {
		c.exitLine = m
	}
}

// FirstBoot is closed once the first-boot credentials were printed.
func (c *Console) FirstBoot() <-chan struct{} { return c.firstBoot }

// Credentials are the first-boot account and password ("" before FirstBoot).
func (c *Console) Credentials() (user, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user, c.pw
}

// ExitLine is bmcd's last "bmcd exited with status N" line ("" if none was printed:
// a crash, the watchdog, or a power-off from outside).
func (c *Console) ExitLine() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exitLine
}

// Tail is the last part of the console output.
func (c *Console) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tail.String()
}

// SaveCredentials writes the first-boot password to dir/initial-admin-password (0600).
func (c *Console) SaveCredentials(dir string) (string, error) {
	_, pw := c.Credentials()
	if pw == "" {
		return "", fmt.Errorf("no first-boot password seen on the console")
	}
	p := filepath.Join(dir, "initial-admin-password")
	if err := os.WriteFile(p, []byte(pw+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("save first-boot password: %w", err)
	}
	return p, nil
}
