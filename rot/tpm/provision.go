package tpm

import (
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"

	"github.com/google/go-tpm/tpm2"
)

// Auth holds the hierarchy auth values set at provisioning. rotd keeps them
// sealed in its state; nobody else learns them.
type Auth struct {
	Owner   []byte
	Lockout []byte
}

// ErrProvisioned: the TPM already holds a fuse record.
var ErrProvisioned = errors.New("RoT TPM already provisioned")

// Provision takes ownership of a fresh TPM and writes the fuses: it sets
// the owner and lockout auth values, defines the SVN floor counter, writes
// f (with the counter's base) into the write-once index and locks it, and
// asks the platform hierarchy to allocate exactly the SHA-256 and SHA-384
// PCR banks (effective at the next power-on; a TPM whose platform
// hierarchy is disabled keeps its allocation and PowerOn-time checks decide).
//
// The caller stores auth before calling, so a crash cannot leave a TPM
// owned with values nobody knows. Provision is resumable: steps already
// done with the same auth are skipped.
func (t *TPM) Provision(f Fuses, auth Auth, log *slog.Logger) (Fuses, error) {
	if _, err := t.Fuses(); err == nil {
		return Fuses{}, ErrProvisioned
	} else if !errors.Is(err, ErrNotProvisioned) {
		return Fuses{}, err
	}
	if err := t.takeOwnership(auth); err != nil {
		return Fuses{}, fmt.Errorf("taking ownership: %w", err)
	}
	log.Info("RoT TPM: owner and lockout auth set (random, sealed in rotd state)")
	ownerAuth := tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(auth.Owner)}

	if _, _, err := t.nvName(FloorIndex); errors.Is(err, tpm2.TPMRCHandle) {
		_, err := tpm2.NVDefineSpace{
			AuthHandle: ownerAuth,
			PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
				NVIndex: FloorIndex,
				NameAlg: tpm2.TPMAlgSHA256,
				Attributes: tpm2.TPMANV{
					OwnerWrite: true, AuthRead: true, OwnerRead: true, NoDA: true,
					NT: tpm2.TPMNTCounter,
				},
				DataSize: 8,
			}),
		}.Execute(t.tr)
		if err != nil {
			return Fuses{}, fmt.Errorf("defining SVN floor counter: %w", err)
		}
	} else if err != nil {
		return Fuses{}, fmt.Errorf("reading SVN floor counter: %w", err)
	}
	base, err := t.counter()
	if errors.Is(err, tpm2.TPMRCNVUninitialized) {
		// A counter is readable only after its first increment.
		h, _, nerr := t.nvName(FloorIndex)
		if nerr != nil {
			return Fuses{}, fmt.Errorf("initializing SVN floor counter: %w", nerr)
		}
		if _, err := (tpm2.NVIncrement{AuthHandle: ownerAuth, NVIndex: h}).Execute(t.tr); err != nil {
			return Fuses{}, fmt.Errorf("initializing SVN floor counter: %w", err)
		}
		base, err = t.counter()
	}
	if err != nil {
		return Fuses{}, err
	}
	f.CounterBase = base
	log.Info("RoT TPM: SVN floor NV counter defined", "index", fmt.Sprintf("%#x", uint32(FloorIndex)), "base", base)

	rec, err := f.marshal()
	if err != nil {
		return Fuses{}, fmt.Errorf("writing fuses: %w", err)
	}
	if _, _, err := t.nvName(FuseIndex); err == nil {
		// A crash after define, before the lock: the index is still
		// writable by the owner only, so redefine it from scratch.
		h, _, _ := t.nvName(FuseIndex)
		if _, err := (tpm2.NVUndefineSpace{AuthHandle: ownerAuth, NVIndex: h}).Execute(t.tr); err != nil {
			return Fuses{}, fmt.Errorf("removing unlocked fuse index: %w", err)
		}
	}
	_, err = tpm2.NVDefineSpace{
		AuthHandle: ownerAuth,
		PublicInfo: tpm2.New2B(tpm2.TPMSNVPublic{
			NVIndex: FuseIndex,
			NameAlg: tpm2.TPMAlgSHA256,
			Attributes: tpm2.TPMANV{
				OwnerWrite: true, WriteDefine: true, WriteAll: true,
				AuthRead: true, OwnerRead: true, NoDA: true,
				NT: tpm2.TPMNTOrdinary,
			},
			DataSize: uint16(len(rec)),
		}),
	}.Execute(t.tr)
	if err != nil {
		return Fuses{}, fmt.Errorf("defining fuse index: %w", err)
	}
	h, _, err := t.nvName(FuseIndex)
	if err != nil {
		return Fuses{}, fmt.Errorf("reading fuse index: %w", err)
	}
	if _, err := (tpm2.NVWrite{AuthHandle: ownerAuth, NVIndex: h, Data: tpm2.TPM2BMaxNVBuffer{Buffer: rec}}).Execute(t.tr); err != nil {
		return Fuses{}, fmt.Errorf("writing fuse index: %w", err)
	}
	h, _, err = t.nvName(FuseIndex) // the name changes once written
	if err != nil {
		return Fuses{}, fmt.Errorf("reading fuse index: %w", err)
	}
	if _, err := (tpm2.NVWriteLock{AuthHandle: ownerAuth, NVIndex: h}).Execute(t.tr); err != nil {
		return Fuses{}, fmt.Errorf("locking fuse index: %w", err)
	}
	log.Info("RoT TPM: write-once fuses written and locked", "index", fmt.Sprintf("%#x", uint32(FuseIndex)),
		"board", f.BoardID, "key_set_hash", fmt.Sprintf("%x", f.KeySetHash[:8]))

	if err := t.allocateBanks(); err != nil {
		log.Warn("RoT TPM: PCR banks not reallocated; every allocated bank is extended", "err", err)
	} else {
		log.Info("RoT TPM: PCR banks SHA-256 + SHA-384 allocated (effective at the next power-on)")
	}
	return t.Fuses()
}

