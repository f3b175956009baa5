// Package rotlink owns the ironroot control protocol that travels on the RoT
// link inside SPDM VENDOR_DEFINED_REQUEST/RESPONSE messages of a secured
// session: its vendor identity, its operations (ReportHealthy, GetStatus,
// GetBootLog, GetSealingKey) and the wire encoding of each request and
// response. It is the one definition both ends share: rot/attestation
// answers these messages in rotd, mgmtif sends them from bmcd.
//
// It knows nothing of SPDM sessions, TPMs or Redfish and imports only the
// standard library, so both sides may import it.
//
// Wire format of the VendorDefined payload (all integers little-endian, as
// in SPDM):
//
//	offset size field
//	0      1    protocol version (1)
//	1      1    operation; a response sets bit 7 (OpResponse)
//	2      1    status: 0 in a request; in a response 0 = success, else a Status code
//	3      1    reserved, 0
//	4      n    body, per operation (below); a failed response carries a UTF-8 reason
//
//	operation       request body   response body
//	ReportHealthy   empty          UTF-8 message
//	GetStatus       empty          JSON object DeviceStatus (at most MaxBody bytes)
//	GetBootLog      empty          the boot's TCG crypto-agile event log, raw
//	GetSealingKey   empty          SealingKeySize bytes
package rotlink

import (
	"encoding/json"
	"errors"
	"fmt"
	"unicode/utf8"
)

// Vendor identity of the messages: StandardID 4 (IANA) with the 4-byte
// little-endian enterprise number. 32473 is the documentation enterprise
// number of RFC 5612, used until ironroot registers its own.
const (
	StandardIDIANA   uint16 = 4
	EnterpriseNumber uint32 = 32473
)

// VendorID is the VendorID field of every message of this protocol.
func VendorID() []byte {
	n := EnterpriseNumber
	return []byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}
}

// IsOurs reports whether a VendorDefined (standardID, vendorID) names this
// protocol.
func IsOurs(standardID uint16, vendorID []byte) bool {
	want := VendorID()
	if standardID != StandardIDIANA || len(vendorID) != len(want) {
		return false
	}
	for i := range want {
		if vendorID[i] != want[i] {
			return false
		}
	}
	return true
}

// ProtocolVersion is the version this package encodes.
const ProtocolVersion uint8 = 1

// headerSize is the size of the message header.
const headerSize = 4

// MaxBody bounds a body: the SPDM VendorDefined payload length is a u16.
const MaxBody = 0xFFFF - headerSize

// SealingKeySize is the size of the BMC sealing key.
const SealingKeySize = 32

// Op is an operation.
type Op uint8

// Operations.
const (
	OpReportHealthy Op = 0x01
	OpGetStatus     Op = 0x02
	OpGetBootLog    Op = 0x03
	OpGetSealingKey Op = 0x04
	// OpResponse is set in the operation byte of a response.
	OpResponse Op = 0x80
)

func (o Op) String() string {
	switch o &^ OpResponse {
	case OpReportHealthy:
		return "ReportHealthy"
	case OpGetStatus:
		return "GetStatus"
	case OpGetBootLog:
		return "GetBootLog"
	case OpGetSealingKey:
		return "GetSealingKey"
	}
	return fmt.Sprintf("Op(%#02x)", uint8(o))
}

// Known reports whether o (without the response bit) is defined.
func (o Op) Known() bool {
	switch o &^ OpResponse {
	case OpReportHealthy, OpGetStatus, OpGetBootLog, OpGetSealingKey:
		return true
	}
	return false
}

// Status is the result code of a response.
type Status uint8

// Status codes.
const (
	StatusSuccess Status = 0
	// StatusUnsupported: unknown operation or protocol version.
	StatusUnsupported Status = 1
	// StatusNotInSession: the operation is only answered inside a secured session.
	StatusNotInSession Status = 2
	// StatusFailed: the device could not perform the operation (the body says why).
	StatusFailed Status = 3
	// StatusInvalid: the request was malformed.
	StatusInvalid Status = 4
)

func (s Status) String() string {
	switch s {
	case StatusSuccess:
		return "success"
	case StatusUnsupported:
		return "unsupported"
	case StatusNotInSession:
		return "not in a secured session"
	case StatusFailed:
		return "failed"
	case StatusInvalid:
		return "invalid request"
	}
	return fmt.Sprintf("status %d", uint8(s))
}

// ErrMalformed reports a payload that is not a message of this protocol.
var ErrMalformed = errors.New("rotlink: malformed control message")

// Message is one request or response.
type Message struct {
	Version uint8
	Op      Op
	Status  Status
	Body    []byte
}

// Request returns the request for op.
func Request(op Op) Message { return Message{Version: ProtocolVersion, Op: op &^ OpResponse} }

// Response returns a successful response to op with body.
func Response(op Op, body []byte) Message {
	return Message{Version: ProtocolVersion, Op: op | OpResponse, Body: body}
}

