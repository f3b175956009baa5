// This file implements the SPDM requester of DSP0274 1.2/1.3: connection
// setup (clauses 10.3-10.5, version negotiation to the highest common
// version), GET_DIGESTS/GET_CERTIFICATE with certificate chain verification
// (clauses 10.6-10.7), CHALLENGE (clause 10.8) and GET_MEASUREMENTS (clause
// 10.11) with signature verification (clause 15), ResponseNotReady /
// RESPOND_IF_READY (clause 10.12-10.13), CHUNK_SEND/CHUNK_GET (clauses
// 10.20-10.21) and VENDOR_DEFINED_REQUEST (clause 10.23). Sessions are in
// requester_session.go.

package spdm

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/rand"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"time"
)

// Sizes our sides advertise: at least 16 KiB each (the root of trust's
// signed manifest exceeds libspdm's 4,608-byte DataTransferSize).
const (
	DefaultDataTransferSize = 16 << 10
	DefaultMaxSPDMmsgSize   = 256 << 10
	// minDataTransferSize is MinDataTransferSize of DSP0274 1.2.
	minDataTransferSize = 42
	maxNotReadyRetries  = 8
)

// Overrides replaces the advertised capability fields. It exists only so
// that tests can mirror a recording of another implementation; production
// configurations leave it nil.
type Overrides struct {
	Flags            CapabilityFlags
	CTExponent       uint8
	DataTransferSize uint32
	MaxSPDMmsgSize   uint32
}

// RequesterConfig configures a Requester. The zero value offers SPDM 1.3
// and 1.2 with ECDSA P-384/P-256, SHA-384/SHA-256, secp384r1/secp256r1 and
// AES-256-GCM/ChaCha20-Poly1305/AES-128-GCM, and refuses any certificate
// chain (no Roots).
type RequesterConfig struct {
	// Versions offered, default SupportedVersions.
	Versions []Version
	// Roots are the trust anchors for CertificateChain.
	Roots *x509.CertPool
	// Now is the clock for certificate validity (default time.Now).
	Now func() time.Time
	// Rand supplies nonces, KEY_EXCHANGE RandomData and RequesterContext
	// values (default crypto/rand).
	Rand io.Reader
	// DHEKey returns the private scalar for a KEY_EXCHANGE (default: fresh
	// from crypto/rand). Keys are injected as bytes, never via an io.Reader.
	DHEKey func(DHEGroup) ([]byte, error)

	// Algorithm offers (zero: defaults).
	BaseAsym    BaseAsymAlgo
	BaseHash    BaseHashAlgo
	DHE         DHEGroup
	AEAD        AEADSuite
	ReqBaseAsym BaseAsymAlgo // offered only when non-zero
	OtherParams OtherParams  // default OpaqueDataFmt1
	MELSpec     uint8

	// PortionLength is the Length of each GET_CERTIFICATE (default 0xFFFF).
	PortionLength uint16
	// HandshakeInTheClear advertises HANDSHAKE_IN_THE_CLEAR_CAP.
	HandshakeInTheClear bool
	// SerialLine makes the framing resynchronise after garbage (a serial
	// line rather than TCP).
	SerialLine bool

	Logger *slog.Logger
	// Overrides is for tests only (see Overrides).
	Overrides *Overrides

	// dhe replaces the ECDH exchange (tests replaying a recording).
	dhe func(g DHEGroup) (dheKey, error)
	// padding supplies secured-message padding (tests).
	padding io.Reader
}

// Requester is the client side of one SPDM connection. It is not safe for
// concurrent use; all traffic on one link goes through one Requester.
type Requester struct {
	cfg    RequesterConfig
	fc     *FrameConn
	rw     io.ReadWriter
	closer io.Closer
	log    *slog.Logger

	ours      Capabilities
	neg       Negotiated
	connected bool
	t         transcript
	chains    [8]*CertChain
	session   *Session
	chunkSeq  uint8
	nextReqID uint16
}

// ErrNotConnected reports a call that needs Connect first.
var ErrNotConnected = errors.New("spdm: not connected")

// ErrProtocol reports a response that violates DSP0274.
var ErrProtocol = errors.New("spdm: protocol violation")

