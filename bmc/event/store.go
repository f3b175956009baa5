// Package event owns the board's structured event store and the OEM message
// registry "IronrootEvent" its events are written in.
//
// Every event is a registry message (MessageId + args, rendered by the
// registry) plus, optionally, the fields of an IPMI SEL system event record,
// so one store can be shown as Redfish LogEntry resources, as the IPMI SEL
// and (later) through the EventService. The package knows nothing of Redfish
// or IPMI transports; callers fill in the fields.
//
// # On-disk format
//
// The store is a directory of append-only segment files named
// "seg-NNNNNNNNNN.evt", where NNNNNNNNNN is the (decimal, zero-padded) ID of
// the first record the segment was created for. A segment is a sequence of
// frames; each frame is
//
//	u32 little-endian  payload length (1..MaxRecordSize)
//	u32 little-endian  CRC-32C (Castagnoli) of the payload
//	payload            one JSON object, schema version in field "v"
//
// The payload is additive JSON: a newer bmcd may add fields, an older one
// ignores them. Field names: v, id, t (RFC 3339 board time), sev, msg, args,
// origin, sel {rt, gen, st, sn, et, ed}.
//
// Durability: each Append writes one frame and fsyncs the segment before
// returning; creating or removing a segment fsyncs the directory. A frame cut
// short by a crash (torn tail) or failing its CRC at the end of the newest
// segment is ignored on Open and truncated away. Record IDs increase
// monotonically and are never reused, even after Clear: the ID is encoded in
// the newest segment's name, and Clear writes its LogCleared record into a
// fresh segment before removing the old ones.
//
// Bound: at most MaxEvents events are kept; when an append exceeds it, whole
// oldest segments are removed.
package event

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/record"
)

// SEL holds the fields of an IPMI SEL system event record (IPMI 2.0 §32.1)
// that are not derived from the Event itself (record ID and timestamp are).
type SEL struct {
	RecordType   uint8  // 0x02 system event record
	GeneratorID  uint16 // 0x0020: BMC, LUN 0
	SensorType   uint8  // IPMI sensor type code
	SensorNumber uint8
	EventType    uint8 // event/reading type code; bit 7 set = deassertion
	EventData    [3]byte
}

// SEL constants.
const (
	SELSystemEvent    uint8  = 0x02
	SELGeneratorBMC   uint16 = 0x0020
	SELDeassertion    uint8  = 0x80
	SELEventThreshold uint8  = 0x01 // event/reading type: threshold
	SELSensorSpecific uint8  = 0x6F // event/reading type: sensor-specific
)

// Event is one entry of the store.
type Event struct {
	ID        uint32    // record ID, monotonically increasing, never reused
	Time      time.Time // board time (clock + offset) at creation
	Severity  Severity
	MessageID string // "IronrootEvent.1.0.PowerStateChanged"
	Args      []string
	OriginURI string // optional Redfish URI of the origin
	SEL       *SEL   // optional
}

// Options configures a Store. The zero value works (with the real clock).
type Options struct {
	MaxEvents   int // bound on stored events; default 4096
	SegmentSize int // events per segment; default MaxEvents/8, at most MaxEvents
	Clock       clock.Clock
	TimeOffset  func() time.Duration // board DateTime offset added to Clock.Now(); may be nil
	Logger      *slog.Logger         // may be nil
}

// Limits of the on-disk format.
const (
	MaxRecordSize = 64 << 10
	frameHeader   = 8
	segPrefix     = "seg-"
	segSuffix     = ".evt"
	recordVersion = 1
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// ErrClosed is returned by operations on a closed Store.
var ErrClosed = errors.New("event store closed")

// Store is the event store. It is safe for concurrent use.
type Store struct {
	dir    string
	opt    Options
	log    *slog.Logger
	mu     sync.Mutex
	segs   []segment // oldest first
	evs    []Event   // oldest first, across segs
	next   uint32    // next record ID
	cur    *os.File  // append handle of segs[len-1], nil until needed
	closed bool
}

type segment struct {
	first uint32 // ID in the file name
	path  string
	count int
	size  int64
}

// Open opens (creating if needed) the store in dir.
func Open(dir string, opt Options) (*Store, error) {
	if opt.MaxEvents <= 0 {
		opt.MaxEvents = 4096
	}
	if opt.SegmentSize <= 0 {
		opt.SegmentSize = max(1, opt.MaxEvents/8)
	}
	opt.SegmentSize = min(opt.SegmentSize, opt.MaxEvents)
	if opt.Clock == nil {
		opt.Clock = clock.Real()
	}
	s := &Store{dir: dir, opt: opt, log: opt.Logger, next: 1}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("open event store: %w", err)
	}
	if err := s.load(); err != nil {
		return nil, fmt.Errorf("open event store %s: %w", dir, err)
	}
	return s, nil
}

