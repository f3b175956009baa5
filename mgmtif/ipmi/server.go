package ipmi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

// CipherSuite is an RMCP+ cipher suite ID (IPMI 2.0 table 22-20).
type CipherSuite uint8

// The cipher suites this server can offer. Everything else (0: no auth,
// 1-2: no encryption, MD5, RC4) is refused by NewServer.
const (
	// Suite17 is RAKP-HMAC-SHA256, HMAC-SHA256-128, AES-CBC-128: the default.
	Suite17 CipherSuite = 17
	// Suite3 is RAKP-HMAC-SHA1, HMAC-SHA1-96, AES-CBC-128: only when configured.
	Suite3 CipherSuite = 3
)

// algorithms returns the suite's authentication, integrity and
// confidentiality algorithm numbers.
func (c CipherSuite) algorithms() (auth, integ, conf uint8) {
	if c == Suite3 {
		return 0x01, 0x01, 0x01
	}
	return 0x03, 0x04, 0x01
}

// Gate is the management-interface gate: while Open reports false, no
// packet is answered and no session survives.
type Gate interface {
	Open() bool
}

// GateFunc adapts a function (e.g. (*mgmtif.Gate).IsOpen) to Gate.
type GateFunc func() bool

// Open calls f.
func (f GateFunc) Open() bool { return f() }

// RateLimit bounds how often one source address may open sessions: a token
// bucket of Burst opens refilled at one per Every.
type RateLimit struct {
	Burst int
	Every time.Duration
}

// ServerConfig is every policy decision of a Server. Its zero value (with
// a Board) is the secure default.
type ServerConfig struct {
	// Board is the board served; required.
	Board *bmc.Board
	// CipherSuites offered, in preference order; default [Suite17]. Only
	// Suite17 and Suite3 are accepted.
	CipherSuites []CipherSuite
	// Accounts authenticates users; default Board.Accounts.
	Accounts *account.Store
	// SessionLimit bounds the session table (handshaking and active);
	// default 32, at most 63.
	SessionLimit int
	// IdleTimeout closes an active session without traffic; default 60 s.
	// A handshake not finished within min(IdleTimeout, 10 s) is dropped.
	IdleTimeout time.Duration
	// OpenRate limits session opens per source address; default 10 at
	// once, one more per second.
	OpenRate RateLimit
	// Gate, if set, is consulted for every packet.
	Gate Gate
	// Clock; default Board.Clock.
	Clock clock.Clock
	// Logger; default Board.Logger.
	Logger *slog.Logger
	// Console is the host serial console SOL attaches to; nil: no SOL.
	Console Console
}

const (
	defaultSessionLimit = 32
	maxSessionLimit     = 63
	defaultIdleTimeout  = 60 * time.Second
	maxHandshakeTime    = 10 * time.Second
	maxRateSources      = 1024
)

// Server serves IPMI over LAN for one board.
type Server struct {
	cfg      ServerConfig
	log      *slog.Logger
	clk      clock.Clock
	accounts *account.Store
	board    *bmc.Board
	table    map[uint16]command

	mu        sync.Mutex
	sessions  map[uint32]*session
	nextHndl  uint8
	rate      map[netip.Addr]*bucket
	sdrResv   uint16
	selMark   selMark
	bootParam bootParams
	identify  clock.Timer
	conn      net.PacketConn
	sol       *solLink
}

