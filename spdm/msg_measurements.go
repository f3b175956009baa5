// This file implements GET_MEASUREMENTS/MEASUREMENTS of DSP0274 1.2/1.3
// clause 10.11 (request attributes, measurement operation, SlotIDParam, the
// 1.3 RequesterContext) and the measurement block format of clause 10.11.1
// with the DMTF measurement specification (table "DMTF measurement
// specification format": DMTFSpecMeasurementValueType, raw bit stream bit 7).

package spdm

import (
	"encoding/binary"
	"fmt"
)

// MeasurementAttributes is Param1 of GET_MEASUREMENTS.
type MeasurementAttributes uint8

// GET_MEASUREMENTS request attributes.
const (
	MeasSignatureRequested MeasurementAttributes = 1 << 0
	MeasRawBitStream       MeasurementAttributes = 1 << 1
	MeasNewMeasurement     MeasurementAttributes = 1 << 2 // 1.3
)

// Measurement operations (GET_MEASUREMENTS Param2).
const (
	MeasOpCount uint8 = 0x00
	MeasOpAll   uint8 = 0xFF
)

// DMTF measurement value types (DMTFSpecMeasurementValueType bits 6:0).
const (
	MeasTypeImmutableROM    uint8 = 0x00
	MeasTypeMutableFirmware uint8 = 0x01
	MeasTypeHWConfig        uint8 = 0x02
	MeasTypeFWConfig        uint8 = 0x03
	MeasTypeManifest        uint8 = 0x04
	MeasTypeDeviceMode      uint8 = 0x05
	MeasTypeVersion         uint8 = 0x06
	MeasTypeSVN             uint8 = 0x07
	MeasTypeHashExtended    uint8 = 0x08
	// MeasTypeRaw is bit 7: the value is a raw bit stream, not a digest.
	MeasTypeRaw uint8 = 0x80
)

// maxMeasurementRecord bounds MeasurementRecordLength (24-bit field; we
// refuse more than 1 MiB).
const maxMeasurementRecord = 1 << 20

// GetMeasurements is the GET_MEASUREMENTS request.
type GetMeasurements struct {
	Version    Version
	Attributes MeasurementAttributes // Param1
	Operation  uint8                 // Param2: 0 = count, 0xFF = all, else an index
	// Present only when a signature is requested:
	Nonce  [nonceSize]byte
	SlotID uint8 // SlotIDParam bits 3:0
	// 1.3 only:
	RequesterContext [contextSize]byte
}

// Code returns RequestGetMeasurements.
func (GetMeasurements) Code() RequestCode { return RequestGetMeasurements }

// Signed reports whether a signature is requested.
func (m *GetMeasurements) Signed() bool { return m.Attributes&MeasSignatureRequested != 0 }

// Marshal encodes the message.
func (m *GetMeasurements) Marshal() []byte {
	b := putHeader(m.Version, uint8(RequestGetMeasurements), uint8(m.Attributes), m.Operation)
	if m.Signed() {
		b = append(b, m.Nonce[:]...)
		b = append(b, m.SlotID)
	}
	if m.Version >= Version13 {
		b = append(b, m.RequesterContext[:]...)
	}
	return b
}

// Unmarshal decodes the message.
func (m *GetMeasurements) Unmarshal(b []byte) error {
	d := decoder{b: b}
	var p1 uint8
	m.Version, p1, m.Operation = d.header(uint8(RequestGetMeasurements))
	m.Attributes = MeasurementAttributes(p1)
	m.Nonce, m.SlotID = [nonceSize]byte{}, 0
	if m.Signed() {
		d.fixed(m.Nonce[:])
		m.SlotID = d.u8() & 0xF
	}
	if m.Version >= Version13 {
		d.fixed(m.RequesterContext[:])
	}
	return d.err
}

// MeasurementBlock is one measurement block in the DMTF format.
type MeasurementBlock struct {
	Index uint8
	Spec  MeasurementSpec
	// MeasurementSize = 3 + len(Value); the DMTF header:
	ValueType uint8 // DMTFSpecMeasurementValueType; bit 7 = raw bit stream
	// DMTFSpecMeasurementValueSize = len(Value)
	Value []byte
}

// Raw reports whether the value is a raw bit stream rather than a digest.
func (b *MeasurementBlock) Raw() bool { return b.ValueType&MeasTypeRaw != 0 }

