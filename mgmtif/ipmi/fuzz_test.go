package ipmi

import (
	"net/netip"
	"testing"
)

// seeds are real datagrams: ASF ping, IPMI 1.5 Get Channel Auth Caps, an
// RMCP+ Open Session Request, RAKP1, and an in-session header.
var seeds = [][]byte{
	{0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x01, 0x00, 0x00},
	{0x06, 0x00, 0xFF, 0x07, 0x00, 0, 0, 0, 0, 0, 0, 0, 0, 0x09, 0x20, 0x18, 0xC8, 0x81, 0x00, 0x38, 0x8E, 0x04, 0xB5},
	append([]byte{0x06, 0x00, 0xFF, 0x07, 0x06, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 32, 0},
		0, 4, 0, 0, 0xA4, 0xA3, 0xA2, 0xA0, 0, 0, 0, 8, 3, 0, 0, 0, 1, 0, 0, 8, 4, 0, 0, 0, 2, 0, 0, 8, 1, 0, 0, 0),
	append([]byte{0x06, 0x00, 0xFF, 0x07, 0x06, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 33, 0}, make([]byte, 27)...),
	{0x06, 0x00, 0xFF, 0x07, 0x06, 0xC0, 1, 2, 3, 4, 1, 0, 0, 0, 32, 0},
	{0x06, 0x00, 0xFF, 0x07, 0x06, 0x12, 0, 0, 0, 0, 0, 0, 0, 0, 28, 0, 0, 0, 0, 0, 1, 2, 3, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x14, 0, 0, 0xF0},
}

// FuzzParseDatagram: the parsers never panic and stay within bounds.
func FuzzParseDatagram(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		d, err := parseDatagram(b)
		if err != nil {
			return
		}
		if len(d.payload) > len(b) || len(d.trailer) > len(b) {
			t.Fatalf("payload %d / trailer %d bytes from a %d-byte datagram", len(d.payload), len(d.trailer), len(b))
		}
		_, _ = parseMessage(d.payload)
		k := keys{suite: Suite17, k1: make([]byte, 32), k2: make([]byte, 32)}
		_, _ = k.open(d)
	})
}

// FuzzServerHandle feeds datagrams to a real server (board, sessions and
// all): no panic, whatever the bytes.
func FuzzServerHandle(f *testing.F) {
	for _, s := range seeds {
		f.Add(s)
	}
	h := startIPMI(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		from := netip.MustParseAddrPort("127.0.0.1:40000")
		h.srv.handle(b, from)
	})
}
