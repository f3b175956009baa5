package ipmi

import (
	"encoding/binary"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/event"
)

// Commands (NetFn Storage).
const (
	cmdGetFRUInfo      = 0x10
	cmdReadFRU         = 0x11
	cmdGetSDRRepoInfo  = 0x20
	cmdGetSDRAllocInfo = 0x21
	cmdReserveSDR      = 0x22
	cmdGetSDR          = 0x23
	cmdGetSELInfo      = 0x40
	cmdGetSELAllocInfo = 0x41
	cmdReserveSEL      = 0x42
	cmdGetSELEntry     = 0x43
	cmdClearSEL        = 0x47
	cmdGetSELTime      = 0x48

	hostPowerSensor = bmc.HostPowerSensorNumber
	selRecordSize   = 16
	selFirst        = 0x0000
	selLast         = 0xFFFF
)

// selRecordID maps an event store ID to a stable 16-bit SEL record ID in
// 1..0xFFFE (0 and FFFFh are "first" and "last"). The store keeps far fewer
// than 65534 events, so live IDs never collide.
func selRecordID(id uint32) uint16 { return uint16(id%0xFFFE) + 1 }

// selMark is what a SEL reservation saw: a reservation is invalid once the
// SEL changed (an event added or the log cleared).
type selMark struct {
	resv   uint16
	nextID uint32
}

// selEntries returns the events that carry SEL fields, oldest first.
func (s *Server) selEntries() []event.Event {
	var out []event.Event
	for _, e := range s.board.Events.List() {
		if e.SEL != nil {
			out = append(out, e)
		}
	}
	return out
}

// selRecord encodes e as a 16-byte SEL record (IPMI 2.0 table 32-1).
func selRecord(e event.Event) []byte {
	out := binary.LittleEndian.AppendUint16(nil, selRecordID(e.ID))
	out = append(out, e.SEL.RecordType)
	out = binary.LittleEndian.AppendUint32(out, uint32(e.Time.Unix()))
	out = binary.LittleEndian.AppendUint16(out, e.SEL.GeneratorID)
	out = append(out, 0x04, e.SEL.SensorType, e.SEL.SensorNumber, e.SEL.EventType)
	return append(out, e.SEL.EventData[:]...)
}

func (s *Server) getSELInfo(*request) reply {
	evs := s.selEntries()
	n := uint16(len(evs))
	free := min(max(s.board.Events.MaxEvents()-len(evs), 0)*selRecordSize, 0xFFFE)
	var added, erased uint32
	if len(evs) > 0 {
		added = uint32(evs[len(evs)-1].Time.Unix())
	}
	for _, e := range evs {
		if e.MessageID == event.LogCleared {
			erased = uint32(e.Time.Unix())
		}
	}
	out := []byte{0x51, byte(n), byte(n >> 8), byte(free), byte(free >> 8)}
	out = binary.LittleEndian.AppendUint32(out, added)
	out = binary.LittleEndian.AppendUint32(out, erased)
	return okData(append(out, 0x02)) // reserve supported
}

func (s *Server) getSELAllocInfo(*request) reply {
	units := uint16(s.board.Events.MaxEvents())
	free := units - uint16(min(len(s.selEntries()), int(units)))
	return ok(byte(units), byte(units>>8), selRecordSize, 0, byte(free), byte(free>>8), byte(free), byte(free>>8), 1)
}

func (s *Server) reserveSEL(*request) reply {
	s.selMark.resv++
	if s.selMark.resv == 0 {
		s.selMark.resv = 1
	}
	s.selMark.nextID = s.board.Events.NextID()
	return ok(byte(s.selMark.resv), byte(s.selMark.resv>>8))
}

// selReservationValid checks a reservation ID against the current one and
// against changes of the SEL since it was taken.
func (s *Server) selReservationValid(resv uint16) bool {
	return resv != 0 && resv == s.selMark.resv && s.board.Events.NextID() == s.selMark.nextID
}

