package ipmi

import (
	"encoding/binary"
	"hash/crc32"
	"slices"
	"sort"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/sensor"
)

const (
	sdrVersion        = 0x51
	sdrTypeFull       = 0x01
	sdrTypeEventOnly  = 0x03
	sdrTypeMCLocator  = 0x12
	sdrOwnerBMC       = 0x20
	sdrLastRecord     = 0xFFFF
	sdrEpoch          = 1735689600 // 2025-01-01T00:00:00Z: base of the repository timestamp
	entitySystemBoard = 0x07
	entityBMC         = 0x06 // system management module
)

// sdrRepo is the SDR repository: records in ID order. It depends only on
// the firmware's sensor definitions, so its bytes (and the timestamp derived
// from them) are the same across restarts.
type sdrRepo struct {
	records [][]byte // record ID = index + 1
	stamp   uint32
}

// buildSDRs returns the repository for sensors: a full sensor record per
// threshold sensor, event-only records for the board's discrete sensors
// (host power, session audit) so that SEL entries name them, and the
// management controller locator.
func buildSDRs(sensors []sensor.Sensor) sdrRepo {
	var repo sdrRepo
	add := func(body []byte) {
		id := uint16(len(repo.records) + 1)
		rec := binary.LittleEndian.AppendUint16(nil, id)
		rec = append(rec, sdrVersion, body[0], byte(len(body)-1))
		repo.records = append(repo.records, append(rec, body[1:]...))
	}
	sorted := slices.Clone(sensors)
	// sort.Slice, not slices.SortFunc: no generic sort copy per element type in bmcd.
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].IPMI.Number < sorted[j].IPMI.Number })
	for _, s := range sorted {
		add(fullSensorRecord(s))
	}
	add(eventOnlyRecord(bmc.HostPowerSensorNumber, entitySystemBoard, 0x22, "Host Power"))
	add(eventOnlyRecord(bmc.SessionAuditSensorNumber, entityBMC, 0x2A, "Session Audit"))
	add(mcLocatorRecord("ironroot BMC"))
	h := crc32.NewIEEE()
	for _, r := range repo.records {
		h.Write(r)
	}
	repo.stamp = sdrEpoch + h.Sum32()%(1<<24)
	return repo
}

// idString encodes an SDR ID string: 8-bit ASCII, at most 16 bytes.
func idString(name string) []byte {
	if len(name) > 16 {
		name = name[:16]
	}
	return append([]byte{0xC0 | byte(len(name))}, name...)
}

// thresholdMasks returns the readable threshold mask (bit0 LNC, bit1 LCR,
// bit3 UNC, bit4 UCR) of th.
func thresholdMask(th sensor.Thresholds) uint8 {
	var m uint8
	if th.LowerCaution != nil {
		m |= 0x01
	}
	if th.LowerCritical != nil {
		m |= 0x02
	}
	if th.UpperCaution != nil {
		m |= 0x08
	}
	if th.UpperCritical != nil {
		m |= 0x10
	}
	return m
}

func rawOr0(p sensor.IPMI, v *float64) uint8 {
	if v == nil {
		return 0
	}
	return p.ToRaw(*v)
}

// fullSensorRecord is the body (from the record type on) of a Full Sensor
// Record (IPMI 2.0 table 43-1).
func fullSensorRecord(s sensor.Sensor) []byte {
	p := s.IPMI
	m := thresholdMask(s.Thresholds)
	lower := uint16(m&0x07) << 12 // comparison returned: LNC, LCR, LNR
	upper := uint16(m>>3&0x07) << 12
	mm, bb := uint16(p.M)&0x3FF, uint16(p.B)&0x3FF
	b := []byte{sdrTypeFull,
		sdrOwnerBMC, 0x00, p.Number, // key
		p.EntityID, p.EntityInstance & 0x7F,
		0x7F,               // initialization: scanning, events, thresholds, hysteresis, type
		0x40 | 0x04 | 0x03, // auto re-arm, thresholds readable, no event messages
		p.SensorType, p.ReadingType,
		byte(lower), byte(lower >> 8), // assertion mask / lower reading mask
		byte(upper), byte(upper >> 8), // deassertion mask / upper reading mask
		m, 0x00, // readable / settable thresholds
		p.Analog << 6, p.BaseUnit, 0x00, p.Linearization,
		byte(mm), byte(mm>>8) << 6, byte(bb), byte(bb>>8) << 6, 0x00,
		byte(p.RExp)<<4 | byte(p.BExp)&0x0F,
		0x00, 0, 0, 0, // analog flags, nominal, normal max, normal min
		p.ToRaw(s.RangeMax), p.ToRaw(s.RangeMin),
		0, rawOr0(p, s.Thresholds.UpperCritical), rawOr0(p, s.Thresholds.UpperCaution),
		0, rawOr0(p, s.Thresholds.LowerCritical), rawOr0(p, s.Thresholds.LowerCaution),
		0, 0, // hysteresis
		0, 0, 0, // reserved, OEM
	}
	return append(b, idString(p.Name)...)
}

