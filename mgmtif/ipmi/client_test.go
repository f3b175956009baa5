package ipmi

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	ipmicrypto "github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"
)

// testClient is a minimal RMCP+ console for tests and benchmarks: it lets
// a test stop anywhere in the handshake and send raw or replayed packets.
type testClient struct {
	conn      *net.UDPConn
	suite     CipherSuite
	consoleID uint32
	bmcID     uint32
	rc, rm    [16]byte
	guid      [16]byte
	role      uint8
	user      string
	kuid      []byte
	keys      keys
	seq       uint32
	rqSeq     uint8
	last      []byte // last sealed request datagram
}

func dialTest(addr *net.UDPAddr) (*testClient, error) {
	c, err := net.DialUDP("udp", nil, addr)
	if err != nil {
		return nil, err
	}
	return &testClient{conn: c, suite: Suite17}, nil
}

func (c *testClient) Close() error { return c.conn.Close() }

// roundTrip sends b and waits (bounded) for one reply.
func (c *testClient) roundTrip(b []byte, wait time.Duration) ([]byte, error) {
	if _, err := c.conn.Write(b); err != nil {
		return nil, err
	}
	return c.read(wait)
}

func (c *testClient) read(wait time.Duration) ([]byte, error) {
	buf := make([]byte, 2048)
	if err := c.conn.SetReadDeadline(time.Now().Add(wait)); err != nil {
		return nil, err
	}
	n, err := c.conn.Read(buf)
	if err != nil {
		return nil, err
	}
	return buf[:n], nil
}

// payload extracts the RMCP+ payload of an unauthenticated reply.
func plainPayload(b []byte, want payloadType) ([]byte, error) {
	d, err := parseDatagram(b)
	if err != nil {
		return nil, err
	}
	if d.payloadType != want {
		return nil, fmt.Errorf("payload type %#x, want %#x", d.payloadType, want)
	}
	return d.payload, nil
}

// open sends Open Session Request and returns the RMCP+ status.
func (c *testClient) open(auth, integ, conf uint8) (uint8, error) {
	var id [4]byte
	_, _ = rand.Read(id[:])
	c.consoleID = binary.LittleEndian.Uint32(id[:]) | 1
	req := rmcpplus.OpenSessionRequest{RemoteConsoleSessionID: c.consoleID}
	req.AuthenticationPayload, req.IntegrityPayload, req.ConfidentialityPayload =
		rmcpplus.NewAlgorithmPayloads(types.AuthAlg(auth), types.IntegrityAlg(integ), types.CryptAlg(conf))
	b, err := c.roundTrip(encodePlain(payloadOpenSessReq, 0, req.Pack()), 2*time.Second)
	if err != nil {
		return 0, err
	}
	p, err := plainPayload(b, payloadOpenSessResp)
	if err != nil {
		return 0, err
	}
	var resp rmcpplus.OpenSessionResponse
	if err := resp.Unpack(p); err != nil {
		return 0, err
	}
	c.bmcID = resp.ManagedSystemSessionID
	return uint8(resp.RmcpStatusCode), nil
}

// rakp1 sends RAKP1 and returns the RAKP2 message.
func (c *testClient) rakp1(user string, priv uint8) (rmcpplus.RAKPMessage2, error) {
	c.user, c.role = user, 0x10|priv
	_, _ = rand.Read(c.rc[:])
	req := rmcpplus.RAKPMessage1{ManagedSystemSessionID: c.bmcID, RemoteConsoleRandomNumber: c.rc, NameOnlyLookup: true,
		RequestedMaximumPrivilegeLevel: types.PrivilegeLevel(priv), UsernameLength: uint8(len(user)), Username: []byte(user)}
	var resp rmcpplus.RAKPMessage2
	b, err := c.roundTrip(encodePlain(payloadRAKP1, 0, req.Pack()), 2*time.Second)
	if err != nil {
		return resp, err
	}
	p, err := plainPayload(b, payloadRAKP2)
	if err != nil {
		return resp, err
	}
	resp.AuthAlg = authAlg(c.suite)
	if err := resp.Unpack(p); err != nil {
		return resp, err
	}
	c.rm, c.guid = resp.ManagedSystemRandomNumber, resp.ManagedSystemGUID
	return resp, nil
}

