package guest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Paths inside the image (the modules cpio puts the modules in ModulesDir).
const (
	ModulesDir = "/lib/ironroot/modules"
	// BMCConfigPath is the verified bmc-config inside the initrd (the root filesystem was
	// verified as a whole before the kernel ran).
	BMCConfigPath = "/etc/ironroot/bmc-config.cbor"
	// VolatileState as the state device (ironroot.state=tmpfs) mounts a tmpfs instead:
	// boards without a disk (ast2600-evb) keep their state only until the next reset.
	VolatileState = "tmpfs"
	// DefaultsPath is the board's first-boot defaults file the image carries.
	DefaultsPath = "/etc/ironroot/defaults.json"
	StateMount   = "/state"
	stateSubdir  = "bmc"
	cmdlinePath  = "/proc/cmdline"
	watchdogPath = "/dev/watchdog"
	// devWait bounds how long Setup waits for a device a module just created.
	devWait = 5 * time.Second
	// WatchdogInterval is how often the watchdog is fed; softdog's default margin is 60 s.
	WatchdogInterval = 10 * time.Second
)

// Options change what Setup does; the zero value does everything.
type Options struct {
	Logger *slog.Logger
	// SkipStateDisk and SkipRoTLink leave the state disk and the RoT link alone (the
	// minimal baseline image has neither).
	SkipStateDisk bool
	SkipRoTLink   bool
	// NoWatchdog leaves /dev/watchdog closed.
	NoWatchdog bool
}

// Config is what bmcd needs from the guest once Setup returns.
type Config struct {
	Params
	// Address is the NIC's address; services listen on it (QEMU user networking forwards
	// to it), never on a wildcard.
	Address netip.Addr
	// RedfishAddr and IPMIAddr are the service addresses on the NIC (ports 443 and 623).
	RedfishAddr string
	IPMIAddr    string
	// StateDir is bmcd's state directory on the mounted state disk; empty without one.
	StateDir string
	// RoTLinkPath is the RoT link UART (/dev/ttyS1), in raw mode; empty without one.
	RoTLinkPath string
	// DefaultsFile is the image's first-boot defaults file (read only when the state
	// directory is created); empty when the image has none.
	DefaultsFile string
	// BMCConfigFD is a sealed, read-only memfd holding the verified bmc-config the
	// launcher put into the initrd (BMCConfigPath); -1 when the image has none.
	BMCConfigFD int
}

// IsGuest reports whether this process runs as a board's guest userland: it is PID 1, or
// the kernel command line names an ironroot board.
func IsGuest() bool {
	if os.Getpid() == 1 {
		return true
	}
	b, err := os.ReadFile(cmdlinePath)
	if err != nil {
		return false
	}
	_, err = ParseCmdline(string(b))
	return err == nil
}

// Setup prepares the guest for bmcd, in dependency order. It is idempotent where u-root's
// init already did a step (mounts, modules). ctx bounds the whole setup and, once Setup
// returns, the watchdog feeder's life (cancel it to stop feeding: the board then resets).
func Setup(ctx context.Context, o Options) (Config, error) {
	log := o.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	start := time.Now()
	if err := mountKernelFS(); err != nil {
		return Config{}, err
	}
	b, err := os.ReadFile(cmdlinePath)
	if err != nil {
		return Config{}, fmt.Errorf("guest: read kernel command line: %w", err)
	}
	p, err := ParseCmdline(string(b))
	if err != nil {
		return Config{}, fmt.Errorf("guest: %w", err)
	}
	cfg := Config{
		Params:      p,
		Address:     p.Prefix.Addr(),
		BMCConfigFD: -1,
	}
	cfg.RedfishAddr = netip.AddrPortFrom(cfg.Address, 443).String()
	cfg.IPMIAddr = netip.AddrPortFrom(cfg.Address, 623).String()

	loaded, err := loadModules(log)
	if err != nil {
		return Config{}, err
	}
	if err := setClock(log, p.Epoch); err != nil {
		return Config{}, err
	}
	if err := bringUpNIC(ctx, p); err != nil {
		return Config{}, err
	}
	if !o.SkipStateDisk && p.State != "" {
		dir, err := mountState(ctx, log, p.State)
		if err != nil {
			return Config{}, err
		}
		cfg.StateDir = dir
	}
	if !o.SkipRoTLink && p.RoTLink != "" {
		path := "/dev/" + p.RoTLink
		if err := MakeRaw(path); err != nil {
			return Config{}, err
		}
		cfg.RoTLinkPath = path
	}
	fd, err := sealBMCConfig()
	if err != nil {
		return Config{}, err
	}
	cfg.BMCConfigFD = fd
	if _, err := os.Stat(DefaultsPath); err == nil {
		cfg.DefaultsFile = DefaultsPath
	}
	if !o.NoWatchdog {
		if err := startWatchdog(ctx, log); err != nil {
			log.Warn("guest: no watchdog", "err", err)
		}
	}
	log.Info("guest ready", "board", p.Board, "address", p.Prefix, "modules", loaded,
		"state", cfg.StateDir, "rotlink", cfg.RoTLinkPath, "bmc-config", cfg.BMCConfigFD >= 0, "took", time.Since(start).Round(time.Millisecond))
	return cfg, nil
}

