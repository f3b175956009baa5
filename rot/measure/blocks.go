package measure

import (
	"bytes"
	"context"
	"crypto"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/ironroot-bmc/ironroot/spdm"
)

// Measurement indices of the fixed blocks (ARCHITECTURE.md, "SPDM on the
// RoT link"): components take 1..n in bundle order (n <= 32).
const (
	IndexVersion    uint8 = 0xFB // firmware version, raw
	IndexSVN        uint8 = 0xFC // SVN, raw 8-byte little-endian
	IndexManifest   uint8 = 0xFD // the signed manifest (COSE_Sign), raw
	IndexDeviceMode uint8 = 0xFE // DMTF device mode, raw 16 bytes
)

// DMTF device mode bits (DSP0274 1.3, "DMTF device mode field").
const (
	OpModeManufacturing uint32 = 1 << 0
	OpModeValidation    uint32 = 1 << 1
	OpModeNormal        uint32 = 1 << 2
	OpModeRecovery      uint32 = 1 << 3
)

// Block is one measurement: either digests of a component (DMTF value
// type 0x01, reported as a digest in the hash the requester negotiated) or
// a raw value.
type Block struct {
	Index uint8
	// Type is the DMTF value type without the raw bit.
	Type uint8
	// Name says what was measured (a component name, "manifest", ...).
	Name string
	// Digests of a component, by hash; nil for a raw block.
	Digests map[crypto.Hash][]byte
	// Raw is the value of a raw block.
	Raw []byte
}

// Blocks is the measurement set of one boot; it implements
// spdm.MeasurementProvider.
type Blocks []Block

var _ spdm.MeasurementProvider = Blocks(nil)

// Component is the measurement of one verified component.
type Component struct {
	Name    string
	Digests map[crypto.Hash][]byte
}

// DeviceMode encodes the 16-byte DMTF device mode: operational mode
// capabilities and state, device mode capabilities and state, each u32 LE.
func DeviceMode(recovery bool) []byte {
	state := OpModeNormal
	if recovery {
		state = OpModeRecovery
	}
	b := binary.LittleEndian.AppendUint32(nil, OpModeNormal|OpModeRecovery)
	b = binary.LittleEndian.AppendUint32(b, state)
	b = binary.LittleEndian.AppendUint32(b, 0) // no debug modes
	return binary.LittleEndian.AppendUint32(b, 0)
}

// NewBlocks lays out the blocks of a verified boot.
func NewBlocks(components []Component, version string, svn uint64, signedManifest []byte, recovery bool) (Blocks, error) {
	if len(components) >= int(IndexVersion) {
		return nil, fmt.Errorf("measurement blocks: %d components", len(components))
	}
	var out Blocks
	for i, c := range components {
		out = append(out, Block{Index: uint8(i + 1), Type: spdm.MeasTypeMutableFirmware, Name: c.Name, Digests: c.Digests})
	}
	out = append(out,
		Block{Index: IndexVersion, Type: spdm.MeasTypeVersion, Name: "firmware-version", Raw: []byte(version)},
		Block{Index: IndexSVN, Type: spdm.MeasTypeSVN, Name: "svn", Raw: binary.LittleEndian.AppendUint64(nil, svn)},
		Block{Index: IndexManifest, Type: spdm.MeasTypeManifest, Name: "manifest", Raw: bytes.Clone(signedManifest)},
		Block{Index: IndexDeviceMode, Type: spdm.MeasTypeDeviceMode, Name: "device-mode", Raw: DeviceMode(recovery)},
	)
	return out, nil
}

// MeasurementBlocks implements spdm.MeasurementProvider. Component blocks
// are digests in h (rotd keeps SHA-256 and SHA-384); raw blocks are always
// raw bit streams.
func (bs Blocks) MeasurementBlocks(_ context.Context, h crypto.Hash, _ bool) ([]spdm.MeasurementBlock, error) {
	out := make([]spdm.MeasurementBlock, 0, len(bs))
	for _, b := range bs {
		mb := spdm.MeasurementBlock{Index: b.Index, Spec: spdm.MeasurementSpecDMTF, ValueType: b.Type}
		if b.Digests != nil {
			d, ok := b.Digests[h]
			if !ok {
				return nil, fmt.Errorf("measurement %d (%s): no %v digest", b.Index, b.Name, h)
			}
			mb.Value = bytes.Clone(d)
		} else {
			mb.ValueType |= spdm.MeasTypeRaw
			mb.Value = bytes.Clone(b.Raw)
		}
		out = append(out, mb)
	}
	slices.SortFunc(out, func(a, b spdm.MeasurementBlock) int { return int(a.Index) - int(b.Index) })
	return out, nil
}
