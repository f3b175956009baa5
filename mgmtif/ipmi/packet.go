package ipmi

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"

	ipmicrypto "github.com/bougou/go-ipmi/pkg/crypto"
)

// RMCP and IPMI session framing constants (IPMI 2.0 §13.1-13.8).
const (
	rmcpVersion      = 0x06
	rmcpSeqNoAck     = 0xFF
	rmcpClassASF     = 0x06
	rmcpClassIPMI    = 0x07
	asfIANA          = 4542
	asfPresencePing  = 0x80
	authTypeNone     = 0x00
	authTypeRMCPPlus = 0x06
	nextHeaderIPMI   = 0x07
	integrityPadByte = 0xFF
	rmcpHeaderLen    = 4
	plusHeaderLen    = 12 // auth type .. payload length
	v15HeaderMinLen  = 10 // auth type, seq, session ID, length
	maxPayloadLen    = 1024
)

// payloadType is the RMCP+ payload type (bits 5:0 of the payload type byte).
type payloadType uint8

// RMCP+ payload types (IPMI 2.0 table 13-16).
const (
	payloadIPMI         payloadType = 0x00
	payloadSOL          payloadType = 0x01
	payloadOEM          payloadType = 0x02
	payloadOpenSessReq  payloadType = 0x10
	payloadOpenSessResp payloadType = 0x11
	payloadRAKP1        payloadType = 0x12
	payloadRAKP2        payloadType = 0x13
	payloadRAKP3        payloadType = 0x14
	payloadRAKP4        payloadType = 0x15
)

const (
	flagEncrypted     = 0x80
	flagAuthenticated = 0x40
)

// errMalformed marks a datagram that is not a well-formed RMCP/IPMI packet.
var errMalformed = errors.New("malformed packet")

func malformed(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errMalformed, fmt.Sprintf(format, args...))
}

// datagram is one parsed UDP datagram, before any session processing.
type datagram struct {
	class uint8 // rmcpClassASF or rmcpClassIPMI

	// ASF presence ping.
	asfType, asfTag uint8

	// IPMI 1.5 framing (auth type != 6).
	v15         bool
	v15AuthType uint8
	v15Seq      uint32

	// IPMI session header fields (both framings).
	sessionID uint32
	seq       uint32

	// RMCP+ framing.
	payloadType   payloadType
	encrypted     bool
	authenticated bool

	// payload is the message (v1.5) or RMCP+ payload as on the wire
	// (still encrypted if encrypted is set).
	payload []byte
	// trailer is what follows the RMCP+ payload: integrity pad, pad
	// length, next header, AuthCode. Empty for unauthenticated packets.
	trailer []byte
	// raw is the whole datagram (for the integrity check).
	raw []byte
}

// parseDatagram parses the RMCP header and the IPMI session header of b.
// It checks lengths only; integrity, sequence and session state are the
// session layer's. b is untrusted.
func parseDatagram(b []byte) (datagram, error) {
	var d datagram
	if len(b) < rmcpHeaderLen+1 {
		return d, malformed("short datagram (%d bytes)", len(b))
	}
	if b[0] != rmcpVersion {
		return d, malformed("RMCP version %#x", b[0])
	}
	if b[3]&0x80 != 0 {
		return d, malformed("RMCP ACK")
	}
	d.class, d.raw = b[3]&0x1F, b
	switch d.class {
	case rmcpClassASF:
		if len(b) < 12 {
			return d, malformed("short ASF message")
		}
		if binary.BigEndian.Uint32(b[4:8]) != asfIANA {
			return d, malformed("ASF IANA %d", binary.BigEndian.Uint32(b[4:8]))
		}
		d.asfType, d.asfTag = b[8], b[9]
		return d, nil
	case rmcpClassIPMI:
	default:
		return d, malformed("RMCP class %#x", d.class)
	}
	at := b[4] & 0x0F
	if at != authTypeRMCPPlus {
		return parseV15(d, b, at)
	}
	if len(b) < rmcpHeaderLen+plusHeaderLen {
		return d, malformed("short RMCP+ header")
	}
	pt := b[5]
	d.encrypted, d.authenticated = pt&flagEncrypted != 0, pt&flagAuthenticated != 0
	d.payloadType = payloadType(pt & 0x3F)
	if d.payloadType == payloadOEM {
		return d, malformed("OEM payload")
	}
	d.sessionID = binary.LittleEndian.Uint32(b[6:10])
	d.seq = binary.LittleEndian.Uint32(b[10:14])
	n := int(binary.LittleEndian.Uint16(b[14:16]))
	if n > maxPayloadLen || rmcpHeaderLen+plusHeaderLen+n > len(b) {
		return d, malformed("payload length %d in a %d-byte datagram", n, len(b))
	}
	start := rmcpHeaderLen + plusHeaderLen
	d.payload = b[start : start+n]
	d.trailer = b[start+n:]
	if !d.authenticated && len(d.trailer) != 0 {
		return d, malformed("%d trailing bytes after an unauthenticated payload", len(d.trailer))
	}
	return d, nil
}

