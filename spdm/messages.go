// This file implements the generic SPDM message format of DSP0274 1.2/1.3
// clause 10 ("SPDM messages": SPDMVersion, RequestResponseCode, Param1,
// Param2, little-endian fields), the ERROR response and its ExtendedErrorData
// (clause 10.12, including ResponseNotReady) and RESPOND_IF_READY (clause
// 10.13), and the VCA messages of clauses 10.3-10.5: GET_VERSION/VERSION,
// GET_CAPABILITIES/CAPABILITIES and NEGOTIATE_ALGORITHMS/ALGORITHMS with
// their algorithm structure tables.

package spdm

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// ErrMalformed reports a message that does not parse.
var ErrMalformed = errors.New("spdm: malformed message")

const (
	headerSize = 4
	nonceSize  = 32
	// contextSize is the RequesterContext size of SPDM 1.3.
	contextSize = 8
	// maxOpaqueSize bounds OpaqueData (DSP0274: at most 1024 bytes).
	maxOpaqueSize = 1024
)

// Request is an SPDM request message.
type Request interface {
	Code() RequestCode
	Marshal() []byte
}

// Response is an SPDM response message.
type Response interface {
	Code() ResponseCode
	Marshal() []byte
}

// decoder reads little-endian fields from a message; the first short read
// sets err and later reads return zero values.
type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) take(n int) []byte {
	if d.err != nil {
		return nil
	}
	if n < 0 || len(d.b)-d.off < n {
		d.err = fmt.Errorf("%w: %d bytes needed at offset %d of %d", ErrMalformed, n, d.off, len(d.b))
		return nil
	}
	s := d.b[d.off : d.off+n]
	d.off += n
	return s
}

func (d *decoder) u8() uint8 {
	s := d.take(1)
	if s == nil {
		return 0
	}
	return s[0]
}

func (d *decoder) u16() uint16 {
	s := d.take(2)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(s)
}

func (d *decoder) u24() uint32 {
	s := d.take(3)
	if s == nil {
		return 0
	}
	return uint32(s[0]) | uint32(s[1])<<8 | uint32(s[2])<<16
}

func (d *decoder) u32() uint32 {
	s := d.take(4)
	if s == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(s)
}

// bytes returns a copy of the next n bytes.
func (d *decoder) bytes(n int) []byte {
	s := d.take(n)
	if s == nil {
		return nil
	}
	return append([]byte(nil), s...)
}

func (d *decoder) fixed(dst []byte) {
	if s := d.take(len(dst)); s != nil {
		copy(dst, s)
	}
}

// header reads the 4-byte header and checks the code.
func (d *decoder) header(code uint8) (v Version, p1, p2 uint8) {
	v = Version(d.u8())
	c := d.u8()
	p1, p2 = d.u8(), d.u8()
	if d.err == nil && c != code {
		d.err = fmt.Errorf("%w: code 0x%02x, want 0x%02x", ErrMalformed, c, code)
	}
	return v, p1, p2
}

func putU24(b []byte, v uint32) []byte { return append(b, byte(v), byte(v>>8), byte(v>>16)) }

func putHeader(v Version, code, p1, p2 uint8) []byte {
	return append(make([]byte, 0, 64), byte(v), code, p1, p2)
}

// PeekHeader returns the version and code byte of a message.
func PeekHeader(msg []byte) (Version, uint8, error) {
	if len(msg) < headerSize {
		return 0, 0, fmt.Errorf("%w: %d-byte message", ErrMalformed, len(msg))
	}
	return Version(msg[0]), msg[1], nil
}

// ---- ERROR / RESPOND_IF_READY ----

// ErrorResponse is the ERROR response (DSP0274 clause 10.12).
type ErrorResponse struct {
	Version   Version
	ErrorCode ErrorCode // Param1
	ErrorData uint8     // Param2
	// Extended is ExtendedErrorData: for ResponseNotReady the 4 bytes
	// RDTExponent, RequestCode, Token, RDTM; for LargeResponse the 1-byte Handle.
	Extended []byte
}

// Code returns ResponseError.
func (ErrorResponse) Code() ResponseCode { return ResponseError }

// Marshal encodes the message.
func (m *ErrorResponse) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseError), uint8(m.ErrorCode), m.ErrorData)
	return append(b, m.Extended...)
}

// Unmarshal decodes the message. ExtendedErrorData is taken as defined for
// the error code (at most 32 bytes, the DSP0274 bound).
func (m *ErrorResponse) Unmarshal(b []byte) error {
	d := decoder{b: b}
	v, p1, p2 := d.header(uint8(ResponseError))
	m.Version, m.ErrorCode, m.ErrorData = v, ErrorCode(p1), p2
	m.Extended = nil
	switch m.ErrorCode {
	case ErrResponseNotReady:
		m.Extended = d.bytes(4)
	case ErrLargeResponse:
		m.Extended = d.bytes(1)
	default:
		if n := len(b) - headerSize; n > 0 {
			m.Extended = d.bytes(min(n, 32))
		}
	}
	return d.err
}

