// Package measure owns what rotd records about a boot: the crypto-agile TCG
// event log (TCG PC Client Platform Firmware Profile, "crypto agile" format:
// a TCG_PCClientPCREvent carrying the Spec ID Event03 header, then
// TCG_PCR_EVENT2 records with one digest per allocated PCR bank), its
// decoder and replay, and the DMTF measurement blocks that the SPDM
// responder reports (DSP0274 measurement record, the layout fixed in
// ARCHITECTURE.md).
//
// It does not talk to the TPM and does not read firmware: callers hand it
// the digests they extended.
package measure

import (
	"bytes"
	"crypto"
	"encoding/binary"
	"errors"
	"fmt"

	// Hash implementations for crypto.Hash.New.
	_ "crypto/sha1"
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// EventType is a TCG PC Client event type.
type EventType uint32

// Event types (TCG PC Client PFP, "Event Types") rotd uses.
const (
	EvPostCode      EventType = 0x00000001
	EvNoAction      EventType = 0x00000003
	EvSeparator     EventType = 0x00000004
	EvSCRTMVersion  EventType = 0x00000008
	EvNonhostCode   EventType = 0x0000000F // executable code of a non-host component (BMC firmware)
	EvNonhostConfig EventType = 0x00000010 // configuration of a non-host component
	EvNonhostInfo   EventType = 0x00000011 // information about a non-host component
	specIDSignature           = "Spec ID Event03\x00"
)

// TPM algorithm IDs of the digests in the log (TPM 2.0 Part 2, TPM_ALG_ID).
const (
	AlgSHA1   uint16 = 0x0004
	AlgSHA256 uint16 = 0x000B
	AlgSHA384 uint16 = 0x000C
	AlgSHA512 uint16 = 0x000D
)

// Decoder bounds.
const (
	MaxEvents    = 1 << 14
	MaxEventData = 1 << 20
	maxAlgs      = 8
)

// ErrMalformed wraps every decoding failure.
var ErrMalformed = errors.New("malformed event log")

var algHashes = []struct {
	id   uint16
	hash crypto.Hash
}{{AlgSHA1, crypto.SHA1}, {AlgSHA256, crypto.SHA256}, {AlgSHA384, crypto.SHA384}, {AlgSHA512, crypto.SHA512}}

// AlgID returns the TPM algorithm ID of a hash.
func AlgID(h crypto.Hash) (uint16, bool) {
	for _, a := range algHashes {
		if a.hash == h {
			return a.id, true
		}
	}
	return 0, false
}

func hashOf(id uint16) (crypto.Hash, bool) {
	for _, a := range algHashes {
		if a.id == id {
			return a.hash, true
		}
	}
	return 0, false
}

// Event is one TCG_PCR_EVENT2 record.
type Event struct {
	PCR  uint32
	Type EventType
	// Digests holds one digest per bank of the log, in the log's order.
	Digests []Digest
	Data    []byte
}

// Digest is one TPMT_HA.
type Digest struct {
	Hash   crypto.Hash
	Digest []byte
}

// Log is a crypto-agile event log.
type Log struct {
	// Banks are the algorithms of the Spec ID event, in order.
	Banks  []crypto.Hash
	Events []Event
}

// NewLog starts a log for the given PCR banks.
func NewLog(banks []crypto.Hash) (*Log, error) {
	if len(banks) == 0 || len(banks) > maxAlgs {
		return nil, fmt.Errorf("event log: %d banks", len(banks))
	}
	for _, b := range banks {
		if _, ok := AlgID(b); !ok {
			return nil, fmt.Errorf("event log: no TPM algorithm for %v", b)
		}
	}
	return &Log{Banks: append([]crypto.Hash(nil), banks...)}, nil
}

// Digests returns the digest of data in every bank of the log.
func (l *Log) Digests(data []byte) map[crypto.Hash][]byte {
	out := make(map[crypto.Hash][]byte, len(l.Banks))
	for _, b := range l.Banks {
		h := b.New()
		h.Write(data)
		out[b] = h.Sum(nil)
	}
	return out
}

// Append records an event whose digests (one per bank) the caller has
// extended into the TPM. It refuses a set of digests that does not match
// the banks.
func (l *Log) Append(pcr uint32, typ EventType, digests map[crypto.Hash][]byte, data []byte) error {
	if len(digests) != len(l.Banks) {
		return fmt.Errorf("event log: %d digests for %d banks", len(digests), len(l.Banks))
	}
	e := Event{PCR: pcr, Type: typ, Data: bytes.Clone(data)}
	for _, b := range l.Banks {
		d, ok := digests[b]
		if !ok || len(d) != b.Size() {
			return fmt.Errorf("event log: no %v digest", b)
		}
		e.Digests = append(e.Digests, Digest{Hash: b, Digest: bytes.Clone(d)})
	}
	l.Events = append(l.Events, e)
	return nil
}

// specIDEvent encodes TCG_EfiSpecIDEventStruct.
func (l *Log) specIDEvent() []byte {
	b := []byte(specIDSignature)
	b = binary.LittleEndian.AppendUint32(b, 0) // platformClass: client
	b = append(b, 0, 2, 0, 2)                  // specVersionMinor, Major, errata, uintnSize (UINT64)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(l.Banks)))
	for _, h := range l.Banks {
		id, _ := AlgID(h)
		b = binary.LittleEndian.AppendUint16(b, id)
		b = binary.LittleEndian.AppendUint16(b, uint16(h.Size()))
	}
	return append(b, 0) // vendorInfoSize
}

// MarshalBinary encodes the log: the Spec ID event in the SHA-1 format,
// then every event as TCG_PCR_EVENT2. All integers are little-endian.
func (l *Log) MarshalBinary() ([]byte, error) {
	spec := l.specIDEvent()
	b := binary.LittleEndian.AppendUint32(nil, 0) // PCRIndex
	b = binary.LittleEndian.AppendUint32(b, uint32(EvNoAction))
	b = append(b, make([]byte, 20)...)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(spec)))
	b = append(b, spec...)
	for _, e := range l.Events {
		b = binary.LittleEndian.AppendUint32(b, e.PCR)
		b = binary.LittleEndian.AppendUint32(b, uint32(e.Type))
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Digests)))
		for _, d := range e.Digests {
			id, ok := AlgID(d.Hash)
			if !ok {
				return nil, fmt.Errorf("encoding event log: no TPM algorithm for %v", d.Hash)
			}
			b = binary.LittleEndian.AppendUint16(b, id)
			b = append(b, d.Digest...)
		}
		b = binary.LittleEndian.AppendUint32(b, uint32(len(e.Data)))
		b = append(b, e.Data...)
	}
	return b, nil
}

