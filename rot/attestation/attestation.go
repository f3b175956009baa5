// Package attestation is the device side of the SPDM responder that rotd
// serves on the RoT link: it turns one verified boot (the identity root,
// DeviceID and alias certificates, the alias key and rot/measure's blocks)
// into an spdm.ResponderConfig — slot 0 holds the chain identity root →
// DeviceID → alias in the alias-certificate model, signed with the alias
// key — and answers the ironroot control messages (package rotlink) that
// bmcd sends inside the secured session: ReportHealthy, GetStatus,
// GetBootLog and GetSealingKey.
//
// The sealing key handed to an attested BMC is KDF(UDS, accepted vendor key
// set): it does not depend on component digests or the SVN, so an update or
// a rollback keeps the BMC's secrets readable, while a board with another
// UDS or another vendor key set derives another key.
//
// It owns no listener policy beyond "one boot at a time": a Server serves
// the current boot and drops every connection when the boot changes, so a
// requester never keeps talking to the identity of an earlier boot. It
// knows nothing of slots, TPMs or supervision (package rot does).
package attestation

import (
	"context"
	"crypto"
	"crypto/hkdf"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rotlink"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// sealingKeyLabel is the HKDF info of the BMC sealing key.
const sealingKeyLabel = "ironroot BMC sealing key v1"

// SealingKey derives the BMC sealing key: HKDF-SHA384 with the UDS as
// secret, the hash of the accepted vendor key set as salt.
func SealingKey(uds identity.UDS, keys manifest.KeySet) ([]byte, error) {
	h := keys.Hash()
	k, err := hkdf.Key(sha512.New384, uds[:], h[:], sealingKeyLabel, rotlink.SealingKeySize)
	if err != nil {
		return nil, fmt.Errorf("deriving sealing key: %w", err)
	}
	return k, nil
}

// Boot is what the responder states about one verified boot.
type Boot struct {
	// IdentityRoot, DeviceID and Alias form the slot 0 chain.
	IdentityRoot *x509.Certificate
	DeviceID     *x509.Certificate
	Alias        *x509.Certificate
	// AliasKey signs CHALLENGE_AUTH, MEASUREMENTS and KEY_EXCHANGE_RSP.
	AliasKey crypto.Signer
	// Measurements are the boot's measurement blocks (rot/measure.Blocks).
	Measurements spdm.MeasurementProvider
	// BootLog returns the boot's TCG event log for GetBootLog.
	BootLog func() ([]byte, error)
}

func (b Boot) check() error {
	switch {
	case b.IdentityRoot == nil || b.DeviceID == nil || b.Alias == nil:
		return errors.New("attestation: boot needs the identity root, DeviceID and alias certificates")
	case b.AliasKey == nil:
		return errors.New("attestation: boot needs the alias key")
	case b.Measurements == nil:
		return errors.New("attestation: boot needs measurements")
	}
	pub, ok := b.AliasKey.Public().(interface{ Equal(crypto.PublicKey) bool })
	if !ok || !pub.Equal(b.Alias.PublicKey) {
		return errors.New("attestation: alias key does not match the alias certificate")
	}
	if err := b.Alias.CheckSignatureFrom(b.DeviceID); err != nil {
		return fmt.Errorf("attestation: alias certificate not signed by DeviceID: %w", err)
	}
	if err := b.DeviceID.CheckSignatureFrom(b.IdentityRoot); err != nil {
		return fmt.Errorf("attestation: DeviceID certificate not signed by the identity root: %w", err)
	}
	return nil
}

// Config is the device side that does not change between boots.
type Config struct {
	// SealingKey is SealingKey(uds, keys); GetSealingKey answers it inside
	// a secured session only. Nil: GetSealingKey fails.
	SealingKey []byte
	// Healthy handles ReportHealthy (rot.Device.Health). Nil: refused.
	Healthy func(ctx context.Context) (string, error)
	// Status handles GetStatus. Nil: refused.
	Status func(ctx context.Context) (rotlink.DeviceStatus, error)
	// HeartbeatPeriod is reported in KEY_EXCHANGE_RSP (seconds, 0 = none).
	HeartbeatPeriod uint8
	// SerialLine: the link is a serial line (a QEMU board's UART), framed
	// so that the reader resynchronises after garbage.
	SerialLine bool
	Logger     *slog.Logger
}

// ResponderConfig returns the spdm.ResponderConfig of one boot.
func ResponderConfig(cfg Config, b Boot) (spdm.ResponderConfig, error) {
	if err := b.check(); err != nil {
		return spdm.ResponderConfig{}, err
	}
	if cfg.SealingKey != nil && len(cfg.SealingKey) != rotlink.SealingKeySize {
		return spdm.ResponderConfig{}, fmt.Errorf("attestation: sealing key of %d bytes", len(cfg.SealingKey))
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	h := &handler{cfg: cfg, boot: b, log: log}
	return spdm.ResponderConfig{
		Slots: []*spdm.CertSlot{{
			Chain:  [][]byte{b.IdentityRoot.Raw, b.DeviceID.Raw, b.Alias.Raw},
			Signer: b.AliasKey,
			Model:  spdm.CertModelAlias,
		}},
		Measurements:    b.Measurements,
		Vendor:          h.handle,
		AliasCert:       true,
		HeartbeatPeriod: cfg.HeartbeatPeriod,
		Logger:          log,
	}, nil
}

// handler answers the control messages of one boot.
type handler struct {
	cfg  Config
	boot Boot
	log  *slog.Logger
}

func (h *handler) handle(ctx context.Context, sessionID uint32, req *spdm.VendorDefined) (*spdm.VendorDefined, error) {
	if !rotlink.IsOurs(req.StandardID, req.VendorID) {
		return nil, fmt.Errorf("attestation: vendor-defined request for standard %d vendor %x", req.StandardID, req.VendorID)
	}
	rsp := h.answer(ctx, sessionID, req.Payload)
	b, err := rsp.Marshal()
	if err != nil {
		b, _ = rotlink.Failure(rsp.Op, rotlink.StatusFailed, "response too large").Marshal()
	}
	return &spdm.VendorDefined{StandardID: rotlink.StandardIDIANA, VendorID: rotlink.VendorID(), Payload: b}, nil
}

func (h *handler) answer(ctx context.Context, sessionID uint32, payload []byte) rotlink.Message {
	m, err := rotlink.Parse(payload)
	if err != nil {
		return rotlink.Failure(0, rotlink.StatusInvalid, err.Error())
	}
	op := m.Op
	switch {
	case m.Version != rotlink.ProtocolVersion:
		return rotlink.Failure(op, rotlink.StatusUnsupported, fmt.Sprintf("protocol version %d", m.Version))
	case m.IsResponse():
		return rotlink.Failure(op, rotlink.StatusInvalid, "a response sent as a request")
	case !op.Known():
		return rotlink.Failure(op, rotlink.StatusUnsupported, "unknown operation")
	case sessionID == 0:
		// Every control message needs the secured session: the peer is
		// then the requester that completed KEY_EXCHANGE/FINISH with this
		// boot's alias key, and the answer is encrypted.
		return rotlink.Failure(op, rotlink.StatusNotInSession, "control messages are answered inside a secured session only")
	case len(m.Body) != 0:
		return rotlink.Failure(op, rotlink.StatusInvalid, "request body must be empty")
	}
	h.log.Info("RoT link control message", "op", op, "session", fmt.Sprintf("%#08x", sessionID))
	switch op {
	case rotlink.OpReportHealthy:
		if h.cfg.Healthy == nil {
			return rotlink.Failure(op, rotlink.StatusFailed, "health reports are not accepted")
		}
		msg, err := h.cfg.Healthy(ctx)
		if err != nil {
			return rotlink.Failure(op, rotlink.StatusFailed, err.Error())
		}
		return rotlink.Response(op, []byte(msg))
	case rotlink.OpGetStatus:
		if h.cfg.Status == nil {
			return rotlink.Failure(op, rotlink.StatusFailed, "no status")
		}
		st, err := h.cfg.Status(ctx)
		if err != nil {
			return rotlink.Failure(op, rotlink.StatusFailed, err.Error())
		}
		b, err := rotlink.EncodeStatus(st)
		if err != nil {
			return rotlink.Failure(op, rotlink.StatusFailed, err.Error())
		}
		return rotlink.Response(op, b)
	case rotlink.OpGetBootLog:
		if h.boot.BootLog == nil {
			return rotlink.Failure(op, rotlink.StatusFailed, "no boot log")
		}
		b, err := h.boot.BootLog()
		if err != nil {
			return rotlink.Failure(op, rotlink.StatusFailed, err.Error())
		}
		if len(b) > rotlink.MaxBody {
			return rotlink.Failure(op, rotlink.StatusFailed, fmt.Sprintf("boot log of %d bytes exceeds one message", len(b)))
		}
		return rotlink.Response(op, b)
	default: // rotlink.OpGetSealingKey
		if h.cfg.SealingKey == nil {
			return rotlink.Failure(op, rotlink.StatusFailed, "no sealing key")
		}
		h.log.Info("sealing key handed to the BMC inside the secured session", "session", fmt.Sprintf("%#08x", sessionID))
		return rotlink.Response(op, append([]byte(nil), h.cfg.SealingKey...))
	}
}

// Server serves the responder of the current boot on the RoT link.
type Server struct {
	cfg Config

	mu    sync.Mutex
	rsp   *spdm.Responder
	conns map[net.Conn]struct{}

	// heard is when the BMC last sent bytes on the link (Unix ns).
	heard atomic.Int64
}

// LastActivity is when the BMC last sent anything on the RoT link (zero:
// never). rotd's link watchdog reads it.
func (s *Server) LastActivity() time.Time {
	ns := s.heard.Load()
	if ns == 0 {
		return time.Time{}
	}
	return time.Unix(0, ns)
}

// heardConn records the time of every read that returned bytes; the rest
// (the deadlines the responder sets among them) is the connection's own.
type heardConn struct {
	net.Conn
	heard *atomic.Int64
}

func (c heardConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	if n > 0 {
		c.heard.Store(time.Now().UnixNano())
	}
	return n, err
}

// NewServer returns a server with no boot: it refuses connections until
// SetBoot.
func NewServer(cfg Config) *Server {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return &Server{cfg: cfg, conns: map[net.Conn]struct{}{}}
}

// SetBoot makes b the boot the server speaks for and drops every
// connection to an earlier boot.
func (s *Server) SetBoot(b Boot) error {
	rc, err := ResponderConfig(s.cfg, b)
	if err != nil {
		return err
	}
	rsp, err := spdm.NewResponder(rc)
	if err != nil {
		return fmt.Errorf("attestation: %w", err)
	}
	s.mu.Lock()
	s.rsp = rsp
	s.dropLocked()
	s.mu.Unlock()
	s.cfg.Logger.Info("SPDM responder serves the new boot", "alias", b.Alias.Subject.CommonName)
	return nil
}

// ClearBoot stops answering (the BMC is in reset) and drops every connection.
func (s *Server) ClearBoot() {
	s.mu.Lock()
	s.rsp = nil
	s.dropLocked()
	s.mu.Unlock()
}

func (s *Server) dropLocked() {
	for c := range s.conns {
		c.Close()
	}
	clear(s.conns)
}

// ServeConn serves one connection with the current boot's responder until
// the peer leaves, the boot changes or ctx ends.
func (s *Server) ServeConn(ctx context.Context, c net.Conn) error {
	s.mu.Lock()
	rsp := s.rsp
	if rsp != nil {
		s.conns[c] = struct{}{}
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		c.Close()
	}()
	if rsp == nil {
		return errors.New("attestation: no verified boot to speak for")
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	hc := heardConn{c, &s.heard}
	var err error
	if s.cfg.SerialLine {
		_, err = rsp.ServeSerial(ctx, hc)
	} else {
		_, err = rsp.ServeConn(ctx, hc)
	}
	return err
}

// Serve accepts connections on l and serves each (one goroutine per
// connection; all traffic of one connection is sequential) until ctx ends.
func (s *Server) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	var wg sync.WaitGroup
	defer wg.Wait()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				s.ClearBoot()
				return nil
			}
			return fmt.Errorf("attestation: accepting on the RoT link: %w", err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.ServeConn(ctx, c); err != nil && ctx.Err() == nil {
				s.cfg.Logger.Info("RoT link connection ended", "remote", c.RemoteAddr(), "err", err)
			}
		}()
	}
}

// ListenAndServe listens on the TCP address of the RoT link (sim board:
// 127.0.0.1:2323), reports the bound address through ready (may be nil)
// and serves until ctx ends.
func (s *Server) ListenAndServe(ctx context.Context, addr string, ready func(net.Addr)) error {
	var lc net.ListenConfig
	l, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("attestation: RoT link: %w", err)
	}
	s.cfg.Logger.Info("SPDM responder listening on the RoT link", "addr", l.Addr().String())
	if ready != nil {
		ready(l.Addr())
	}
	return s.Serve(ctx, l)
}
