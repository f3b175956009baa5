package ipmi

import (
	"bytes"
	"encoding/binary"
	"testing"
	"time"

	"github.com/bougou/go-ipmi/pkg/rmcpplus"

	"github.com/ironroot-bmc/ironroot/bmc/event"
)

func TestASFPing(t *testing.T) {
	h := startIPMI(t)
	c := newClient(t, h)
	ping := []byte{0x06, 0x00, 0xFF, 0x06, 0x00, 0x00, 0x11, 0xBE, 0x80, 0x42, 0x00, 0x00}
	b, err := c.roundTrip(ping, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if len(b) < 12 || b[3] != rmcpClassASF || b[8] != 0x40 || b[9] != 0x42 {
		t.Fatalf("pong % x", b)
	}
}

func TestOpenSessionMaxPrivilegeZero(t *testing.T) {
	h := startIPMI(t)
	c := newClient(t, h)
	req := rmcpplus.OpenSessionRequest{RemoteConsoleSessionID: 7}
	a, i, k := Suite17.algorithms()
	req.AuthenticationPayload, req.IntegrityPayload, req.ConfidentialityPayload = rmcpplus.NewAlgorithmPayloads(authAlg(Suite17), 0, 0)
	req.IntegrityAlg, req.CryptAlg, req.AuthAlg = i, k, a
	b, err := c.roundTrip(encodePlain(payloadOpenSessReq, 0, req.Pack()), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	p, err := plainPayload(b, payloadOpenSessResp)
	if err != nil {
		t.Fatal(err)
	}
	if p[1] != 0 || p[2] != privAdmin {
		t.Fatalf("status %#x, max privilege %#x; want 0 and ADMIN (4)", p[1], p[2])
	}
}

func TestPreSessionCipherSuites(t *testing.T) {
	h := startIPMI(t)
	// Without -C ipmitool asks Get Channel Cipher Suites before any session.
	out, err := h.ipmitoolAs(t, h.user, h.pass, "mc", "info")
	if err != nil {
		t.Fatalf("ipmitool without -C: %v\n%s", err, out)
	}
	mustContain(t, out, "IPMI Version              : 2.0")
}

func TestSDRStableAcrossBoards(t *testing.T) {
	h1, h2 := startIPMI(t), startIPMI(t)
	a, b := buildSDRs(h1.tb.Board.Sensors.List()), buildSDRs(h2.tb.Board.Sensors.List())
	if a.stamp != b.stamp || len(a.records) != len(b.records) {
		t.Fatalf("SDR repository differs between two builds: %d/%d records, stamps %d/%d", len(a.records), len(b.records), a.stamp, b.stamp)
	}
	for i := range a.records {
		if !bytes.Equal(a.records[i], b.records[i]) {
			t.Fatalf("record %d differs", i+1)
		}
	}
	s1, s2 := login(t, h1), login(t, h2)
	_, i1, _ := s1.cmd(netFnStorage, cmdGetSDRRepoInfo)
	_, i2, _ := s2.cmd(netFnStorage, cmdGetSDRRepoInfo)
	if !bytes.Equal(i1[5:13], i2[5:13]) || binary.LittleEndian.Uint32(i1[5:9]) == 0 {
		t.Errorf("SDR repository timestamps % x vs % x", i1[5:13], i2[5:13])
	}
}

func TestSELReservationInvalidatedOnChange(t *testing.T) {
	h := startIPMI(t)
	c := login(t, h)
	cc, r, err := c.cmd(netFnStorage, cmdReserveSEL)
	if err != nil || cc != 0 {
		t.Fatalf("reserve SEL: %#x %v", cc, err)
	}
	resv := r[0:2]
	partial := append(append([]byte{}, resv...), 0, 0, 2, 4) // first record, offset 2
	if cc, _, _ := c.cmd(netFnStorage, cmdGetSELEntry, partial...); cc != 0 {
		t.Fatalf("partial read with a fresh reservation: cc %#x", cc)
	}
	if _, err := h.tb.Board.LogEvent(event.Event{MessageID: event.LoginFailed, Args: []string{"x", "IPMI"},
		SEL: sessionAuditSEL(2, 0)}); err != nil {
		t.Fatal(err)
	}
	if cc, _, _ := c.cmd(netFnStorage, cmdGetSELEntry, partial...); cc != ccReservationInvalid {
		t.Errorf("partial read after the SEL changed: cc %#x, want C5h", cc)
	}
	clr := append(append([]byte{}, resv...), 'C', 'L', 'R', 0xAA)
	if cc, _, _ := c.cmd(netFnStorage, cmdClearSEL, clr...); cc != ccReservationInvalid {
		t.Errorf("clear with a stale reservation: cc %#x, want C5h", cc)
	}
	// Stable record IDs: the same event reads back under the same ID.
	_, e1, _ := c.cmd(netFnStorage, cmdGetSELEntry, 0, 0, 0, 0, 0, 0xFF)
	_, e2, _ := c.cmd(netFnStorage, cmdGetSELEntry, 0, 0, e1[2], e1[3], 0, 0xFF)
	if !bytes.Equal(e1, e2) {
		t.Errorf("record read by ID differs: % x vs % x", e1, e2)
	}
}

// TestRAKP1LongNameLength: go-ipmi's RAKPMessage1.Unpack computes 28+length
// in uint8 and panics on a name length ≥ 228; the server checks first.
func TestRAKP1LongNameLength(t *testing.T) {
	h := startIPMI(t)
	c := newClient(t, h)
	if st, err := c.open(Suite17.algorithms()); err != nil || st != 0 {
		t.Fatal(err)
	}
	p := make([]byte, 44)
	binary.LittleEndian.PutUint32(p[4:8], c.bmcID)
	p[24], p[27] = 0x14, 240
	b, err := c.roundTrip(encodePlain(payloadRAKP1, 0, p), 2*time.Second)
	if err != nil {
		t.Fatalf("no RAKP2 error reply: %v", err)
	}
	if r, err := plainPayload(b, payloadRAKP2); err != nil || r[1] != rmcpInvalidNameLength {
		t.Fatalf("RAKP2 % x, %v; want status 0Ch", r, err)
	}
	login(t, h) // still serving
}
