// Package rot is the root of trust's board logic, the part of rotd between
// its thin main and the sub-packages: provisioning a board (identity, TPM
// ownership and fuses, the factory slot), the boot flow (verify the active
// slot's bundle, measure every component into the RoT TPM and the event
// log, derive the alias identity, release the BMC from sealed memfds only
// after every check passed, fall back to the other slot, or stay in
// recovery), the A/B update lifecycle (install, probation, commit with the
// SVN floor raised, revert), supervision of the BMC across resets, and
// handing each verified boot to the SPDM responder on the RoT link
// (rot/attestation serves it; this package decides which boot it speaks
// for). bmcd gets its verified bmc-config as descriptor 4, a sealed memfd.
//
// Measurement plan (what each boot extends, in order; every digest is
// computed in every allocated bank, SHA-256 and SHA-384):
//
//	PCR 0  EV_S_CRTM_VERSION  "rotd <version>"                      H(data)
//	PCR 0  EV_NONHOST_CODE    "<component> <version>" per code component, bundle order   H(component bytes)
//	PCR 1  EV_NONHOST_CONFIG  "bmc-config <version>"                 H(component bytes)
//	PCR 7  EV_NONHOST_INFO    the signed manifest (COSE_Sign)        H(data)
//	PCR 7  EV_NONHOST_INFO    "board=… svn=… floor=… key-set=…"      H(data)
//	PCR 0,1,7 EV_SEPARATOR    00000000                               H(data)
//
// Health policy: a trial slot is healthy when a health report arrives (the
// gate's ReportHealthy on the RoT link, or "health" on the local control
// socket), or (unless Config.RequireHealthReport) when the BMC has run for
// the probation time without exiting. A trial BMC that exits (other than a
// reset request), a probation that ends without a required report, or more
// than MaxTrialBoots boots of a trial slot revert to the committed slot.
//
// Layout of the state directory (rotd --state):
//
//	identity/     uds (0600), tpm-auth.sealed (0600), deviceid.pem, deviceid.csr.pem, identity-root.pem
//	vendor-keys/  the accepted vendor public keys (*.pub); their hash is in the TPM fuses
//	slots/        a.bundle, b.bundle, slots.json
//	boot/         eventlog.bin, alias.pem (the current boot)
//	rotd.lock, control.sock, bmc.pid, rotlink.addr (the RoT link's bound address)
package rot

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"time"

	"github.com/ironroot-bmc/ironroot/rot/tpm"
	"golang.org/x/sys/unix"
)

// Paths in the state directory.
const (
	IdentityDir   = "identity"
	VendorKeysDir = "vendor-keys"
	SlotsDir      = "slots"
	BootDir       = "boot"
	LockFile      = "rotd.lock"
	ControlSocket = "control.sock"
	BMCPIDFile    = "bmc.pid"
	EventLogFile  = "eventlog.bin"
	AliasCertFile = "alias.pem"
	RotLinkAddr   = "rotlink.addr"
)

// PCRs rotd extends.
const (
	PCRCode   = 0
	PCRConfig = 1
	PCRPolicy = 7
)

// ExitBMCReset is bmcd's exit status for a BMC reset request.
const ExitBMCReset = 3

// Config configures a Device.
type Config struct {
	// StateDir is rotd's state directory.
	StateDir string
	// TPM is the open RoT TPM.
	TPM *tpm.TPM
	// Log receives what rotd verified, measured and decided.
	Log *slog.Logger
	// Version is rotd's own version (measured as the S-CRTM version).
	Version string
	// Platform releases the BMC of a verified boot (nil: the simulated
	// board's ProcessPlatform with its defaults: bmcd without arguments,
	// its output rotd's).
	Platform Platform
	// Probation is how long a trial slot has to prove healthy (default
	// 30 s).
	Probation time.Duration
	// RequireHealthReport makes a report on the control socket the only
	// proof of health (otherwise surviving the probation is enough).
	RequireHealthReport bool
	// MaxTrialBoots is how many boots a trial slot gets (default 3).
	MaxTrialBoots int
	// Now is the clock for certificate times (default time.Now).
	Now func() time.Time
	// SPDMAddr is the address of the RoT link where the SPDM responder
	// (rot/attestation) serves the current boot: a TCP address (the sim
	// board), or "unix:PATH", a socket a QEMU board's UART connects to.
	// Empty: no responder. The bound address is logged and written to
	// STATE/rotlink.addr.
	SPDMAddr string
	// SPDMSerial: the RoT link is a serial line (a QEMU board's UART), so
	// the responder's framing resynchronises after garbage.
	SPDMSerial bool
	// HeartbeatPeriod is the SPDM heartbeat period the responder announces
	// (seconds, 0: none). With a period, a BMC whose RoT link falls silent
	// for three periods after it had attested is hung: rotd resets it.
	HeartbeatPeriod uint8
}

func (c *Config) defaults() {
	if c.Log == nil {
		c.Log = slog.New(slog.DiscardHandler)
	}
	if c.Probation == 0 {
		c.Probation = 30 * time.Second
	}
	if c.MaxTrialBoots == 0 {
		c.MaxTrialBoots = 3
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Version == "" {
		c.Version = "dev"
	}
	if c.Platform == nil {
		c.Platform = &ProcessPlatform{}
	}
}

func (c *Config) path(elem ...string) string {
	return filepath.Join(append([]string{c.StateDir}, elem...)...)
}

// ErrLocked: another rotd holds the state directory.
var ErrLocked = errors.New("another rotd is using this state directory")

// Lock takes rotd's exclusive lock on the state directory (held until the
// returned file is closed or the process ends, even by kill -9).
func Lock(stateDir string) (*os.File, error) {
	if err := os.MkdirAll(stateDir, 0o700); err != nil {
		return nil, fmt.Errorf("locking state: %w", err)
	}
	f, err := os.OpenFile(filepath.Join(stateDir, LockFile), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("locking state: %w", err)
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, ErrLocked
		}
		return nil, fmt.Errorf("locking state: %w", err)
	}
	return f, nil
}