// NewRequester returns a requester speaking spdm-emu framing over rw.
func NewRequester(rw io.ReadWriter, cfg RequesterConfig) *Requester {
	r := &Requester{cfg: cfg, rw: rw, fc: NewFrameConn(rw), nextReqID: 0xFFFF}
	if cfg.SerialLine {
		r.fc = NewSerialFrameConn(rw)
	}
	if c, ok := rw.(io.Closer); ok {
		r.closer = c
	}
	r.log = cfg.Logger
	if r.log == nil {
		r.log = slog.New(slog.DiscardHandler)
	}
	if r.cfg.Rand == nil {
		r.cfg.Rand = rand.Reader
	}
	if r.cfg.Now == nil {
		r.cfg.Now = time.Now
	}
	if len(r.cfg.Versions) == 0 {
		r.cfg.Versions = SupportedVersions
	}
	if r.cfg.BaseAsym == 0 {
		r.cfg.BaseAsym = AsymECDSAP384 | AsymECDSAP256
	}
	if r.cfg.BaseHash == 0 {
		r.cfg.BaseHash = HashSHA384 | HashSHA256
	}
	if r.cfg.DHE == 0 {
		r.cfg.DHE = DHESECP384R1 | DHESECP256R1
	}
	if r.cfg.AEAD == 0 {
		r.cfg.AEAD = AEADAES256GCM | AEADChaCha20Poly1305 | AEADAES128GCM
	}
	if r.cfg.OtherParams == 0 {
		r.cfg.OtherParams = OpaqueDataFmt1
	}
	if r.cfg.PortionLength == 0 {
		r.cfg.PortionLength = 0xFFFF
	}
	flags := CapEncrypt | CapMAC | CapKeyEx | CapHeartbeat | CapChunk
	if r.cfg.HandshakeInTheClear {
		flags |= CapHandshakeInTheClear
	}
	r.ours = Capabilities{Flags: flags, DataTransferSize: DefaultDataTransferSize, MaxSPDMmsgSize: DefaultMaxSPDMmsgSize}
	if o := r.cfg.Overrides; o != nil {
		r.ours = Capabilities{Flags: o.Flags, CTExponent: o.CTExponent, DataTransferSize: o.DataTransferSize, MaxSPDMmsgSize: o.MaxSPDMmsgSize}
	}
	return r
}

// Dial connects to a responder over TCP and exchanges the spdm-emu TEST
// hello.
func Dial(ctx context.Context, addr string, cfg RequesterConfig) (*Requester, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("dial SPDM responder: %w", err)
	}
	r := NewRequester(c, cfg)
	if err := r.Hello(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return r, nil
}

// Hello sends the spdm-emu TEST frame and waits for its answer.
func (r *Requester) Hello(ctx context.Context) error {
	defer bindContext(ctx, r.rw)()
	if err := r.fc.WriteFrame(Frame{Command: CommandTest, TransportType: TransportMCTP, Payload: ClientHello}); err != nil {
		return err
	}
	f, err := r.fc.ReadFrame()
	if err != nil {
		return fmt.Errorf("TEST hello: %w", err)
	}
	if f.Command != CommandTest {
		return fmt.Errorf("%w: TEST answered with command 0x%x", ErrProtocol, uint32(f.Command))
	}
	return nil
}

// Negotiated returns the result of Connect.
func (r *Requester) Negotiated() Negotiated { return r.neg }

// Chain returns the verified chain of a slot (nil if not retrieved).
func (r *Requester) Chain(slot uint8) *CertChain {
	if slot >= 8 {
		return nil
	}
	return r.chains[slot]
}

// Close ends any open session, sends SHUTDOWN and closes the connection.
func (r *Requester) Close(ctx context.Context) error {
	var errs []error
	if r.session != nil {
		errs = append(errs, r.session.End(ctx))
	}
	func() {
		// SHUTDOWN is best effort: do not wait long for its answer.
		ctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		defer cancel()
		defer bindContext(ctx, r.rw)()
		if err := r.fc.WriteFrame(Frame{Command: CommandShutdown, TransportType: TransportMCTP}); err == nil {
			_, _ = r.fc.ReadFrame()
		}
	}()
	if r.closer != nil {
		errs = append(errs, r.closer.Close())
	}
	return errors.Join(errs...)
}

func (r *Requester) random(b []byte) error {
	if _, err := io.ReadFull(r.cfg.Rand, b); err != nil {
		return fmt.Errorf("spdm: random: %w", err)
	}
	return nil
}

// ---- transport of one message ----

func (r *Requester) writeMessage(s *Session, msg []byte) error {
	if s != nil && s.tx != nil {
		rec, err := s.tx.seal(mctpPayload(MCTPTypeSPDM, msg))
		if err != nil {
			return fmt.Errorf("seal %s: %w", RequestCode(msg[1]), err)
		}
		return r.fc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSecured, rec)})
	}
	return r.fc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSPDM, msg)})
}

func (r *Requester) readMessage(s *Session) ([]byte, error) {
	for {
		f, err := r.fc.ReadFrame()
		if err != nil {
			return nil, err
		}
		switch f.Command {
		case CommandNormal:
		case CommandShutdown:
			return nil, ErrShutdown
		default:
			continue
		}
		if len(f.Payload) < 1 {
			return nil, fmt.Errorf("%w: empty MCTP payload", ErrProtocol)
		}
		switch f.Payload[0] {
		case MCTPTypeSPDM:
			msg := f.Payload[1:]
			if s != nil && s.rx != nil && (len(msg) < 2 || ResponseCode(msg[1]) != ResponseError) {
				return nil, fmt.Errorf("%w: unsecured response inside a session", ErrProtocol)
			}
			return msg, nil
		case MCTPTypeSecured:
			if s == nil || s.rx == nil {
				return nil, fmt.Errorf("%w: secured message outside a session", ErrProtocol)
			}
			app, err := s.rx.open(f.Payload[1:])
			if err != nil {
				return nil, err
			}
			if len(app) < 1 || app[0] != MCTPTypeSPDM {
				return nil, fmt.Errorf("%w: secured payload is not SPDM", ErrProtocol)
			}
			return app[1:], nil
		default:
			return nil, fmt.Errorf("%w: MCTP message type 0x%02x", ErrProtocol, f.Payload[0])
		}
	}
}