// rakp3 proves the password and returns the RAKP4 status.
func (c *testClient) rakp3(password string) (uint8, error) {
	alg := authAlg(c.suite)
	c.kuid = ipmicrypto.PadPassword20([]byte(password))
	code, err := ipmicrypto.RAKP3AuthCode(alg, c.rm[:], c.consoleID, c.role, c.user, c.kuid)
	if err != nil {
		return 0, err
	}
	req := rmcpplus.RAKPMessage3{ManagedSystemSessionID: c.bmcID, KeyExchangeAuthenticationCode: code}
	b, err := c.roundTrip(encodePlain(payloadRAKP3, 0, req.Pack()), 2*time.Second)
	if err != nil {
		return 0, err
	}
	p, err := plainPayload(b, payloadRAKP4)
	if err != nil {
		return 0, err
	}
	resp := rmcpplus.RAKPMessage4{AuthAlg: alg}
	if err := resp.Unpack(p); err != nil {
		return 0, err
	}
	if resp.RmcpStatusCode != 0 {
		return uint8(resp.RmcpStatusCode), nil
	}
	sik, k1, k2, err := ipmicrypto.DeriveSessionKeys(alg, c.rc[:], c.rm[:], c.role, c.user, c.kuid)
	if err != nil {
		return 0, err
	}
	icv, err := ipmicrypto.RAKP4ICV(alg, c.rc[:], c.bmcID, c.guid[:], sik)
	if err != nil {
		return 0, err
	}
	if !ipmicrypto.Equal(icv, resp.IntegrityCheckValue) {
		return 0, errors.New("RAKP4 ICV does not verify")
	}
	c.keys = keys{suite: c.suite, k1: k1, k2: k2}
	return 0, nil
}

// login runs the whole handshake and raises the session privilege.
func (c *testClient) login(user, password string, priv uint8) error {
	a, i, k := c.suite.algorithms()
	if st, err := c.open(a, i, k); err != nil || st != 0 {
		return fmt.Errorf("open session: status %#x, %v", st, err)
	}
	if r2, err := c.rakp1(user, priv); err != nil || r2.RmcpStatusCode != 0 {
		return fmt.Errorf("RAKP1: status %#x, %v", r2.RmcpStatusCode, err)
	}
	if st, err := c.rakp3(password); err != nil || st != 0 {
		return fmt.Errorf("RAKP3: status %#x, %v", st, err)
	}
	if cc, _, err := c.cmd(netFnApp, cmdSetSessionPrivilege, priv); err != nil || cc != 0 {
		return fmt.Errorf("set session privilege: cc %#x, %v", cc, err)
	}
	return nil
}

// sealRequest builds the next in-session request datagram.
func (c *testClient) sealRequest(netFn, cmd uint8, data ...byte) ([]byte, error) {
	c.seq++
	c.rqSeq = (c.rqSeq + 1) & 0x3F
	msg := []byte{0x20, netFn << 2}
	msg = append(msg, checksum(msg))
	msg = append(msg, 0x81, c.rqSeq<<2, cmd)
	msg = append(msg, data...)
	msg = append(msg, checksum(msg[3:]))
	b, err := c.keys.seal(payloadIPMI, c.bmcID, c.seq, msg)
	c.last = b
	return b, err
}

// cmd runs one in-session command and returns its completion code and data.
func (c *testClient) cmd(netFn, cmd uint8, data ...byte) (uint8, []byte, error) {
	b, err := c.sealRequest(netFn, cmd, data...)
	if err != nil {
		return 0, nil, err
	}
	return c.exchange(b)
}

// exchange sends a sealed request and opens the reply.
func (c *testClient) exchange(b []byte) (uint8, []byte, error) {
	reply, err := c.roundTrip(b, 2*time.Second)
	if err != nil {
		return 0, nil, err
	}
	d, err := parseDatagram(reply)
	if err != nil {
		return 0, nil, err
	}
	plain, err := c.keys.open(d)
	if err != nil {
		return 0, nil, err
	}
	if len(plain) < 8 {
		return 0, nil, errors.New("short response")
	}
	return plain[6], plain[7 : len(plain)-1], nil
}

// closeSession sends Close Session.
func (c *testClient) closeSession() error {
	id := binary.LittleEndian.AppendUint32(nil, c.bmcID)
	cc, _, err := c.cmd(netFnApp, cmdCloseSession, id...)
	if err == nil && cc != 0 {
		err = fmt.Errorf("close session: cc %#x", cc)
	}
	return err
}
