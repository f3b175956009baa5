package qemu

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/images/uroot"
	"github.com/ironroot-bmc/ironroot/rot"
	"github.com/ironroot-bmc/ironroot/rot/record"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

// Files a QEMU board keeps in its state directory.
const (
	StateDiskFile    = "disk.img"
	BMCTPMDir        = "tpm-bmc"
	PasswordFile     = "initial-admin-password"
	DefaultReadyFile = "qemu.ready.json"
)

// Platform is a QEMU board as rotd's BMC platform (rot.Platform): rotd verifies and
// measures the active slot's bundle, then Release boots the VM from sealed memfds of
// exactly the verified bytes — the kernel, and one initrd that is the initramfs, the
// modules cpio and the bmc-config (wrapped in a one-file archive at BMCConfigPath)
// concatenated — with the RoT link UART connected to rotd's responder socket. Every QEMU
// exit is a BMC reset (-no-reboot, panic=-1, the guest's softdog), and rotd re-verifies
// before the next Release. The BMC TPM (x86) is a swtpm whose state spans VM restarts.
type Platform struct {
	// Machine is MachineQ35 (default) or MachineAST2600.
	Machine string
	// StateDir holds the state disk, the BMC TPM's state, the first-boot password
	// (0600) and the ready file.
	StateDir string
	// RunDir holds the VM's sockets (short path for unix sockets; default StateDir/run).
	RunDir string
	// RoTLink is the unix socket rotd's responder listens on (rot.Config.SPDMAddr
	// "unix:PATH"); empty: no RoT link, the gate stays Locked.
	RoTLink string
	// RedfishPort and IPMIPort are host ports on 127.0.0.1 (0: any, read back).
	RedfishPort, IPMIPort int
	// BMCTPM attaches a second swtpm as the BMC's tpm-tis (x86 only).
	BMCTPM bool
	// Accel (default tcg), CPU (default QEMU's) and Memory (MiB, default 512).
	Accel, CPU string
	Memory     int
	// Console receives the BMC's serial console; ConsoleInput, when set, feeds it (DEBUG
	// images with a shell; QEMU's monitor is multiplexed on it: Ctrl-A x quits).
	Console      io.Writer
	ConsoleInput io.Reader
	// ReadyFile receives, after each power-on, where the BMC answers (Ready as JSON);
	// default StateDir/qemu.ready.json.
	ReadyFile string
	Logger    *slog.Logger

	mu  sync.Mutex
	tpm *tpm.Swtpm
}

// Ready is what the ready file says about the running VM.
type Ready struct {
	Redfish string `json:"redfish"` // https://127.0.0.1:PORT
	IPMI    string `json:"ipmi"`    // 127.0.0.1:PORT (UDP)
	QEMUPID int    `json:"qemu_pid"`
	// PoweredOn is when QEMU was started (the VM's power-on).
	PoweredOn time.Time `json:"powered_on"`
	// PasswordFile is set once the first-boot password was seen on the console.
	PasswordFile string `json:"password_file,omitempty"`
}

func (p *Platform) ast() bool { return p.Machine == MachineAST2600 }

func (p *Platform) log() *slog.Logger {
	if p.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return p.Logger
}

func (p *Platform) runDir() string {
	if p.RunDir != "" {
		return p.RunDir
	}
	return filepath.Join(p.StateDir, "run")
}

func (p *Platform) readyFile() string {
	if p.ReadyFile != "" {
		return p.ReadyFile
	}
	return filepath.Join(p.StateDir, DefaultReadyFile)
}

// Components implements rot.Platform: the kernel, the initramfs, the modules and, on
// the ast2600, its device tree.
func (p *Platform) Components() []string {
	c := []string{ComponentKernel, ComponentInitramfs, ComponentModules}
	if p.ast() {
		c = append(c, ComponentDTB)
	}
	return c
}

// Release implements rot.Platform: power the VM on.
func (p *Platform) Release(ctx context.Context, b *rot.Booted) (rot.BMC, error) {
	kernel := b.Images[ComponentKernel]
	if kernel == nil {
		return nil, fmt.Errorf("qemu board: the boot has no %s image", ComponentKernel)
	}
	initrd, err := AssembleInitrd(b.Images)
	if err != nil {
		return nil, err
	}
	defer initrd.Close() // QEMU holds its own descriptor once started
	disk := ""
	if !p.ast() {
		disk = filepath.Join(p.StateDir, StateDiskFile)
		if err := CreateStateDisk(ctx, disk); err != nil {
			return nil, err
		}
	}
	tpmSock, err := p.bmcTPM(ctx)
	if err != nil {
		return nil, err
	}
	con := NewConsole(p.Console)
	vm, err := Start(ctx, Config{
		BoardID: b.Manifest.BoardID, Machine: p.Machine, Kernel: kernel, Initrd: initrd, DTB: b.Images[ComponentDTB],
		RunDir: p.runDir(), StateDisk: disk, RedfishPort: p.RedfishPort, IPMIPort: p.IPMIPort,
		TPMSocket: tpmSock, RoTLink: p.RoTLink, Console: con, Accel: p.Accel, CPU: p.CPU,
		Memory: p.Memory, ConsoleInput: p.ConsoleInput,
	})
	if err != nil {
		return nil, err
	}
	go p.report(ctx, vm, con)
	return &vmBMC{vm: vm, con: con}, nil
}