func (s *Store) load() error {
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		name := e.Name()
		if !e.Type().IsRegular() || !strings.HasPrefix(name, segPrefix) || !strings.HasSuffix(name, segSuffix) {
			continue
		}
		n, err := strconv.ParseUint(strings.TrimSuffix(strings.TrimPrefix(name, segPrefix), segSuffix), 10, 32)
		if err != nil || n == 0 {
			s.log.Warn("event store: ignoring unexpected file", "file", name)
			continue
		}
		s.segs = append(s.segs, segment{first: uint32(n), path: filepath.Join(s.dir, name)})
	}
	sort.Slice(s.segs, func(i, j int) bool { return s.segs[i].first < s.segs[j].first })

	var kept []segment
	dirChanged := false
	for i := range s.segs {
		seg := s.segs[i]
		last := i == len(s.segs)-1
		data, err := os.ReadFile(seg.path)
		if err != nil {
			return err
		}
		evs, valid, derr := DecodeSegment(data)
		if derr != nil {
			if last {
				s.log.Warn("event store: truncating torn tail", "segment", seg.path, "valid", valid, "size", len(data), "err", derr)
				if err := truncateSync(seg.path, int64(valid)); err != nil {
					return err
				}
			} else {
				s.log.Warn("event store: ignoring damaged end of segment", "segment", seg.path, "valid", valid, "size", len(data), "err", derr)
			}
		}
		// IDs must keep increasing across segments; anything else is ignored.
		var lastID uint32
		if n := len(s.evs); n > 0 {
			lastID = s.evs[n-1].ID
		}
		good := evs[:0]
		for _, e := range evs {
			if e.ID > lastID && e.ID >= seg.first {
				good = append(good, e)
				lastID = e.ID
			}
		}
		seg.count = len(good)
		seg.size = int64(valid)
		if seg.count == 0 && !last {
			if err := os.Remove(seg.path); err != nil {
				return err
			}
			dirChanged = true
			continue
		}
		s.evs = append(s.evs, good...)
		kept = append(kept, seg)
		s.next = max(s.next, seg.first)
		if lastID >= s.next {
			s.next = lastID + 1
		}
	}
	s.segs = kept
	if dirChanged {
		if err := record.SyncDir(s.dir); err != nil {
			return err
		}
	}
	return s.enforceBound()
}

func truncateSync(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return err
	}
	return f.Sync()
}

// Append stores e, assigning its ID and Time (and, when empty, its Severity
// from BoardRegistry). It returns after the record is fsync'd.
func (s *Store) Append(e Event) (Event, error) {
	if e.MessageID == "" {
		return Event{}, errors.New("append event: empty MessageID")
	}
	if e.Severity == "" {
		if _, def, ok := LookupBoardMessage(e.MessageID); ok {
			e.Severity = def.Severity
		} else {
			e.Severity = OK
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Event{}, fmt.Errorf("append event: %w", ErrClosed)
	}
	e, err := s.appendLocked(e)
	if err != nil {
		return Event{}, fmt.Errorf("append event: %w", err)
	}
	return e, nil
}

func (s *Store) now() time.Time {
	t := s.opt.Clock.Now()
	if s.opt.TimeOffset != nil {
		t = t.Add(s.opt.TimeOffset())
	}
	return t
}

func (s *Store) appendLocked(e Event) (Event, error) {
	e = e.clone()
	e.ID = s.next
	e.Time = s.now()
	frame, err := EncodeFrame(e)
	if err != nil {
		return Event{}, err
	}
	if len(s.segs) == 0 || s.segs[len(s.segs)-1].count >= s.opt.SegmentSize {
		if err := s.newSegmentLocked(e.ID); err != nil {
			return Event{}, err
		}
	}
	if s.cur == nil {
		f, err := os.OpenFile(s.segs[len(s.segs)-1].path, os.O_WRONLY|os.O_APPEND, 0)
		if err != nil {
			return Event{}, err
		}
		s.cur = f
	}
	seg := &s.segs[len(s.segs)-1]
	if _, err := s.cur.Write(frame); err != nil {
		s.rollbackLocked(seg)
		return Event{}, err
	}
	if err := s.cur.Sync(); err != nil {
		s.rollbackLocked(seg)
		return Event{}, fmt.Errorf("fsync: %w", err)
	}
	seg.count++
	seg.size += int64(len(frame))
	s.next++
	s.evs = append(s.evs, e)
	if err := s.enforceBound(); err != nil {
		s.log.Warn("event store: dropping oldest segment", "err", err)
	}
	return e.clone(), nil
}

// rollbackLocked cuts a partially written frame off the current segment.
func (s *Store) rollbackLocked(seg *segment) {
	if err := s.cur.Truncate(seg.size); err != nil {
		s.log.Warn("event store: truncate after failed write", "segment", seg.path, "err", err)
	}
	s.cur.Close()
	s.cur = nil
}

// newSegmentLocked creates segment seg-<first> and makes it current.
func (s *Store) newSegmentLocked(first uint32) error {
	if s.cur != nil {
		s.cur.Close()
		s.cur = nil
	}
	path := filepath.Join(s.dir, fmt.Sprintf("%s%010d%s", segPrefix, first, segSuffix))
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		return fmt.Errorf("create segment: %w", err)
	}
	if err := record.SyncDir(s.dir); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	s.cur = f
	s.segs = append(s.segs, segment{first: first, path: path})
	return nil
}

