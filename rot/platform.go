package rot

import (
	"context"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
)

// A Platform is how a board releases its BMC once a boot verified. The
// simulated board runs bmcd as a child process (ProcessPlatform); a QEMU
// board boots a VM from the sealed kernel and initrd (package qemu).
// Verification, measurement, the A/B lifecycle and supervision are the same
// for every platform.
type Platform interface {
	// Components names what a bundle must carry for this board besides the
	// bmc-config every board needs. A bundle without them is refused at
	// install and at boot, like one whose signature fails.
	Components() []string
	// Release starts the BMC from the sealed images of a verified boot.
	Release(ctx context.Context, b *Booted) (BMC, error)
}

// A BMC is a released BMC: a process, or a VM.
type BMC interface {
	// PID is the process rotd ends when it must (also a later rotd, through
	// the pidfile).
	PID() int
	// Done is closed when the BMC has stopped.
	Done() <-chan struct{}
	// ExitCode is valid after Done: ExitBMCReset when the BMC reset (a
	// Manager.Reset, and on a QEMU board also a crash or its watchdog),
	// anything else bmcd's failure status.
	ExitCode() int
	// Stop ends the BMC (holds it in reset) and waits until it has.
	Stop()
}

// ProcessPlatform is the simulated board: bmcd runs as rotd's child from
// the sealed memfd of the verified bmcd component (/proc/self/fd/3), with
// the verified bmc-config as its descriptor 4.
type ProcessPlatform struct {
	// Args are bmcd's arguments.
	Args []string
	// ConfigFD adds "--bmc-config-fd 4" to Args. The verified bmc-config
	// is always bmcd's descriptor 4 (a sealed memfd); the flag waits for a
	// bmcd that reads it.
	ConfigFD bool
	// Stdout and Stderr receive bmcd's output (default: rotd's).
	Stdout, Stderr io.Writer
}

// Components implements Platform: the bmcd executable.
func (p *ProcessPlatform) Components() []string { return []string{manifest.ComponentBMCD} }

// Release implements Platform.
func (p *ProcessPlatform) Release(_ context.Context, b *Booted) (BMC, error) {
	img, cfg := b.Images[manifest.ComponentBMCD], b.Images[manifest.ComponentBMCConfig]
	if img == nil || cfg == nil {
		return nil, fmt.Errorf("releasing bmcd: the boot has no %s or %s image", manifest.ComponentBMCD, manifest.ComponentBMCConfig)
	}
	args := p.Args
	if p.ConfigFD {
		args = append(slices.Clone(args), "--bmc-config-fd", "4")
	}
	stdout, stderr := p.Stdout, p.Stderr
	if stdout == nil {
		stdout = os.Stdout
	}
	if stderr == nil {
		stderr = os.Stderr
	}
	return supervise.Start(supervise.Config{
		Image: img, Args: args, Stdout: stdout, Stderr: stderr,
		ExtraFiles: []*os.File{cfg.File()}, // fd 4: the verified bmc-config
	})
}
