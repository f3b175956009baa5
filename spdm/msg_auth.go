// This file implements the authentication messages of DSP0274 1.2/1.3:
// GET_DIGESTS/DIGESTS (clause 10.6, including the 1.3 multi-key
// KeyPairID/CertificateInfo/KeyUsageMask arrays), GET_CERTIFICATE/CERTIFICATE
// (clause 10.7, portions of a certificate chain; 1.3 CertificateInfo in
// Param2) and CHALLENGE/CHALLENGE_AUTH (clause 10.8, with the 1.3
// RequesterContext).

package spdm

import (
	"encoding/binary"
	"fmt"
)

// Layout carries the negotiated sizes and options that the layout of a
// message depends on; it is not on the wire.
type Layout struct {
	HashSize      int  // BaseHashAlgo digest size
	SignatureSize int  // BaseAsymAlgo signature size
	ExchangeSize  int  // DHE ExchangeData size
	MultiKey      bool // DIGESTS carries the 1.3 multi-key arrays
	SummaryHash   bool // CHALLENGE_AUTH / KEY_EXCHANGE_RSP carry MeasurementSummaryHash
	Signed        bool // MEASUREMENTS carries a Signature
	VerifyData    bool // KEY_EXCHANGE_RSP / FINISH_RSP carry ResponderVerifyData
}

// GetDigests is the GET_DIGESTS request.
type GetDigests struct {
	Version Version
}

// Code returns RequestGetDigests.
func (GetDigests) Code() RequestCode { return RequestGetDigests }

// Marshal encodes the message.
func (m *GetDigests) Marshal() []byte { return putHeader(m.Version, uint8(RequestGetDigests), 0, 0) }

// Unmarshal decodes the message.
func (m *GetDigests) Unmarshal(b []byte) error {
	d := decoder{b: b}
	m.Version, _, _ = d.header(uint8(RequestGetDigests))
	return d.err
}

// Digests is the DIGESTS response.
type Digests struct {
	Version        Version
	SupportedSlots uint8 // Param1 (1.3 SupportedSlotMask; reserved in 1.2)
	SlotMask       uint8 // Param2: ProvisionedSlotMask
	Digests        [][]byte
	// 1.3 multi-key connection only, one entry per digest:
	KeyPairIDs   []uint8
	CertInfos    []uint8
	KeyUsageMask []uint16
}

// Code returns ResponseDigests.
func (Digests) Code() ResponseCode { return ResponseDigests }

// Marshal encodes the message.
func (m *Digests) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseDigests), m.SupportedSlots, m.SlotMask)
	for _, d := range m.Digests {
		b = append(b, d...)
	}
	if len(m.KeyPairIDs) > 0 {
		b = append(b, m.KeyPairIDs...)
		b = append(b, m.CertInfos...)
		for _, u := range m.KeyUsageMask {
			b = binary.LittleEndian.AppendUint16(b, u)
		}
	}
	return b
}

// Unmarshal decodes the message; the digest count is the population of Param2.
func (m *Digests) Unmarshal(b []byte, l Layout) error {
	d := decoder{b: b}
	m.Version, m.SupportedSlots, m.SlotMask = d.header(uint8(ResponseDigests))
	n := 0
	for i := range 8 {
		if m.SlotMask&(1<<i) != 0 {
			n++
		}
	}
	if l.HashSize <= 0 {
		return fmt.Errorf("%w: DIGESTS without a hash size", ErrMalformed)
	}
	m.Digests = nil
	for range n {
		m.Digests = append(m.Digests, d.bytes(l.HashSize))
	}
	m.KeyPairIDs, m.CertInfos, m.KeyUsageMask = nil, nil, nil
	if l.MultiKey {
		m.KeyPairIDs = d.bytes(n)
		m.CertInfos = d.bytes(n)
		for range n {
			m.KeyUsageMask = append(m.KeyUsageMask, d.u16())
		}
	}
	return d.err
}

// Cert models of CertificateInfo (DSP0274 1.3 table "CertificateInfo").
const (
	CertModelNone    uint8 = 0
	CertModelDevice  uint8 = 1
	CertModelAlias   uint8 = 2
	CertModelGeneric uint8 = 3
)

// GetCertificate is the GET_CERTIFICATE request.
type GetCertificate struct {
	Version    Version
	SlotID     uint8 // Param1 bits 3:0
	Attributes uint8 // Param2 (1.3: bit 0 SlotSizeRequested)
	Offset     uint16
	Length     uint16
}

// Code returns RequestGetCertificate.
func (GetCertificate) Code() RequestCode { return RequestGetCertificate }

// Marshal encodes the message.
func (m *GetCertificate) Marshal() []byte {
	b := putHeader(m.Version, uint8(RequestGetCertificate), m.SlotID&0xF, m.Attributes)
	b = binary.LittleEndian.AppendUint16(b, m.Offset)
	return binary.LittleEndian.AppendUint16(b, m.Length)
}

