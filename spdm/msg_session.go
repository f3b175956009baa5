// This file implements the session messages of DSP0274 1.2/1.3:
// KEY_EXCHANGE/KEY_EXCHANGE_RSP (clause 10.16), FINISH/FINISH_RSP (clause
// 10.17), HEARTBEAT/HEARTBEAT_ACK (clause 10.19), END_SESSION/END_SESSION_ACK
// (clause 10.22), and the general opaque data format of DSP0274 Annex
// "General opaque data format" (OpaqueDataFmt1) carrying the DSP0277
// secured-message version list (SMDataID 1) and selection (SMDataID 0).

package spdm

import (
	"encoding/binary"
	"fmt"
)

// KeyExchange is the KEY_EXCHANGE request.
type KeyExchange struct {
	Version         Version
	SummaryHashType uint8 // Param1
	SlotID          uint8 // Param2
	ReqSessionID    uint16
	SessionPolicy   uint8
	// one reserved byte
	RandomData   [nonceSize]byte
	ExchangeData []byte
	OpaqueData   []byte
}

// Code returns RequestKeyExchange.
func (KeyExchange) Code() RequestCode { return RequestKeyExchange }

// Marshal encodes the message.
func (m *KeyExchange) Marshal() []byte {
	b := putHeader(m.Version, uint8(RequestKeyExchange), m.SummaryHashType, m.SlotID)
	b = binary.LittleEndian.AppendUint16(b, m.ReqSessionID)
	b = append(b, m.SessionPolicy, 0)
	b = append(b, m.RandomData[:]...)
	b = append(b, m.ExchangeData...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.OpaqueData)))
	return append(b, m.OpaqueData...)
}

// Unmarshal decodes the message.
func (m *KeyExchange) Unmarshal(b []byte, l Layout) error {
	d := decoder{b: b}
	m.Version, m.SummaryHashType, m.SlotID = d.header(uint8(RequestKeyExchange))
	m.ReqSessionID = d.u16()
	m.SessionPolicy = d.u8()
	d.u8()
	d.fixed(m.RandomData[:])
	m.ExchangeData = d.bytes(l.ExchangeSize)
	m.OpaqueData = readOpaque(&d)
	return d.err
}

// KeyExchangeRsp is the KEY_EXCHANGE_RSP response.
type KeyExchangeRsp struct {
	Version          Version
	HeartbeatPeriod  uint8 // Param1
	RspSessionID     uint16
	MutAuthRequested uint8
	ReqSlotIDParam   uint8
	RandomData       [nonceSize]byte
	ExchangeData     []byte
	SummaryHash      []byte // when KEY_EXCHANGE asked for one
	OpaqueData       []byte
	Signature        []byte
	VerifyData       []byte // ResponderVerifyData unless handshake in the clear
}

// Code returns ResponseKeyExchangeRsp.
func (KeyExchangeRsp) Code() ResponseCode { return ResponseKeyExchangeRsp }

// Marshal encodes the message.
func (m *KeyExchangeRsp) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseKeyExchangeRsp), m.HeartbeatPeriod, 0)
	b = binary.LittleEndian.AppendUint16(b, m.RspSessionID)
	b = append(b, m.MutAuthRequested, m.ReqSlotIDParam)
	b = append(b, m.RandomData[:]...)
	b = append(b, m.ExchangeData...)
	b = append(b, m.SummaryHash...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.OpaqueData)))
	b = append(b, m.OpaqueData...)
	b = append(b, m.Signature...)
	return append(b, m.VerifyData...)
}

// Unmarshal decodes the message.
func (m *KeyExchangeRsp) Unmarshal(b []byte, l Layout) error {
	d := decoder{b: b}
	m.Version, m.HeartbeatPeriod, _ = d.header(uint8(ResponseKeyExchangeRsp))
	m.RspSessionID = d.u16()
	m.MutAuthRequested = d.u8()
	m.ReqSlotIDParam = d.u8()
	d.fixed(m.RandomData[:])
	m.ExchangeData = d.bytes(l.ExchangeSize)
	m.SummaryHash = nil
	if l.SummaryHash {
		m.SummaryHash = d.bytes(l.HashSize)
	}
	m.OpaqueData = readOpaque(&d)
	m.Signature = d.bytes(l.SignatureSize)
	m.VerifyData = nil
	if l.VerifyData {
		m.VerifyData = d.bytes(l.HashSize)
	}
	return d.err
}