// eventOnlyRecord is the body of an Event-Only Sensor Record (table 43-3).
func eventOnlyRecord(number, entity, sensorType uint8, name string) []byte {
	b := []byte{sdrTypeEventOnly,
		sdrOwnerBMC, 0x00, number,
		entity, 0x01, sensorType, 0x6F, // sensor-specific
		0x01, 0x00, // sharing: one sensor
		0x00, 0x00, // reserved, OEM
	}
	return append(b, idString(name)...)
}

// mcLocatorRecord is the body of a Management Controller Device Locator
// Record (table 43-8) for this BMC.
func mcLocatorRecord(name string) []byte {
	b := []byte{sdrTypeMCLocator,
		sdrOwnerBMC, 0x00, // slave address, channel 0
		0x00,             // power state notification
		deviceSupport,    // device capabilities
		0x00, 0x00, 0x00, // reserved
		entityBMC, 0x01, 0x00, // entity, instance, OEM
	}
	return append(b, idString(name)...)
}

func (s *Server) sdrs() sdrRepo { return buildSDRs(s.board.Sensors.List()) }

func (s *Server) getSDRRepoInfo(*request) reply {
	repo := s.sdrs()
	n := uint16(len(repo.records))
	out := []byte{sdrVersion, byte(n), byte(n >> 8), 0x00, 0x00}
	out = binary.LittleEndian.AppendUint32(out, repo.stamp)
	out = binary.LittleEndian.AppendUint32(out, repo.stamp)
	return okData(append(out, 0x20|0x02)) // non-modal update, reserve supported
}

func (s *Server) getSDRAllocInfo(*request) reply {
	n := uint16(len(s.sdrs().records))
	return ok(byte(n), byte(n>>8), 64, 0, 0, 0, 0, 0, 1)
}

func (s *Server) reserveSDR(*request) reply {
	s.sdrResv++
	if s.sdrResv == 0 {
		s.sdrResv = 1
	}
	return ok(byte(s.sdrResv), byte(s.sdrResv>>8))
}

// getSDR answers Get SDR (§33.12), including partial reads.
func (s *Server) getSDR(r *request) reply {
	resv := binary.LittleEndian.Uint16(r.data[0:2])
	id := binary.LittleEndian.Uint16(r.data[2:4])
	off, n := int(r.data[4]), int(r.data[5])
	if off != 0 && (resv == 0 || resv != s.sdrResv) {
		return fail(ccReservationInvalid)
	}
	repo := s.sdrs()
	idx := int(id) - 1
	switch {
	case id == 0:
		idx = 0
	case id == sdrLastRecord:
		idx = len(repo.records) - 1
	}
	if idx < 0 || idx >= len(repo.records) {
		return fail(ccNotPresent)
	}
	rec := repo.records[idx]
	next := uint16(idx + 2)
	if idx == len(repo.records)-1 {
		next = sdrLastRecord
	}
	if off > len(rec) {
		return fail(ccOutOfRange)
	}
	end := len(rec)
	if n != 0xFF {
		end = min(end, off+n)
	}
	out := binary.LittleEndian.AppendUint16(nil, next)
	return okData(append(out, rec[off:end]...))
}