// NewServer checks cfg and returns a server; Serve runs it.
func NewServer(cfg ServerConfig) (*Server, error) {
	if cfg.Board == nil {
		return nil, errors.New("ipmi: new server: no board")
	}
	if len(cfg.CipherSuites) == 0 {
		cfg.CipherSuites = []CipherSuite{Suite17}
	}
	for _, c := range cfg.CipherSuites {
		if c != Suite17 && c != Suite3 {
			return nil, fmt.Errorf("ipmi: new server: cipher suite %d refused (only 17, and 3 if enabled)", c)
		}
	}
	if cfg.Accounts == nil {
		cfg.Accounts = cfg.Board.Accounts
	}
	if cfg.SessionLimit == 0 {
		cfg.SessionLimit = defaultSessionLimit
	}
	if cfg.SessionLimit < 1 || cfg.SessionLimit > maxSessionLimit {
		return nil, fmt.Errorf("ipmi: new server: session limit %d out of 1..%d", cfg.SessionLimit, maxSessionLimit)
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = defaultIdleTimeout
	}
	if cfg.IdleTimeout < 0 {
		return nil, fmt.Errorf("ipmi: new server: negative idle timeout")
	}
	if cfg.OpenRate.Burst == 0 {
		cfg.OpenRate = RateLimit{Burst: 10, Every: time.Second}
	}
	if cfg.OpenRate.Burst < 0 || cfg.OpenRate.Every <= 0 {
		return nil, fmt.Errorf("ipmi: new server: invalid open rate %+v", cfg.OpenRate)
	}
	if cfg.Clock == nil {
		cfg.Clock = cfg.Board.Clock
	}
	if cfg.Logger == nil {
		cfg.Logger = cfg.Board.Logger
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg: cfg, log: cfg.Logger.With("component", "ipmi"), clk: cfg.Clock,
		accounts: cfg.Accounts, board: cfg.Board, table: commands(),
		sessions: make(map[uint32]*session), rate: make(map[netip.Addr]*bucket),
	}, nil
}

// Serve answers packets on pc until ctx is done, then drops every session
// and returns nil. It does not close pc.
func (s *Server) Serve(ctx context.Context, pc net.PacketConn) error {
	s.mu.Lock()
	s.conn = pc
	s.mu.Unlock()
	stop := context.AfterFunc(ctx, func() { _ = pc.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()
	defer s.RevokeAll("server stopped")
	defer s.stopIdentify()
	buf := make([]byte, 2048)
	for {
		n, addr, err := pc.ReadFrom(buf)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("ipmi: serve: %w", err)
		}
		from, ok := addrPort(addr)
		if !ok {
			continue
		}
		for _, out := range s.handle(buf[:n], from) {
			if _, err := pc.WriteTo(out, addr); err != nil {
				s.log.Debug("write reply", "to", from, "err", err)
			}
		}
	}
}

func addrPort(a net.Addr) (netip.AddrPort, bool) {
	if u, ok := a.(*net.UDPAddr); ok {
		ap := u.AddrPort()
		return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), true
	}
	ap, err := netip.ParseAddrPort(a.String())
	return ap, err == nil
}

// stopIdentify cancels a pending "identify off" timer.
func (s *Server) stopIdentify() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.identify != nil {
		s.identify.Stop()
		s.identify = nil
	}
}

// RevokeAll drops every session (handshaking or active) and any SOL
// attachment; reason is logged.
func (s *Server) RevokeAll(reason string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revokeAllLocked(reason)
}

func (s *Server) revokeAllLocked(reason string) {
	if len(s.sessions) == 0 {
		return
	}
	s.log.Info("revoking all IPMI sessions", "reason", reason, "sessions", len(s.sessions))
	for id, ss := range s.sessions {
		s.dropLocked(ss, reason)
		delete(s.sessions, id)
	}
}

// ActiveSessions returns how many sessions completed RAKP and are open.
func (s *Server) ActiveSessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, ss := range s.sessions {
		if ss.state == stateActive {
			n++
		}
	}
	return n
}

// handle processes one datagram and returns the datagrams to send back.
func (s *Server) handle(b []byte, from netip.AddrPort) [][]byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cfg.Gate != nil && !s.cfg.Gate.Open() {
		s.revokeAllLocked("gate not open")
		return nil
	}
	if !s.board.NetworkProtocol().IPMIEnabled {
		s.revokeAllLocked("IPMI over LAN disabled")
		return nil
	}
	d, err := parseDatagram(b)
	if err != nil {
		s.log.Debug("dropping packet", "from", from, "err", err)
		return nil
	}
	out, err := s.route(d, from)
	if err != nil {
		s.log.Debug("dropping packet", "from", from, "err", err)
		return nil
	}
	return out
}

func one(b []byte) [][]byte {
	if b == nil {
		return nil
	}
	return [][]byte{b}
}

