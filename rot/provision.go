package rot

import (
	"context"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rot/record"
	"github.com/ironroot-bmc/ironroot/rot/slot"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

// Provisioning is what `rotd provision` is given.
type Provisioning struct {
	// BoardID is written to the TPM fuses.
	BoardID string
	// VendorKeysDir holds the accepted vendor public keys (*.pub); they
	// are copied into the state and their set's hash goes to the fuses.
	VendorKeysDir string
	// Root is the identity root that issues the DeviceID certificate (the
	// development CA in .dev-keys/; a production line uses its HSM).
	Root *identity.Root
	// Bundle, when set, is installed into slot A and committed (the
	// factory image); the SVN floor rises to its SVN.
	Bundle string
}

// ErrAlreadyProvisioned: the board is provisioned (the TPM holds fuses).
var ErrAlreadyProvisioned = errors.New("board already provisioned")

// Provision provisions the board. It is resumable after a crash: the UDS
// and the TPM auth values are stored before they are used.
func Provision(ctx context.Context, cfg Config, p Provisioning) error {
	cfg.defaults()
	log := cfg.Log
	if p.BoardID == "" || p.VendorKeysDir == "" || p.Root == nil {
		return errors.New("provisioning: board ID, vendor keys and identity root are required")
	}
	idDir := cfg.path(IdentityDir)
	if err := os.MkdirAll(idDir, 0o700); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	uds, err := identity.LoadUDS(idDir)
	if errors.Is(err, identity.ErrNoIdentity) {
		if uds, err = identity.NewUDS(); err == nil {
			err = identity.SaveUDS(idDir, uds)
		}
		log.Info("provision: unique device secret drawn (48 bytes, stored 0600)")
	}
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	auth, err := identity.UnsealTPMAuth(idDir, uds)
	if errors.Is(err, os.ErrNotExist) {
		auth = tpm.Auth{Owner: make([]byte, 32), Lockout: make([]byte, 32)}
		_, _ = rand.Read(auth.Owner)
		_, _ = rand.Read(auth.Lockout)
		err = identity.SealTPMAuth(idDir, uds, auth)
	}
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}

	if err := copyVendorKeys(p.VendorKeysDir, cfg.path(VendorKeysDir)); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	keys, err := images.LoadVendorKeySet(cfg.path(VendorKeysDir))
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	for _, k := range keys.Keys() {
		log.Info("provision: accepted vendor key", "kid", k.KeyIDHex())
	}

	if err := cfg.TPM.PowerOn(ctx); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	fuses, err := cfg.TPM.Provision(tpm.Fuses{KeySetHash: keys.Hash(), BoardID: p.BoardID}, auth, log)
	if errors.Is(err, tpm.ErrProvisioned) {
		// Resume a provisioning that stopped after the fuses were locked
		// (same board, same keys, no DeviceID certificate yet); anything
		// else is a provisioned board.
		fuses, err = cfg.TPM.Fuses()
		_, certErr := os.Stat(filepath.Join(idDir, identity.DeviceIDCert))
		if err != nil || fuses.BoardID != p.BoardID || fuses.KeySetHash != keys.Hash() || !errors.Is(certErr, os.ErrNotExist) {
			return fmt.Errorf("provisioning: %w (the RoT TPM holds fuses already)", ErrAlreadyProvisioned)
		}
		log.Info("provision: resuming: the RoT TPM fuses are already written for this board and key set")
	} else if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}

	key, err := identity.DeviceIDKey(uds)
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	csr, err := identity.NewDeviceIDCSR(key, p.BoardID)
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	if err := record.WriteFile(filepath.Join(idDir, identity.DeviceIDCSR), pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE REQUEST", Bytes: csr}), 0o644); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	cert, err := p.Root.IssueDeviceID(csr, cfg.Now())
	if err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	if err := identity.WriteCertificate(filepath.Join(idDir, identity.DeviceIDCert), cert); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	if err := identity.WriteCertificate(filepath.Join(idDir, identity.IdentityRootCA), p.Root.Cert); err != nil {
		return fmt.Errorf("provisioning: %w", err)
	}
	log.Info("provision: DeviceID certificate issued by the identity root",
		"subject", cert.Subject.CommonName, "issuer", cert.Issuer.CommonName)

	if p.Bundle == "" {
		return nil
	}
	d, err := newDevice(cfg)
	if err != nil {
		return err
	}
	f, err := os.Open(p.Bundle)
	if err != nil {
		return fmt.Errorf("provisioning: factory bundle: %w", err)
	}
	defer f.Close()
	n, err := d.slots.Install(f, d.checkSlot)
	if err != nil {
		return fmt.Errorf("provisioning: factory bundle: %w", err)
	}
	if err := d.commit(n); err != nil {
		return fmt.Errorf("provisioning: factory bundle: %w", err)
	}
	floor, _ := cfg.TPM.Floor(fuses)
	log.Info("provision: factory bundle installed and committed", "slot", n,
		"firmware", d.slots.Meta().Slots[n].FirmwareVersion, "svn_floor", floor)
	return nil
}

// copyVendorKeys copies *.pub from src to dst (replacing dst's set).
func copyVendorKeys(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return fmt.Errorf("reading vendor keys: %w", err)
	}
	if err := os.MkdirAll(dst, 0o700); err != nil {
		return fmt.Errorf("copying vendor keys: %w", err)
	}
	old, _ := os.ReadDir(dst)
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".pub") && e.Type().IsRegular() {
			names = append(names, e.Name())
		}
	}
	for _, e := range old {
		if !slices.Contains(names, e.Name()) {
			os.Remove(filepath.Join(dst, e.Name()))
		}
	}
	for _, n := range names {
		b, err := os.ReadFile(filepath.Join(src, n))
		if err != nil {
			return fmt.Errorf("copying vendor keys: %w", err)
		}
		if err := record.WriteFile(filepath.Join(dst, n), b, 0o644); err != nil {
			return fmt.Errorf("copying vendor keys: %w", err)
		}
	}
	return nil
}

// openSlots opens the slot store of a config.
func openSlots(cfg Config) (*slot.Store, error) {
	return slot.Open(cfg.path(SlotsDir))
}