// parseV15 parses an IPMI 1.5 session header (auth type at).
func parseV15(d datagram, b []byte, at uint8) (datagram, error) {
	d.v15, d.v15AuthType = true, at
	if len(b) < rmcpHeaderLen+v15HeaderMinLen {
		return d, malformed("short IPMI 1.5 header")
	}
	d.v15Seq = binary.LittleEndian.Uint32(b[5:9])
	d.sessionID = binary.LittleEndian.Uint32(b[9:13])
	off := 13
	if at != authTypeNone {
		off += 16
	}
	if len(b) < off+1 {
		return d, malformed("short IPMI 1.5 header")
	}
	n := int(b[off])
	off++
	if off+n > len(b) {
		return d, malformed("IPMI 1.5 length %d in a %d-byte datagram", n, len(b))
	}
	d.payload = b[off : off+n]
	return d, nil
}

// message is an IPMI LAN request message (IPMI 2.0 §13.8 / table 13-4).
type message struct {
	rsAddr, netFn, rsLUN uint8
	rqAddr, rqSeq, rqLUN uint8
	cmd                  uint8
	data                 []byte
}

// parseMessage parses and checksums an IPMI LAN request. b is untrusted.
func parseMessage(b []byte) (message, error) {
	if len(b) < 7 {
		return message{}, malformed("short IPMI message (%d bytes)", len(b))
	}
	if checksum(b[0:2]) != b[2] {
		return message{}, malformed("bad header checksum")
	}
	if checksum(b[3:len(b)-1]) != b[len(b)-1] {
		return message{}, malformed("bad data checksum")
	}
	return message{
		rsAddr: b[0], netFn: b[1] >> 2, rsLUN: b[1] & 3,
		rqAddr: b[3], rqSeq: b[4] >> 2, rqLUN: b[4] & 3,
		cmd: b[5], data: b[6 : len(b)-1],
	}, nil
}

// response encodes the response to m with completion code cc.
func (m message) response(cc uint8, data []byte) []byte {
	out := make([]byte, 0, 8+len(data))
	out = append(out, m.rqAddr, (m.netFn|1)<<2|m.rqLUN)
	out = append(out, checksum(out[0:2]))
	out = append(out, m.rsAddr, m.rqSeq<<2|m.rsLUN, m.cmd, cc)
	out = append(out, data...)
	return append(out, checksum(out[3:]))
}

// checksum is the IPMI 2's-complement checksum.
func checksum(b []byte) uint8 {
	var s uint8
	for _, c := range b {
		s += c
	}
	return -s
}

// encodeV15 frames msg as an unauthenticated IPMI 1.5 packet (pre-session
// replies to Get Channel Authentication Capabilities).
func encodeV15(msg []byte) []byte {
	out := make([]byte, 0, rmcpHeaderLen+v15HeaderMinLen+len(msg))
	out = append(out, rmcpVersion, 0, rmcpSeqNoAck, rmcpClassIPMI, authTypeNone)
	out = append(out, 0, 0, 0, 0, 0, 0, 0, 0, byte(len(msg)))
	return append(out, msg...)
}

