// This file implements the SPDM responder of DSP0274 1.2/1.3: the
// connection state machine of clause 9 / 10.3-10.5 (GET_VERSION →
// GET_CAPABILITIES → NEGOTIATE_ALGORITHMS, out-of-order requests answered
// with ERROR UnexpectedRequest, version mismatch with VersionMismatch),
// GET_DIGESTS/GET_CERTIFICATE (clauses 10.6-10.7), CHALLENGE (clause 10.8,
// refused inside a session), GET_MEASUREMENTS (clause 10.11), ERROR (clause
// 10.12), CHUNK_SEND/CHUNK_GET (clauses 10.20-10.21) and
// VENDOR_DEFINED_REQUEST (clause 10.23), served over the spdm-emu framing.
// Sessions are in responder_session.go.

package spdm

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"sync"
	"time"
)

// maxNegotiateAlgorithmsLength is the DSP0274 bound on NEGOTIATE_ALGORITHMS.
const maxNegotiateAlgorithmsLength = 128

// ResponderConfig configures a Responder. Only capabilities backed by the
// configuration are advertised: CERT/CHAL/KEY_EX need a certificate slot,
// MEAS needs a MeasurementProvider.
type ResponderConfig struct {
	// Versions supported, default SupportedVersions.
	Versions []Version
	// Slots are the certificate slots by slot ID (nil entries are empty).
	Slots []*CertSlot
	// Measurements provides measurement blocks (nil: no MEAS_CAP).
	Measurements MeasurementProvider
	// Vendor answers VENDOR_DEFINED_REQUEST (nil: UnsupportedRequest).
	Vendor VendorHandler
	// AliasCert advertises ALIAS_CERT_CAP (the alias certificate model).
	AliasCert bool
	// MeasurementHash is the measurement hash (default SHA-384).
	MeasurementHash MeasurementHashAlgo
	// BaseHash, DHE and AEAD are the supported sets (defaults: SHA-384,
	// SHA-256, SHA-512; secp384r1, secp256r1; AES-256-GCM,
	// ChaCha20-Poly1305, AES-128-GCM).
	BaseHash BaseHashAlgo
	DHE      DHEGroup
	AEAD     AEADSuite
	// ReqBaseAsym is the set of requester algorithms accepted for mutual
	// authentication; mutual authentication is not implemented, so it is
	// selected only when a test override advertises MUT_AUTH_CAP.
	ReqBaseAsym BaseAsymAlgo
	// HeartbeatPeriod is reported in KEY_EXCHANGE_RSP (seconds, 0 = none).
	HeartbeatPeriod uint8
	// HandshakeInTheClear advertises HANDSHAKE_IN_THE_CLEAR_CAP.
	HandshakeInTheClear bool
	// IdleTimeout ends a connection that sends nothing for this long, so a
	// stuck client cannot hold the (sequential) server (default 10 min;
	// negative: never).
	IdleTimeout time.Duration
	// StopOnShutdown makes Serve return after a SHUTDOWN frame (spdm-emu
	// behaviour); otherwise only that connection ends.
	StopOnShutdown bool
	// Rand supplies nonces (default crypto/rand).
	Rand   io.Reader
	Logger *slog.Logger
	// Overrides is for tests only (see Overrides).
	Overrides *Overrides

	// dheKey, rspSessionID and padding are test hooks.
	dheKey  func(DHEGroup) (dheKey, error)
	padding io.Reader
}

// Responder serves SPDM requests.
type Responder struct {
	cfg  ResponderConfig
	log  *slog.Logger
	caps Capabilities
	asym BaseAsymAlgo
	mu   sync.Mutex
	// chains caches the SPDM chain per slot and hash.
	chains map[chainKey][]byte
}

type chainKey struct {
	slot uint8
	hash BaseHashAlgo
}

