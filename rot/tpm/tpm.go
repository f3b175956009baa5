// Package tpm owns rotd's use of the RoT TPM: opening it (Debian swtpm's data
// and control sockets, or a kernel device such as /dev/tpmrm0), resetting it
// at board power-on (swtpm CMD_INIT, then TPM2_Startup(CLEAR)), provisioning
// (random owner and lockout auth, the SHA-256 + SHA-384 PCR banks, the
// write-once "fuse" index holding the vendor key-set hash and board ID, the
// SVN floor as an NV counter), and what a boot needs from it: extending and
// reading PCRs, reading the fuses and the floor, raising the floor. It also
// starts swtpm processes (StartSwtpm) for hosts that simulate a board: the
// QEMU boards and tests.
//
// It knows nothing of bundles, event logs or slots: callers hand it digests.
// The BMC TPM (bmcd's) is not this package's business beyond starting its
// swtpm: the two are never shared.
package tpm

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-tpm/tpm2"
	"github.com/google/go-tpm/tpm2/transport"
)

// TPM is an open RoT TPM.
type TPM struct {
	tr     transport.TPM
	closer io.Closer
	// reset power-cycles the TPM (swtpm CMD_INIT, a simulator reset); nil
	// when the TPM cannot be reset by rotd (a hardware TPM, reset by the
	// board's own power-on).
	reset func(ctx context.Context) error
}

// New wraps a transport. reset, when not nil, performs the TPM's power-on
// reset (_TPM_Init); Startup(CLEAR) is sent by PowerOn afterwards.
func New(tr transport.TPM, reset func(ctx context.Context) error) *TPM {
	t := &TPM{tr: tr, reset: reset}
	if c, ok := tr.(io.Closer); ok {
		t.closer = c
	}
	return t
}

// Open opens the TPM named by spec:
//
//	swtpm:DATA,CTRL   the unix sockets of `swtpm socket --server type=unixio,path=DATA --ctrl type=unixio,path=CTRL`
//	/dev/tpmrm0       a kernel TPM device (opened blocking)
func Open(ctx context.Context, spec string) (*TPM, error) {
	if rest, ok := strings.CutPrefix(spec, "swtpm:"); ok {
		data, ctrl, ok := strings.Cut(rest, ",")
		if !ok || data == "" || ctrl == "" {
			return nil, fmt.Errorf("opening TPM %q: want swtpm:DATA,CTRL", spec)
		}
		return openSwtpm(ctx, data, ctrl)
	}
	if strings.HasPrefix(spec, "/dev/") {
		return openDevice(spec)
	}
	return nil, fmt.Errorf("opening TPM %q: want swtpm:DATA,CTRL or a /dev/ path", spec)
}

// Close closes the connection to the TPM.
func (t *TPM) Close() error {
	if t.closer == nil {
		return nil
	}
	return t.closer.Close()
}

// Transport exposes the raw transport (tests read PCRs through it).
func (t *TPM) Transport() transport.TPM { return t.tr }

// CanReset reports whether PowerOn resets the TPM (false for a hardware TPM,
// which only the board's power-on resets).
func (t *TPM) CanReset() bool { return t.reset != nil }

// PowerOn is the RoT TPM's part of a board power-on: reset the TPM when
// rotd can (so PCRs start from zero together with a fresh event log), then
// TPM2_Startup(CLEAR). A TPM that is already started (TPM_RC_INITIALIZE)
// is fine.
func (t *TPM) PowerOn(ctx context.Context) error {
	if t.reset != nil {
		if err := t.reset(ctx); err != nil {
			return fmt.Errorf("resetting TPM: %w", err)
		}
	}
	_, err := tpm2.Startup{StartupType: tpm2.TPMSUClear}.Execute(t.tr)
	if err != nil && !errors.Is(err, tpm2.TPMRCInitialize) {
		return fmt.Errorf("TPM2_Startup(CLEAR): %w", err)
	}
	return nil
}