// enforceBound removes oldest segments while more than MaxEvents are stored.
func (s *Store) enforceBound() error {
	removed := false
	for len(s.evs) > s.opt.MaxEvents && len(s.segs) > 1 {
		old := s.segs[0]
		if err := os.Remove(old.path); err != nil {
			return err
		}
		removed = true
		s.segs = s.segs[1:]
		s.evs = append([]Event(nil), s.evs[old.count:]...)
	}
	if removed {
		return record.SyncDir(s.dir)
	}
	return nil
}

// List returns the stored events, oldest first.
func (s *Store) List() []Event {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Event, len(s.evs))
	for i, e := range s.evs {
		out[i] = e.clone()
	}
	return out
}

// clone returns e with its own Args and SEL, so callers cannot change
// the store's copy.
func (e Event) clone() Event {
	e.Args = append([]string(nil), e.Args...)
	if e.SEL != nil {
		sel := *e.SEL
		e.SEL = &sel
	}
	return e
}

// Get returns the event with record ID id.
func (s *Store) Get(id uint32) (Event, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	i := sort.Search(len(s.evs), func(i int) bool { return s.evs[i].ID >= id })
	if i < len(s.evs) && s.evs[i].ID == id {
		return s.evs[i].clone(), true
	}
	return Event{}, false
}

// MaxEvents returns the effective bound on stored events (after defaults),
// e.g. for LogService MaxNumberOfRecords.
func (s *Store) MaxEvents() int { return s.opt.MaxEvents }

// NextID returns the record ID the next Append will assign.
func (s *Store) NextID() uint32 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.next
}

// Clear removes every event and then records LogCleared (which therefore
// remains as the only entry). Record IDs continue from where they were.
func (s *Store) Clear() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return fmt.Errorf("clear event log: %w", ErrClosed)
	}
	old := s.segs
	// The LogCleared record goes into a fresh segment first, so the highest
	// ID survives a crash at any point of the clear.
	if err := s.newSegmentLocked(s.next); err != nil {
		return fmt.Errorf("clear event log: %w", err)
	}
	oldEvs := s.evs
	s.segs = s.segs[len(old):]
	s.evs = nil
	e := Event{MessageID: LogCleared, Severity: OK,
		SEL: &SEL{RecordType: SELSystemEvent, GeneratorID: SELGeneratorBMC, SensorType: 0x10, EventType: SELSensorSpecific, EventData: [3]byte{0x02, 0xFF, 0xFF}}}
	if _, err := s.appendLocked(e); err != nil {
		// Nothing was removed: keep showing the old events.
		s.segs = append(old, s.segs...)
		s.evs = oldEvs
		return fmt.Errorf("clear event log: %w", err)
	}
	for _, seg := range old {
		if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("clear event log: %w", err)
		}
	}
	if err := record.SyncDir(s.dir); err != nil {
		return fmt.Errorf("clear event log: %w", err)
	}
	return nil
}

// Close closes the store; later calls fail with ErrClosed.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil
	}
	s.closed = true
	if s.cur != nil {
		err := s.cur.Close()
		s.cur = nil
		if err != nil {
			return fmt.Errorf("close event store: %w", err)
		}
	}
	return nil
}

