// This file lists the request and response codes (DSP0274 1.2/1.3 clause 10.1,
// table "SPDM request codes" / "SPDM response codes"), the ERROR codes of
// clause 10.12 (table "Error code and error data") and the capability flags of
// clause 10.3 (GET_CAPABILITIES / CAPABILITIES flag fields).

package spdm

import "fmt"

// RequestCode is the RequestResponseCode of a request message.
type RequestCode uint8

// Request codes.
const (
	RequestGetDigests          RequestCode = 0x81
	RequestGetCertificate      RequestCode = 0x82
	RequestChallenge           RequestCode = 0x83
	RequestGetVersion          RequestCode = 0x84
	RequestChunkSend           RequestCode = 0x85
	RequestChunkGet            RequestCode = 0x86
	RequestGetMeasurements     RequestCode = 0xE0
	RequestGetCapabilities     RequestCode = 0xE1
	RequestNegotiateAlgorithms RequestCode = 0xE3
	RequestKeyExchange         RequestCode = 0xE4
	RequestFinish              RequestCode = 0xE5
	RequestPSKExchange         RequestCode = 0xE6
	RequestPSKFinish           RequestCode = 0xE7
	RequestHeartbeat           RequestCode = 0xE8
	RequestKeyUpdate           RequestCode = 0xE9
	RequestGetEncapsulated     RequestCode = 0xEA
	RequestDeliverEncapsulated RequestCode = 0xEB
	RequestEndSession          RequestCode = 0xEC
	RequestGetCSR              RequestCode = 0xED
	RequestSetCertificate      RequestCode = 0xEE
	RequestVendorDefined       RequestCode = 0xFE
	RequestRespondIfReady      RequestCode = 0xFF
)

var requestNames = map[RequestCode]string{
	RequestGetDigests: "GET_DIGESTS", RequestGetCertificate: "GET_CERTIFICATE",
	RequestChallenge: "CHALLENGE", RequestGetVersion: "GET_VERSION",
	RequestChunkSend: "CHUNK_SEND", RequestChunkGet: "CHUNK_GET",
	RequestGetMeasurements: "GET_MEASUREMENTS", RequestGetCapabilities: "GET_CAPABILITIES",
	RequestNegotiateAlgorithms: "NEGOTIATE_ALGORITHMS", RequestKeyExchange: "KEY_EXCHANGE",
	RequestFinish: "FINISH", RequestPSKExchange: "PSK_EXCHANGE", RequestPSKFinish: "PSK_FINISH",
	RequestHeartbeat: "HEARTBEAT", RequestKeyUpdate: "KEY_UPDATE",
	RequestGetEncapsulated: "GET_ENCAPSULATED_REQUEST", RequestDeliverEncapsulated: "DELIVER_ENCAPSULATED_RESPONSE",
	RequestEndSession: "END_SESSION", RequestGetCSR: "GET_CSR", RequestSetCertificate: "SET_CERTIFICATE",
	RequestVendorDefined: "VENDOR_DEFINED_REQUEST", RequestRespondIfReady: "RESPOND_IF_READY",
}

func (c RequestCode) String() string {
	if n, ok := requestNames[c]; ok {
		return n
	}
	return fmt.Sprintf("request(0x%02x)", uint8(c))
}

// ResponseCode is the RequestResponseCode of a response message.
type ResponseCode uint8