// encodePlain frames payload as an unauthenticated RMCP+ packet.
func encodePlain(pt payloadType, sessionID uint32, payload []byte) []byte {
	out := make([]byte, rmcpHeaderLen+plusHeaderLen, rmcpHeaderLen+plusHeaderLen+len(payload))
	copy(out, []byte{rmcpVersion, 0, rmcpSeqNoAck, rmcpClassIPMI, authTypeRMCPPlus, byte(pt)})
	binary.LittleEndian.PutUint32(out[6:10], sessionID)
	binary.LittleEndian.PutUint16(out[14:16], uint16(len(payload)))
	return append(out, payload...)
}

// encodeASFPong answers an ASF presence ping (DSP0136 3.2.4.3): IPMI
// supported, no other interactions.
func encodeASFPong(tag uint8) []byte {
	out := make([]byte, 28)
	copy(out, []byte{rmcpVersion, 0, rmcpSeqNoAck, rmcpClassASF})
	binary.BigEndian.PutUint32(out[4:8], asfIANA)
	out[8], out[9], out[11] = 0x40, tag, 16
	binary.BigEndian.PutUint32(out[12:16], asfIANA)
	out[20] = 0x81 // supported entities: IPMI, ASF 1.0
	return out
}

// keys are a session's integrity and confidentiality keys.
type keys struct {
	suite CipherSuite
	k1    []byte // integrity key
	k2    []byte // confidentiality key (AES uses k2[:16])
}

func (k keys) mac() hash.Hash {
	if k.suite == Suite3 {
		return hmac.New(sha1.New, k.k1)
	}
	return hmac.New(sha256.New, k.k1)
}

// authCodeLen is the integrity AuthCode length: HMAC-SHA256-128 16,
// HMAC-SHA1-96 12.
func (k keys) authCodeLen() int {
	if k.suite == Suite3 {
		return 12
	}
	return 16
}

// verify checks the integrity trailer of an authenticated in-session
// datagram and returns the decrypted payload.
func (k keys) open(d datagram) ([]byte, error) {
	if !d.authenticated || !d.encrypted {
		return nil, malformed("in-session payload not authenticated and encrypted")
	}
	n := k.authCodeLen()
	tr := d.trailer
	if len(tr) < n+2 {
		return nil, malformed("short integrity trailer")
	}
	pad := int(tr[len(tr)-n-2])
	if tr[len(tr)-n-1] != nextHeaderIPMI || len(tr) != pad+2+n {
		return nil, malformed("bad integrity trailer")
	}
	m := k.mac()
	m.Write(d.raw[rmcpHeaderLen : len(d.raw)-n])
	if !hmac.Equal(m.Sum(nil)[:n], tr[len(tr)-n:]) {
		return nil, malformed("integrity check failed")
	}
	p := d.payload
	if len(p) < 32 || len(p)%16 != 0 {
		return nil, malformed("encrypted payload of %d bytes", len(p))
	}
	plain, err := ipmicrypto.DecryptAESPayload(p, k.k2)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errMalformed, err)
	}
	return plain, nil
}

// seal frames payload as an encrypted, authenticated RMCP+ packet to the
// console's session consoleID with sequence number seq.
func (k keys) seal(pt payloadType, consoleID, seq uint32, payload []byte) ([]byte, error) {
	var iv [16]byte
	if _, err := rand.Read(iv[:]); err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	enc, err := ipmicrypto.EncryptAESPayload(payload, k.k2, iv[:])
	if err != nil {
		return nil, fmt.Errorf("seal: %w", err)
	}
	n := k.authCodeLen()
	out := make([]byte, rmcpHeaderLen+plusHeaderLen, rmcpHeaderLen+plusHeaderLen+len(enc)+6+n)
	copy(out, []byte{rmcpVersion, 0, rmcpSeqNoAck, rmcpClassIPMI, authTypeRMCPPlus, byte(pt) | flagEncrypted | flagAuthenticated})
	binary.LittleEndian.PutUint32(out[6:10], consoleID)
	binary.LittleEndian.PutUint32(out[10:14], seq)
	binary.LittleEndian.PutUint16(out[14:16], uint16(len(enc)))
	out = append(out, enc...)
	pad := (4 - (len(out)-rmcpHeaderLen+2)%4) % 4
	for range pad {
		out = append(out, integrityPadByte)
	}
	out = append(out, byte(pad), nextHeaderIPMI)
	m := k.mac()
	m.Write(out[rmcpHeaderLen:])
	return append(out, m.Sum(nil)[:n]...), nil
}