// Unmarshal decodes the message.
func (m *GetCertificate) Unmarshal(b []byte) error {
	d := decoder{b: b}
	var p1 uint8
	m.Version, p1, m.Attributes = d.header(uint8(RequestGetCertificate))
	m.SlotID = p1 & 0xF
	m.Offset = d.u16()
	m.Length = d.u16()
	return d.err
}

// Certificate is the CERTIFICATE response.
type Certificate struct {
	Version  Version
	SlotID   uint8 // Param1 bits 3:0
	CertInfo uint8 // Param2 (1.3 CertificateInfo: certificate model in bits 2:0)
	// PortionLength is len(Portion).
	RemainderLength uint16
	Portion         []byte
}

// Code returns ResponseCertificate.
func (Certificate) Code() ResponseCode { return ResponseCertificate }

// Marshal encodes the message.
func (m *Certificate) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseCertificate), m.SlotID&0xF, m.CertInfo)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.Portion)))
	b = binary.LittleEndian.AppendUint16(b, m.RemainderLength)
	return append(b, m.Portion...)
}

// Unmarshal decodes the message.
func (m *Certificate) Unmarshal(b []byte) error {
	d := decoder{b: b}
	var p1 uint8
	m.Version, p1, m.CertInfo = d.header(uint8(ResponseCertificate))
	m.SlotID = p1 & 0xF
	n := int(d.u16())
	m.RemainderLength = d.u16()
	m.Portion = d.bytes(n)
	return d.err
}

// Measurement summary hash types (CHALLENGE / KEY_EXCHANGE Param2/Param1).
const (
	SummaryNone uint8 = 0x00
	SummaryTCB  uint8 = 0x01
	SummaryAll  uint8 = 0xFF
)

// Challenge is the CHALLENGE request.
type Challenge struct {
	Version          Version
	SlotID           uint8 // Param1
	SummaryHashType  uint8 // Param2
	Nonce            [nonceSize]byte
	RequesterContext [contextSize]byte // 1.3 only
}

// Code returns RequestChallenge.
func (Challenge) Code() RequestCode { return RequestChallenge }

// Marshal encodes the message.
func (m *Challenge) Marshal() []byte {
	b := putHeader(m.Version, uint8(RequestChallenge), m.SlotID, m.SummaryHashType)
	b = append(b, m.Nonce[:]...)
	if m.Version >= Version13 {
		b = append(b, m.RequesterContext[:]...)
	}
	return b
}

// Unmarshal decodes the message.
func (m *Challenge) Unmarshal(b []byte) error {
	d := decoder{b: b}
	m.Version, m.SlotID, m.SummaryHashType = d.header(uint8(RequestChallenge))
	d.fixed(m.Nonce[:])
	if m.Version >= Version13 {
		d.fixed(m.RequesterContext[:])
	}
	return d.err
}

// ChallengeAuth is the CHALLENGE_AUTH response.
type ChallengeAuth struct {
	Version          Version
	Param1           uint8 // bits 3:0 SlotID (0xF: public key provisioned)
	SlotMask         uint8 // Param2
	CertChainHash    []byte
	Nonce            [nonceSize]byte
	SummaryHash      []byte // present when CHALLENGE asked for one
	OpaqueData       []byte // after OpaqueDataLength
	RequesterContext [contextSize]byte
	Signature        []byte
}

// Code returns ResponseChallengeAuth.
func (ChallengeAuth) Code() ResponseCode { return ResponseChallengeAuth }

// Marshal encodes the message.
func (m *ChallengeAuth) Marshal() []byte {
	b := putHeader(m.Version, uint8(ResponseChallengeAuth), m.Param1, m.SlotMask)
	b = append(b, m.CertChainHash...)
	b = append(b, m.Nonce[:]...)
	b = append(b, m.SummaryHash...)
	b = binary.LittleEndian.AppendUint16(b, uint16(len(m.OpaqueData)))
	b = append(b, m.OpaqueData...)
	if m.Version >= Version13 {
		b = append(b, m.RequesterContext[:]...)
	}
	return append(b, m.Signature...)
}

// Unmarshal decodes the message.
func (m *ChallengeAuth) Unmarshal(b []byte, l Layout) error {
	d := decoder{b: b}
	m.Version, m.Param1, m.SlotMask = d.header(uint8(ResponseChallengeAuth))
	m.CertChainHash = d.bytes(l.HashSize)
	d.fixed(m.Nonce[:])
	m.SummaryHash = nil
	if l.SummaryHash {
		m.SummaryHash = d.bytes(l.HashSize)
	}
	m.OpaqueData = readOpaque(&d)
	if m.Version >= Version13 {
		d.fixed(m.RequesterContext[:])
	}
	m.Signature = d.bytes(l.SignatureSize)
	return d.err
}

func readOpaque(d *decoder) []byte {
	n := int(d.u16())
	if d.err == nil && n > maxOpaqueSize {
		d.err = fmt.Errorf("%w: OpaqueDataLength %d", ErrMalformed, n)
		return nil
	}
	if n == 0 {
		return nil
	}
	return d.bytes(n)
}