// diskEvent is the JSON payload of a frame (schema version 1).
type diskEvent struct {
	V         int       `json:"v"`
	ID        uint32    `json:"id"`
	Time      time.Time `json:"t"`
	Severity  Severity  `json:"sev"`
	MessageID string    `json:"msg"`
	Args      []string  `json:"args,omitempty"`
	OriginURI string    `json:"origin,omitempty"`
	SEL       *diskSEL  `json:"sel,omitempty"`
}

type diskSEL struct {
	RecordType   uint8   `json:"rt"`
	GeneratorID  uint16  `json:"gen"`
	SensorType   uint8   `json:"st"`
	SensorNumber uint8   `json:"sn"`
	EventType    uint8   `json:"et"`
	EventData    [3]byte `json:"ed"`
}

// EncodeFrame returns the on-disk frame of e.
func EncodeFrame(e Event) ([]byte, error) {
	d := diskEvent{V: recordVersion, ID: e.ID, Time: e.Time, Severity: e.Severity,
		MessageID: e.MessageID, Args: e.Args, OriginURI: e.OriginURI}
	if e.SEL != nil {
		d.SEL = &diskSEL{e.SEL.RecordType, e.SEL.GeneratorID, e.SEL.SensorType, e.SEL.SensorNumber, e.SEL.EventType, e.SEL.EventData}
	}
	payload, err := json.Marshal(d)
	if err != nil {
		return nil, fmt.Errorf("encode event %d: %w", e.ID, err)
	}
	if len(payload) > MaxRecordSize {
		return nil, fmt.Errorf("encode event %d: record of %d bytes exceeds %d", e.ID, len(payload), MaxRecordSize)
	}
	frame := make([]byte, frameHeader+len(payload))
	binary.LittleEndian.PutUint32(frame[0:4], uint32(len(payload)))
	binary.LittleEndian.PutUint32(frame[4:8], crc32.Checksum(payload, crcTable))
	copy(frame[frameHeader:], payload)
	return frame, nil
}

// DecodeSegment decodes the frames of a segment. It returns the events of
// the leading run of valid frames and the length of that run in bytes; err
// describes why decoding stopped before the end (io.ErrUnexpectedEOF for a
// torn frame), or is nil when all of data was valid.
func DecodeSegment(data []byte) (evs []Event, valid int, err error) {
	for valid < len(data) {
		rest := data[valid:]
		if len(rest) < frameHeader {
			return evs, valid, fmt.Errorf("frame header at %d: %w", valid, io.ErrUnexpectedEOF)
		}
		n := binary.LittleEndian.Uint32(rest[0:4])
		sum := binary.LittleEndian.Uint32(rest[4:8])
		if n == 0 || n > MaxRecordSize {
			return evs, valid, fmt.Errorf("frame at %d: bad length %d", valid, n)
		}
		if uint64(len(rest)-frameHeader) < uint64(n) {
			return evs, valid, fmt.Errorf("frame at %d: %w", valid, io.ErrUnexpectedEOF)
		}
		payload := rest[frameHeader : frameHeader+int(n)]
		if crc32.Checksum(payload, crcTable) != sum {
			return evs, valid, fmt.Errorf("frame at %d: CRC mismatch", valid)
		}
		e, derr := decodePayload(payload)
		if derr != nil {
			return evs, valid, fmt.Errorf("frame at %d: %w", valid, derr)
		}
		evs = append(evs, e)
		valid += frameHeader + int(n)
	}
	return evs, valid, nil
}

func decodePayload(p []byte) (Event, error) {
	var d diskEvent
	dec := json.NewDecoder(bytes.NewReader(p))
	if err := dec.Decode(&d); err != nil {
		return Event{}, fmt.Errorf("decode record: %w", err)
	}
	if dec.More() {
		return Event{}, errors.New("decode record: trailing data")
	}
	if d.V < 1 || d.ID == 0 || d.MessageID == "" {
		return Event{}, fmt.Errorf("decode record: invalid (v=%d id=%d)", d.V, d.ID)
	}
	e := Event{ID: d.ID, Time: d.Time, Severity: d.Severity, MessageID: d.MessageID, Args: d.Args, OriginURI: d.OriginURI}
	if d.SEL != nil {
		e.SEL = &SEL{d.SEL.RecordType, d.SEL.GeneratorID, d.SEL.SensorType, d.SEL.SensorNumber, d.SEL.EventType, d.SEL.EventData}
	}
	return e, nil
}
