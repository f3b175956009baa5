// This file defines what a responder needs from the device it speaks for
// (DSP0274 1.2/1.3 clause 10.6-10.7 certificate slots, clause 10.11
// measurement blocks, clause 10.23 vendor-defined messages) and a simple
// in-memory measurement list. MeasurementSummaryHash (clause 10.8, table
// "CHALLENGE_AUTH response": hash over the measurement blocks) is computed
// here too.

package spdm

import (
	"context"
	"crypto"
	"fmt"
	"slices"
)

// CertSlot is one provisioned certificate slot.
type CertSlot struct {
	// Chain holds DER certificates, root first, leaf last.
	Chain [][]byte
	// Signer holds the leaf's private key (it may live elsewhere).
	Signer crypto.Signer
	// Model is the 1.3 CertificateInfo certificate model (default: device,
	// or alias when the responder advertises ALIAS_CERT_CAP).
	Model uint8
	// KeyPairID and KeyUsage are reported in DIGESTS on a 1.3 multi-key
	// connection (defaults: slot ID + 1, and every usage).
	KeyPairID uint8
	KeyUsage  uint16
}

// KeyUsageMask bits of DSP0274 1.3 (table "KeyUsageMask").
const (
	KeyUsageKeyExchange  uint16 = 1 << 0
	KeyUsageChallenge    uint16 = 1 << 1
	KeyUsageMeasurement  uint16 = 1 << 2
	KeyUsageEndpointInfo uint16 = 1 << 3
)

// MeasurementProvider supplies measurement blocks.
type MeasurementProvider interface {
	// MeasurementBlocks returns every block, ordered by index. Values a
	// device reports as digests are hashed with h unless raw is requested.
	MeasurementBlocks(ctx context.Context, h crypto.Hash, raw bool) ([]MeasurementBlock, error)
}

// VendorHandler answers VENDOR_DEFINED_REQUEST; sessionID is 0 outside a
// session.
type VendorHandler func(ctx context.Context, sessionID uint32, req *VendorDefined) (*VendorDefined, error)

// Measurement is one measurement of a MeasurementList.
type Measurement struct {
	Index uint8
	Type  uint8 // DMTF value type without the raw bit
	Value []byte
	// Digest: report H(Value) unless the requester asks for the raw bit
	// stream; otherwise the value is always reported raw.
	Digest bool
}

// MeasurementList is a fixed MeasurementProvider.
type MeasurementList []Measurement

// MeasurementBlocks implements MeasurementProvider.
func (l MeasurementList) MeasurementBlocks(_ context.Context, h crypto.Hash, raw bool) ([]MeasurementBlock, error) {
	out := make([]MeasurementBlock, 0, len(l))
	for _, m := range l {
		if m.Index == 0 || m.Index == 0xFF {
			return nil, fmt.Errorf("spdm: measurement index %d is reserved", m.Index)
		}
		b := MeasurementBlock{Index: m.Index, Spec: MeasurementSpecDMTF, ValueType: m.Type &^ MeasTypeRaw, Value: m.Value}
		if m.Digest && !raw {
			b.Value = hashOf(h, m.Value)
		} else {
			b.ValueType |= MeasTypeRaw
		}
		out = append(out, b)
	}
	slices.SortFunc(out, func(a, b MeasurementBlock) int { return int(a.Index) - int(b.Index) })
	return out, nil
}

// summaryHash computes MeasurementSummaryHash: H over the blocks (digest
// form, each with its 4-byte block header) of all measurements, or for
// SummaryTCB only the immutable-ROM ones (the device chooses its TCB; this
// is libspdm's sample-device choice).
func summaryHash(h crypto.Hash, blocks []MeasurementBlock, typ uint8) []byte {
	d := h.New()
	var buf []byte
	for i := range blocks {
		if typ == SummaryTCB && blocks[i].ValueType&^MeasTypeRaw != MeasTypeImmutableROM {
			continue
		}
		buf = blocks[i].AppendTo(buf[:0])
		d.Write(buf)
	}
	return d.Sum(nil)
}