// takeOwnership sets the owner and lockout auth values. A hierarchy that
// already has the wanted value (a resumed provisioning) is left alone.
func (t *TPM) takeOwnership(auth Auth) error {
	if len(auth.Owner) == 0 || len(auth.Lockout) == 0 {
		return errors.New("empty auth value")
	}
	for _, h := range []struct {
		name   string
		handle tpm2.TPMHandle
		value  []byte
	}{{"owner", tpm2.TPMRHOwner, auth.Owner}, {"lockout", tpm2.TPMRHLockout, auth.Lockout}} {
		_, err := tpm2.HierarchyChangeAuth{
			AuthHandle: tpm2.AuthHandle{Handle: h.handle, Auth: tpm2.PasswordAuth(nil)},
			NewAuth:    tpm2.TPM2BAuth{Buffer: h.value},
		}.Execute(t.tr)
		if err == nil {
			continue
		}
		// Already set? Changing it to itself with the value as auth works.
		_, err2 := tpm2.HierarchyChangeAuth{
			AuthHandle: tpm2.AuthHandle{Handle: h.handle, Auth: tpm2.PasswordAuth(h.value)},
			NewAuth:    tpm2.TPM2BAuth{Buffer: h.value},
		}.Execute(t.tr)
		if err2 != nil {
			return fmt.Errorf("%s hierarchy already has an auth value rotd does not know (clear the TPM): %w", h.name, err)
		}
	}
	return nil
}

// allocateBanks sends TPM2_PCR_Allocate (platform auth, empty password)
// selecting all 24 PCRs of SHA-256 and SHA-384 and none of any other bank.
// go-tpm has no command struct for it, so the command is built here (TPM
// 2.0 Part 3, 22.5).
func (t *TPM) allocateBanks() error {
	caps, err := tpm2.GetCapability{Capability: tpm2.TPMCapPCRs, PropertyCount: 1}.Execute(t.tr)
	if err != nil {
		return err
	}
	cur, err := caps.CapabilityData.Data.AssignedPCR()
	if err != nil {
		return err
	}
	var sel tpm2.TPMLPCRSelection
	for _, s := range cur.PCRSelections {
		bits := make([]byte, len(s.PCRSelect))
		if s.Hash == tpm2.TPMAlgSHA256 || s.Hash == tpm2.TPMAlgSHA384 {
			for i := range bits {
				bits[i] = 0xFF
			}
		}
		sel.PCRSelections = append(sel.PCRSelections, tpm2.TPMSPCRSelection{Hash: s.Hash, PCRSelect: bits})
	}
	params := tpm2.Marshal(sel)
	// Password session for TPM_RH_PLATFORM with an empty password:
	// sessionHandle TPM_RS_PW, nonce (empty), attributes 0, hmac (empty).
	authArea := []byte{0x40, 0x00, 0x00, 0x09, 0x00, 0x00, 0x00, 0x00, 0x00}
	cmd := binary.BigEndian.AppendUint16(nil, uint16(tpm2.TPMSTSessions))
	cmd = binary.BigEndian.AppendUint32(cmd, 0) // size, patched below
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMCCPCRAllocate))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(tpm2.TPMRHPlatform))
	cmd = binary.BigEndian.AppendUint32(cmd, uint32(len(authArea)))
	cmd = append(cmd, authArea...)
	cmd = append(cmd, params...)
	binary.BigEndian.PutUint32(cmd[2:6], uint32(len(cmd)))
	rsp, err := t.tr.Send(cmd)
	if err != nil {
		return fmt.Errorf("TPM2_PCR_Allocate: %w", err)
	}
	if len(rsp) < 10 {
		return fmt.Errorf("TPM2_PCR_Allocate: short response")
	}
	if rc := tpm2.TPMRC(binary.BigEndian.Uint32(rsp[6:10])); rc != tpm2.TPMRCSuccess {
		return fmt.Errorf("TPM2_PCR_Allocate: %w", rc)
	}
	// parameterSize u32, allocationSuccess u8, ...
	if len(rsp) < 15 || rsp[14] != 1 {
		return fmt.Errorf("TPM2_PCR_Allocate: allocation refused")
	}
	return nil
}