// roundTrip sends one request and returns the complete response, handling
// large requests (CHUNK_SEND), large responses (CHUNK_GET) and
// ResponseNotReady. An ERROR response is returned as bytes, not as error.
func (r *Requester) roundTrip(ctx context.Context, s *Session, req []byte) ([]byte, error) {
	defer bindContext(ctx, r.rw)()
	var rsp []byte
	var err error
	if r.connected && len(req) > int(r.neg.ResponderCaps.DataTransferSize) {
		rsp, err = r.chunkSend(s, req)
	} else {
		if err = r.writeMessage(s, req); err == nil {
			rsp, err = r.readMessage(s)
		}
	}
	for try := 0; err == nil; try++ {
		if len(rsp) < headerSize {
			return nil, fmt.Errorf("%w: %d-byte response", ErrProtocol, len(rsp))
		}
		if ResponseCode(rsp[1]) != ResponseError {
			return rsp, nil
		}
		var e ErrorResponse
		if err := e.Unmarshal(rsp); err != nil {
			return nil, err
		}
		switch e.ErrorCode {
		case ErrResponseNotReady:
			nr, _ := e.NotReady()
			if try >= maxNotReadyRetries || nr.RequestCode != RequestCode(req[1]) {
				return rsp, nil
			}
			wait := time.Duration(1<<min(nr.RDTExponent, 24)) * time.Microsecond * time.Duration(max(nr.RDTM, 1))
			t := time.NewTimer(min(wait, 5*time.Second))
			select {
			case <-ctx.Done():
				t.Stop()
				return nil, ctx.Err()
			case <-t.C:
			}
			rir := RespondIfReady{Version: Version(req[0]), RequestCode: nr.RequestCode, Token: nr.Token}
			if err = r.writeMessage(s, rir.Marshal()); err == nil {
				rsp, err = r.readMessage(s)
			}
		case ErrLargeResponse:
			if len(e.Extended) < 1 {
				return nil, fmt.Errorf("%w: LargeResponse without handle", ErrProtocol)
			}
			return r.chunkGet(s, Version(req[0]), e.Extended[0])
		default:
			return rsp, nil
		}
	}
	return nil, err
}

// chunkSend transfers a request larger than the responder's
// DataTransferSize with CHUNK_SEND and returns the response to it.
func (r *Requester) chunkSend(s *Session, req []byte) ([]byte, error) {
	if !r.ours.Flags.Has(CapChunk) || !r.neg.ResponderCaps.Flags.Has(CapChunk) {
		return nil, fmt.Errorf("spdm: %d-byte request exceeds the responder's DataTransferSize %d and chunking is not negotiated", len(req), r.neg.ResponderCaps.DataTransferSize)
	}
	if len(req) > int(r.neg.ResponderCaps.MaxSPDMmsgSize) {
		return nil, fmt.Errorf("spdm: %d-byte request exceeds the responder's MaxSPDMmsgSize", len(req))
	}
	dts := int(r.neg.ResponderCaps.DataTransferSize)
	r.chunkSeq++
	handle := r.chunkSeq
	v := r.neg.Version
	for seq, off := uint16(0), 0; off < len(req); seq++ {
		room := dts - chunkHeaderSize
		if seq == 0 {
			room -= chunkFirstExtraSize
		}
		if room <= 0 {
			return nil, fmt.Errorf("%w: DataTransferSize %d too small for chunks", ErrProtocol, dts)
		}
		n := min(room, len(req)-off)
		cs := ChunkSend{chunkBody{Version: v, Handle: handle, ChunkSeqNo: seq, LargeMessageSize: uint32(len(req)), Chunk: req[off : off+n]}}
		off += n
		if off == len(req) {
			cs.Attributes = ChunkLast
		}
		if err := r.writeMessage(s, cs.Marshal()); err != nil {
			return nil, err
		}
		rsp, err := r.readMessage(s)
		if err != nil {
			return nil, err
		}
		if len(rsp) >= 2 && ResponseCode(rsp[1]) == ResponseError {
			return rsp, nil
		}
		var ack ChunkSendAck
		if err := ack.Unmarshal(rsp); err != nil {
			return nil, fmt.Errorf("CHUNK_SEND_ACK: %w", err)
		}
		if ack.Handle != handle || ack.ChunkSeqNo != seq {
			return nil, fmt.Errorf("%w: CHUNK_SEND_ACK for handle %d seq %d", ErrProtocol, ack.Handle, ack.ChunkSeqNo)
		}
		if ack.Attributes&ChunkEarlyError != 0 || off == len(req) {
			if len(ack.Response) == 0 {
				return nil, fmt.Errorf("%w: CHUNK_SEND_ACK without response", ErrProtocol)
			}
			return ack.Response, nil
		}
	}
	return nil, fmt.Errorf("%w: empty chunked request", ErrProtocol)
}