// NewResponder checks the configuration and returns a Responder.
func NewResponder(cfg ResponderConfig) (*Responder, error) {
	if len(cfg.Versions) == 0 {
		cfg.Versions = SupportedVersions
	}
	if cfg.MeasurementHash == 0 {
		cfg.MeasurementHash = MeasHashSHA384
	}
	if cfg.MeasurementHash.CryptoHash() == 0 {
		return nil, fmt.Errorf("spdm: unsupported measurement hash 0x%x", uint32(cfg.MeasurementHash))
	}
	if cfg.BaseHash == 0 {
		cfg.BaseHash = HashSHA384 | HashSHA256 | HashSHA512
	}
	if cfg.DHE == 0 {
		cfg.DHE = DHESECP384R1 | DHESECP256R1
	}
	if cfg.AEAD == 0 {
		cfg.AEAD = AEADAES256GCM | AEADChaCha20Poly1305 | AEADAES128GCM
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.IdleTimeout == 0 {
		cfg.IdleTimeout = 10 * time.Minute
	}
	if len(cfg.Slots) > 8 {
		return nil, fmt.Errorf("spdm: %d certificate slots (max 8)", len(cfg.Slots))
	}
	s := &Responder{cfg: cfg, log: cfg.Logger, chains: map[chainKey][]byte{}}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	for i, slot := range cfg.Slots {
		if slot == nil {
			continue
		}
		if len(slot.Chain) == 0 || slot.Signer == nil {
			return nil, fmt.Errorf("spdm: slot %d needs a chain and a signer", i)
		}
		pub, ok := slot.Signer.Public().(*ecdsa.PublicKey)
		if !ok {
			return nil, fmt.Errorf("spdm: slot %d signer is not ECDSA", i)
		}
		var a BaseAsymAlgo
		switch pub.Curve.Params().BitSize {
		case 256:
			a = AsymECDSAP256
		case 384:
			a = AsymECDSAP384
		default:
			return nil, fmt.Errorf("spdm: slot %d: unsupported curve %s", i, pub.Curve.Params().Name)
		}
		if s.asym != 0 && s.asym != a {
			return nil, fmt.Errorf("spdm: all slots must use the same key algorithm")
		}
		s.asym = a
	}
	flags := CapabilityFlags(0)
	if s.asym != 0 {
		flags |= CapCert | CapChal | CapEncrypt | CapMAC | CapKeyEx | CapHeartbeat
	}
	if cfg.Measurements != nil {
		if s.asym != 0 {
			flags |= CapMeasSig
		} else {
			flags |= CapMeasNoSig
		}
	}
	if cfg.HandshakeInTheClear && s.asym != 0 {
		flags |= CapHandshakeInTheClear
	}
	if cfg.AliasCert {
		flags |= CapAliasCert
	}
	flags |= CapChunk
	s.caps = Capabilities{CTExponent: 16, Flags: flags, DataTransferSize: DefaultDataTransferSize, MaxSPDMmsgSize: DefaultMaxSPDMmsgSize}
	if o := cfg.Overrides; o != nil {
		s.caps = Capabilities{Flags: o.Flags, CTExponent: o.CTExponent, DataTransferSize: o.DataTransferSize, MaxSPDMmsgSize: o.MaxSPDMmsgSize}
	}
	return s, nil
}

// SetSlot replaces certificate slot id (nil empties it), as a device does
// when it is re-provisioned: every connection sees the new chain from its
// next GET_DIGESTS or GET_CERTIFICATE on, so a requester that compares
// DIGESTS with the chain it verified notices the change. The slot's key
// must use the algorithm of the other slots.
func (s *Responder) SetSlot(id uint8, slot *CertSlot) error {
	if id >= 8 {
		return fmt.Errorf("spdm: slot %d (max 7)", id)
	}
	if slot != nil {
		if len(slot.Chain) == 0 || slot.Signer == nil {
			return fmt.Errorf("spdm: slot %d needs a chain and a signer", id)
		}
		pub, ok := slot.Signer.Public().(*ecdsa.PublicKey)
		if !ok || s.asym == 0 || s.asym.Curve() != pub.Curve {
			return fmt.Errorf("spdm: slot %d key does not match the responder's algorithm", id)
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	slots := make([]*CertSlot, max(len(s.cfg.Slots), int(id)+1))
	copy(slots, s.cfg.Slots)
	slots[id] = slot
	s.cfg.Slots = slots
	for k := range s.chains {
		if k.slot == id {
			delete(s.chains, k)
		}
	}
	return nil
}

// Serve accepts connections one after another and serves each until the
// peer shuts it down or disconnects. It returns when ctx ends, the listener
// fails, or (with StopOnShutdown) after a SHUTDOWN.
func (s *Responder) Serve(ctx context.Context, l net.Listener) error {
	stop := context.AfterFunc(ctx, func() { l.Close() })
	defer stop()
	for {
		c, err := l.Accept()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("accept: %w", err)
		}
		shutdown, err := s.ServeConn(ctx, c)
		c.Close()
		if err != nil {
			s.log.Warn("spdm connection ended", "remote", c.RemoteAddr(), "err", err)
		}
		if shutdown && s.cfg.StopOnShutdown {
			return nil
		}
	}
}

// ServeConn serves one connection until SHUTDOWN/CONTINUE, EOF, a fatal
// framing error or ctx's end. shutdown reports a SHUTDOWN frame.
func (s *Responder) ServeConn(ctx context.Context, rw io.ReadWriter) (shutdown bool, err error) {
	return s.serve(ctx, rw, NewFrameConn(rw), true)
}

// ServeSerial serves a serial line (resynchronising framing, no idle
// timeout: the line stays open).
func (s *Responder) ServeSerial(ctx context.Context, rw io.ReadWriter) (shutdown bool, err error) {
	return s.serve(ctx, rw, NewSerialFrameConn(rw), false)
}

func (s *Responder) serve(ctx context.Context, rw io.ReadWriter, fc *FrameConn, idle bool) (bool, error) {
	defer bindContext(ctx, rw)()
	c := &rspConn{s: s, fc: fc, ctx: ctx}
	rd, canIdle := rw.(interface{ SetReadDeadline(time.Time) error })
	for {
		if idle && canIdle && s.cfg.IdleTimeout > 0 && ctx.Err() == nil {
			_ = rd.SetReadDeadline(time.Now().Add(s.cfg.IdleTimeout))
		}
		f, err := fc.ReadFrame()
		if err != nil {
			if errors.Is(err, ErrTransportType) {
				s.log.Warn("spdm frame refused", "err", err)
				continue
			}
			if errors.Is(err, io.EOF) || ctx.Err() != nil {
				return false, nil
			}
			return false, err
		}
		switch f.Command {
		case CommandTest:
			err = fc.WriteFrame(Frame{Command: CommandTest, TransportType: TransportMCTP, Payload: ServerHello})
		case CommandShutdown:
			_ = fc.WriteFrame(Frame{Command: CommandShutdown, TransportType: TransportMCTP})
			return true, nil
		case CommandContinue:
			_ = fc.WriteFrame(Frame{Command: CommandContinue, TransportType: TransportMCTP})
			return false, nil
		case CommandNormal:
			err = c.frame(f.Payload)
		}
		if err != nil {
			return false, err
		}
	}
}

// rspState is the connection state machine (DSP0274 clause 9 ordering).
type rspState uint8

const (
	stateIdle       rspState = iota // expect GET_VERSION
	stateVersion                    // VERSION sent: expect GET_CAPABILITIES
	stateCaps                       // CAPABILITIES sent: expect NEGOTIATE_ALGORITHMS
	stateNegotiated                 // everything else allowed
)

// rspConn is the per-connection state.
type rspConn struct {
	s       *Responder
	fc      *FrameConn
	ctx     context.Context
	state   rspState
	neg     Negotiated
	t       transcript
	session *rspSession
	// large response awaiting CHUNK_GET
	large       []byte
	largeHandle uint8
	// large request being received by CHUNK_SEND
	chunkIn     []byte
	chunkHandle uint8
	chunkNext   uint16
	chunkSize   uint32
	chunking    bool
	// panicked records a recovered panic (a bug; fuzz tests look for it).
	panicked bool
}

func (c *rspConn) frame(p []byte) error {
	if len(p) < 1 {
		return nil
	}
	switch p[0] {
	case MCTPTypeSPDM:
		rsp, after := c.handle(p[1:], nil)
		err := c.fc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSPDM, rsp)})
		if after != nil {
			after()
		}
		return err
	case MCTPTypeSecured:
		ss := c.session
		if ss == nil || ss.rx == nil {
			return c.writeError(ErrUnexpectedRequest, 0)
		}
		app, err := ss.rx.open(p[1:])
		if err != nil || len(app) < 1 || app[0] != MCTPTypeSPDM {
			c.s.log.Warn("spdm secured message refused; session terminated", "err", err)
			c.session = nil
			return c.writeError(ErrDecryptError, 0)
		}
		rsp, after := c.handle(app[1:], ss)
		rec, err := ss.tx.seal(mctpPayload(MCTPTypeSPDM, rsp))
		if err != nil {
			return err
		}
		err = c.fc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSecured, rec)})
		if after != nil {
			after()
		}
		return err
	}
	return nil
}

