// Package qemu owns the QEMU board launcher and its end-to-end harness: the
// qemu-system-x86_64 -M q35 command line (kernel and initramfs passed as
// /proc/self/fd/N of sealed memfds holding exactly the verified bytes, -no-reboot and
// panic=-1 so any BMC crash or reset ends QEMU), the port forwards on 127.0.0.1 read back
// from the monitor, the BMC TPM (a swtpm whose lifetime spans VM restarts), the virtio
// state disk, the console watcher and stopping every process it started by PID. It does
// not decide what may run: it boots only images a caller verified (rotd, or
// Firmware.Verify here).
package qemu

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/guest"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
)

// Guest ports the forwards point at (the BMC listens there on its NIC).
const (
	GuestRedfishPort = 443
	GuestIPMIPort    = 623
)

// Machines the launcher knows.
const (
	MachineQ35     = "q35"         // x86_64, the default board
	MachineAST2600 = "ast2600-evb" // 32-bit ARM, the real BMC SoC; smoke tests only
)

// Config is one start of the board's VM.
type Config struct {
	// Machine is MachineQ35 (default) or MachineAST2600.
	Machine string
	// DTB is the device tree (ast2600: a verified bundle component), QEMU's fd 5.
	DTB *supervise.Image
	// BoardID goes on the kernel command line (ironroot.board=).
	BoardID string
	// Kernel and Initrd are sealed memfds of verified bytes.
	Kernel, Initrd *supervise.Image
	// RunDir holds the sockets of this VM (monitor, RoT link); it must be short enough
	// for unix socket paths (< 108 bytes).
	RunDir string
	// StateDisk is the ext4 image file attached as virtio-blk (see CreateStateDisk);
	// empty: no disk.
	StateDisk string
	// RedfishPort and IPMIPort are the host ports forwarded on 127.0.0.1 (0: any free
	// port, read back with Forwards); negative: no forward.
	RedfishPort, IPMIPort int
	// TPMSocket is the control socket of the BMC TPM's swtpm; empty: no BMC TPM.
	TPMSocket string
	// RoTLink is the unix socket where rotd's SPDM responder listens; QEMU connects the
	// guest's RoT link UART to it (and reconnects if it drops). Empty: no RoT link.
	RoTLink string
	// Console receives the guest's serial console (ttyS0).
	Console io.Writer
	// ConsoleInput, when set, feeds the console (DEBUG images with a shell); QEMU's
	// monitor is then multiplexed on it too: Ctrl-A x quits, Ctrl-A c switches.
	ConsoleInput io.Reader
	// Memory in MiB (default 512), SMP (default 2), Accel (default tcg: KVM is opt-in).
	Memory, SMP int
	Accel       string
	// CPU is the -cpu model (default: QEMU's).
	CPU string
	// ExtraAppend is added to the kernel command line.
	ExtraAppend string
	// QEMU is the qemu-system-x86_64 binary (default: found on PATH).
	QEMU string
	// Now is the host clock (default time.Now); its value goes to ironroot.epoch=.
	Now func() time.Time
}

// VM is a running qemu-system-x86_64.
type VM struct {
	cmd     *exec.Cmd
	cfg     Config
	started time.Time
	done    chan struct{}
	waitErr error
}

// ErrNoQEMU is returned when qemu-system-x86_64 is not installed.
var ErrNoQEMU = errors.New("qemu-system-x86_64 not found: install the Debian package qemu-system-x86 (.ci/run does)")

// FindQEMU returns the qemu-system-x86_64 path, or ErrNoQEMU.
func FindQEMU() (string, error) {
	p, err := exec.LookPath("qemu-system-x86_64")
	if err != nil {
		return "", ErrNoQEMU
	}
	return p, nil
}

// FindQEMUFor returns the QEMU binary of machine.
func FindQEMUFor(machine string) (string, error) {
	if machine != MachineAST2600 {
		return FindQEMU()
	}
	p, err := exec.LookPath("qemu-system-arm")
	if err != nil {
		return "", errors.New("qemu-system-arm not found: install the Debian package qemu-system-arm (.ci/run does)")
	}
	return p, nil
}

