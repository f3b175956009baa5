// This file implements VENDOR_DEFINED_REQUEST/VENDOR_DEFINED_RESPONSE
// (DSP0274 1.2/1.3 clause 10.23, StandardID table of clause 10.23.1) and the
// large-message transfer of clause 10.20/10.21: CHUNK_SEND/CHUNK_SEND_ACK
// and CHUNK_GET/CHUNK_RESPONSE.

package spdm

import (
	"encoding/binary"
	"fmt"
)

// maxVendorPayload bounds the vendor-defined payload (u16 length field).
const maxVendorPayload = 0xFFFF

// VendorDefined is the body shared by VENDOR_DEFINED_REQUEST and
// VENDOR_DEFINED_RESPONSE.
type VendorDefined struct {
	Version    Version
	StandardID uint16 // registry (DSP0274 table "Registry or standards body ID")
	// Len = len(VendorID)
	VendorID []byte
	// ReqLength / RespLength = len(Payload)
	Payload []byte
}

func (m *VendorDefined) marshal(code uint8) []byte {
	b := putHeader(m.Version, code, 0, 0)
	b = binary.LittleEndian.AppendUint16(b, m.StandardID)
	b = append(b, uint8(len(m.VendorID)))
	b = append(b, m.VendorID...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.Payload)))
	return append(b, m.Payload...)
}

func (m *VendorDefined) unmarshal(b []byte, code uint8) error {
	d := decoder{b: b}
	m.Version, _, _ = d.header(code)
	m.StandardID = d.u16()
	m.VendorID = d.bytes(int(d.u8()))
	m.Payload = d.bytes(int(d.u16()))
	return d.err
}

// VendorDefinedRequest is the VENDOR_DEFINED_REQUEST request.
type VendorDefinedRequest struct{ VendorDefined }

// Code returns RequestVendorDefined.
func (VendorDefinedRequest) Code() RequestCode { return RequestVendorDefined }

// Marshal encodes the message.
func (m *VendorDefinedRequest) Marshal() []byte { return m.marshal(uint8(RequestVendorDefined)) }

// Unmarshal decodes the message.
func (m *VendorDefinedRequest) Unmarshal(b []byte) error {
	return m.unmarshal(b, uint8(RequestVendorDefined))
}

// VendorDefinedResponse is the VENDOR_DEFINED_RESPONSE response.
type VendorDefinedResponse struct{ VendorDefined }

// Code returns ResponseVendorDefined.
func (VendorDefinedResponse) Code() ResponseCode { return ResponseVendorDefined }

// Marshal encodes the message.
func (m *VendorDefinedResponse) Marshal() []byte { return m.marshal(uint8(ResponseVendorDefined)) }

// Unmarshal decodes the message.
func (m *VendorDefinedResponse) Unmarshal(b []byte) error {
	return m.unmarshal(b, uint8(ResponseVendorDefined))
}

// Chunk attribute bits.
const (
	ChunkLast           uint8 = 1 << 0 // CHUNK_SEND / CHUNK_RESPONSE: LastChunk
	ChunkEarlyError     uint8 = 1 << 0 // CHUNK_SEND_ACK: EarlyErrorDetected
	chunkHeaderSize           = 12     // header, ChunkSeqNo, Reserved, ChunkSize
	chunkFirstExtraSize       = 4      // LargeMessageSize in chunk 0
)

// chunkBody is the body shared by CHUNK_SEND and CHUNK_RESPONSE.
type chunkBody struct {
	Version    Version
	Attributes uint8 // Param1
	Handle     uint8 // Param2
	ChunkSeqNo uint16
	// Reserved u16, ChunkSize u32
	LargeMessageSize uint32 // present only in chunk 0
	Chunk            []byte
}

func (m *chunkBody) marshal(code uint8) []byte {
	b := putHeader(m.Version, code, m.Attributes, m.Handle)
	b = binary.LittleEndian.AppendUint16(b, m.ChunkSeqNo)
	b = append(b, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(m.Chunk)))
	if m.ChunkSeqNo == 0 {
		b = binary.LittleEndian.AppendUint32(b, m.LargeMessageSize)
	}
	return append(b, m.Chunk...)
}