func (c *rspConn) writeError(code ErrorCode, data uint8) error {
	v := c.neg.Version
	if v == 0 {
		v = Version10
	}
	e := ErrorResponse{Version: v, ErrorCode: code, ErrorData: data}
	return c.fc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSPDM, e.Marshal())})
}

// errorMsg builds an ERROR response.
func (c *rspConn) errorMsg(v Version, code ErrorCode, data uint8, ext ...byte) []byte {
	if v == 0 {
		v = Version10
	}
	return (&ErrorResponse{Version: v, ErrorCode: code, ErrorData: data, Extended: ext}).Marshal()
}

// handle answers one request; after, if set, runs once the response is
// sent (key changes).
func (c *rspConn) handle(msg []byte, ss *rspSession) (rsp []byte, after func()) {
	defer func() {
		if p := recover(); p != nil {
			c.panicked = true
			c.s.log.Error("spdm responder panic", "panic", p)
			rsp, after = c.errorMsg(c.neg.Version, ErrUnspecified, 0), nil
		}
	}()
	if len(msg) < headerSize {
		return c.errorMsg(c.neg.Version, ErrInvalidRequest, 0), nil
	}
	if len(msg) > int(c.s.caps.DataTransferSize) && RequestCode(msg[1]) != RequestChunkSend {
		return c.errorMsg(c.neg.Version, ErrRequestTooLarge, 0), nil
	}
	code := RequestCode(msg[1])
	switch code {
	case RequestChunkSend:
		return c.chunkSend(msg, ss)
	case RequestChunkGet:
		return c.chunkGet(msg), nil
	}
	// A pending large response is dropped by any other request.
	c.large = nil
	rsp, after = c.dispatch(msg, ss)
	if len(rsp) > int(c.neg.RequesterCaps.DataTransferSize) && c.state == stateNegotiated {
		if !c.neg.RequesterCaps.Flags.Has(CapChunk) || !c.s.caps.Flags.Has(CapChunk) {
			return c.errorMsg(c.neg.Version, ErrResponseTooLarge, 0), after
		}
		c.largeHandle++
		c.large = rsp
		return c.errorMsg(c.neg.Version, ErrLargeResponse, 0, c.largeHandle), after
	}
	return rsp, after
}

