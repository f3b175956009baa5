package mgmtif

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/ironroot-bmc/ironroot/images/manifest"
	"golang.org/x/sys/unix"
)

// requiredSeals are the seals of a memfd whose content can no longer change.
const requiredSeals = unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL

// LoadBMCConfig reads the verified bmc-config component from the
// descriptor rotd passed (bmcd --bmc-config-fd). It accepts only a sealed
// memfd — the bytes rotd verified and measured — so a file from a state
// directory or a flag can never supply trust anchors.
func LoadBMCConfig(fd int) (*manifest.BMCConfig, error) {
	seals, err := unix.FcntlInt(uintptr(fd), unix.F_GET_SEALS, 0)
	if err != nil {
		return nil, fmt.Errorf("bmc-config fd %d is not a memfd from rotd: %w", fd, err)
	}
	if seals&requiredSeals != requiredSeals {
		return nil, fmt.Errorf("bmc-config fd %d is not sealed (seals %#x)", fd, seals)
	}
	f := os.NewFile(uintptr(fd), "bmc-config")
	if f == nil {
		return nil, fmt.Errorf("bmc-config fd %d: invalid descriptor", fd)
	}
	defer f.Close()
	b, err := io.ReadAll(io.NewSectionReader(f, 0, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading bmc-config: %w", err)
	}
	return manifest.ParseBMCConfig(b)
}

// SerialDialer opens the RoT link on a serial line (QEMU x86: the guest's
// /dev/ttyS1 on COM2) in raw mode. Set GateConfig.SerialLine with it.
func SerialDialer(path string) Dialer {
	return func(ctx context.Context) (io.ReadWriteCloser, error) {
		f, err := os.OpenFile(path, os.O_RDWR|unix.O_NOCTTY|unix.O_NONBLOCK, 0)
		if err != nil {
			return nil, fmt.Errorf("RoT link %s: %w", path, err)
		}
		fd := int(f.Fd())
		t, err := unix.IoctlGetTermios(fd, unix.TCGETS)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("RoT link %s: not a tty: %w", path, err)
		}
		// cfmakeraw, 8N1, no flow control, reads return what is there.
		t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON | unix.IXOFF
		t.Oflag &^= unix.OPOST
		t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
		t.Cflag &^= unix.CSIZE | unix.PARENB | unix.CRTSCTS
		t.Cflag |= unix.CS8 | unix.CREAD | unix.CLOCAL
		t.Cc[unix.VMIN], t.Cc[unix.VTIME] = 1, 0
		if err := unix.IoctlSetTermios(fd, unix.TCSETS, t); err != nil {
			f.Close()
			return nil, fmt.Errorf("RoT link %s: raw mode: %w", path, err)
		}
		return f, nil
	}
}