func (m *chunkBody) unmarshal(b []byte, code uint8) error {
	d := decoder{b: b}
	m.Version, m.Attributes, m.Handle = d.header(code)
	m.ChunkSeqNo = d.u16()
	d.u16()
	size := d.u32()
	m.LargeMessageSize = 0
	if m.ChunkSeqNo == 0 {
		m.LargeMessageSize = d.u32()
	}
	if d.err == nil && int64(size) > int64(len(b)-d.off) {
		return fmt.Errorf("%w: ChunkSize %d of %d bytes", ErrMalformed, size, len(b)-d.off)
	}
	m.Chunk = d.bytes(int(size))
	return d.err
}

// ChunkSend is the CHUNK_SEND request.
type ChunkSend struct{ chunkBody }

// Code returns RequestChunkSend.
func (ChunkSend) Code() RequestCode { return RequestChunkSend }

// Marshal encodes the message.
func (m *ChunkSend) Marshal() []byte { return m.marshal(uint8(RequestChunkSend)) }

// Unmarshal decodes the message.
func (m *ChunkSend) Unmarshal(b []byte) error { return m.unmarshal(b, uint8(RequestChunkSend)) }

// ChunkResponse is the CHUNK_RESPONSE response.
type ChunkResponse struct{ chunkBody }

// Code returns ResponseChunkResponse.
func (ChunkResponse) Code() ResponseCode { return ResponseChunkResponse }

// Marshal encodes the message.
func (m *ChunkResponse) Marshal() []byte { return m.marshal(uint8(ResponseChunkResponse)) }

// Unmarshal decodes the message.
func (m *ChunkResponse) Unmarshal(b []byte) error {
	return m.unmarshal(b, uint8(ResponseChunkResponse))
}

// ChunkSendAck is the CHUNK_SEND_ACK response.
type ChunkSendAck struct {
	Version    Version
	Attributes uint8 // Param1: bit 0 EarlyErrorDetected
	Handle     uint8 // Param2
	ChunkSeqNo uint16
	// Response is ResponseToLargeRequest: present after the last chunk or
	// with an early error.
	Response []byte
}

// Code returns ResponseChunkSendAck.
func (ChunkSendAck) Code() ResponseCode { return ResponseChunkSendAck }

// Marshal encodes the message.
func (m *ChunkSendAck) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseChunkSendAck), m.Attributes, m.Handle)
	b = binary.LittleEndian.AppendUint16(b, m.ChunkSeqNo)
	return append(b, m.Response...)
}

// Unmarshal decodes the message; everything after ChunkSeqNo is the response.
func (m *ChunkSendAck) Unmarshal(b []byte) error {
	d := decoder{b: b}
	m.Version, m.Attributes, m.Handle = d.header(uint8(ResponseChunkSendAck))
	m.ChunkSeqNo = d.u16()
	m.Response = nil
	if d.err == nil && d.off < len(b) {
		m.Response = d.bytes(len(b) - d.off)
	}
	return d.err
}

// ChunkGet is the CHUNK_GET request.
type ChunkGet struct {
	Version    Version
	Handle     uint8 // Param2
	ChunkSeqNo uint16
}

// Code returns RequestChunkGet.
func (ChunkGet) Code() RequestCode { return RequestChunkGet }

// Marshal encodes the message.
func (m *ChunkGet) Marshal() []byte {
	b := putHeader(m.Version, uint8(RequestChunkGet), 0, m.Handle)
	return binary.LittleEndian.AppendUint16(b, m.ChunkSeqNo)
}

// Unmarshal decodes the message.
func (m *ChunkGet) Unmarshal(b []byte) error {
	d := decoder{b: b}
	m.Version, _, m.Handle = d.header(uint8(RequestChunkGet))
	m.ChunkSeqNo = d.u16()
	return d.err
}