// Response codes.
const (
	ResponseDigests             ResponseCode = 0x01
	ResponseCertificate         ResponseCode = 0x02
	ResponseChallengeAuth       ResponseCode = 0x03
	ResponseVersion             ResponseCode = 0x04
	ResponseChunkSendAck        ResponseCode = 0x05
	ResponseChunkResponse       ResponseCode = 0x06
	ResponseMeasurements        ResponseCode = 0x60
	ResponseCapabilities        ResponseCode = 0x61
	ResponseAlgorithms          ResponseCode = 0x63
	ResponseKeyExchangeRsp      ResponseCode = 0x64
	ResponseFinishRsp           ResponseCode = 0x65
	ResponsePSKExchangeRsp      ResponseCode = 0x66
	ResponsePSKFinishRsp        ResponseCode = 0x67
	ResponseHeartbeatAck        ResponseCode = 0x68
	ResponseKeyUpdateAck        ResponseCode = 0x69
	ResponseEncapsulatedRequest ResponseCode = 0x6A
	ResponseEncapsulatedRespAck ResponseCode = 0x6B
	ResponseEndSessionAck       ResponseCode = 0x6C
	ResponseCSR                 ResponseCode = 0x6D
	ResponseSetCertificateRsp   ResponseCode = 0x6E
	ResponseVendorDefined       ResponseCode = 0x7E
	ResponseError               ResponseCode = 0x7F
)

var responseNames = map[ResponseCode]string{
	ResponseDigests: "DIGESTS", ResponseCertificate: "CERTIFICATE", ResponseChallengeAuth: "CHALLENGE_AUTH",
	ResponseVersion: "VERSION", ResponseChunkSendAck: "CHUNK_SEND_ACK", ResponseChunkResponse: "CHUNK_RESPONSE",
	ResponseMeasurements: "MEASUREMENTS", ResponseCapabilities: "CAPABILITIES", ResponseAlgorithms: "ALGORITHMS",
	ResponseKeyExchangeRsp: "KEY_EXCHANGE_RSP", ResponseFinishRsp: "FINISH_RSP",
	ResponsePSKExchangeRsp: "PSK_EXCHANGE_RSP", ResponsePSKFinishRsp: "PSK_FINISH_RSP",
	ResponseHeartbeatAck: "HEARTBEAT_ACK", ResponseKeyUpdateAck: "KEY_UPDATE_ACK",
	ResponseEncapsulatedRequest: "ENCAPSULATED_REQUEST", ResponseEncapsulatedRespAck: "ENCAPSULATED_RESPONSE_ACK",
	ResponseEndSessionAck: "END_SESSION_ACK", ResponseCSR: "CSR", ResponseSetCertificateRsp: "SET_CERTIFICATE_RSP",
	ResponseVendorDefined: "VENDOR_DEFINED_RESPONSE", ResponseError: "ERROR",
}

func (c ResponseCode) String() string {
	if n, ok := responseNames[c]; ok {
		return n
	}
	return fmt.Sprintf("response(0x%02x)", uint8(c))
}

// ErrorCode is Param1 of an ERROR response.
type ErrorCode uint8

// Error codes (DSP0274 1.3 table "Error code and error data").
const (
	ErrInvalidRequest       ErrorCode = 0x01
	ErrBusy                 ErrorCode = 0x03
	ErrUnexpectedRequest    ErrorCode = 0x04
	ErrUnspecified          ErrorCode = 0x05
	ErrDecryptError         ErrorCode = 0x06
	ErrUnsupportedRequest   ErrorCode = 0x07
	ErrRequestInFlight      ErrorCode = 0x08
	ErrInvalidResponseCode  ErrorCode = 0x09
	ErrSessionLimitExceeded ErrorCode = 0x0A
	ErrSessionRequired      ErrorCode = 0x0B
	ErrResetRequired        ErrorCode = 0x0C
	ErrResponseTooLarge     ErrorCode = 0x0D
	ErrRequestTooLarge      ErrorCode = 0x0E
	ErrLargeResponse        ErrorCode = 0x0F
	ErrMessageLost          ErrorCode = 0x10
	ErrInvalidPolicy        ErrorCode = 0x11
	ErrVersionMismatch      ErrorCode = 0x41
	ErrResponseNotReady     ErrorCode = 0x42
	ErrRequestResynch       ErrorCode = 0x43
	ErrOperationFailed      ErrorCode = 0x44
	ErrNoPendingRequests    ErrorCode = 0x45
	ErrVendorDefined        ErrorCode = 0xFF
)