// getSELEntry answers Get SEL Entry (§31.5).
func (s *Server) getSELEntry(r *request) reply {
	resv := binary.LittleEndian.Uint16(r.data[0:2])
	id := binary.LittleEndian.Uint16(r.data[2:4])
	off, n := int(r.data[4]), int(r.data[5])
	if off != 0 && !s.selReservationValid(resv) {
		return fail(ccReservationInvalid)
	}
	evs := s.selEntries()
	idx := -1
	switch id {
	case selFirst:
		if len(evs) > 0 {
			idx = 0
		}
	case selLast:
		idx = len(evs) - 1
	default:
		for i, e := range evs {
			if selRecordID(e.ID) == id {
				idx = i
			}
		}
	}
	if idx < 0 {
		return fail(ccNotPresent)
	}
	next := uint16(selLast)
	if idx+1 < len(evs) {
		next = selRecordID(evs[idx+1].ID)
	}
	rec := selRecord(evs[idx])
	if off > len(rec) {
		return fail(ccOutOfRange)
	}
	end := len(rec)
	if n != 0xFF {
		end = min(end, off+n)
	}
	return okData(append(binary.LittleEndian.AppendUint16(nil, next), rec[off:end]...))
}

// clearSEL answers Clear SEL (§31.9): the whole event store is cleared (it
// then holds only its LogCleared record).
func (s *Server) clearSEL(r *request) reply {
	resv := binary.LittleEndian.Uint16(r.data[0:2])
	if string(r.data[2:5]) != "CLR" {
		return fail(ccInvalidData)
	}
	if !s.selReservationValid(resv) {
		return fail(ccReservationInvalid)
	}
	switch r.data[5] {
	case 0x00: // get erasure status
		return ok(0x01)
	case 0xAA:
	default:
		return fail(ccInvalidData)
	}
	if err := s.board.Events.Clear(); err != nil {
		s.log.Error("IPMI clear SEL", "err", err)
		return fail(ccUnspecified)
	}
	s.log.Info("IPMI SEL cleared", "user", r.ss.userName)
	s.selMark.resv++ // the clear changed the SEL
	return ok(0x01)
}

func (s *Server) getSELTime(*request) reply {
	return okData(binary.LittleEndian.AppendUint32(nil, uint32(s.board.Now().Unix())))
}

// FRU (Platform Management FRU Information Storage Definition v1.0).

// fruField is an 8-bit ASCII type/length field (at most 63 bytes).
func fruField(v string) []byte {
	if len(v) > 63 {
		v = v[:63]
	}
	return append([]byte{0xC0 | byte(len(v))}, v...)
}

// fruArea closes an info area: end marker, padding to 8 bytes, checksum.
func fruArea(body []byte) []byte {
	body = append(body, 0xC1)
	for (len(body)+1)%8 != 0 {
		body = append(body, 0)
	}
	body[1] = byte((len(body) + 1) / 8)
	return append(body, checksum(body))
}

// fruData builds FRU device 0 from the board's inventory: chassis, board
// and product info areas.
func (s *Server) fruData() []byte {
	inv := s.board.Inventory
	chassis := []byte{0x01, 0, 0x17} // rack mount chassis
	chassis = append(chassis, fruField(inv.PartNumber)...)
	chassis = append(chassis, fruField(inv.ChassisSerial)...)
	chassis = fruArea(chassis)

	board := []byte{0x01, 0, 0x00, 0, 0, 0} // English, manufacturing date unspecified
	for _, f := range []string{inv.Manufacturer, inv.Model, inv.SerialNumber, inv.PartNumber, ""} {
		board = append(board, fruField(f)...)
	}
	board = fruArea(board)

	product := []byte{0x01, 0, 0x00}
	for _, f := range []string{inv.Manufacturer, inv.Model, inv.SKU, inv.FirmwareVersion, inv.SerialNumber, "", ""} {
		product = append(product, fruField(f)...)
	}
	product = fruArea(product)

	hdr := []byte{0x01, 0, 1, byte(1 + len(chassis)/8), byte(1 + (len(chassis)+len(board))/8), 0, 0}
	hdr = append(hdr, checksum(hdr))
	out := append(hdr, chassis...)
	out = append(out, board...)
	return append(out, product...)
}

func (s *Server) getFRUInfo(r *request) reply {
	if r.data[0] != 0 {
		return fail(ccNotPresent)
	}
	n := len(s.fruData())
	return ok(byte(n), byte(n>>8), 0x00)
}

func (s *Server) readFRU(r *request) reply {
	if r.data[0] != 0 {
		return fail(ccNotPresent)
	}
	data := s.fruData()
	off, n := int(binary.LittleEndian.Uint16(r.data[1:3])), int(r.data[3])
	if off >= len(data) {
		return fail(ccOutOfRange)
	}
	n = min(n, len(data)-off, 64)
	return okData(append([]byte{byte(n)}, data[off:off+n]...))
}