// Failure returns a failed response to op; reason becomes the body.
func Failure(op Op, st Status, reason string) Message {
	if len(reason) > 1024 {
		reason = reason[:1024]
	}
	return Message{Version: ProtocolVersion, Op: op | OpResponse, Status: st, Body: []byte(reason)}
}

// IsResponse reports whether m is a response.
func (m Message) IsResponse() bool { return m.Op&OpResponse != 0 }

// Marshal encodes m.
func (m Message) Marshal() ([]byte, error) {
	if len(m.Body) > MaxBody {
		return nil, fmt.Errorf("rotlink: %v body of %d bytes (max %d)", m.Op, len(m.Body), MaxBody)
	}
	b := make([]byte, 0, headerSize+len(m.Body))
	b = append(b, m.Version, uint8(m.Op), uint8(m.Status), 0)
	return append(b, m.Body...), nil
}

// Parse decodes a payload. It checks the header only; Err and the
// operation-specific decoders check the body.
func Parse(b []byte) (Message, error) {
	if len(b) < headerSize {
		return Message{}, fmt.Errorf("%w: %d bytes", ErrMalformed, len(b))
	}
	if len(b)-headerSize > MaxBody {
		return Message{}, fmt.Errorf("%w: body of %d bytes", ErrMalformed, len(b)-headerSize)
	}
	m := Message{Version: b[0], Op: Op(b[1]), Status: Status(b[2]), Body: append([]byte(nil), b[headerSize:]...)}
	if b[3] != 0 {
		return Message{}, fmt.Errorf("%w: reserved byte %#02x", ErrMalformed, b[3])
	}
	if !m.IsResponse() && m.Status != 0 {
		return Message{}, fmt.Errorf("%w: request with status %d", ErrMalformed, m.Status)
	}
	return m, nil
}

// ResponseError is a failed response.
type ResponseError struct {
	Op     Op
	Status Status
	Reason string
}

func (e *ResponseError) Error() string {
	if e.Reason == "" {
		return fmt.Sprintf("rotlink: %v: %v", e.Op&^OpResponse, e.Status)
	}
	return fmt.Sprintf("rotlink: %v: %v: %s", e.Op&^OpResponse, e.Status, e.Reason)
}

// Check verifies that m is a successful response to req and returns its body.
func (m Message) Check(req Op) ([]byte, error) {
	if m.Version != ProtocolVersion {
		return nil, fmt.Errorf("%w: version %d", ErrMalformed, m.Version)
	}
	if m.Op != req|OpResponse {
		return nil, fmt.Errorf("%w: %v answered with op %#02x", ErrMalformed, req, uint8(m.Op))
	}
	if m.Status != StatusSuccess {
		reason := string(m.Body)
		if !utf8.ValidString(reason) {
			reason = fmt.Sprintf("%q", reason)
		}
		return nil, &ResponseError{Op: m.Op, Status: m.Status, Reason: reason}
	}
	return m.Body, nil
}

// DeviceStatus is the body of a GetStatus response: what the root of trust
// says about the running boot.
type DeviceStatus struct {
	// State is rotd's state ("running", ...).
	State string `json:"state"`
	// BoardID is the board ID in the RoT's fuses.
	BoardID string `json:"board_id"`
	// Slot is the slot the BMC booted from.
	Slot string `json:"slot,omitempty"`
	// FirmwareVersion and SVN are those of the running firmware.
	FirmwareVersion string `json:"firmware_version,omitempty"`
	SVN             uint64 `json:"svn"`
	// SVNFloor is the floor in the RoT's NV counter.
	SVNFloor uint64 `json:"svn_floor"`
	// Trial is set while the running slot is on probation (a ReportHealthy commits it).
	Trial bool `json:"trial,omitempty"`
}

// EncodeStatus encodes a GetStatus response body.
func EncodeStatus(s DeviceStatus) ([]byte, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return nil, fmt.Errorf("rotlink: encoding status: %w", err)
	}
	return b, nil
}

// DecodeStatus decodes a GetStatus response body.
func DecodeStatus(b []byte) (DeviceStatus, error) {
	var s DeviceStatus
	if len(b) > MaxBody {
		return s, fmt.Errorf("%w: status of %d bytes", ErrMalformed, len(b))
	}
	if err := json.Unmarshal(b, &s); err != nil {
		return DeviceStatus{}, fmt.Errorf("%w: status: %v", ErrMalformed, err)
	}
	return s, nil
}

// DecodeSealingKey checks a GetSealingKey response body.
func DecodeSealingKey(b []byte) ([]byte, error) {
	if len(b) != SealingKeySize {
		return nil, fmt.Errorf("%w: sealing key of %d bytes, want %d", ErrMalformed, len(b), SealingKeySize)
	}
	return append([]byte(nil), b...), nil
}
