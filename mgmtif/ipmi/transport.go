package ipmi

import (
	"crypto/sha256"
	"encoding/binary"
)

// Commands (NetFn Transport).
const (
	cmdGetLANConfig = 0x02
	cmdGetSOLConfig = 0x22
	paramRevision   = 0x11
)

// boardMAC is the manager NIC's MAC address: the same derivation from the
// manager UUID as Redfish's EthernetInterface (locally administered).
func boardMAC(uuid string) [6]byte {
	h := sha256.Sum256([]byte("ironroot eth0 " + uuid))
	return [6]byte{0x02, h[0], h[1], h[2], h[3], h[4]}
}

// getLANConfig answers Get LAN Configuration Parameters (§23.2) from the
// board's network model: loopback 127.0.0.1/8, static, the board MAC.
func (s *Server) getLANConfig(r *request) reply {
	if !channelOK(r.data[0]) {
		return fail(ccInvalidData)
	}
	if r.data[0]&0x80 != 0 {
		return ok(paramRevision)
	}
	mac := boardMAC(s.board.Inventory.ManagerUUID)
	var d []byte
	switch r.data[1] {
	case 0: // set in progress
		d = []byte{0x00}
	case 1: // authentication type support: no IPMI 1.5 types
		d = []byte{0x00}
	case 2: // authentication type enables
		d = []byte{0, 0, 0, 0, 0}
	case 3: // IP address
		d = []byte{127, 0, 0, 1}
	case 4: // IP address source: static
		d = []byte{0x01}
	case 5: // MAC address
		d = mac[:]
	case 6: // subnet mask
		d = []byte{255, 0, 0, 0}
	case 7: // IPv4 header parameters: TTL, flags, precedence/TOS
		d = []byte{0x40, 0x40, 0x10}
	case 12: // default gateway
		d = []byte{0, 0, 0, 0}
	case 13: // default gateway MAC
		d = []byte{0, 0, 0, 0, 0, 0}
	case 14:
		d = []byte{0, 0, 0, 0}
	case 15:
		d = []byte{0, 0, 0, 0, 0, 0}
	case 16: // community string
		d = make([]byte, 18)
		copy(d, "public")
	case 17: // number of alert destinations
		d = []byte{0x00}
	case 20: // 802.1q VLAN ID: disabled
		d = []byte{0, 0}
	case 21: // VLAN priority
		d = []byte{0}
	case 22: // cipher suite entry support
		d = []byte{byte(len(s.cfg.CipherSuites))}
	case 23: // cipher suite entries
		d = []byte{0}
		for _, c := range s.cfg.CipherSuites {
			d = append(d, byte(c))
		}
	case 24: // cipher suite privilege levels: ADMIN for each entry
		d = make([]byte, 9)
		for i := range s.cfg.CipherSuites {
			d[1+i/2] |= privAdmin << (4 * (i % 2))
		}
	default:
		return fail(ccParamNotSupported)
	}
	return okData(append([]byte{paramRevision}, d...))
}

// getSOLConfig answers Get SOL Configuration Parameters (§26.3).
func (s *Server) getSOLConfig(r *request) reply {
	if !channelOK(r.data[0]) {
		return fail(ccInvalidData)
	}
	if r.data[0]&0x80 != 0 {
		return ok(paramRevision)
	}
	var d []byte
	switch r.data[1] {
	case 0:
		d = []byte{0x00}
	case 1: // SOL enable
		if s.cfg.Console != nil {
			d = []byte{0x01}
		} else {
			d = []byte{0x00}
		}
	case 2: // force encryption, force authentication, privilege ADMIN
		d = []byte{0xC0 | privAdmin}
	case 3: // character accumulate interval (5 ms units), send threshold
		d = []byte{0x0C, 0x60}
	case 4: // retry count, retry interval (10 ms units)
		d = []byte{0x07, 0x32}
	case 5, 6: // bit rate: 115.2 kbps
		d = []byte{0x0A}
	case 7: // payload channel
		d = []byte{lanChannel}
	case 8: // payload port
		d = binary.LittleEndian.AppendUint16(nil, s.port())
	default:
		return fail(ccParamNotSupported)
	}
	return okData(append([]byte{paramRevision}, d...))
}

// port is the UDP port the server is bound to.
func (s *Server) port() uint16 {
	if s.conn == nil {
		return 623
	}
	ap, ok := addrPort(s.conn.LocalAddr())
	if !ok {
		return 623
	}
	return ap.Port()
}