// chunkGet retrieves a large response with CHUNK_GET.
func (r *Requester) chunkGet(s *Session, v Version, handle uint8) ([]byte, error) {
	var out []byte
	var total uint32
	for seq := uint16(0); ; seq++ {
		cg := ChunkGet{Version: v, Handle: handle, ChunkSeqNo: seq}
		if err := r.writeMessage(s, cg.Marshal()); err != nil {
			return nil, err
		}
		rsp, err := r.readMessage(s)
		if err != nil {
			return nil, err
		}
		var cr ChunkResponse
		if err := cr.Unmarshal(rsp); err != nil {
			return nil, fmt.Errorf("CHUNK_RESPONSE: %w", err)
		}
		if cr.Handle != handle || cr.ChunkSeqNo != seq {
			return nil, fmt.Errorf("%w: CHUNK_RESPONSE for handle %d seq %d", ErrProtocol, cr.Handle, cr.ChunkSeqNo)
		}
		if seq == 0 {
			total = cr.LargeMessageSize
			if total > r.ours.MaxSPDMmsgSize || total == 0 {
				return nil, fmt.Errorf("%w: large response of %d bytes", ErrProtocol, total)
			}
			out = make([]byte, 0, total)
		}
		if len(out)+len(cr.Chunk) > int(total) {
			return nil, fmt.Errorf("%w: chunks exceed LargeMessageSize %d", ErrProtocol, total)
		}
		out = append(out, cr.Chunk...)
		if cr.Attributes&ChunkLast != 0 {
			if len(out) != int(total) {
				return nil, fmt.Errorf("%w: chunks total %d of %d bytes", ErrProtocol, len(out), total)
			}
			return out, nil
		}
		if len(cr.Chunk) == 0 {
			return nil, fmt.Errorf("%w: empty non-final chunk", ErrProtocol)
		}
	}
}

// expect checks a response's code and version and turns ERROR into an error.
func (r *Requester) expect(rsp []byte, code ResponseCode, v Version) error {
	if ResponseCode(rsp[1]) == ResponseError {
		var e ErrorResponse
		if err := e.Unmarshal(rsp); err != nil {
			return err
		}
		return &e
	}
	if ResponseCode(rsp[1]) != code {
		return fmt.Errorf("%w: got %s, want %s", ErrProtocol, ResponseCode(rsp[1]), code)
	}
	if Version(rsp[0]) != v {
		return fmt.Errorf("%w: %s with version %s, want %s", ErrProtocol, code, Version(rsp[0]), v)
	}
	return nil
}

// ---- VCA ----

// Connect runs GET_VERSION, GET_CAPABILITIES and NEGOTIATE_ALGORITHMS.
func (r *Requester) Connect(ctx context.Context) error {
	r.connected = false
	r.session = nil
	r.chains = [8]*CertChain{}
	r.t.reset()
	if err := r.getVersion(ctx); err != nil {
		return fmt.Errorf("GET_VERSION: %w", err)
	}
	if err := r.getCapabilities(ctx); err != nil {
		return fmt.Errorf("GET_CAPABILITIES: %w", err)
	}
	if err := r.negotiateAlgorithms(ctx); err != nil {
		return fmt.Errorf("NEGOTIATE_ALGORITHMS: %w", err)
	}
	r.connected = true
	r.log.Debug("spdm connected", "negotiated", r.neg.String())
	return nil
}

func (r *Requester) getVersion(ctx context.Context) error {
	req := (&GetVersion{Version: Version10}).Marshal()
	rsp, err := r.roundTrip(ctx, nil, req)
	if err != nil {
		return err
	}
	if err := r.expect(rsp, ResponseVersion, Version10); err != nil {
		return err
	}
	var vr VersionResponse
	if err := vr.Unmarshal(rsp); err != nil {
		return err
	}
	v, ok := highestCommon(r.cfg.Versions, vr.Entries)
	if !ok {
		return fmt.Errorf("%w: no common version in %v", ErrProtocol, vr.Entries)
	}
	r.neg.Version = v
	r.t.vca(req, rsp[:6+2*len(vr.Entries)])
	return nil
}