// AppendTo appends the encoded block.
func (b *MeasurementBlock) AppendTo(out []byte) []byte {
	out = append(out, b.Index, uint8(b.Spec))
	out = binary.LittleEndian.AppendUint16(out, uint16(3+len(b.Value)))
	out = append(out, b.ValueType)
	out = binary.LittleEndian.AppendUint16(out, uint16(len(b.Value)))
	return append(out, b.Value...)
}

// ParseMeasurementRecord decodes n measurement blocks from a MeasurementRecord.
func ParseMeasurementRecord(rec []byte, n int) ([]MeasurementBlock, error) {
	d := decoder{b: rec}
	var out []MeasurementBlock
	for range n {
		var blk MeasurementBlock
		blk.Index = d.u8()
		blk.Spec = MeasurementSpec(d.u8())
		size := int(d.u16())
		body := d.take(size)
		if d.err != nil {
			return nil, d.err
		}
		if blk.Spec != MeasurementSpecDMTF {
			return nil, fmt.Errorf("%w: measurement block %d has specification 0x%02x", ErrMalformed, blk.Index, uint8(blk.Spec))
		}
		bd := decoder{b: body}
		blk.ValueType = bd.u8()
		vs := int(bd.u16())
		if bd.err == nil && vs != size-3 {
			return nil, fmt.Errorf("%w: measurement block %d value size %d in %d bytes", ErrMalformed, blk.Index, vs, size)
		}
		blk.Value = bd.bytes(vs)
		if bd.err != nil {
			return nil, bd.err
		}
		out = append(out, blk)
	}
	if d.err == nil && d.off != len(rec) {
		return nil, fmt.Errorf("%w: %d bytes after %d measurement blocks", ErrMalformed, len(rec)-d.off, n)
	}
	return out, d.err
}

// Measurements is the MEASUREMENTS response.
type Measurements struct {
	Version Version
	Param1  uint8 // TotalNumberOfMeasurementIndices for operation 0
	Param2  uint8 // bits 3:0 SlotID, bits 5:4 ContentChanged
	// NumberOfBlocks = len(Blocks); MeasurementRecordLength computed.
	Blocks           []MeasurementBlock
	Nonce            [nonceSize]byte
	OpaqueData       []byte
	RequesterContext [contextSize]byte // 1.3
	Signature        []byte            // when signed
}

// Code returns ResponseMeasurements.
func (Measurements) Code() ResponseCode { return ResponseMeasurements }

// Record returns the encoded MeasurementRecord.
func (m *Measurements) Record() []byte {
	var rec []byte
	for i := range m.Blocks {
		rec = m.Blocks[i].AppendTo(rec)
	}
	return rec
}

// Marshal encodes the message.
func (m *Measurements) Marshal() []byte {
	rec := m.Record()
	b := putHeader(m.Version, uint8(ResponseMeasurements), m.Param1, m.Param2)
	b = append(b, uint8(len(m.Blocks)))
	b = putU24(b, uint32(len(rec)))
	b = append(b, rec...)
	b = append(b, m.Nonce[:]...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.OpaqueData)))
	b = append(b, m.OpaqueData...)
	if m.Version >= Version13 {
		b = append(b, m.RequesterContext[:]...)
	}
	return append(b, m.Signature...)
}

// Unmarshal decodes the message; l.Signed and l.SignatureSize say whether a
// Signature follows.
func (m *Measurements) Unmarshal(b []byte, l Layout) error {
	d := decoder{b: b}
	m.Version, m.Param1, m.Param2 = d.header(uint8(ResponseMeasurements))
	n := int(d.u8())
	recLen := int(d.u24())
	if d.err == nil && recLen > maxMeasurementRecord {
		return fmt.Errorf("%w: MeasurementRecordLength %d", ErrMalformed, recLen)
	}
	rec := d.take(recLen)
	if d.err != nil {
		return d.err
	}
	blocks, err := ParseMeasurementRecord(rec, n)
	if err != nil {
		return err
	}
	m.Blocks = blocks
	d.fixed(m.Nonce[:])
	m.OpaqueData = readOpaque(&d)
	if m.Version >= Version13 {
		d.fixed(m.RequesterContext[:])
	}
	m.Signature = nil
	if l.Signed {
		m.Signature = d.bytes(l.SignatureSize)
	}
	return d.err
}