// NotReady is the ExtendedErrorData of ResponseNotReady.
type NotReady struct {
	RDTExponent uint8
	RequestCode RequestCode
	Token       uint8
	RDTM        uint8
}

// NotReady decodes the ExtendedErrorData of a ResponseNotReady error.
func (m *ErrorResponse) NotReady() (NotReady, bool) {
	if m.ErrorCode != ErrResponseNotReady || len(m.Extended) < 4 {
		return NotReady{}, false
	}
	e := m.Extended
	return NotReady{e[0], RequestCode(e[1]), e[2], e[3]}, true
}

// Error makes an ERROR response usable as a Go error.
func (m *ErrorResponse) Error() string {
	return fmt.Sprintf("spdm: peer returned ERROR %s (data 0x%02x)", m.ErrorCode, m.ErrorData)
}

// RespondIfReady is the RESPOND_IF_READY request (DSP0274 clause 10.13).
type RespondIfReady struct {
	Version     Version
	RequestCode RequestCode // Param1: the original request code
	Token       uint8       // Param2
}

// Code returns RequestRespondIfReady.
func (RespondIfReady) Code() RequestCode { return RequestRespondIfReady }

// Marshal encodes the message.
func (m *RespondIfReady) Marshal() []byte {
	return putHeader(m.Version, uint8(RequestRespondIfReady), uint8(m.RequestCode), m.Token)
}

// Unmarshal decodes the message.
func (m *RespondIfReady) Unmarshal(b []byte) error {
	d := decoder{b: b}
	v, p1, p2 := d.header(uint8(RequestRespondIfReady))
	m.Version, m.RequestCode, m.Token = v, RequestCode(p1), p2
	return d.err
}

// ---- GET_VERSION / VERSION ----

// GetVersion is the GET_VERSION request; its SPDMVersion is always 1.0.
type GetVersion struct {
	Version Version
}

// Code returns RequestGetVersion.
func (GetVersion) Code() RequestCode { return RequestGetVersion }

// Marshal encodes the message.
func (m *GetVersion) Marshal() []byte { return putHeader(m.Version, uint8(RequestGetVersion), 0, 0) }

// Unmarshal decodes the message.
func (m *GetVersion) Unmarshal(b []byte) error {
	d := decoder{b: b}
	m.Version, _, _ = d.header(uint8(RequestGetVersion))
	return d.err
}

// VersionResponse is the VERSION response.
type VersionResponse struct {
	Version Version
	// Reserved byte, then VersionNumberEntryCount.
	Entries []VersionNumberEntry
}

// Code returns ResponseVersion.
func (VersionResponse) Code() ResponseCode { return ResponseVersion }

// Marshal encodes the message.
func (m *VersionResponse) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseVersion), 0, 0)
	b = append(b, 0, uint8(len(m.Entries)))
	for _, e := range m.Entries {
		b = binary.LittleEndian.AppendUint16(b, uint16(e))
	}
	return b
}

// Unmarshal decodes the message.
func (m *VersionResponse) Unmarshal(b []byte) error {
	d := decoder{b: b}
	m.Version, _, _ = d.header(uint8(ResponseVersion))
	d.u8()
	n := int(d.u8())
	m.Entries = nil
	for range n {
		m.Entries = append(m.Entries, VersionNumberEntry(d.u16()))
	}
	return d.err
}

// ---- GET_CAPABILITIES / CAPABILITIES ----

// Capabilities is the body shared by GET_CAPABILITIES and CAPABILITIES
// (1.2 and later layout).
type Capabilities struct {
	Version    Version
	Param1     uint8 // 1.3: bit 0 = supported algorithms requested / included (not used here)
	CTExponent uint8 // after one reserved byte
	// two reserved bytes
	Flags            CapabilityFlags
	DataTransferSize uint32
	MaxSPDMmsgSize   uint32
}

func (m *Capabilities) marshal(code uint8) []byte {
	b := putHeader(m.Version, code, m.Param1, 0)
	b = append(b, 0, m.CTExponent, 0, 0)
	b = binary.LittleEndian.AppendUint32(b, uint32(m.Flags))
	if m.Version >= Version12 {
		b = binary.LittleEndian.AppendUint32(b, m.DataTransferSize)
		b = binary.LittleEndian.AppendUint32(b, m.MaxSPDMmsgSize)
	}
	return b
}