func (r *Requester) getCapabilities(ctx context.Context) error {
	gc := GetCapabilities{r.ours}
	gc.Version = r.neg.Version
	req := gc.Marshal()
	rsp, err := r.roundTrip(ctx, nil, req)
	if err != nil {
		return err
	}
	if err := r.expect(rsp, ResponseCapabilities, r.neg.Version); err != nil {
		return err
	}
	var c CapabilitiesResponse
	if err := c.Unmarshal(rsp); err != nil {
		return err
	}
	if c.DataTransferSize < minDataTransferSize || c.DataTransferSize > c.MaxSPDMmsgSize {
		return fmt.Errorf("%w: DataTransferSize %d, MaxSPDMmsgSize %d", ErrProtocol, c.DataTransferSize, c.MaxSPDMmsgSize)
	}
	r.neg.RequesterCaps = gc.Capabilities
	r.neg.ResponderCaps = c.Capabilities
	r.t.vca(req, rsp[:20])
	return nil
}

func (r *Requester) negotiateAlgorithms(ctx context.Context) error {
	na := NegotiateAlgorithms{
		Version:         r.neg.Version,
		MeasurementSpec: MeasurementSpecDMTF,
		OtherParams:     r.cfg.OtherParams,
		BaseAsym:        r.cfg.BaseAsym,
		BaseHash:        r.cfg.BaseHash,
		AlgStructs: []AlgStruct{
			{Type: AlgTypeDHE, Supported: uint16(r.cfg.DHE)},
			{Type: AlgTypeAEAD, Supported: uint16(r.cfg.AEAD)},
		},
	}
	if r.neg.Version >= Version13 {
		na.MELSpec = r.cfg.MELSpec
	}
	if r.cfg.ReqBaseAsym != 0 {
		na.AlgStructs = append(na.AlgStructs, AlgStruct{Type: AlgTypeReqBaseAsym, Supported: uint16(r.cfg.ReqBaseAsym)})
	}
	na.AlgStructs = append(na.AlgStructs, AlgStruct{Type: AlgTypeKeySchedule, Supported: uint16(KeyScheduleSPDM)})
	req := na.Marshal()
	rsp, err := r.roundTrip(ctx, nil, req)
	if err != nil {
		return err
	}
	if err := r.expect(rsp, ResponseAlgorithms, r.neg.Version); err != nil {
		return err
	}
	var a Algorithms
	if err := a.Unmarshal(rsp); err != nil {
		return err
	}
	n := &r.neg
	rc := n.ResponderCaps.Flags
	n.MeasurementSpec, n.OtherParams, n.MeasurementHash = a.MeasurementSpec, a.OtherParams, a.MeasurementHash
	n.BaseAsym, n.BaseHash, n.MELSpec = a.BaseAsym, a.BaseHash, a.MELSpec
	n.DHE = DHEGroup(a.Alg(AlgTypeDHE))
	n.AEAD = AEADSuite(a.Alg(AlgTypeAEAD))
	n.ReqBaseAsym = BaseAsymAlgo(a.Alg(AlgTypeReqBaseAsym))
	n.KeySchedule = KeyScheduleAlgo(a.Alg(AlgTypeKeySchedule))
	if rc&(CapCert|CapChal|CapMeasSig|CapKeyEx) != 0 {
		if !exactlyOne(uint32(n.BaseAsym)) || n.BaseAsym&na.BaseAsym == 0 || n.BaseAsym.SignatureSize() == 0 {
			return fmt.Errorf("%w: BaseAsymSel 0x%x", ErrProtocol, uint32(n.BaseAsym))
		}
	}
	if !exactlyOne(uint32(n.BaseHash)) || n.BaseHash&na.BaseHash == 0 || n.Hash() == 0 {
		return fmt.Errorf("%w: BaseHashSel 0x%x", ErrProtocol, uint32(n.BaseHash))
	}
	if rc&CapMeasMask != 0 && (!exactlyOne(uint32(n.MeasurementHash)) || n.MeasurementSpec != MeasurementSpecDMTF) {
		return fmt.Errorf("%w: MeasurementHashAlgo 0x%x", ErrProtocol, uint32(n.MeasurementHash))
	}
	if rc.Has(CapKeyEx) && n.RequesterCaps.Flags.Has(CapKeyEx) {
		if !exactlyOne(uint32(n.DHE)) || uint16(n.DHE)&na.Alg(AlgTypeDHE) == 0 || n.DHE.PublicKeySize() == 0 ||
			!exactlyOne(uint32(n.AEAD)) || uint16(n.AEAD)&na.Alg(AlgTypeAEAD) == 0 || n.AEAD.KeySize() == 0 ||
			n.KeySchedule != KeyScheduleSPDM {
			return fmt.Errorf("%w: DHE 0x%x AEAD 0x%x KeySchedule 0x%x", ErrProtocol, uint16(n.DHE), uint16(n.AEAD), uint16(n.KeySchedule))
		}
	}
	if n.Version >= Version13 {
		switch {
		case rc.Has(CapMultiKeyOnly):
			n.MultiKey = true
		case rc.Has(CapMultiKeyNeg):
			n.MultiKey = na.OtherParams&MultiKeyConnection != 0 && a.OtherParams&MultiKeyConnection != 0
		}
	}
	n.HandshakeInTheClear = rc.Has(CapHandshakeInTheClear) && n.RequesterCaps.Flags.Has(CapHandshakeInTheClear)
	r.t.vca(req, rsp[:int(uint16(rsp[4])|uint16(rsp[5])<<8)])
	return nil
}

