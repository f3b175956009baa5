// Package guest owns what bmcd does when it is the BMC userland of a board's Linux guest
// (the uinit of the u-root image, under u-root's init): mount the kernel filesystems that
// are missing, load the board's kernel modules shipped in the modules cpio, set the clock
// from the host's value on the kernel command line, bring up the NIC, mount the state disk,
// put the RoT link's UART in raw mode and keep the watchdog fed. Every board setting comes
// from the kernel command line the launcher writes (keys "ironroot.*"). It knows nothing of
// Redfish, the gate, bundles or QEMU.
package guest

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Kernel command line keys the launcher writes.
const (
	KeyBoard   = "ironroot.board"   // board ID; its presence means "running as a board's guest"
	KeyEpoch   = "ironroot.epoch"   // host clock at power-on, Unix seconds
	KeyIP      = "ironroot.ip"      // NIC address with prefix, e.g. 10.0.2.15/24
	KeyGateway = "ironroot.gw"      // default gateway, e.g. 10.0.2.2
	KeyNIC     = "ironroot.nic"     // NIC name, e.g. eth0
	KeyState   = "ironroot.state"   // state disk device, e.g. vda
	KeyRoTLink = "ironroot.rotlink" // RoT link UART, e.g. ttyS1
)

// Params are the board settings read from the kernel command line.
type Params struct {
	Board   string
	Epoch   time.Time // zero: not given
	Prefix  netip.Prefix
	Gateway netip.Addr
	NIC     string
	State   string // device name under /dev, empty: no state disk
	RoTLink string // device name under /dev, empty: no RoT link
}

// ErrNotGuest is returned by ParseCmdline when the command line names no board.
var ErrNotGuest = errors.New("kernel command line names no ironroot board")

// ParseCmdline reads the ironroot.* keys of a kernel command line. Missing network keys
// get QEMU user networking's defaults (10.0.2.15/24 via 10.0.2.2 on eth0).
func ParseCmdline(cmdline string) (Params, error) {
	p := Params{
		Prefix:  netip.MustParsePrefix("10.0.2.15/24"),
		Gateway: netip.MustParseAddr("10.0.2.2"),
		NIC:     "eth0",
	}
	seen := false
	for _, field := range strings.Fields(cmdline) {
		key, value, _ := strings.Cut(field, "=")
		var err error
		switch key {
		case KeyBoard:
			p.Board, seen = value, true
		case KeyEpoch:
			var s int64
			s, err = strconv.ParseInt(value, 10, 64)
			if err == nil && s > 0 {
				p.Epoch = time.Unix(s, 0).UTC()
			}
		case KeyIP:
			p.Prefix, err = netip.ParsePrefix(value)
		case KeyGateway:
			p.Gateway, err = netip.ParseAddr(value)
		case KeyNIC:
			p.NIC, err = deviceName(value)
		case KeyState:
			p.State, err = deviceName(value)
		case KeyRoTLink:
			p.RoTLink, err = deviceName(value)
		default:
			continue
		}
		if err != nil {
			return Params{}, fmt.Errorf("kernel command line %s: %w", key, err)
		}
	}
	if !seen {
		return Params{}, ErrNotGuest
	}
	if p.Board == "" {
		return Params{}, fmt.Errorf("kernel command line %s: empty board ID", KeyBoard)
	}
	if !p.Prefix.Addr().Is4() || !p.Gateway.Is4() {
		return Params{}, fmt.Errorf("kernel command line: only IPv4 is configured (%s via %s)", p.Prefix, p.Gateway)
	}
	return p, nil
}

// deviceName accepts a bare device name (ttyS1, vda, eth0): no path, no dots.
func deviceName(s string) (string, error) {
	if s == "" || len(s) > 32 || strings.ContainsAny(s, "/.") {
		return "", fmt.Errorf("bad device name %q", s)
	}
	return s, nil
}
