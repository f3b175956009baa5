package ipmi

import (
	"encoding/binary"
	"encoding/hex"
	"strconv"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

const (
	lanChannel         = 0x01
	currentChannel     = 0x0E
	sessionAuditSensor = bmc.SessionAuditSensorNumber
	ipmiVersion20      = 0x02 // BCD: major 2 in the low nibble, minor 0
	// deviceSupport: chassis, FRU inventory, SEL, SDR repository, sensor.
	deviceSupport = 0x80 | 0x08 | 0x04 | 0x02 | 0x01
	// ipmiIANA is the IPMI forum's enterprise number, for records that need
	// one but no vendor (channel info, auth caps OEM ID = 0).
	ipmiIANA = 7154
)

// guidBytes encodes a canonical UUID string in IPMI wire order: the 16
// bytes least significant first (IPMI 2.0 §20.8), as ipmitool's "IPMI"
// encoding and FreeIPMI decode it.
func guidBytes(uuid string) [16]byte {
	var g [16]byte
	raw, err := hex.DecodeString(strings.ReplaceAll(uuid, "-", ""))
	if err != nil || len(raw) != 16 {
		return g
	}
	for i := range raw {
		g[i] = raw[15-i]
	}
	return g
}

// systemGUID is the managed system's GUID (the system UUID); RAKP uses it.
func (s *Server) systemGUID() [16]byte { return guidBytes(s.board.Inventory.UUID) }

// firmwareRevision parses "major.minor..." from the firmware version; 0.0
// when it has no such prefix (development builds).
func firmwareRevision(v string) (major, minorBCD uint8) {
	v = strings.TrimPrefix(v, "v")
	parts := strings.SplitN(v, ".", 3)
	if len(parts) < 2 {
		return 0, 0
	}
	ma, err1 := strconv.Atoi(parts[0])
	mi, err2 := strconv.Atoi(strings.TrimFunc(parts[1], func(r rune) bool { return r < '0' || r > '9' }))
	if err1 != nil || err2 != nil || ma < 0 || ma > 127 || mi < 0 || mi > 99 {
		return 0, 0
	}
	return uint8(ma), uint8(mi/10<<4 | mi%10)
}

func (s *Server) getDeviceID(*request) reply {
	major, minor := firmwareRevision(s.board.Inventory.FirmwareVersion)
	return ok(0x20, 0x01, major&0x7F, minor, ipmiVersion20, deviceSupport,
		0x00, 0x00, 0x00, // manufacturer ID: unspecified
		0x01, 0x00, // product ID
		0, 0, 0, 0) // auxiliary firmware revision
}

func (s *Server) getSelfTest(*request) reply { return ok(0x55, 0x00) }

func (s *Server) getDeviceGUID(*request) reply {
	g := guidBytes(s.board.Inventory.ManagerUUID)
	return okData(g[:])
}

func (s *Server) getSystemGUID(*request) reply {
	g := s.systemGUID()
	return okData(g[:])
}

// getChannelAuthCaps answers Get Channel Authentication Capabilities
// (IPMI 2.0 §22.13): no IPMI 1.5 auth types, IPMI 2.0 only, non-null user
// names only, no anonymous login, K_G all zeros.
func (s *Server) getChannelAuthCaps(data []byte) (uint8, []byte) {
	if len(data) < 2 {
		return ccRequestDataLength, nil
	}
	ch := data[0] & 0x0F
	if ch != currentChannel && ch != lanChannel {
		return ccInvalidData, nil
	}
	var authTypes uint8
	if data[0]&0x80 != 0 {
		authTypes = 0x80 // IPMI v2.0 extended capabilities follow
	}
	return ccOK, []byte{lanChannel, authTypes, 0x04, 0x02, 0, 0, 0, 0}
}

func (s *Server) authCapsInSession(r *request) reply {
	cc, data := s.getChannelAuthCaps(r.data)
	return reply{cc: cc, data: data}
}

// cipherSuiteRecords is the Get Channel Cipher Suites record data.
func (s *Server) cipherSuiteRecords() []byte {
	var out []byte
	for _, c := range s.cfg.CipherSuites {
		a, i, k := c.algorithms()
		out = append(out, 0xC0, byte(c), a, 0x40|i, 0x80|k)
	}
	return out
}

// getChannelCipherSuites answers Get Channel Cipher Suites (§22.15) in
// 16-byte pages.
func (s *Server) getChannelCipherSuites(data []byte) (uint8, []byte) {
	if len(data) < 3 {
		return ccRequestDataLength, nil
	}
	ch := data[0] & 0x0F
	if ch != currentChannel && ch != lanChannel {
		return ccInvalidData, nil
	}
	if data[1] != byte(payloadIPMI) && data[1] != byte(payloadSOL) {
		return ccInvalidData, nil
	}
	if data[2]&0x80 == 0 { // by algorithm: not supported, list by suite
		return ccInvalidData, nil
	}
	recs := s.cipherSuiteRecords()
	off := int(data[2]&0x3F) * 16
	out := []byte{lanChannel}
	if off < len(recs) {
		out = append(out, recs[off:min(off+16, len(recs))]...)
	}
	return ccOK, out
}

func (s *Server) cipherSuitesInSession(r *request) reply {
	cc, data := s.getChannelCipherSuites(r.data)
	return reply{cc: cc, data: data}
}

func (s *Server) setSessionPrivilege(r *request) reply {
	want := r.data[0] & 0x0F
	switch {
	case want == 0:
	case want < privUser || want > privAdmin:
		return fail(ccInvalidData)
	case want > r.ss.maxPriv:
		return fail(0x81) // requested level not available for this user
	default:
		r.ss.priv = want
	}
	return ok(r.ss.priv)
}

func (s *Server) closeSession(r *request) reply {
	id := binary.LittleEndian.Uint32(r.data[0:4])
	if id == 0 && len(r.data) >= 5 {
		for _, o := range s.sessions {
			if o.handle == r.data[4] {
				id = o.id
			}
		}
	}
	target := s.sessions[id]
	if target == nil || target.state != stateActive {
		return fail(0x87) // invalid session ID
	}
	if target != r.ss && r.ss.priv < privAdmin {
		return fail(ccPrivilege)
	}
	return reply{after: func() { s.closeLocked(target, "closed by "+r.ss.userName) }}
}

// getSessionInfo answers Get Session Info (§22.20).
func (s *Server) getSessionInfo(r *request) reply {
	var target *session
	sel := r.data[0]
	active := s.activeSessionsLocked()
	switch {
	case sel == 0x00:
		target = r.ss
	case sel == 0xFE:
		if len(r.data) < 2 {
			return fail(ccRequestDataLength)
		}
		for _, o := range active {
			if o.handle == r.data[1] {
				target = o
			}
		}
	case sel == 0xFF:
		if len(r.data) < 5 {
			return fail(ccRequestDataLength)
		}
		id := binary.LittleEndian.Uint32(r.data[1:5])
		for _, o := range active {
			if o.id == id {
				target = o
			}
		}
	default:
		if int(sel) <= len(active) {
			target = active[sel-1]
		}
	}
	head := []byte{0, byte(s.cfg.SessionLimit) & 0x3F, byte(len(active)) & 0x3F}
	if target == nil {
		if sel == 0xFE || sel == 0xFF {
			return fail(ccInvalidData)
		}
		return okData(head)
	}
	head[0] = target.handle
	out := append(head, byte(target.accountID)&0x3F, target.priv, 0x10|lanChannel)
	ip := target.remote.Addr().As4()
	out = append(out, ip[:]...)
	out = append(out, 0, 0, 0, 0, 0, 0) // MAC: unknown
	return okData(binary.LittleEndian.AppendUint16(out, target.remote.Port()))
}

// activeSessionsLocked returns the active sessions ordered by handle.
func (s *Server) activeSessionsLocked() []*session {
	var out []*session
	for _, ss := range s.sessions {
		if ss.state == stateActive {
			out = append(out, ss)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j].handle < out[j-1].handle; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

func channelOK(b uint8) bool {
	ch := b & 0x0F
	return ch == currentChannel || ch == lanChannel
}

func (s *Server) getChannelInfo(r *request) reply {
	if !channelOK(r.data[0]) {
		return fail(ccInvalidData)
	}
	n := len(s.activeSessionsLocked())
	return ok(lanChannel, 0x04 /* 802.3 LAN */, 0x01 /* IPMB-1.0 */, 0x80|byte(n)&0x3F,
		byte(ipmiIANA&0xFF), byte(ipmiIANA>>8&0xFF), byte(ipmiIANA>>16&0xFF), 0, 0)
}

func (s *Server) getChannelAccess(r *request) reply {
	if !channelOK(r.data[0]) {
		return fail(ccInvalidData)
	}
	// Access mode "always available", PEF alerting disabled; privilege
	// limit Administrator.
	return ok(0x20|0x02, privAdmin)
}

// getSystemInfoParams answers Get System Info Parameters (§22.14a):
// system firmware version (1) and system name (2).
func (s *Server) getSystemInfoParams(r *request) reply {
	if r.data[0]&0x80 != 0 {
		return ok(0x11)
	}
	var str string
	switch r.data[1] {
	case 0x00: // set in progress
		return ok(0x11, 0x00)
	case 0x01:
		str = s.board.Inventory.BiosVersion
	case 0x02:
		str = s.board.ID()
	default:
		return fail(ccParamNotSupported)
	}
	set := r.data[2]
	// Block 0: set selector, encoding (ASCII), length, first 14 bytes; later
	// blocks 16 bytes each.
	var block []byte
	if set == 0 {
		block = append([]byte{0, 0x00, byte(len(str))}, str[:min(14, len(str))]...)
		for len(block) < 17 {
			block = append(block, 0)
		}
	} else {
		off := 14 + (int(set)-1)*16
		block = []byte{set}
		if off < len(str) {
			block = append(block, str[off:min(off+16, len(str))]...)
		}
		for len(block) < 17 {
			block = append(block, 0)
		}
	}
	return okData(append([]byte{0x11}, block...))
}

// hostPowered reports whether the host has power for IPMI's purposes.
func hostPowered(st power.State) bool { return st != power.Off }