// ---- DIGESTS / CERTIFICATE ----

func (r *Requester) begin(code RequestCode, s *Session) error {
	if !r.connected {
		return ErrNotConnected
	}
	if s == nil {
		r.t.request(code)
	} else if code != RequestGetMeasurements {
		s.st.l = s.st.l[:0]
	}
	return nil
}

// Digests sends GET_DIGESTS and returns DIGESTS.
func (r *Requester) Digests(ctx context.Context) (*Digests, error) { return r.digests(ctx, nil) }

func (r *Requester) digests(ctx context.Context, s *Session) (*Digests, error) {
	if err := r.begin(RequestGetDigests, s); err != nil {
		return nil, err
	}
	if !r.neg.ResponderCaps.Flags.Has(CapCert) {
		return nil, fmt.Errorf("GET_DIGESTS: responder has no CERT_CAP")
	}
	req := (&GetDigests{Version: r.neg.Version}).Marshal()
	rsp, err := r.roundTrip(ctx, s, req)
	if err != nil {
		return nil, fmt.Errorf("GET_DIGESTS: %w", err)
	}
	if err := r.expect(rsp, ResponseDigests, r.neg.Version); err != nil {
		return nil, fmt.Errorf("GET_DIGESTS: %w", err)
	}
	var d Digests
	if err := d.Unmarshal(rsp, r.neg.layout()); err != nil {
		return nil, fmt.Errorf("DIGESTS: %w", err)
	}
	if s == nil {
		r.t.digests(req, rsp[:len(d.Marshal())])
	}
	return &d, nil
}

// CertificateChain retrieves the chain of a slot in as many portions as
// needed and verifies it against the configured roots.
func (r *Requester) CertificateChain(ctx context.Context, slot uint8) (*CertChain, error) {
	return r.certificateChain(ctx, nil, slot)
}

func (r *Requester) certificateChain(ctx context.Context, s *Session, slot uint8) (*CertChain, error) {
	if err := r.begin(RequestGetCertificate, s); err != nil {
		return nil, err
	}
	if slot >= 8 {
		return nil, fmt.Errorf("GET_CERTIFICATE: slot %d", slot)
	}
	var raw []byte
	var certInfo uint8
	for portion := 0; ; portion++ {
		if portion > MaxCertChainSize {
			return nil, fmt.Errorf("%w: too many CERTIFICATE portions", ErrProtocol)
		}
		gc := GetCertificate{Version: r.neg.Version, SlotID: slot, Offset: uint16(len(raw)), Length: r.cfg.PortionLength}
		req := gc.Marshal()
		rsp, err := r.roundTrip(ctx, s, req)
		if err != nil {
			return nil, fmt.Errorf("GET_CERTIFICATE: %w", err)
		}
		if err := r.expect(rsp, ResponseCertificate, r.neg.Version); err != nil {
			return nil, fmt.Errorf("GET_CERTIFICATE slot %d: %w", slot, err)
		}
		var c Certificate
		if err := c.Unmarshal(rsp); err != nil {
			return nil, fmt.Errorf("CERTIFICATE: %w", err)
		}
		if c.SlotID != slot || len(c.Portion) == 0 && c.RemainderLength != 0 || len(c.Portion) > int(gc.Length) ||
			len(raw)+len(c.Portion)+int(c.RemainderLength) > MaxCertChainSize {
			return nil, fmt.Errorf("%w: CERTIFICATE slot %d portion %d remainder %d", ErrProtocol, c.SlotID, len(c.Portion), c.RemainderLength)
		}
		if s == nil {
			r.t.certificate(req, rsp[:8+len(c.Portion)])
		}
		raw = append(raw, c.Portion...)
		certInfo = c.CertInfo
		if c.RemainderLength == 0 {
			break
		}
	}
	chain, err := ParseCertChain(r.neg.Hash(), raw)
	if err != nil {
		return nil, err
	}
	model := CertModelDevice
	if r.neg.ResponderCaps.Flags.Has(CapAliasCert) {
		model = CertModelAlias
	}
	if r.neg.Version >= Version13 && r.neg.MultiKey && certInfo&7 != 0 {
		model = certInfo & 7
	}
	if err := chain.Verify(r.neg.Hash(), VerifyOptions{Roots: r.cfg.Roots, Now: r.cfg.Now(), Asym: r.neg.BaseAsym, Model: model}); err != nil {
		return nil, fmt.Errorf("slot %d: %w", slot, err)
	}
	r.chains[slot] = chain
	return chain, nil
}