func (c *rspConn) dispatch(msg []byte, ss *rspSession) ([]byte, func()) {
	code := RequestCode(msg[1])
	v := Version(msg[0])
	if code == RequestGetVersion {
		if ss != nil {
			return c.errorMsg(c.neg.Version, ErrUnexpectedRequest, 0), nil
		}
		return c.getVersion(msg), nil
	}
	switch c.state {
	case stateIdle:
		return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
	case stateVersion:
		if code != RequestGetCapabilities {
			return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
		}
		return c.getCapabilities(msg), nil
	case stateCaps:
		if code != RequestNegotiateAlgorithms {
			return c.errorMsg(c.neg.Version, ErrUnexpectedRequest, 0), nil
		}
		return c.negotiateAlgorithms(msg), nil
	}
	if v != c.neg.Version {
		return c.errorMsg(c.neg.Version, ErrVersionMismatch, 0), nil
	}
	if ss != nil && !ss.established && code != RequestFinish {
		return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
	}
	if ss == nil {
		c.t.request(code)
	} else if code != RequestGetMeasurements {
		ss.st.l = ss.st.l[:0]
	}
	switch code {
	case RequestGetCapabilities, RequestNegotiateAlgorithms:
		return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
	case RequestGetDigests:
		return c.getDigests(msg, ss), nil
	case RequestGetCertificate:
		return c.getCertificate(msg, ss), nil
	case RequestChallenge:
		if ss != nil {
			return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
		}
		return c.challenge(msg), nil
	case RequestGetMeasurements:
		return c.getMeasurements(msg, ss), nil
	case RequestKeyExchange:
		if ss != nil {
			return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
		}
		if c.session != nil && c.session.established {
			return c.errorMsg(v, ErrSessionLimitExceeded, 0), nil
		}
		return c.keyExchange(msg)
	case RequestFinish:
		return c.finish(msg, ss)
	case RequestHeartbeat:
		return c.heartbeat(msg, ss), nil
	case RequestEndSession:
		return c.endSession(msg, ss)
	case RequestVendorDefined:
		return c.vendorDefined(msg, ss), nil
	case RequestRespondIfReady:
		return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
	}
	return c.errorMsg(v, ErrUnsupportedRequest, uint8(code)), nil
}

func (c *rspConn) getVersion(msg []byte) []byte {
	var gv GetVersion
	if err := gv.Unmarshal(msg); err != nil || gv.Version != Version10 {
		return c.errorMsg(Version10, ErrVersionMismatch, 0)
	}
	c.state = stateIdle
	c.neg = Negotiated{}
	c.session = nil
	c.t.reset()
	vr := VersionResponse{Version: Version10}
	for _, v := range c.s.cfg.Versions {
		vr.Entries = append(vr.Entries, EntryFor(v))
	}
	// Lowest first, as libspdm lists them.
	for i, j := 0, len(vr.Entries)-1; i < j; i, j = i+1, j-1 {
		vr.Entries[i], vr.Entries[j] = vr.Entries[j], vr.Entries[i]
	}
	rsp := vr.Marshal()
	c.t.vca(msg[:headerSize], rsp)
	c.state = stateVersion
	return rsp
}