// Args is the QEMU command line (without the binary) for cfg. The kernel and initrd are
// fds 3 and 4 of the QEMU process (the ast2600's dtb fd 5).
func Args(cfg Config) []string {
	if cfg.Machine == MachineAST2600 {
		return argsAST2600(cfg)
	}
	mem, smp, accel := cfg.Memory, cfg.SMP, cfg.Accel
	if mem == 0 {
		mem = 512
	}
	if smp == 0 {
		smp = 2
	}
	if accel == "" {
		accel = "tcg"
	}
	state := ""
	if cfg.StateDisk != "" {
		state = "vda"
	}
	appendLine := kernelCmdline(cfg, "ttyS0", state)
	netdev := userNet(cfg, "user,id=n0")
	a := []string{
		"-M", "q35", "-accel", accel, "-m", strconv.Itoa(mem), "-smp", strconv.Itoa(smp),
		"-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", "/proc/self/fd/3", "-initrd", "/proc/self/fd/4",
		"-append", strings.Join(appendLine, " "),
	}
	if cfg.CPU != "" {
		a = append(a, "-cpu", cfg.CPU)
	}
	if cfg.ConsoleInput != nil {
		a = append(a, "-chardev", "stdio,id=con0,signal=off,mux=on", "-serial", "chardev:con0", "-mon", "chardev=con0,mode=readline")
	} else {
		a = append(a, "-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0")
	}
	if cfg.RoTLink != "" {
		a = append(a, rotLinkArgs(cfg.RoTLink)...) // the second -serial: COM2
	}
	a = append(a,
		"-monitor", "unix:"+MonitorPath(cfg.RunDir)+",server=on,wait=off",
		"-netdev", netdev, "-device", "virtio-net-pci,netdev=n0,romfile=",
		"-device", "virtio-rng-pci")
	if cfg.StateDisk != "" {
		a = append(a, "-drive", "file="+cfg.StateDisk+",format=raw,if=none,id=state0,cache=writeback",
			"-device", "virtio-blk-pci,drive=state0")
	}
	if cfg.TPMSocket != "" {
		a = append(a, "-chardev", "socket,id=chrtpm,path="+cfg.TPMSocket,
			"-tpmdev", "emulator,id=tpm0,chardev=chrtpm", "-device", "tpm-tis,tpmdev=tpm0")
	}
	return a
}

// argsAST2600 is the ast2600-evb command line: Debian's armmp kernel with the board's
// dtb (patched to enable UART1 for the RoT link), the ftgmac100 MAC0 on user networking,
// the console on UART5 (ttyS4). The board has no TPM and no disk (volatile state).
func argsAST2600(cfg Config) []string {
	appendLine := kernelCmdline(cfg, "ttyS4,115200n8", guest.VolatileState)
	nic := userNet(cfg, "user,model=ftgmac100")
	a := []string{
		"-M", "ast2600-evb", "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
		"-kernel", "/proc/self/fd/3", "-initrd", "/proc/self/fd/4", "-dtb", "/proc/self/fd/5",
		"-append", strings.Join(appendLine, " "),
		"-chardev", "stdio,id=con0,signal=off", "-serial", "chardev:con0", // UART5, the SoC's default
		"-monitor", "unix:" + MonitorPath(cfg.RunDir) + ",server=on,wait=off",
		"-nic", nic,
	}
	if cfg.RoTLink != "" {
		a = append(a, rotLinkArgs(cfg.RoTLink)...) // the next -serial: UART1
	}
	return a
}

// kernelCmdline is the guest kernel's command line: the console, panic=-1 (a crash ends
// QEMU), and bmc/guest's parameters — board, host clock, user-network address, the state
// device (state: a disk name, guest.VolatileState, or "" for none) and the RoT link UART.
func kernelCmdline(cfg Config, console, state string) []string {
	now := time.Now
	if cfg.Now != nil {
		now = cfg.Now
	}
	line := []string{"console=" + console, "panic=-1", "quiet",
		guest.KeyBoard + "=" + cfg.BoardID,
		guest.KeyEpoch + "=" + strconv.FormatInt(now().Unix(), 10),
		guest.KeyIP + "=10.0.2.15/24", guest.KeyGateway + "=10.0.2.2", guest.KeyNIC + "=eth0"}
	if state != "" {
		line = append(line, guest.KeyState+"="+state)
	}
	if cfg.RoTLink != "" {
		line = append(line, guest.KeyRoTLink+"="+RoTLinkTTY(cfg.Machine))
	}
	if cfg.ExtraAppend != "" {
		line = append(line, cfg.ExtraAppend)
	}
	return line
}

// userNet is the user-network backend spec (base names the NIC or netdev) with the
// Redfish and IPMI forwards, bound to 127.0.0.1 only; a negative port has no forward.
func userNet(cfg Config, base string) string {
	n := base + ",net=10.0.2.0/24,host=10.0.2.2"
	if cfg.RedfishPort >= 0 {
		n += fmt.Sprintf(",hostfwd=tcp:127.0.0.1:%d-10.0.2.15:%d", cfg.RedfishPort, GuestRedfishPort)
	}
	if cfg.IPMIPort >= 0 {
		n += fmt.Sprintf(",hostfwd=udp:127.0.0.1:%d-10.0.2.15:%d", cfg.IPMIPort, GuestIPMIPort)
	}
	return n
}

// MonitorPath is the HMP monitor socket of the VM whose run directory is runDir.
func MonitorPath(runDir string) string { return filepath.Join(runDir, "monitor.sock") }

// RoTLinkTTY is the guest's name of the RoT link UART on machine: COM2 on q35; UART1 on
// the ast2600-evb, which the bundle's patched device tree enables.
func RoTLinkTTY(machine string) string {
	if machine == MachineAST2600 {
		return "ttyS0"
	}
	return "ttyS1"
}

// rotLinkArgs connects the next -serial of the VM to rotd's responder socket: a raw byte
// stream, reconnected every second if it drops (the responder drops the link of a boot
// that ended; a VM never outlives its boot, but a restarted rotd listens anew).
func rotLinkArgs(socket string) []string {
	return []string{"-chardev", "socket,id=rot0,path=" + socket + ",reconnect=1", "-serial", "chardev:rot0"}
}