// leafKey returns the verified leaf key of a slot.
func (r *Requester) leafKey(slot uint8) (*ecdsa.PublicKey, *CertChain, error) {
	if slot >= 8 || r.chains[slot] == nil {
		return nil, nil, fmt.Errorf("spdm: no verified certificate chain for slot %d; call CertificateChain first", slot)
	}
	pub, ok := r.chains[slot].Leaf().PublicKey.(*ecdsa.PublicKey)
	if !ok {
		return nil, nil, fmt.Errorf("spdm: slot %d leaf key is not ECDSA", slot)
	}
	return pub, r.chains[slot], nil
}

// ---- CHALLENGE ----

// ChallengeResult is a verified CHALLENGE_AUTH.
type ChallengeResult struct {
	Response *ChallengeAuth
	Evidence *Evidence
}

// Challenge sends CHALLENGE for a slot (summaryType SummaryNone, SummaryTCB
// or SummaryAll) and verifies CHALLENGE_AUTH against the slot's chain.
func (r *Requester) Challenge(ctx context.Context, slot, summaryType uint8) (*ChallengeResult, error) {
	if err := r.begin(RequestChallenge, nil); err != nil {
		return nil, err
	}
	if r.session != nil {
		return nil, fmt.Errorf("CHALLENGE: not allowed while a session is open")
	}
	pub, chain, err := r.leafKey(slot)
	if err != nil {
		return nil, err
	}
	ch := Challenge{Version: r.neg.Version, SlotID: slot, SummaryHashType: summaryType}
	if err := r.random(ch.Nonce[:]); err != nil {
		return nil, err
	}
	if r.neg.Version >= Version13 {
		if err := r.random(ch.RequesterContext[:]); err != nil {
			return nil, err
		}
	}
	req := ch.Marshal()
	rsp, err := r.roundTrip(ctx, nil, req)
	if err != nil {
		r.t.challengeFailed()
		return nil, fmt.Errorf("CHALLENGE: %w", err)
	}
	if err := r.expect(rsp, ResponseChallengeAuth, r.neg.Version); err != nil {
		r.t.challengeFailed()
		return nil, fmt.Errorf("CHALLENGE: %w", err)
	}
	l := r.neg.layout()
	l.SummaryHash = summaryType != SummaryNone
	var ca ChallengeAuth
	if err := ca.Unmarshal(rsp, l); err != nil {
		r.t.challengeFailed()
		return nil, fmt.Errorf("CHALLENGE_AUTH: %w", err)
	}
	n := len(ca.Marshal())
	m1 := r.t.challenge(req, rsp[:n-len(ca.Signature)])
	if ca.Param1&0xF != slot || !bytes.Equal(ca.CertChainHash, chain.Digest) {
		return nil, fmt.Errorf("%w: CHALLENGE_AUTH slot %d or CertChainHash does not match the retrieved chain", ErrProtocol, ca.Param1&0xF)
	}
	if r.neg.Version >= Version13 && ca.RequesterContext != ch.RequesterContext {
		return nil, fmt.Errorf("%w: CHALLENGE_AUTH RequesterContext mismatch", ErrProtocol)
	}
	ev := &Evidence{Version: r.neg.Version, Hash: r.neg.BaseHash, Asym: r.neg.BaseAsym, Context: contextChallengeAuth,
		Request: req, Response: rsp[:n], Transcript: m1, Signature: ca.Signature, SlotID: slot}
	if err := ev.Verify(pub); err != nil {
		return nil, fmt.Errorf("CHALLENGE_AUTH: %w", err)
	}
	return &ChallengeResult{Response: &ca, Evidence: ev}, nil
}

// ---- MEASUREMENTS ----

// MeasurementRequest selects what GET_MEASUREMENTS asks for.
type MeasurementRequest struct {
	// Operation: MeasOpCount, MeasOpAll or an index 1..0xFE.
	Operation uint8
	Signed    bool
	Raw       bool // RawBitStreamRequested
	SlotID    uint8
	// Nonce, for a signed request, is sent instead of a fresh random one
	// (a verifier's own nonce: the Redfish SPDMGetSignedMeasurements action).
	Nonce *[32]byte
}

// MeasurementResult is a MEASUREMENTS response, verified if signed.
type MeasurementResult struct {
	// Count is Param1 for MeasOpCount (number of indices).
	Count    uint8
	Response *Measurements
	Blocks   []MeasurementBlock
	// Evidence is set for a signed response.
	Evidence *Evidence
}

// Measurements sends GET_MEASUREMENTS outside a session.
func (r *Requester) Measurements(ctx context.Context, mr MeasurementRequest) (*MeasurementResult, error) {
	return r.measurements(ctx, nil, mr)
}

