// This file implements secured messages of DSP0277 1.2 (Secured Messages
// using SPDM) as bound to MCTP by DSP0276: clause "Secured message format"
// (SessionID, transport-specific SequenceNumber, Length, encrypted
// ApplicationDataLength || application data || random data, MAC), clause
// "Per-message nonce derivation" (64-bit sequence number per direction and
// key, XORed into the IV), and the AEAD cipher suites selected in
// ALGORITHMS (DSP0274 clause 10.4, AEADCipherSuite: AES-128-GCM,
// AES-256-GCM, ChaCha20-Poly1305) for an encrypt-and-MAC session.
//
// Nonce layout: DSP0277 1.2 defines the sequence number as little-endian
// and zero-extended towards the higher indices, so it is XORed into
// iv[0:8]. DSP0277 1.0 did not say and 1.1 was ambiguous; libspdm uses the
// little-endian layout for those too unless its integrator configures
// big-endian (TLS 1.3 style: XORed into the last 8 bytes of the IV), which
// securedDirection.seqBigEndian selects.

package spdm

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"golang.org/x/crypto/chacha20poly1305"
)

const (
	// mctpSeqNumSize is the size of the SequenceNumber field of a secured
	// message on MCTP (DSP0276).
	mctpSeqNumSize = 2
	// mctpMaxRandomPadding is the largest random padding libspdm's MCTP
	// binding adds (1..32 bytes).
	mctpMaxRandomPadding = 32
	securedTagSize       = 16 // all supported AEADs have a 16-byte tag
	securedAppLenSize    = 2  // ApplicationDataLength
)

// Errors of secured message processing. open returns exactly one of these
// (wrapped) for each way a record can be refused, so a caller can tell a
// stray record (wrong session) from an attack (bad MAC, replay).
var (
	errSecuredSessionID = errors.New("spdm: secured message for another session")
	errSecuredSequence  = errors.New("spdm: secured message has an unexpected sequence number")
	errSecuredLength    = errors.New("spdm: secured message has a bad length")
	errSecuredAuth      = errors.New("spdm: secured message fails authentication")
	errSecuredExhausted = errors.New("spdm: sequence number space exhausted; update keys")
	errSecuredSetup     = errors.New("spdm: bad secured message parameters")
)

// newSessionAEAD returns the AEAD for a single selected AEADCipherSuite.
func newSessionAEAD(suite AEADSuite, key []byte) (cipher.AEAD, error) {
	if want := suite.KeySize(); want == 0 || len(key) != want {
		return nil, fmt.Errorf("%w: suite %#04x with a %d-byte key", errSecuredSetup, uint16(suite), len(key))
	}
	switch suite {
	case AEADAES128GCM, AEADAES256GCM:
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSecuredSetup, err)
		}
		a, err := cipher.NewGCM(block)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSecuredSetup, err)
		}
		return a, nil
	case AEADChaCha20Poly1305:
		a, err := chacha20poly1305.New(key)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", errSecuredSetup, err)
		}
		return a, nil
	}
	return nil, fmt.Errorf("%w: unsupported AEAD suite %#04x", errSecuredSetup, uint16(suite))
}

// aeadIVSize is the IV (nonce) size of every supported AEAD suite.
const aeadIVSize = 12

// securedDirection seals or opens the secured messages of one direction of
// one session under one set of keys. Each side of a session holds two: one
// for the records it sends (seal) and one for those it receives (open).
// Sequence numbers start at 0 and advance by one for every record sealed,
// or successfully opened; a record that fails to open does not advance it.
// A securedDirection is not safe for concurrent use.
type securedDirection struct {
	aead       cipher.AEAD
	iv         []byte
	sessionID  uint32
	seqNumSize int    // bytes of the sequence number on the wire (2 on MCTP)
	seq        uint64 // next sequence number
	padding    io.Reader
	// maxPadding bounds the random padding: each sealed record carries
	// 1..maxPadding bytes of it (0 = no padding).
	maxPadding int
	// seqBigEndian selects the big-endian (TLS 1.3 style) nonce layout,
	// sequence number XORed into the last 8 bytes of the IV, that some
	// DSP0277 1.0/1.1 peers use. The default is the little-endian layout in
	// iv[0:8] that DSP0277 1.2 mandates and libspdm uses for every version.
	seqBigEndian bool
}

// newSecuredDirection returns the record layer of one direction. suite is
// the negotiated AEADCipherSuite (one bit), keys.key and keys.iv its key and
// IV from the key schedule, sessionID the session ID as it appears in
// records (ReqSessionID in the low 16 bits, RspSessionID in the high 16
// bits, as the u32 little-endian field), seqNumSize the transport's sequence
// number size (mctpSeqNumSize, 0..8). padding supplies the random padding
// (nil: crypto/rand); the first byte read chooses the length, 1..32.
func newSecuredDirection(suite AEADSuite, keys directionKeys, sessionID uint32, seqNumSize int, padding io.Reader) (*securedDirection, error) {
	a, err := newSessionAEAD(suite, keys.key)
	if err != nil {
		return nil, err
	}
	if len(keys.iv) != aeadIVSize || a.NonceSize() != aeadIVSize {
		return nil, fmt.Errorf("%w: %d-byte IV, want %d", errSecuredSetup, len(keys.iv), aeadIVSize)
	}
	if a.Overhead() != securedTagSize {
		return nil, fmt.Errorf("%w: %d-byte MAC", errSecuredSetup, a.Overhead())
	}
	if seqNumSize < 0 || seqNumSize > 8 {
		return nil, fmt.Errorf("%w: sequence number size %d", errSecuredSetup, seqNumSize)
	}
	if padding == nil {
		padding = rand.Reader
	}
	return &securedDirection{
		aead:       a,
		iv:         append([]byte(nil), keys.iv...),
		sessionID:  sessionID,
		seqNumSize: seqNumSize,
		padding:    padding,
		maxPadding: mctpMaxRandomPadding,
	}, nil
}