func (m *Capabilities) unmarshal(b []byte, code uint8) error {
	d := decoder{b: b}
	m.Version, m.Param1, _ = d.header(code)
	d.u8()
	m.CTExponent = d.u8()
	d.u16()
	m.Flags = CapabilityFlags(d.u32())
	if m.Version >= Version12 {
		m.DataTransferSize = d.u32()
		m.MaxSPDMmsgSize = d.u32()
	}
	return d.err
}

// GetCapabilities is the GET_CAPABILITIES request.
type GetCapabilities struct{ Capabilities }

// Code returns RequestGetCapabilities.
func (GetCapabilities) Code() RequestCode { return RequestGetCapabilities }

// Marshal encodes the message.
func (m *GetCapabilities) Marshal() []byte { return m.marshal(uint8(RequestGetCapabilities)) }

// Unmarshal decodes the message.
func (m *GetCapabilities) Unmarshal(b []byte) error {
	return m.unmarshal(b, uint8(RequestGetCapabilities))
}

// CapabilitiesResponse is the CAPABILITIES response.
type CapabilitiesResponse struct{ Capabilities }

// Code returns ResponseCapabilities.
func (CapabilitiesResponse) Code() ResponseCode { return ResponseCapabilities }

// Marshal encodes the message.
func (m *CapabilitiesResponse) Marshal() []byte { return m.marshal(uint8(ResponseCapabilities)) }

// Unmarshal decodes the message.
func (m *CapabilitiesResponse) Unmarshal(b []byte) error {
	return m.unmarshal(b, uint8(ResponseCapabilities))
}

// ---- NEGOTIATE_ALGORITHMS / ALGORITHMS ----

// AlgStruct is one entry of the algorithm structure table (DSP0274 table
// "Algorithm request structure"): AlgType, AlgCount (fixed width 2 in bits
// 7:4, external count in bits 3:0), AlgSupported, AlgExternal[].
type AlgStruct struct {
	Type      AlgType
	Supported uint16
	External  []uint32
}

func appendAlgStructs(b []byte, structs []AlgStruct) []byte {
	for _, a := range structs {
		b = append(b, uint8(a.Type), 0x20|uint8(len(a.External)&0xF))
		b = binary.LittleEndian.AppendUint16(b, a.Supported)
		for _, e := range a.External {
			b = binary.LittleEndian.AppendUint32(b, e)
		}
	}
	return b
}

func readAlgStructs(d *decoder, n int) []AlgStruct {
	var out []AlgStruct
	for range n {
		t := AlgType(d.u8())
		cnt := d.u8()
		fixed := int(cnt >> 4)
		if d.err == nil && fixed != 2 {
			d.err = fmt.Errorf("%w: AlgStruct fixed width %d", ErrMalformed, fixed)
		}
		a := AlgStruct{Type: t, Supported: d.u16()}
		for range int(cnt & 0xF) {
			a.External = append(a.External, d.u32())
		}
		if d.err != nil {
			return nil
		}
		out = append(out, a)
	}
	return out
}

func readU32s(d *decoder, n int) []uint32 {
	var out []uint32
	for range n {
		out = append(out, d.u32())
	}
	return out
}

// NegotiateAlgorithms is the NEGOTIATE_ALGORITHMS request.
type NegotiateAlgorithms struct {
	Version Version
	// Param1 = len(AlgStructs); Length is computed.
	MeasurementSpec MeasurementSpec
	OtherParams     OtherParams
	BaseAsym        BaseAsymAlgo
	BaseHash        BaseHashAlgo
	// 12 reserved bytes (1.4: PqcAsymAlgo)
	// ExtAsymCount, ExtHashCount, one reserved byte,
	MELSpec    uint8 // 1.3 MELSpecification
	ExtAsym    []uint32
	ExtHash    []uint32
	AlgStructs []AlgStruct
}

// Code returns RequestNegotiateAlgorithms.
func (NegotiateAlgorithms) Code() RequestCode { return RequestNegotiateAlgorithms }

// Marshal encodes the message.
func (m *NegotiateAlgorithms) Marshal() []byte {
	b := putHeader(m.Version, uint8(RequestNegotiateAlgorithms), uint8(len(m.AlgStructs)), 0)
	b = append(b, 0, 0) // Length, patched below
	b = append(b, uint8(m.MeasurementSpec), uint8(m.OtherParams))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.BaseAsym))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.BaseHash))
	b = append(b, make([]byte, 12)...)
	b = append(b, uint8(len(m.ExtAsym)), uint8(len(m.ExtHash)), 0, m.MELSpec)
	for _, e := range m.ExtAsym {
		b = binary.LittleEndian.AppendUint32(b, e)
	}
	for _, e := range m.ExtHash {
		b = binary.LittleEndian.AppendUint32(b, e)
	}
	b = appendAlgStructs(b, m.AlgStructs)
	binary.LittleEndian.PutUint16(b[4:], uint16(len(b)))
	return b
}