// reader is a bounds-checked little-endian cursor.
type reader struct {
	b   []byte
	err error
}

func (r *reader) take(n int) []byte {
	if r.err != nil {
		return nil
	}
	if n < 0 || n > len(r.b) {
		r.err = fmt.Errorf("%w: truncated", ErrMalformed)
		return nil
	}
	out := r.b[:n]
	r.b = r.b[n:]
	return out
}

func (r *reader) u8() uint8 {
	b := r.take(1)
	if b == nil {
		return 0
	}
	return b[0]
}

func (r *reader) u16() uint16 {
	b := r.take(2)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint16(b)
}

func (r *reader) u32() uint32 {
	b := r.take(4)
	if b == nil {
		return 0
	}
	return binary.LittleEndian.Uint32(b)
}

// Parse decodes a crypto-agile event log. It insists on the Spec ID event
// first and on every later event carrying exactly one digest per bank of
// the Spec ID event, in that order.
func Parse(b []byte) (*Log, error) {
	r := &reader{b: b}
	if pcr, typ := r.u32(), r.u32(); r.err == nil && (pcr != 0 || EventType(typ) != EvNoAction) {
		return nil, fmt.Errorf("%w: first event is not the Spec ID event", ErrMalformed)
	}
	r.take(20)
	spec := r.take(int(r.u32()))
	if r.err != nil {
		return nil, r.err
	}
	l, err := parseSpecID(spec)
	if err != nil {
		return nil, err
	}
	for len(r.b) > 0 {
		if len(l.Events) >= MaxEvents {
			return nil, fmt.Errorf("%w: more than %d events", ErrMalformed, MaxEvents)
		}
		e := Event{PCR: r.u32(), Type: EventType(r.u32())}
		if n := r.u32(); r.err == nil && int(n) != len(l.Banks) {
			return nil, fmt.Errorf("%w: event %d has %d digests for %d banks", ErrMalformed, len(l.Events), n, len(l.Banks))
		}
		for _, bank := range l.Banks {
			id := r.u16()
			if h, ok := hashOf(id); r.err == nil && (!ok || h != bank) {
				return nil, fmt.Errorf("%w: event %d: digest algorithm %#x, want %v", ErrMalformed, len(l.Events), id, bank)
			}
			e.Digests = append(e.Digests, Digest{Hash: bank, Digest: bytes.Clone(r.take(bank.Size()))})
		}
		n := r.u32()
		if n > MaxEventData {
			return nil, fmt.Errorf("%w: event %d: %d bytes of data", ErrMalformed, len(l.Events), n)
		}
		e.Data = bytes.Clone(r.take(int(n)))
		if r.err != nil {
			return nil, fmt.Errorf("event %d: %w", len(l.Events), r.err)
		}
		if e.PCR > 23 {
			return nil, fmt.Errorf("%w: event %d: PCR %d", ErrMalformed, len(l.Events), e.PCR)
		}
		l.Events = append(l.Events, e)
	}
	return l, nil
}