// headerSize is SessionID + SequenceNumber + Length.
func (d *securedDirection) headerSize() int { return 4 + d.seqNumSize + 2 }

// nonce returns the per-message nonce for sequence number seq.
func (d *securedDirection) nonce(seq uint64) []byte {
	n := append([]byte(nil), d.iv...)
	var s [8]byte
	if d.seqBigEndian {
		binary.BigEndian.PutUint64(s[:], seq)
		tail := n[len(n)-8:]
		for i := range s {
			tail[i] ^= s[i]
		}
		return n
	}
	binary.LittleEndian.PutUint64(s[:], seq)
	for i := range s {
		n[i] ^= s[i]
	}
	return n
}

// putHeader appends the record header (the AEAD's associated data).
func (d *securedDirection) putHeader(b []byte, seq uint64, length int) []byte {
	b = binary.LittleEndian.AppendUint32(b, d.sessionID)
	var s [8]byte
	binary.LittleEndian.PutUint64(s[:], seq)
	b = append(b, s[:d.seqNumSize]...)
	return binary.LittleEndian.AppendUint16(b, uint16(length))
}

// seal encrypts one application message (for MCTP: the 0x05 message type
// byte followed by the SPDM message) into a record: SessionID | SequenceNumber
// | Length | ciphertext | MAC, without the transport's 0x06 type byte.
func (d *securedDirection) seal(appData []byte) ([]byte, error) {
	if d.seq == math.MaxUint64 {
		return nil, errSecuredExhausted
	}
	padLen := 0
	if d.maxPadding > 0 {
		var b [1]byte
		if _, err := io.ReadFull(d.padding, b[:]); err != nil {
			return nil, fmt.Errorf("secured message padding: %w", err)
		}
		padLen = int(b[0])%d.maxPadding + 1
	}
	ptLen := securedAppLenSize + len(appData) + padLen
	recLen := ptLen + d.aead.Overhead()
	if len(appData) > math.MaxUint16 || recLen > math.MaxUint16 {
		return nil, fmt.Errorf("%w: %d bytes of application data", errSecuredLength, len(appData))
	}
	pt := make([]byte, 0, ptLen)
	pt = binary.LittleEndian.AppendUint16(pt, uint16(len(appData)))
	pt = append(pt, appData...)
	pt = pt[:ptLen]
	if _, err := io.ReadFull(d.padding, pt[securedAppLenSize+len(appData):]); err != nil {
		return nil, fmt.Errorf("secured message padding: %w", err)
	}
	out := make([]byte, 0, d.headerSize()+recLen)
	out = d.putHeader(out, d.seq, recLen)
	out = d.aead.Seal(out, d.nonce(d.seq), pt, out)
	d.seq++
	return out, nil
}

// open authenticates and decrypts one record (without the transport's 0x06
// type byte) and returns its application data. Bytes after the Length the
// record declares are ignored, as transports may pad. It refuses a record
// for another session (errSecuredSessionID), one whose sequence number is
// not the next expected one, such as a replay (errSecuredSequence), one with
// inconsistent lengths (errSecuredLength) and one that fails the AEAD check
// (errSecuredAuth).
func (d *securedDirection) open(record []byte) ([]byte, error) {
	hs := d.headerSize()
	if len(record) < hs {
		return nil, fmt.Errorf("%w: %d-byte record", errSecuredLength, len(record))
	}
	if id := binary.LittleEndian.Uint32(record); id != d.sessionID {
		return nil, fmt.Errorf("%w: %#08x, want %#08x", errSecuredSessionID, id, d.sessionID)
	}
	if d.seq == math.MaxUint64 {
		return nil, errSecuredExhausted
	}
	var want [8]byte
	binary.LittleEndian.PutUint64(want[:], d.seq)
	if got := record[4 : 4+d.seqNumSize]; string(got) != string(want[:d.seqNumSize]) {
		return nil, fmt.Errorf("%w: %x, want %x", errSecuredSequence, got, want[:d.seqNumSize])
	}
	length := int(binary.LittleEndian.Uint16(record[hs-2:]))
	if length > len(record)-hs || length < securedAppLenSize+d.aead.Overhead() {
		return nil, fmt.Errorf("%w: Length %d in a %d-byte record", errSecuredLength, length, len(record))
	}
	header := record[:hs]
	pt, err := d.aead.Open(nil, d.nonce(d.seq), record[hs:hs+length], header)
	if err != nil {
		return nil, fmt.Errorf("%w: sequence number %d", errSecuredAuth, d.seq)
	}
	appLen := int(binary.LittleEndian.Uint16(pt))
	if appLen > len(pt)-securedAppLenSize {
		return nil, fmt.Errorf("%w: ApplicationDataLength %d in %d bytes", errSecuredLength, appLen, len(pt)-securedAppLenSize)
	}
	d.seq++
	return pt[securedAppLenSize : securedAppLenSize+appLen], nil
}

// rekey replaces the keys after a KEY_UPDATE and restarts the sequence
// number at 0 (DSP0277: each new major secret starts a new sequence).
func (d *securedDirection) rekey(suite AEADSuite, keys directionKeys) error {
	a, err := newSessionAEAD(suite, keys.key)
	if err != nil {
		return err
	}
	if len(keys.iv) != aeadIVSize || a.NonceSize() != aeadIVSize {
		return fmt.Errorf("%w: %d-byte IV, want %d", errSecuredSetup, len(keys.iv), aeadIVSize)
	}
	d.aead, d.iv, d.seq = a, append([]byte(nil), keys.iv...), 0
	return nil
}