// Unmarshal decodes the message; Length bounds the parse.
func (m *NegotiateAlgorithms) Unmarshal(b []byte) error {
	d := decoder{b: b}
	var n uint8
	m.Version, n, _ = d.header(uint8(RequestNegotiateAlgorithms))
	length := int(d.u16())
	if d.err == nil && (length < 32 || length > len(b)) {
		return fmt.Errorf("%w: NEGOTIATE_ALGORITHMS Length %d of %d bytes", ErrMalformed, length, len(b))
	}
	d.b = b[:length]
	m.MeasurementSpec = MeasurementSpec(d.u8())
	m.OtherParams = OtherParams(d.u8())
	m.BaseAsym = BaseAsymAlgo(d.u32())
	m.BaseHash = BaseHashAlgo(d.u32())
	d.take(12)
	na, nh := int(d.u8()), int(d.u8())
	d.u8()
	m.MELSpec = d.u8()
	m.ExtAsym = readU32s(&d, na)
	m.ExtHash = readU32s(&d, nh)
	m.AlgStructs = readAlgStructs(&d, int(n))
	return d.err
}

// Alg returns the AlgSupported of the entry of type t (0 if absent).
func (m *NegotiateAlgorithms) Alg(t AlgType) uint16 { return algOf(m.AlgStructs, t) }

func algOf(s []AlgStruct, t AlgType) uint16 {
	for _, a := range s {
		if a.Type == t {
			return a.Supported
		}
	}
	return 0
}

// Algorithms is the ALGORITHMS response.
type Algorithms struct {
	Version Version
	// Param1 = len(AlgStructs); Length is computed.
	MeasurementSpec MeasurementSpec
	OtherParams     OtherParams
	MeasurementHash MeasurementHashAlgo
	BaseAsym        BaseAsymAlgo
	BaseHash        BaseHashAlgo
	// 11 reserved bytes (1.4: PqcAsymSel in the first 4)
	MELSpec uint8 // 1.3 MELSpecificationSel
	// ExtAsymSelCount, ExtHashSelCount, two reserved bytes
	ExtAsym    []uint32
	ExtHash    []uint32
	AlgStructs []AlgStruct
}

// Code returns ResponseAlgorithms.
func (Algorithms) Code() ResponseCode { return ResponseAlgorithms }

// Marshal encodes the message.
func (m *Algorithms) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseAlgorithms), uint8(len(m.AlgStructs)), 0)
	b = append(b, 0, 0)
	b = append(b, uint8(m.MeasurementSpec), uint8(m.OtherParams))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.MeasurementHash))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.BaseAsym))
	b = binary.LittleEndian.AppendUint32(b, uint32(m.BaseHash))
	b = append(b, make([]byte, 11)...)
	b = append(b, m.MELSpec, uint8(len(m.ExtAsym)), uint8(len(m.ExtHash)), 0, 0)
	for _, e := range m.ExtAsym {
		b = binary.LittleEndian.AppendUint32(b, e)
	}
	for _, e := range m.ExtHash {
		b = binary.LittleEndian.AppendUint32(b, e)
	}
	b = appendAlgStructs(b, m.AlgStructs)
	binary.LittleEndian.PutUint16(b[4:], uint16(len(b)))
	return b
}

// Unmarshal decodes the message; Length bounds the parse.
func (m *Algorithms) Unmarshal(b []byte) error {
	d := decoder{b: b}
	var n uint8
	m.Version, n, _ = d.header(uint8(ResponseAlgorithms))
	length := int(d.u16())
	if d.err == nil && (length < 36 || length > len(b)) {
		return fmt.Errorf("%w: ALGORITHMS Length %d of %d bytes", ErrMalformed, length, len(b))
	}
	d.b = b[:length]
	m.MeasurementSpec = MeasurementSpec(d.u8())
	m.OtherParams = OtherParams(d.u8())
	m.MeasurementHash = MeasurementHashAlgo(d.u32())
	m.BaseAsym = BaseAsymAlgo(d.u32())
	m.BaseHash = BaseHashAlgo(d.u32())
	d.take(11)
	m.MELSpec = d.u8()
	na, nh := int(d.u8()), int(d.u8())
	d.u16()
	m.ExtAsym = readU32s(&d, na)
	m.ExtHash = readU32s(&d, nh)
	m.AlgStructs = readAlgStructs(&d, int(n))
	return d.err
}

// Alg returns the selected AlgSupported of the entry of type t (0 if absent).
func (m *Algorithms) Alg(t AlgType) uint16 { return algOf(m.AlgStructs, t) }