// bmcTPM makes sure the BMC TPM runs and returns its socket ("" without one). QEMU
// sends swtpm CMD_SHUTDOWN when it exits, so the TPM process ends with every VM; its
// state directory keeps its NV and keys.
func (p *Platform) bmcTPM(ctx context.Context) (string, error) {
	if !p.BMCTPM || p.ast() {
		return "", nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tpm != nil && !p.tpm.Running() {
		p.tpm.Stop()
		p.tpm = nil
	}
	if p.tpm == nil {
		t, err := StartBMCTPM(ctx, filepath.Join(p.StateDir, BMCTPMDir), p.runDir(), p.Console)
		if err != nil {
			return "", err
		}
		p.tpm = t
	}
	return p.tpm.CtrlSocket(), nil
}

// report reads the forwards back from the monitor and writes the ready file, then saves
// the first-boot password when the console shows it.
func (p *Platform) report(ctx context.Context, vm *VM, con *Console) {
	log := p.log()
	redfish, ipmi, err := vm.Forwards(ctx)
	if err != nil {
		log.Error("qemu board: reading the port forwards", "err", err)
		return
	}
	r := Ready{Redfish: "https://127.0.0.1:" + strconv.Itoa(redfish), QEMUPID: vm.PID(), PoweredOn: vm.Started()}
	if ipmi != 0 {
		r.IPMI = "127.0.0.1:" + strconv.Itoa(ipmi)
	}
	if err := p.writeReady(r); err != nil {
		log.Error("qemu board: ready file", "err", err)
	}
	log.Info("BMC powered on", "redfish", r.Redfish+"/redfish/v1", "ipmi", r.IPMI, "qemu_pid", vm.PID())
	select {
	case <-con.FirstBoot():
	case <-vm.Done():
		return
	case <-ctx.Done():
		return
	}
	path := filepath.Join(p.StateDir, PasswordFile)
	if err := con.SaveCredentials(path); err != nil {
		log.Error("qemu board: first-boot password", "err", err)
		return
	}
	r.PasswordFile = path
	if err := p.writeReady(r); err != nil {
		log.Error("qemu board: ready file", "err", err)
	}
	user, _ := con.Credentials()
	log.Info("BMC first boot: log in with the printed password; it must be changed at first login",
		"user", user, "password_file", path)
}

func (p *Platform) writeReady(r Ready) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	return record.WriteFile(p.readyFile(), append(b, '\n'), 0o644)
}

// Close stops the BMC TPM (after the last VM has stopped).
func (p *Platform) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tpm != nil {
		p.tpm.Stop()
		p.tpm = nil
	}
}

// TPMPID is the BMC TPM's swtpm PID (0 if none runs).
func (p *Platform) TPMPID() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.tpm == nil {
		return 0
	}
	return p.tpm.PID()
}

// vmBMC is a powered-on QEMU board as rot.BMC.
type vmBMC struct {
	vm  *VM
	con *Console
}

func (b *vmBMC) PID() int              { return b.vm.PID() }
func (b *vmBMC) Done() <-chan struct{} { return b.vm.Done() }
func (b *vmBMC) Stop()                 { b.vm.Stop() }

// ExitCode maps how the VM ended to rotd's terms: bmcd's own exit status when it printed
// one other than 0 (a reset request is 3, like on the sim board); a reboot without one
// (a crash with panic=-1, the watchdog) or a clean exit is a reset. QEMU failing is 1.
func (b *vmBMC) ExitCode() int {
	if err := b.vm.Err(); err != nil {
		return 1
	}
	if code, ok := b.con.ExitStatus(); ok && code != 0 {
		return code
	}
	return rot.ExitBMCReset
}

// AssembleInitrd builds the VM's one initrd from a verified boot's sealed images: the
// initramfs, the modules cpio, then the bmc-config in a one-file archive at BMCConfigPath
// (x86 -initrd takes one file; the kernel unpacks concatenated newc archives). The result
// is sealed too; its bytes are copied from sealed images only.
func AssembleInitrd(imgs map[string]*supervise.Image) (*supervise.Image, error) {
	initramfs, modules, cfg := imgs[ComponentInitramfs], imgs[ComponentModules], imgs[ComponentBMCConfig]
	if initramfs == nil || modules == nil || cfg == nil {
		return nil, errors.New("qemu board: the boot lacks the initramfs, modules or bmc-config image")
	}
	h, err := uroot.FileArchiveHeader(BMCConfigPath, cfg.Size)
	if err != nil {
		return nil, fmt.Errorf("qemu board: assembling the initrd: %w", err)
	}
	initrd, err := supervise.Seal("bmc-initrd", io.MultiReader(initramfs.Reader(), modules.Reader(),
		bytes.NewReader(h), cfg.Reader(), bytes.NewReader(uroot.FileArchiveTrailer(cfg.Size))))
	if err != nil {
		return nil, fmt.Errorf("qemu board: assembling the initrd: %w", err)
	}
	return initrd, nil
}