func (r *Requester) measurements(ctx context.Context, s *Session, mr MeasurementRequest) (*MeasurementResult, error) {
	if err := r.begin(RequestGetMeasurements, s); err != nil {
		return nil, err
	}
	rc := r.neg.ResponderCaps.Flags
	if rc&CapMeasMask == 0 || (mr.Signed && !rc.Has(CapMeasSig)) {
		return nil, fmt.Errorf("GET_MEASUREMENTS: responder MEAS_CAP does not allow this request")
	}
	lt := &r.t.l
	if s != nil {
		lt = &s.st.l
	}
	var pub *ecdsa.PublicKey
	if mr.Signed {
		var err error
		if pub, _, err = r.leafKey(mr.SlotID); err != nil {
			return nil, err
		}
	}
	gm := GetMeasurements{Version: r.neg.Version, Operation: mr.Operation, SlotID: mr.SlotID}
	if mr.Signed {
		gm.Attributes |= MeasSignatureRequested
		if mr.Nonce != nil {
			gm.Nonce = *mr.Nonce
		} else if err := r.random(gm.Nonce[:]); err != nil {
			return nil, err
		}
	}
	if mr.Raw {
		gm.Attributes |= MeasRawBitStream
	}
	if r.neg.Version >= Version13 {
		if err := r.random(gm.RequesterContext[:]); err != nil {
			return nil, err
		}
	}
	req := gm.Marshal()
	rsp, err := r.roundTrip(ctx, s, req)
	if err == nil {
		err = r.expect(rsp, ResponseMeasurements, r.neg.Version)
	}
	if err != nil {
		*lt = (*lt)[:0]
		return nil, fmt.Errorf("GET_MEASUREMENTS: %w", err)
	}
	l := r.neg.layout()
	l.Signed = mr.Signed
	var m Measurements
	if err := m.Unmarshal(rsp, l); err != nil {
		*lt = (*lt)[:0]
		return nil, fmt.Errorf("MEASUREMENTS: %w", err)
	}
	n := len(m.Marshal())
	l1 := r.t.measurement(lt, req, rsp[:n-len(m.Signature)], mr.Signed)
	if r.neg.Version >= Version13 && m.RequesterContext != gm.RequesterContext {
		return nil, fmt.Errorf("%w: MEASUREMENTS RequesterContext mismatch", ErrProtocol)
	}
	switch mr.Operation {
	case MeasOpCount:
		if len(m.Blocks) != 0 {
			return nil, fmt.Errorf("%w: MEASUREMENTS count with %d blocks", ErrProtocol, len(m.Blocks))
		}
	case MeasOpAll:
	default:
		if len(m.Blocks) != 1 || m.Blocks[0].Index != mr.Operation {
			return nil, fmt.Errorf("%w: MEASUREMENTS for index %d carries %d blocks", ErrProtocol, mr.Operation, len(m.Blocks))
		}
	}
	res := &MeasurementResult{Response: &m, Blocks: m.Blocks}
	if mr.Operation == MeasOpCount {
		res.Count = m.Param1
	}
	if mr.Signed {
		if m.Param2&0xF != mr.SlotID {
			return nil, fmt.Errorf("%w: MEASUREMENTS signed by slot %d, want %d", ErrProtocol, m.Param2&0xF, mr.SlotID)
		}
		ev := &Evidence{Version: r.neg.Version, Hash: r.neg.BaseHash, Asym: r.neg.BaseAsym, Context: contextMeasurements,
			Request: req, Response: rsp[:n], Transcript: l1, Signature: m.Signature, SlotID: mr.SlotID}
		if err := ev.Verify(pub); err != nil {
			return nil, fmt.Errorf("MEASUREMENTS: %w", err)
		}
		res.Evidence = ev
	}
	return res, nil
}

// ---- VENDOR_DEFINED ----

// VendorDefined sends VENDOR_DEFINED_REQUEST outside a session.
func (r *Requester) VendorDefined(ctx context.Context, req VendorDefined) (*VendorDefined, error) {
	return r.vendorDefined(ctx, nil, req)
}

func (r *Requester) vendorDefined(ctx context.Context, s *Session, vd VendorDefined) (*VendorDefined, error) {
	if err := r.begin(RequestVendorDefined, s); err != nil {
		return nil, err
	}
	if len(vd.VendorID) > 0xFF || len(vd.Payload) > maxVendorPayload {
		return nil, fmt.Errorf("VENDOR_DEFINED_REQUEST: field too large")
	}
	vd.Version = r.neg.Version
	rsp, err := r.roundTrip(ctx, s, (&VendorDefinedRequest{vd}).Marshal())
	if err != nil {
		return nil, fmt.Errorf("VENDOR_DEFINED_REQUEST: %w", err)
	}
	if err := r.expect(rsp, ResponseVendorDefined, r.neg.Version); err != nil {
		return nil, fmt.Errorf("VENDOR_DEFINED_REQUEST: %w", err)
	}
	var out VendorDefinedResponse
	if err := out.Unmarshal(rsp); err != nil {
		return nil, fmt.Errorf("VENDOR_DEFINED_RESPONSE: %w", err)
	}
	return &out.VendorDefined, nil
}