// Start starts the VM (power-on). The process dies with the caller (PDEATHSIG) and is
// stopped by PID with Stop.
func Start(ctx context.Context, cfg Config) (*VM, error) {
	if cfg.Kernel == nil || cfg.Initrd == nil {
		return nil, errors.New("qemu: no kernel or initrd")
	}
	bin := cfg.QEMU
	if bin == "" {
		var err error
		if bin, err = FindQEMUFor(cfg.Machine); err != nil {
			return nil, err
		}
	}
	if cfg.Machine == MachineAST2600 && cfg.DTB == nil {
		return nil, errors.New("qemu: ast2600-evb needs a dtb")
	}
	if err := os.MkdirAll(cfg.RunDir, 0o700); err != nil {
		return nil, fmt.Errorf("qemu: run dir: %w", err)
	}
	os.Remove(MonitorPath(cfg.RunDir))
	cmd := exec.Command(bin, Args(cfg)...)
	cmd.ExtraFiles = []*os.File{cfg.Kernel.File(), cfg.Initrd.File()}
	if cfg.DTB != nil {
		cmd.ExtraFiles = append(cmd.ExtraFiles, cfg.DTB.File())
	}
	cmd.Stdin = cfg.ConsoleInput
	cmd.Stdout = cfg.Console
	cmd.Stderr = cfg.Console
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	v := &VM{cmd: cmd, cfg: cfg, done: make(chan struct{})}
	v.started = time.Now()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("qemu: start %s: %w", bin, err)
	}
	go func() {
		v.waitErr = cmd.Wait()
		close(v.done)
	}()
	return v, nil
}

// PID is QEMU's process ID.
func (v *VM) PID() int { return v.cmd.Process.Pid }

// Started is when QEMU was started (power-on).
func (v *VM) Started() time.Time { return v.started }

// Done is closed when QEMU has exited (a BMC reset, crash or power-off).
func (v *VM) Done() <-chan struct{} { return v.done }

// Err is QEMU's exit error after Done (nil: status 0, which -no-reboot gives for a guest
// reset or power-off).
func (v *VM) Err() error {
	<-v.done
	return v.waitErr
}

// Stop ends QEMU by its PID: SIGTERM, then SIGKILL after 5 s. Safe to call twice.
func (v *VM) Stop() { terminate(v.cmd.Process, v.done, 5*time.Second) }

// Forwards reads the host ports QEMU bound for the guest's Redfish (TCP 443) and IPMI
// (UDP 623) from the monitor's `info usernet`; 0 for a forward that is not there.
func (v *VM) Forwards(ctx context.Context) (redfish, ipmi int, err error) {
	out, err := v.Monitor(ctx, "info usernet")
	if err != nil {
		return 0, 0, err
	}
	fw := ParseUsernet(out)
	return fw["tcp/443"], fw["udp/623"], nil
}

// ParseUsernet maps "tcp/<guest port>" and "udp/<guest port>" to the host port of each
// HOST_FORWARD line of `info usernet`.
func ParseUsernet(out string) map[string]int {
	m := map[string]int{}
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 6 || !strings.Contains(f[0], "[HOST_FORWARD]") {
			continue
		}
		proto := strings.ToLower(strings.SplitN(f[0], "[", 2)[0])
		host, err1 := strconv.Atoi(f[3])
		guestPort, err2 := strconv.Atoi(f[5])
		if err1 == nil && err2 == nil {
			m[proto+"/"+strconv.Itoa(guestPort)] = host
		}
	}
	return m
}

// Monitor runs one HMP command and returns its output. It retries connecting while
// QEMU is still creating the socket (at most 5 s).
func (v *VM) Monitor(ctx context.Context, command string) (string, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	var conn net.Conn
	var d net.Dialer
	for {
		var err error
		conn, err = d.DialContext(ctx, "unix", MonitorPath(v.cfg.RunDir))
		if err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("qemu monitor: %w", err)
		case <-v.done:
			return "", errors.New("qemu monitor: QEMU exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = conn.SetDeadline(dl)
	}
	r := bufio.NewReader(conn)
	const prompt = "(qemu) "
	if _, err := readUntil(r, prompt); err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	if _, err := io.WriteString(conn, command+"\n"); err != nil {
		return "", fmt.Errorf("qemu monitor: %w", err)
	}
	out, err := readUntil(r, prompt)
	if err != nil {
		return "", fmt.Errorf("qemu monitor %q: %w", command, err)
	}
	return out, nil
}

// readUntil reads until s (at most 64 KiB) and returns what came before it.
func readUntil(r *bufio.Reader, s string) (string, error) {
	var b strings.Builder
	for b.Len() < 64<<10 {
		c, err := r.ReadByte()
		if err != nil {
			return b.String(), err
		}
		b.WriteByte(c)
		if strings.HasSuffix(b.String(), s) {
			return strings.TrimSuffix(b.String(), s), nil
		}
	}
	return b.String(), errors.New("monitor output too long")
}
