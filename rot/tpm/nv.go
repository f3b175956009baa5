package tpm

import (
	"bytes"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/google/go-tpm/tpm2"
)

// NV indices rotd defines in the owner range (TPM 2.0 Part 2, TPM_HT_NV_INDEX;
// 0x01800000-0x01BFFFFF are owner-defined).
const (
	// FuseIndex holds the write-once Fuses record.
	FuseIndex tpm2.TPMHandle = 0x01A10000
	// FloorIndex is the SVN floor's NV counter.
	FloorIndex tpm2.TPMHandle = 0x01A10001
)

// maxFloorStep bounds how far one RaiseFloor may move the floor: an NV
// counter moves one per TPM2_NV_Increment.
const maxFloorStep = 1 << 12

// MaxBoardIDLen bounds the board ID in the fuse record.
const MaxBoardIDLen = 128

const fuseMagic = "IRFUSE01"

// fuseSize is the fixed size of the fuse record: magic, key-set hash,
// counter base (u64 BE), board ID length (u8), board ID (zero padded).
const fuseSize = len(fuseMagic) + sha512.Size384 + 8 + 1 + MaxBoardIDLen

// ErrNotProvisioned: the TPM holds no fuse record.
var ErrNotProvisioned = errors.New("RoT TPM not provisioned")

// Fuses is the write-once record of a provisioned board: like fuses, it is
// written once at provisioning and locked (TPMA_NV_WRITEDEFINE +
// TPM2_NV_WriteLock), so neither rotd's files nor rotd itself can change it.
type Fuses struct {
	// KeySetHash is manifest.KeySet.Hash of the accepted vendor keys.
	KeySetHash [sha512.Size384]byte
	// BoardID is the board this RoT belongs to.
	BoardID string
	// CounterBase is the floor counter's value at provisioning (an NV
	// counter starts at the TPM's highest counter value, not 0): the SVN
	// floor is the counter minus this base.
	CounterBase uint64
}

func (f Fuses) marshal() ([]byte, error) {
	if len(f.BoardID) == 0 || len(f.BoardID) > MaxBoardIDLen {
		return nil, fmt.Errorf("board ID of %d bytes (1..%d)", len(f.BoardID), MaxBoardIDLen)
	}
	b := make([]byte, 0, fuseSize)
	b = append(b, fuseMagic...)
	b = append(b, f.KeySetHash[:]...)
	b = binary.BigEndian.AppendUint64(b, f.CounterBase)
	b = append(b, byte(len(f.BoardID)))
	b = append(b, f.BoardID...)
	return append(b, make([]byte, fuseSize-len(b))...), nil
}

func parseFuses(b []byte) (Fuses, error) {
	var f Fuses
	if len(b) != fuseSize || !bytes.HasPrefix(b, []byte(fuseMagic)) {
		return f, fmt.Errorf("fuse record: bad size or magic")
	}
	b = b[len(fuseMagic):]
	copy(f.KeySetHash[:], b)
	b = b[sha512.Size384:]
	f.CounterBase = binary.BigEndian.Uint64(b)
	n := int(b[8])
	if n == 0 || n > MaxBoardIDLen {
		return f, fmt.Errorf("fuse record: board ID length %d", n)
	}
	f.BoardID = string(b[9 : 9+n])
	return f, nil
}

// nvName reads an index's public area and returns it as a named handle.
func (t *TPM) nvName(index tpm2.TPMHandle) (tpm2.NamedHandle, *tpm2.TPMSNVPublic, error) {
	rsp, err := tpm2.NVReadPublic{NVIndex: index}.Execute(t.tr)
	if err != nil {
		return tpm2.NamedHandle{}, nil, err
	}
	pub, err := rsp.NVPublic.Contents()
	if err != nil {
		return tpm2.NamedHandle{}, nil, err
	}
	return tpm2.NamedHandle{Handle: index, Name: rsp.NVName}, pub, nil
}

// readIndex reads a whole index with its (empty) auth value.
func (t *TPM) readIndex(index tpm2.TPMHandle) ([]byte, error) {
	h, pub, err := t.nvName(index)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return nil, ErrNotProvisioned
		}
		return nil, err
	}
	rsp, err := tpm2.NVRead{
		AuthHandle: tpm2.AuthHandle{Handle: h.Handle, Name: h.Name, Auth: tpm2.PasswordAuth(nil)},
		NVIndex:    h,
		Size:       pub.DataSize,
	}.Execute(t.tr)
	if err != nil {
		return nil, err
	}
	return rsp.Data.Buffer, nil
}

// Fuses reads the write-once record and checks that it is locked.
func (t *TPM) Fuses() (Fuses, error) {
	_, pub, err := t.nvName(FuseIndex)
	if err != nil {
		if errors.Is(err, tpm2.TPMRCHandle) {
			return Fuses{}, ErrNotProvisioned
		}
		return Fuses{}, fmt.Errorf("reading fuse index: %w", err)
	}
	if !pub.Attributes.WriteLocked || !pub.Attributes.WriteDefine || pub.Attributes.AuthWrite || pub.Attributes.PPWrite {
		return Fuses{}, fmt.Errorf("reading fuse index: index is not write-once and locked (attributes %+v)", pub.Attributes)
	}
	b, err := t.readIndex(FuseIndex)
	if err != nil {
		return Fuses{}, fmt.Errorf("reading fuse index: %w", err)
	}
	f, err := parseFuses(b)
	if err != nil {
		return Fuses{}, fmt.Errorf("reading fuse index: %w", err)
	}
	return f, nil
}

func (t *TPM) counter() (uint64, error) {
	b, err := t.readIndex(FloorIndex)
	if err != nil {
		return 0, fmt.Errorf("reading SVN floor counter: %w", err)
	}
	if len(b) != 8 {
		return 0, fmt.Errorf("reading SVN floor counter: %d bytes", len(b))
	}
	return binary.BigEndian.Uint64(b), nil
}

// Floor returns the SVN floor: the NV counter minus the base in the fuses.
func (t *TPM) Floor(f Fuses) (uint64, error) {
	c, err := t.counter()
	if err != nil {
		return 0, err
	}
	if c < f.CounterBase {
		return 0, fmt.Errorf("reading SVN floor: counter %d below its base %d", c, f.CounterBase)
	}
	return c - f.CounterBase, nil
}

// RaiseFloor increments the floor counter until the floor is at least svn.
// It never lowers it (a counter cannot go down). ownerAuth is the owner
// hierarchy's auth value set at provisioning.
func (t *TPM) RaiseFloor(f Fuses, svn uint64, ownerAuth []byte) (uint64, error) {
	floor, err := t.Floor(f)
	if err != nil {
		return 0, err
	}
	if svn <= floor {
		return floor, nil
	}
	if svn-floor > maxFloorStep {
		return floor, fmt.Errorf("raising SVN floor from %d to %d: more than %d steps", floor, svn, maxFloorStep)
	}
	h, _, err := t.nvName(FloorIndex)
	if err != nil {
		return floor, fmt.Errorf("raising SVN floor: %w", err)
	}
	for ; floor < svn; floor++ {
		_, err := tpm2.NVIncrement{
			AuthHandle: tpm2.AuthHandle{Handle: tpm2.TPMRHOwner, Auth: tpm2.PasswordAuth(ownerAuth)},
			NVIndex:    h,
		}.Execute(t.tr)
		if err != nil {
			return floor, fmt.Errorf("raising SVN floor to %d: %w", svn, err)
		}
	}
	return t.Floor(f)
}