// mountKernelFS mounts proc, sys, dev and tmp unless they already are.
func mountKernelFS() error {
	mounts := []struct{ fstype, target, data string }{
		{"proc", "/proc", ""},
		{"sysfs", "/sys", ""},
		{"devtmpfs", "/dev", "mode=0755"},
		{"tmpfs", "/tmp", "mode=1777"},
	}
	for _, m := range mounts {
		if mounted(m.target) {
			continue
		}
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			return fmt.Errorf("guest: mount %s: %w", m.target, err)
		}
		err := unix.Mount(m.fstype, m.target, m.fstype, unix.MS_NOSUID|unix.MS_NOEXEC, m.data)
		if err != nil && !errors.Is(err, unix.EBUSY) {
			return fmt.Errorf("guest: mount %s on %s: %w", m.fstype, m.target, err)
		}
	}
	return nil
}

// mounted reports whether target is a mount point listed in /proc/self/mounts (false
// while /proc itself is not mounted).
func mounted(target string) bool {
	b, err := os.ReadFile("/proc/self/mounts")
	if err != nil {
		return false
	}
	for line := range strings.Lines(string(b)) {
		f := strings.Fields(line)
		if len(f) > 1 && f[1] == target {
			return true
		}
	}
	return false
}

// loadModules loads ModulesDir/*.ko in name order (the numeric prefixes are the
// dependency order). A module that is already loaded is fine.
func loadModules(log *slog.Logger) (int, error) {
	files, err := filepath.Glob(filepath.Join(ModulesDir, "*.ko"))
	if err != nil {
		return 0, fmt.Errorf("guest: list modules: %w", err)
	}
	slices.Sort(files)
	n := 0
	for _, f := range files {
		if err := loadModule(f); err != nil {
			return n, err
		}
		n++
	}
	log.Debug("guest: modules loaded", "count", n)
	return n, nil
}

func loadModule(path string) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("guest: load module: %w", err)
	}
	defer f.Close()
	err = unix.FinitModule(int(f.Fd()), "", 0)
	if err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("guest: load module %s: %w", filepath.Base(path), err)
	}
	return nil
}

// setClock moves the clock forward to the host's power-on time when the guest's clock is
// behind it (a board without a battery-backed RTC boots in 1970). A clock ahead of the
// host's power-on time is left alone: the boot itself takes time.
func setClock(log *slog.Logger, epoch time.Time) error {
	if epoch.IsZero() || !time.Now().Before(epoch) {
		return nil
	}
	tv := unix.NsecToTimeval(epoch.UnixNano())
	if err := unix.Settimeofday(&tv); err != nil {
		return fmt.Errorf("guest: set clock to %s: %w", epoch, err)
	}
	log.Info("guest: clock set from the host", "time", epoch)
	return nil
}