// Finish is the FINISH request.
type Finish struct {
	Version    Version
	Attributes uint8 // Param1: bit 0 = Signature present (mutual authentication)
	ReqSlotID  uint8 // Param2
	Signature  []byte
	VerifyData []byte // RequesterVerifyData
}

// Code returns RequestFinish.
func (Finish) Code() RequestCode { return RequestFinish }

// Marshal encodes the message.
func (m *Finish) Marshal() []byte {
	b := putHeader(m.Version, uint8(RequestFinish), m.Attributes, m.ReqSlotID)
	b = append(b, m.Signature...)
	return append(b, m.VerifyData...)
}

// Unmarshal decodes the message; a Signature is read when Param1 bit 0 is set.
func (m *Finish) Unmarshal(b []byte, l Layout) error {
	d := decoder{b: b}
	m.Version, m.Attributes, m.ReqSlotID = d.header(uint8(RequestFinish))
	m.Signature = nil
	if m.Attributes&1 != 0 {
		m.Signature = d.bytes(l.SignatureSize)
	}
	m.VerifyData = d.bytes(l.HashSize)
	return d.err
}

// FinishRsp is the FINISH_RSP response.
type FinishRsp struct {
	Version    Version
	VerifyData []byte // ResponderVerifyData, only with handshake in the clear
}

// Code returns ResponseFinishRsp.
func (FinishRsp) Code() ResponseCode { return ResponseFinishRsp }

// Marshal encodes the message.
func (m *FinishRsp) Marshal() []byte {
	return append(putHeader(m.Version, uint8(ResponseFinishRsp), 0, 0), m.VerifyData...)
}

// Unmarshal decodes the message.
func (m *FinishRsp) Unmarshal(b []byte, l Layout) error {
	d := decoder{b: b}
	m.Version, _, _ = d.header(uint8(ResponseFinishRsp))
	m.VerifyData = nil
	if l.VerifyData {
		m.VerifyData = d.bytes(l.HashSize)
	}
	return d.err
}

// headerOnly is the shared shape of the 4-byte messages.
type headerOnly struct {
	Version Version
	Param1  uint8
	Param2  uint8
}

func (m *headerOnly) unmarshal(b []byte, code uint8) error {
	d := decoder{b: b}
	m.Version, m.Param1, m.Param2 = d.header(code)
	return d.err
}

// Heartbeat is the HEARTBEAT request.
type Heartbeat struct{ headerOnly }

// Code returns RequestHeartbeat.
func (Heartbeat) Code() RequestCode { return RequestHeartbeat }

// Marshal encodes the message.
func (m *Heartbeat) Marshal() []byte {
	return putHeader(m.Version, uint8(RequestHeartbeat), m.Param1, m.Param2)
}

// Unmarshal decodes the message.
func (m *Heartbeat) Unmarshal(b []byte) error { return m.unmarshal(b, uint8(RequestHeartbeat)) }

// HeartbeatAck is the HEARTBEAT_ACK response.
type HeartbeatAck struct{ headerOnly }

// Code returns ResponseHeartbeatAck.
func (HeartbeatAck) Code() ResponseCode { return ResponseHeartbeatAck }

// Marshal encodes the message.
func (m *HeartbeatAck) Marshal() []byte {
	return putHeader(m.Version, uint8(ResponseHeartbeatAck), m.Param1, m.Param2)
}

// Unmarshal decodes the message.
func (m *HeartbeatAck) Unmarshal(b []byte) error {
	return m.unmarshal(b, uint8(ResponseHeartbeatAck))
}

// EndSession is the END_SESSION request; Param1 bit 0 asks the responder to
// clear the negotiated state.
type EndSession struct{ headerOnly }

// Code returns RequestEndSession.
func (EndSession) Code() RequestCode { return RequestEndSession }

// Marshal encodes the message.
func (m *EndSession) Marshal() []byte {
	return putHeader(m.Version, uint8(RequestEndSession), m.Param1, m.Param2)
}

// Unmarshal decodes the message.
func (m *EndSession) Unmarshal(b []byte) error { return m.unmarshal(b, uint8(RequestEndSession)) }

// EndSessionAck is the END_SESSION_ACK response.
type EndSessionAck struct{ headerOnly }

// Code returns ResponseEndSessionAck.
func (EndSessionAck) Code() ResponseCode { return ResponseEndSessionAck }