func (c *rspConn) supported(v Version) bool {
	for _, o := range c.s.cfg.Versions {
		if o == v {
			return true
		}
	}
	return false
}

func (c *rspConn) getCapabilities(msg []byte) []byte {
	var gc GetCapabilities
	v := Version(msg[0])
	if !c.supported(v) {
		return c.errorMsg(Version10, ErrVersionMismatch, 0)
	}
	if err := gc.Unmarshal(msg); err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	if gc.DataTransferSize < minDataTransferSize || gc.DataTransferSize > gc.MaxSPDMmsgSize {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	c.neg.Version = v
	c.neg.RequesterCaps = gc.Capabilities
	rc := CapabilitiesResponse{c.s.caps}
	rc.Version = v
	c.neg.ResponderCaps = rc.Capabilities
	rsp := rc.Marshal()
	c.t.vca(msg[:len(gc.Marshal())], rsp)
	c.state = stateCaps
	return rsp
}

func (c *rspConn) negotiateAlgorithms(msg []byte) []byte {
	v := c.neg.Version
	if Version(msg[0]) != v {
		return c.errorMsg(v, ErrVersionMismatch, 0)
	}
	var na NegotiateAlgorithms
	if err := na.Unmarshal(msg); err != nil || len(na.Marshal()) > maxNegotiateAlgorithmsLength {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	cfg := &c.s.cfg
	rf := c.s.caps.Flags
	qf := c.neg.RequesterCaps.Flags
	a := Algorithms{Version: v}
	if rf&CapMeasMask != 0 && na.MeasurementSpec&MeasurementSpecDMTF != 0 {
		a.MeasurementSpec = MeasurementSpecDMTF
		a.MeasurementHash = cfg.MeasurementHash
	}
	if na.OtherParams&OpaqueDataFmt1 != 0 {
		a.OtherParams = OpaqueDataFmt1
	}
	a.BaseAsym = pick(na.BaseAsym, c.s.asym, asymPrefs)
	a.BaseHash = pick(na.BaseHash, cfg.BaseHash, hashPrefs)
	if a.BaseHash == 0 || (c.s.asym != 0 && a.BaseAsym == 0) {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	keyEx := rf.Has(CapKeyEx) && qf.Has(CapKeyEx)
	for _, st := range na.AlgStructs {
		var sel uint16
		switch st.Type {
		case AlgTypeDHE:
			if keyEx {
				sel = uint16(pick(DHEGroup(st.Supported), cfg.DHE, dhePrefs))
			}
		case AlgTypeAEAD:
			if keyEx {
				sel = uint16(pick(AEADSuite(st.Supported), cfg.AEAD, aeadPrefs))
			}
		case AlgTypeReqBaseAsym:
			if rf.Has(CapMutAuth) && qf.Has(CapMutAuth) {
				sel = uint16(pick(BaseAsymAlgo(st.Supported), cfg.ReqBaseAsym, reqAsymPrefs))
			}
		case AlgTypeKeySchedule:
			if keyEx {
				sel = st.Supported & uint16(KeyScheduleSPDM)
			}
		default:
			continue
		}
		a.AlgStructs = append(a.AlgStructs, AlgStruct{Type: st.Type, Supported: sel})
	}
	n := &c.neg
	n.MeasurementSpec, n.OtherParams, n.MeasurementHash = a.MeasurementSpec, a.OtherParams, a.MeasurementHash
	n.BaseAsym, n.BaseHash = a.BaseAsym, a.BaseHash
	n.DHE, n.AEAD = DHEGroup(a.Alg(AlgTypeDHE)), AEADSuite(a.Alg(AlgTypeAEAD))
	n.ReqBaseAsym, n.KeySchedule = BaseAsymAlgo(a.Alg(AlgTypeReqBaseAsym)), KeyScheduleAlgo(a.Alg(AlgTypeKeySchedule))
	if keyEx && (n.DHE == 0 || n.AEAD == 0 || n.KeySchedule == 0) {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	n.HandshakeInTheClear = rf.Has(CapHandshakeInTheClear) && qf.Has(CapHandshakeInTheClear)
	if v >= Version13 {
		switch {
		case rf.Has(CapMultiKeyOnly):
			n.MultiKey = true
		case rf.Has(CapMultiKeyNeg) && na.OtherParams&MultiKeyConnection != 0:
			n.MultiKey = true
			a.OtherParams |= MultiKeyConnection
		}
	}
	rsp := a.Marshal()
	c.t.vca(msg[:len(na.Marshal())], rsp)
	c.state = stateNegotiated
	return rsp
}

// slotChain returns the SPDM chain of a provisioned slot for the
// negotiated hash (built once per slot and hash).
func (c *rspConn) slotChain(slot uint8) ([]byte, *CertSlot) {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	if int(slot) >= len(c.s.cfg.Slots) || c.s.cfg.Slots[slot] == nil {
		return nil, nil
	}
	cs := c.s.cfg.Slots[slot]
	key := chainKey{slot, c.neg.BaseHash}
	if ch, ok := c.s.chains[key]; ok {
		return ch, cs
	}
	ch, err := BuildCertChain(c.neg.Hash(), cs.Chain)
	if err != nil {
		c.s.log.Error("certificate slot unusable", "slot", slot, "err", err)
		return nil, nil
	}
	c.s.chains[key] = ch
	return ch, cs
}

func (c *rspConn) slotMask() uint8 {
	c.s.mu.Lock()
	defer c.s.mu.Unlock()
	var m uint8
	for i, sl := range c.s.cfg.Slots {
		if sl != nil {
			m |= 1 << i
		}
	}
	return m
}

func (c *rspConn) getDigests(msg []byte, ss *rspSession) []byte {
	v := c.neg.Version
	var gd GetDigests
	if err := gd.Unmarshal(msg); err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	if !c.s.caps.Flags.Has(CapCert) {
		return c.errorMsg(v, ErrUnsupportedRequest, uint8(RequestGetDigests))
	}
	d := Digests{Version: v, SlotMask: c.slotMask()}
	if v >= Version13 {
		d.SupportedSlots = d.SlotMask
	}
	for i := range uint8(8) {
		if d.SlotMask&(1<<i) == 0 {
			continue
		}
		ch, cs := c.slotChain(i)
		if cs == nil { // emptied by SetSlot meanwhile
			d.SlotMask &^= 1 << i
			continue
		}
		d.Digests = append(d.Digests, hashOf(c.neg.Hash(), ch))
		if c.neg.MultiKey {
			id, usage := cs.KeyPairID, cs.KeyUsage
			if id == 0 {
				id = i + 1
			}
			if usage == 0 {
				usage = KeyUsageKeyExchange | KeyUsageChallenge | KeyUsageMeasurement | KeyUsageEndpointInfo
			}
			d.KeyPairIDs = append(d.KeyPairIDs, id)
			d.CertInfos = append(d.CertInfos, c.certModel(cs))
			d.KeyUsageMask = append(d.KeyUsageMask, usage)
		}
	}
	rsp := d.Marshal()
	if ss == nil {
		c.t.digests(msg[:headerSize], rsp)
	}
	return rsp
}

func (c *rspConn) certModel(cs *CertSlot) uint8 {
	if cs.Model != 0 {
		return cs.Model
	}
	if c.s.caps.Flags.Has(CapAliasCert) {
		return CertModelAlias
	}
	return CertModelDevice
}

func (c *rspConn) getCertificate(msg []byte, ss *rspSession) []byte {
	v := c.neg.Version
	var gc GetCertificate
	if err := gc.Unmarshal(msg); err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	if !c.s.caps.Flags.Has(CapCert) {
		return c.errorMsg(v, ErrUnsupportedRequest, uint8(RequestGetCertificate))
	}
	ch, cs := c.slotChain(gc.SlotID)
	if ch == nil || int(gc.Offset) >= len(ch) || gc.Length == 0 {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	n := min(int(gc.Length), len(ch)-int(gc.Offset))
	if room := int(c.neg.RequesterCaps.DataTransferSize) - 8; n > room && room > 0 {
		n = room
	}
	cert := Certificate{Version: v, SlotID: gc.SlotID, Portion: ch[gc.Offset : int(gc.Offset)+n],
		RemainderLength: uint16(len(ch) - int(gc.Offset) - n)}
	if v >= Version13 && c.neg.MultiKey {
		// CertificateInfo is defined only on a multi-key connection.
		cert.CertInfo = c.certModel(cs)
	}
	rsp := cert.Marshal()
	if ss == nil {
		c.t.certificate(msg[:len(gc.Marshal())], rsp)
	}
	return rsp
}

func (c *rspConn) nonce(b []byte) error {
	_, err := io.ReadFull(c.s.cfg.Rand, b)
	return err
}

// summary returns the MeasurementSummaryHash for a summary type.
func (c *rspConn) summary(typ uint8) ([]byte, bool) {
	switch typ {
	case SummaryNone:
		return nil, true
	case SummaryTCB, SummaryAll:
	default:
		return nil, false
	}
	if c.s.cfg.Measurements == nil || c.neg.MeasurementHash.CryptoHash() == 0 {
		return nil, false
	}
	blocks, err := c.s.cfg.Measurements.MeasurementBlocks(c.ctx, c.neg.MeasurementHash.CryptoHash(), false)
	if err != nil {
		return nil, false
	}
	return summaryHash(c.neg.Hash(), blocks, typ), true
}

func (c *rspConn) sign(cs *CertSlot, context string, transcript []byte) ([]byte, error) {
	h := c.neg.Hash()
	return signTranscript(cs.Signer, h, c.neg.Version, context, hashOf(h, transcript), c.neg.BaseAsym.SignatureSize())
}

func (c *rspConn) challenge(msg []byte) []byte {
	v := c.neg.Version
	var ch Challenge
	if err := ch.Unmarshal(msg); err != nil {
		c.t.challengeFailed()
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	if !c.s.caps.Flags.Has(CapChal) {
		return c.errorMsg(v, ErrUnsupportedRequest, uint8(RequestChallenge))
	}
	chain, cs := c.slotChain(ch.SlotID)
	sum, ok := c.summary(ch.SummaryHashType)
	if chain == nil || !ok {
		c.t.challengeFailed()
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	ca := ChallengeAuth{Version: v, Param1: ch.SlotID, SlotMask: c.slotMask(), CertChainHash: hashOf(c.neg.Hash(), chain),
		SummaryHash: sum, RequesterContext: ch.RequesterContext}
	if err := c.nonce(ca.Nonce[:]); err != nil {
		return c.errorMsg(v, ErrUnspecified, 0)
	}
	unsigned := ca.Marshal()
	m1 := c.t.challenge(msg[:len(ch.Marshal())], unsigned)
	sig, err := c.sign(cs, contextChallengeAuth, m1)
	if err != nil {
		c.s.log.Error("CHALLENGE_AUTH signing failed", "err", err)
		return c.errorMsg(v, ErrUnspecified, 0)
	}
	return append(unsigned, sig...)
}

func (c *rspConn) getMeasurements(msg []byte, ss *rspSession) []byte {
	v := c.neg.Version
	lt := &c.t.l
	if ss != nil {
		lt = &ss.st.l
	}
	fail := func(code ErrorCode) []byte {
		*lt = (*lt)[:0]
		return c.errorMsg(v, code, 0)
	}
	var gm GetMeasurements
	if err := gm.Unmarshal(msg); err != nil {
		return fail(ErrInvalidRequest)
	}
	rf := c.s.caps.Flags
	if rf&CapMeasMask == 0 || c.s.cfg.Measurements == nil || c.neg.MeasurementHash.CryptoHash() == 0 {
		return fail(ErrUnsupportedRequest)
	}
	var cs *CertSlot
	if gm.Signed() {
		if !rf.Has(CapMeasSig) {
			return fail(ErrInvalidRequest)
		}
		if _, cs = c.slotChain(gm.SlotID); cs == nil {
			return fail(ErrInvalidRequest)
		}
	}
	blocks, err := c.s.cfg.Measurements.MeasurementBlocks(c.ctx, c.neg.MeasurementHash.CryptoHash(), gm.Attributes&MeasRawBitStream != 0)
	if err != nil {
		c.s.log.Error("measurement provider failed", "err", err)
		return fail(ErrUnspecified)
	}
	m := Measurements{Version: v, RequesterContext: gm.RequesterContext}
	switch gm.Operation {
	case MeasOpCount:
		m.Param1 = uint8(len(blocks))
	case MeasOpAll:
		m.Blocks = blocks
	default:
		for _, b := range blocks {
			if b.Index == gm.Operation {
				m.Blocks = []MeasurementBlock{b}
			}
		}
		if len(m.Blocks) == 0 {
			return fail(ErrInvalidRequest)
		}
	}
	if gm.Signed() {
		m.Param2 = gm.SlotID | 0x20 // ContentChanged: no change detected
	}
	if err := c.nonce(m.Nonce[:]); err != nil {
		return fail(ErrUnspecified)
	}
	unsigned := m.Marshal()
	l1 := c.t.measurement(lt, msg[:len(gm.Marshal())], unsigned, gm.Signed())
	if !gm.Signed() {
		return unsigned
	}
	sig, err := c.sign(cs, contextMeasurements, l1)
	if err != nil {
		c.s.log.Error("MEASUREMENTS signing failed", "err", err)
		return c.errorMsg(v, ErrUnspecified, 0)
	}
	return append(unsigned, sig...)
}

func (c *rspConn) vendorDefined(msg []byte, ss *rspSession) []byte {
	v := c.neg.Version
	var req VendorDefinedRequest
	if err := req.Unmarshal(msg); err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	if c.s.cfg.Vendor == nil {
		return c.errorMsg(v, ErrUnsupportedRequest, uint8(RequestVendorDefined))
	}
	var id uint32
	if ss != nil {
		id = ss.id
	}
	out, err := c.s.cfg.Vendor(c.ctx, id, &req.VendorDefined)
	if err != nil || out == nil || len(out.VendorID) > 0xFF || len(out.Payload) > maxVendorPayload {
		c.s.log.Warn("vendor-defined handler failed", "err", err)
		return c.errorMsg(v, ErrUnspecified, 0)
	}
	rsp := VendorDefinedResponse{*out}
	rsp.Version = v
	return rsp.Marshal()
}

// chunkSend assembles a large request (CHUNK_SEND) and answers the last
// chunk with the response to the whole request.
func (c *rspConn) chunkSend(msg []byte, ss *rspSession) ([]byte, func()) {
	v := c.neg.Version
	var cs ChunkSend
	if c.state != stateNegotiated || Version(msg[0]) != v {
		return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
	}
	if err := cs.Unmarshal(msg); err != nil || !c.s.caps.Flags.Has(CapChunk) {
		c.chunking = false
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	if cs.ChunkSeqNo == 0 {
		if cs.LargeMessageSize > c.s.caps.MaxSPDMmsgSize || cs.LargeMessageSize <= c.s.caps.DataTransferSize {
			c.chunking = false
			return c.errorMsg(v, ErrInvalidRequest, 0), nil
		}
		c.chunking, c.chunkHandle, c.chunkNext, c.chunkSize = true, cs.Handle, 0, cs.LargeMessageSize
		c.chunkIn = make([]byte, 0, cs.LargeMessageSize)
	}
	if !c.chunking || cs.Handle != c.chunkHandle || cs.ChunkSeqNo != c.chunkNext ||
		len(c.chunkIn)+len(cs.Chunk) > int(c.chunkSize) {
		c.chunking = false
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	c.chunkIn = append(c.chunkIn, cs.Chunk...)
	c.chunkNext++
	ack := ChunkSendAck{Version: v, Handle: cs.Handle, ChunkSeqNo: cs.ChunkSeqNo}
	if cs.Attributes&ChunkLast == 0 {
		if len(cs.Chunk) == 0 {
			c.chunking = false
			return c.errorMsg(v, ErrInvalidRequest, 0), nil
		}
		return ack.Marshal(), nil
	}
	c.chunking = false
	if len(c.chunkIn) != int(c.chunkSize) {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	req := c.chunkIn
	c.chunkIn = nil
	var after func()
	if len(req) < headerSize || RequestCode(req[1]) == RequestChunkSend || RequestCode(req[1]) == RequestChunkGet {
		ack.Response = c.errorMsg(v, ErrInvalidRequest, 0)
	} else {
		ack.Response, after = c.dispatch(req, ss)
	}
	if len(ack.Response)+6 > int(c.neg.RequesterCaps.DataTransferSize) {
		c.largeHandle++
		c.large = ack.Response
		ack.Response = c.errorMsg(v, ErrLargeResponse, 0, c.largeHandle)
	}
	return ack.Marshal(), after
}

// chunkGet returns the next chunk of a pending large response.
func (c *rspConn) chunkGet(msg []byte) []byte {
	v := c.neg.Version
	var cg ChunkGet
	if err := cg.Unmarshal(msg); err != nil || Version(msg[0]) != v {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	if c.large == nil || cg.Handle != c.largeHandle {
		return c.errorMsg(v, ErrUnexpectedRequest, 0)
	}
	dts := int(c.neg.RequesterCaps.DataTransferSize)
	// Chunk k covers bytes after the first chunk's smaller payload.
	first := dts - chunkHeaderSize - chunkFirstExtraSize
	rest := dts - chunkHeaderSize
	if first <= 0 {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	off := 0
	if cg.ChunkSeqNo > 0 {
		off = first + (int(cg.ChunkSeqNo)-1)*rest
	}
	if off >= len(c.large) {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	size := rest
	if cg.ChunkSeqNo == 0 {
		size = first
	}
	end := min(off+size, len(c.large))
	cr := ChunkResponse{chunkBody{Version: v, Handle: cg.Handle, ChunkSeqNo: cg.ChunkSeqNo, LargeMessageSize: uint32(len(c.large)), Chunk: c.large[off:end]}}
	if end == len(c.large) {
		cr.Attributes = ChunkLast
		defer func() { c.large = nil }()
	}
	return cr.Marshal()
}

var _ crypto.Signer = (*ecdsa.PrivateKey)(nil)