func parseSpecID(spec []byte) (*Log, error) {
	r := &reader{b: spec}
	if sig := r.take(16); r.err != nil || string(sig) != specIDSignature {
		return nil, fmt.Errorf("%w: no Spec ID Event03 signature", ErrMalformed)
	}
	r.u32() // platformClass
	minor, major, _, uintn := r.u8(), r.u8(), r.u8(), r.u8()
	if r.err == nil && (major != 2 || minor != 0 || uintn != 2) {
		return nil, fmt.Errorf("%w: Spec ID version %d.%d uintnSize %d", ErrMalformed, major, minor, uintn)
	}
	n := r.u32()
	if r.err == nil && (n == 0 || n > maxAlgs) {
		return nil, fmt.Errorf("%w: %d algorithms", ErrMalformed, n)
	}
	l := &Log{}
	for range n {
		id, size := r.u16(), r.u16()
		if r.err != nil {
			break
		}
		h, ok := hashOf(id)
		if !ok || int(size) != h.Size() {
			return nil, fmt.Errorf("%w: algorithm %#x size %d", ErrMalformed, id, size)
		}
		for _, have := range l.Banks {
			if have == h {
				return nil, fmt.Errorf("%w: algorithm %#x twice", ErrMalformed, id)
			}
		}
		l.Banks = append(l.Banks, h)
	}
	r.take(int(r.u8())) // vendorInfo
	if r.err != nil {
		return nil, fmt.Errorf("reading the Spec ID event: %w", r.err)
	}
	if len(r.b) != 0 {
		return nil, fmt.Errorf("%w: %d bytes after the Spec ID event", ErrMalformed, len(r.b))
	}
	return l, nil
}

// Replay computes the PCR values the log implies, per bank: each PCR starts
// at zero and PCR = H(PCR || digest) per event; EV_NO_ACTION events are
// not extended.
func (l *Log) Replay() map[crypto.Hash]map[uint32][]byte {
	out := make(map[crypto.Hash]map[uint32][]byte, len(l.Banks))
	for _, b := range l.Banks {
		out[b] = map[uint32][]byte{}
	}
	for _, e := range l.Events {
		if e.Type == EvNoAction {
			continue
		}
		for _, d := range e.Digests {
			cur, ok := out[d.Hash][e.PCR]
			if !ok {
				cur = make([]byte, d.Hash.Size())
			}
			h := d.Hash.New()
			h.Write(cur)
			h.Write(d.Digest)
			out[d.Hash][e.PCR] = h.Sum(nil)
		}
	}
	return out
}