// route dispatches a parsed datagram by framing and payload type.
func (s *Server) route(d datagram, from netip.AddrPort) ([][]byte, error) {
	switch {
	case d.class == rmcpClassASF:
		if d.asfType != asfPresencePing {
			return nil, malformed("ASF message type %#x", d.asfType)
		}
		return one(encodeASFPong(d.asfTag)), nil
	case d.v15:
		return one(s.preSessionV15(d, from)), nil
	case d.sessionID == 0:
		if d.encrypted || d.authenticated {
			return nil, malformed("session-less payload with security flags")
		}
		switch d.payloadType {
		case payloadIPMI:
			return one(s.preSessionPlus(d, from)), nil
		case payloadOpenSessReq:
			return one(s.openSession(d.payload, from)), nil
		case payloadRAKP1:
			return one(s.rakp1(d.payload, from)), nil
		case payloadRAKP3:
			return one(s.rakp3(d.payload, from)), nil
		}
		return nil, malformed("session-less payload type %#x", d.payloadType)
	}
	return s.inSession(d, from)
}

// inSession authenticates, decrypts and dispatches an in-session packet.
func (s *Server) inSession(d datagram, from netip.AddrPort) ([][]byte, error) {
	ss := s.sessions[d.sessionID]
	if ss == nil || ss.state != stateActive {
		return nil, fmt.Errorf("no active session %#x", d.sessionID)
	}
	now := s.clk.Now()
	if s.expiredLocked(ss, now) {
		s.closeLocked(ss, "idle timeout")
		return nil, fmt.Errorf("session %#x timed out", d.sessionID)
	}
	plain, err := ss.keys.open(d)
	if err != nil {
		return nil, err
	}
	if !ss.window.accept(d.seq) {
		return nil, fmt.Errorf("session %#x: sequence %d replayed or out of window", ss.id, d.seq)
	}
	ss.lastActive, ss.remote = now, from
	switch d.payloadType {
	case payloadIPMI:
		m, err := parseMessage(plain)
		if err != nil {
			return nil, err
		}
		resp, after := s.dispatch(ss, m)
		pkt, err := ss.sealNext(payloadIPMI, resp)
		if err != nil {
			return nil, err
		}
		if after != nil {
			after()
		}
		return one(pkt), nil
	case payloadSOL:
		return s.solPacket(ss, plain)
	}
	return nil, malformed("in-session payload type %#x", d.payloadType)
}

// preSessionV15 answers Get Channel Authentication Capabilities in IPMI 1.5
// framing; every other IPMI 1.5 packet is dropped (no IPMI 1.5 sessions).
func (s *Server) preSessionV15(d datagram, from netip.AddrPort) []byte {
	if d.v15AuthType != authTypeNone || d.sessionID != 0 {
		s.log.Info("refused IPMI 1.5 session packet", "from", from, "auth_type", d.v15AuthType)
		return nil
	}
	m, err := parseMessage(d.payload)
	if err != nil || m.netFn != netFnApp || m.cmd != cmdGetChannelAuthCaps {
		if err == nil {
			s.log.Info("refused IPMI 1.5 pre-session command", "from", from, "netfn", m.netFn, "cmd", m.cmd)
		}
		return nil
	}
	cc, data := s.getChannelAuthCaps(m.data)
	return encodeV15(m.response(cc, data))
}

// preSessionPlus answers the session-less RMCP+ IPMI commands: Get Channel
// Authentication Capabilities and Get Channel Cipher Suites.
func (s *Server) preSessionPlus(d datagram, from netip.AddrPort) []byte {
	m, err := parseMessage(d.payload)
	if err != nil || m.netFn != netFnApp {
		return nil
	}
	var cc uint8
	var data []byte
	switch m.cmd {
	case cmdGetChannelAuthCaps:
		cc, data = s.getChannelAuthCaps(m.data)
	case cmdGetChannelCipherSuites:
		cc, data = s.getChannelCipherSuites(m.data)
	default:
		s.log.Debug("dropping session-less command", "from", from, "cmd", m.cmd)
		return nil
	}
	return encodePlain(payloadIPMI, 0, m.response(cc, data))
}

func udpAddr(ap netip.AddrPort) *net.UDPAddr { return net.UDPAddrFromAddrPort(ap) }