// bringUpNIC configures lo and the board NIC with a static address and default route.
func bringUpNIC(ctx context.Context, p Params) error {
	if lo, err := netlink.LinkByName("lo"); err == nil {
		if err := netlink.LinkSetUp(lo); err != nil {
			return fmt.Errorf("guest: bring up lo: %w", err)
		}
	}
	var link netlink.Link
	err := waitFor(ctx, devWait, func() (err error) {
		link, err = netlink.LinkByName(p.NIC)
		return err
	})
	if err != nil {
		return fmt.Errorf("guest: NIC %s: %w", p.NIC, err)
	}
	addr := &netlink.Addr{IPNet: &net.IPNet{
		IP:   p.Prefix.Addr().AsSlice(),
		Mask: net.CIDRMask(p.Prefix.Bits(), 32),
	}}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("guest: address %s on %s: %w", p.Prefix, p.NIC, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("guest: bring up %s: %w", p.NIC, err)
	}
	route := &netlink.Route{LinkIndex: link.Attrs().Index, Gw: p.Gateway.AsSlice()}
	if err := netlink.RouteReplace(route); err != nil {
		return fmt.Errorf("guest: default route via %s: %w", p.Gateway, err)
	}
	return nil
}

// mountState mounts the ext4 state disk /dev/<dev> on StateMount and returns bmcd's state
// directory on it.
func mountState(ctx context.Context, log *slog.Logger, dev string) (string, error) {
	if dev == VolatileState {
		if err := os.MkdirAll(StateMount, 0o700); err != nil {
			return "", fmt.Errorf("guest: state mount point: %w", err)
		}
		if !mounted(StateMount) {
			if err := unix.Mount("tmpfs", StateMount, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "mode=0700,size=32m"); err != nil {
				return "", fmt.Errorf("guest: volatile state: %w", err)
			}
		}
		log.Warn("guest: no state disk on this board: BMC state is volatile (tmpfs)")
		return filepath.Join(StateMount, stateSubdir), nil
	}
	path := "/dev/" + dev
	if err := waitFor(ctx, devWait, func() error { _, err := os.Stat(path); return err }); err != nil {
		return "", fmt.Errorf("guest: state disk: %w", err)
	}
	if err := os.MkdirAll(StateMount, 0o700); err != nil {
		return "", fmt.Errorf("guest: state mount point: %w", err)
	}
	if !mounted(StateMount) {
		flags := uintptr(unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_NOATIME)
		if err := unix.Mount(path, StateMount, "ext4", flags, "errors=remount-ro"); err != nil {
			return "", fmt.Errorf("guest: mount state disk %s: %w", path, err)
		}
	}
	// bmcd creates its state directory on first boot; only its parent must exist.
	log.Info("guest: state disk mounted", "device", path, "on", StateMount)
	return filepath.Join(StateMount, stateSubdir), nil
}

// sealBMCConfig copies BMCConfigPath into a memfd sealed against any change (write,
// grow, shrink, further seals) and returns a read-only descriptor of it, or -1 when the
// image carries no bmc-config.
func sealBMCConfig() (int, error) {
	data, err := os.ReadFile(BMCConfigPath)
	if errors.Is(err, os.ErrNotExist) {
		return -1, nil
	}
	if err != nil {
		return -1, fmt.Errorf("guest: bmc-config: %w", err)
	}
	fd, err := unix.MemfdCreate("bmc-config", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return -1, fmt.Errorf("guest: bmc-config memfd: %w", err)
	}
	defer unix.Close(fd)
	for rest := data; len(rest) > 0; {
		n, err := unix.Write(fd, rest)
		if err != nil {
			return -1, fmt.Errorf("guest: bmc-config memfd: %w", err)
		}
		rest = rest[n:]
	}
	seals := unix.F_SEAL_WRITE | unix.F_SEAL_GROW | unix.F_SEAL_SHRINK | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, seals); err != nil {
		return -1, fmt.Errorf("guest: seal bmc-config: %w", err)
	}
	ro, err := unix.Open(fmt.Sprintf("/proc/self/fd/%d", fd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("guest: reopen bmc-config: %w", err)
	}
	return ro, nil
}