var errorNames = map[ErrorCode]string{
	ErrInvalidRequest: "InvalidRequest", ErrBusy: "Busy", ErrUnexpectedRequest: "UnexpectedRequest",
	ErrUnspecified: "Unspecified", ErrDecryptError: "DecryptError", ErrUnsupportedRequest: "UnsupportedRequest",
	ErrRequestInFlight: "RequestInFlight", ErrInvalidResponseCode: "InvalidResponseCode",
	ErrSessionLimitExceeded: "SessionLimitExceeded", ErrSessionRequired: "SessionRequired",
	ErrResetRequired: "ResetRequired", ErrResponseTooLarge: "ResponseTooLarge", ErrRequestTooLarge: "RequestTooLarge",
	ErrLargeResponse: "LargeResponse", ErrMessageLost: "MessageLost", ErrInvalidPolicy: "InvalidPolicy",
	ErrVersionMismatch: "VersionMismatch", ErrResponseNotReady: "ResponseNotReady",
	ErrRequestResynch: "RequestResynch", ErrOperationFailed: "OperationFailed",
	ErrNoPendingRequests: "NoPendingRequests", ErrVendorDefined: "VendorDefined",
}

func (c ErrorCode) String() string {
	if n, ok := errorNames[c]; ok {
		return n
	}
	return fmt.Sprintf("error(0x%02x)", uint8(c))
}

// CapabilityFlags is the Flags field of GET_CAPABILITIES and CAPABILITIES.
// Requester and responder share the bit positions; some bits are defined for
// one side only.
type CapabilityFlags uint32

// Capability flag bits.
const (
	CapCache               CapabilityFlags = 1 << 0 // responder only
	CapCert                CapabilityFlags = 1 << 1
	CapChal                CapabilityFlags = 1 << 2
	CapMeasNoSig           CapabilityFlags = 1 << 3 // responder: MEAS_CAP = 01b
	CapMeasSig             CapabilityFlags = 1 << 4 // responder: MEAS_CAP = 10b
	CapMeasMask            CapabilityFlags = 3 << 3
	CapMeasFresh           CapabilityFlags = 1 << 5
	CapEncrypt             CapabilityFlags = 1 << 6
	CapMAC                 CapabilityFlags = 1 << 7
	CapMutAuth             CapabilityFlags = 1 << 8
	CapKeyEx               CapabilityFlags = 1 << 9
	CapPSK                 CapabilityFlags = 1 << 10
	CapPSKWithContext      CapabilityFlags = 1 << 11
	CapEncap               CapabilityFlags = 1 << 12
	CapHeartbeat           CapabilityFlags = 1 << 13
	CapKeyUpdate           CapabilityFlags = 1 << 14
	CapHandshakeInTheClear CapabilityFlags = 1 << 15
	CapPubKeyID            CapabilityFlags = 1 << 16
	CapChunk               CapabilityFlags = 1 << 17
	CapAliasCert           CapabilityFlags = 1 << 18
	CapSetCert             CapabilityFlags = 1 << 19
	CapCSR                 CapabilityFlags = 1 << 20
	CapCertInstallReset    CapabilityFlags = 1 << 21
	CapEPInfoNoSig         CapabilityFlags = 1 << 22
	CapEPInfoSig           CapabilityFlags = 1 << 23
	CapMEL                 CapabilityFlags = 1 << 24
	CapEvent               CapabilityFlags = 1 << 25
	CapMultiKeyOnly        CapabilityFlags = 1 << 26 // MULTI_KEY_CAP = 01b
	CapMultiKeyNeg         CapabilityFlags = 1 << 27 // MULTI_KEY_CAP = 10b
	CapGetKeyPairInfo      CapabilityFlags = 1 << 28
	CapSetKeyPairInfo      CapabilityFlags = 1 << 29
)

// Has reports whether all bits of f are set.
func (c CapabilityFlags) Has(f CapabilityFlags) bool { return c&f == f }