// Marshal encodes the message.
func (m *EndSessionAck) Marshal() []byte {
	return putHeader(m.Version, uint8(ResponseEndSessionAck), m.Param1, m.Param2)
}

// Unmarshal decodes the message.
func (m *EndSessionAck) Unmarshal(b []byte) error {
	return m.unmarshal(b, uint8(ResponseEndSessionAck))
}

// ---- general opaque data (OpaqueDataFmt1) ----

// OpaqueElement is one element of the general opaque data format.
type OpaqueElement struct {
	ID       uint8 // 0 = DMTF (no vendor ID)
	VendorID []byte
	Data     []byte
}

// MarshalOpaque encodes elements in the general opaque data format:
// TotalElements, three reserved bytes, then each element padded to 4 bytes.
func MarshalOpaque(elems []OpaqueElement) []byte {
	b := []byte{uint8(len(elems)), 0, 0, 0}
	for _, e := range elems {
		start := len(b)
		b = append(b, e.ID, uint8(len(e.VendorID)))
		b = append(b, e.VendorID...)
		b = binary.LittleEndian.AppendUint16(b, uint16(len(e.Data)))
		b = append(b, e.Data...)
		for (len(b)-start)%4 != 0 {
			b = append(b, 0)
		}
	}
	return b
}

// ParseOpaque decodes the general opaque data format.
func ParseOpaque(b []byte) ([]OpaqueElement, error) {
	d := decoder{b: b}
	n := int(d.u8())
	d.take(3)
	var out []OpaqueElement
	for range n {
		start := d.off
		var e OpaqueElement
		e.ID = d.u8()
		e.VendorID = d.bytes(int(d.u8()))
		e.Data = d.bytes(int(d.u16()))
		if pad := (4 - (d.off-start)%4) % 4; pad > 0 && d.err == nil {
			if len(b)-d.off < pad {
				// Tolerate a missing final padding.
				d.off = len(b)
			} else {
				d.take(pad)
			}
		}
		if d.err != nil {
			return nil, d.err
		}
		out = append(out, e)
	}
	return out, d.err
}

// Secured message opaque data (DSP0277 "Secured Message opaque data").
const (
	smDataVersion     = 1
	smDataIDSelection = 0
	smDataIDSupported = 1
)

// SecuredVersions offered in KEY_EXCHANGE (as libspdm does): DSP0277 1.0,
// 1.1 and 1.2.
var SecuredVersions = []VersionNumberEntry{0x1000, 0x1100, 0x1200}

// SupportedVersionsOpaque returns the KEY_EXCHANGE opaque data offering vs.
func SupportedVersionsOpaque(vs []VersionNumberEntry) []byte {
	data := []byte{smDataVersion, smDataIDSupported, uint8(len(vs))}
	for _, v := range vs {
		data = binary.LittleEndian.AppendUint16(data, uint16(v))
	}
	return MarshalOpaque([]OpaqueElement{{Data: data}})
}

// SelectedVersionOpaque returns the KEY_EXCHANGE_RSP opaque data selecting v.
func SelectedVersionOpaque(v VersionNumberEntry) []byte {
	data := binary.LittleEndian.AppendUint16([]byte{smDataVersion, smDataIDSelection}, uint16(v))
	return MarshalOpaque([]OpaqueElement{{Data: data}})
}

// securedVersionsFrom finds the secured-message data element in opaque data
// and returns its supported list (SMDataID 1) or selection (SMDataID 0).
func securedVersionsFrom(opaque []byte, id uint8) ([]VersionNumberEntry, error) {
	elems, err := ParseOpaque(opaque)
	if err != nil {
		return nil, fmt.Errorf("secured message opaque data: %w", err)
	}
	for _, e := range elems {
		if e.ID != 0 || len(e.Data) < 2 || e.Data[0] != smDataVersion || e.Data[1] != id {
			continue
		}
		d := decoder{b: e.Data[2:]}
		var out []VersionNumberEntry
		if id == smDataIDSelection {
			out = append(out, VersionNumberEntry(d.u16()))
		} else {
			for range int(d.u8()) {
				out = append(out, VersionNumberEntry(d.u16()))
			}
		}
		if d.err != nil {
			return nil, fmt.Errorf("secured message opaque data: %w", d.err)
		}
		return out, nil
	}
	return nil, fmt.Errorf("%w: no secured message version element", ErrMalformed)
}