// MakeRaw puts a UART in raw mode (no echo, no line discipline, 8N1, 115200 baud); the
// settings stay on the tty for the next open.
func MakeRaw(path string) error {
	fd, err := unix.Open(path, unix.O_RDWR|unix.O_NOCTTY|unix.O_CLOEXEC|unix.O_NONBLOCK, 0)
	if err != nil {
		return fmt.Errorf("guest: open RoT link: %w", err)
	}
	defer unix.Close(fd)
	t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return fmt.Errorf("guest: RoT link %s termios: %w", path, err)
	}
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS
	t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
	t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
	// The fastest line the UART takes: QEMU has no real line speed, but it delivers
	// bytes short of the receive trigger only after four character times (at 115200 baud
	// about 14 ms per message, at 1500000 about 1 ms). The ast2600's UARTs take 1500000;
	// a PC UART (base 115200) refuses it, and the kernel then keeps the old speed.
	for _, speed := range []uint32{unix.B1500000, unix.B115200} {
		t.Cflag = t.Cflag&^unix.CBAUD | speed
		t.Ispeed, t.Ospeed = speed, speed
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
			return fmt.Errorf("guest: RoT link %s raw mode: %w", path, err)
		}
		if got, err := unix.IoctlGetTermios(fd, unix.TCGETS); err == nil && got.Cflag&unix.CBAUD == speed {
			break
		}
	}
	// A deeper receive trigger (16550A: 1, 4, 8 or 14 bytes) halves the interrupts of a
	// large SPDM message; not every UART has it.
	_ = os.WriteFile(filepath.Join("/sys/class/tty", filepath.Base(path), "rx_trig_bytes"), []byte("14"), 0)
	return nil
}

// startWatchdog opens /dev/watchdog (softdog) and feeds it until ctx ends. If bmcd hangs
// or dies, the watchdog resets the guest, and with -no-reboot QEMU exits: a BMC reset.
func startWatchdog(ctx context.Context, log *slog.Logger) error {
	f, err := os.OpenFile(watchdogPath, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("guest: open watchdog: %w", err)
	}
	go func() {
		defer f.Close()
		t := time.NewTicker(WatchdogInterval)
		defer t.Stop()
		for {
			if _, err := f.Write([]byte{0}); err != nil {
				log.Warn("guest: feed watchdog", "err", err)
			}
			select {
			case <-ctx.Done():
				return // closed without the magic 'V': the watchdog keeps running
			case <-t.C:
			}
		}
	}()
	return nil
}

// Shutdown ends the guest after bmcd's run returned status code: it syncs and unmounts
// the state disk, says why on the console, and restarts the machine (QEMU, run with
// -no-reboot, exits: the supervisor sees a BMC reset). It does not return on success,
// except in a DEBUG image (one with /bin/defaultsh), where it returns nil so bmcd exits
// and u-root's init starts the shell.
func Shutdown(cfg Config, code int) error {
	unix.Sync()
	if cfg.StateDir != "" {
		if err := unix.Unmount(StateMount, 0); err != nil {
			fmt.Fprintf(os.Stderr, "guest: unmount %s: %v\n", StateMount, err)
		}
	}
	if _, err := os.Stat("/bin/defaultsh"); err == nil {
		// DEBUG image: let u-root's init start the shell instead of resetting.
		fmt.Printf("ironroot: bmcd exited with status %d; DEBUG image: starting the shell\n", code)
		return nil
	}
	fmt.Printf("ironroot: bmcd exited with status %d; resetting the BMC\n", code)
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_RESTART); err != nil {
		return fmt.Errorf("guest: reboot: %w", err)
	}
	return nil
}

// waitFor retries try every 20 ms until it succeeds, ctx ends or limit passes.
func waitFor(ctx context.Context, limit time.Duration, try func() error) error {
	deadline := time.Now().Add(limit)
	for {
		err := try()
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not there after %s: %w", limit, err)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
}
