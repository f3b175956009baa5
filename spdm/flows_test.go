// Flows no recording covers: multi-portion GET_CERTIFICATE (DSP0274 clause
// 10.7), CHUNK_SEND/CHUNK_GET (clauses 10.20-10.21), ResponseNotReady
// (clause 10.13), out-of-order requests and ERROR codes (clause 10.12),
// CHALLENGE refused in a session, version negotiation, certificate model
// checks, the algorithm matrix and the spdm-emu framing.

package spdm

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"errors"
	"net"
	"testing"
	"time"
)

// TestMultiPortionCertificate retrieves a chain in many CERTIFICATE
// portions (no recording covers this) and with a longer CA path.
func TestMultiPortionCertificate(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 2)
	for _, portion := range []uint16{64, 200, 0x400} {
		conn := startPipe(t, testResponderConfig(id))
		rc := testRequesterConfig(id)
		rc.PortionLength = portion
		r := NewRequester(conn, rc)
		ctx := testCtx(t)
		if err := r.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		chain, err := r.CertificateChain(ctx, 0)
		if err != nil {
			t.Fatalf("portion %d: %v", portion, err)
		}
		if len(chain.Certs) != 5 || len(chain.Raw) <= int(portion) {
			t.Fatalf("portion %d: %d certs, %d bytes", portion, len(chain.Certs), len(chain.Raw))
		}
		if _, err := r.Challenge(ctx, 0, SummaryTCB); err != nil {
			t.Fatalf("challenge after multi-portion chain (B covers every portion): %v", err)
		}
	}
}

// TestResponderPortionLimitedByDataTransferSize: a requester with a small
// DataTransferSize gets portions that fit it.
func TestResponderPortionLimitedByDataTransferSize(t *testing.T) {
	id := newTestIdentity(t, elliptic.P256(), 0)
	conn := startPipe(t, testResponderConfig(id))
	rc := testRequesterConfig(id)
	rc.Overrides = &Overrides{Flags: CapKeyEx | CapEncrypt | CapMAC | CapChunk, DataTransferSize: 300, MaxSPDMmsgSize: 64 << 10}
	r := NewRequester(conn, rc)
	ctx := testCtx(t)
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if r.Negotiated().BaseAsym != AsymECDSAP256 {
		t.Fatalf("asym 0x%x", uint32(r.Negotiated().BaseAsym))
	}
	if _, err := r.CertificateChain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	// MEASUREMENTS of all blocks (4.7 KB manifest) exceed 300 bytes: CHUNK_GET.
	m, err := r.Measurements(ctx, MeasurementRequest{Operation: MeasOpAll, Signed: true})
	if err != nil {
		t.Fatalf("chunked MEASUREMENTS: %v", err)
	}
	if len(m.Blocks) != 6 || len(m.Blocks[4].Value) != 4700 {
		t.Fatalf("blocks: %d", len(m.Blocks))
	}
	s, err := r.StartSession(ctx, SessionOptions{SummaryType: SummaryAll})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Measurements(ctx, MeasurementRequest{Operation: 0xFD, Signed: true, Raw: true}); err != nil {
		t.Fatalf("chunked in-session MEASUREMENTS: %v", err)
	}
	if err := s.End(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestChunkSend sends a vendor-defined request larger than the responder's
// DataTransferSize.
func TestChunkSend(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	cfg := testResponderConfig(id)
	cfg.Overrides = &Overrides{Flags: CapCert | CapChal | CapMeasSig | CapKeyEx | CapEncrypt | CapMAC | CapHeartbeat | CapChunk,
		DataTransferSize: 256, MaxSPDMmsgSize: 64 << 10}
	conn := startPipe(t, cfg)
	r := NewRequester(conn, testRequesterConfig(id))
	ctx := testCtx(t)
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	payload := bytes.Repeat([]byte("install-chunk "), 300)
	out, err := r.VendorDefined(ctx, VendorDefined{StandardID: 0x10, Payload: payload})
	if err != nil {
		t.Fatalf("CHUNK_SEND: %v", err)
	}
	if !bytes.Equal(out.Payload, append([]byte("echo:"), payload...)) {
		t.Fatalf("echo mismatch (%d bytes)", len(out.Payload))
	}
	if _, err := r.CertificateChain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	s, err := r.StartSession(ctx, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out, err = s.VendorDefined(ctx, VendorDefined{StandardID: 0x10, Payload: payload}); err != nil || len(out.Payload) != len(payload)+5 {
		t.Fatalf("in-session CHUNK_SEND: %v", err)
	}
}

// rawExchange sends one SPDM message and returns the answer.
func rawExchange(t *testing.T, fc *FrameConn, msg []byte) []byte {
	t.Helper()
	if err := fc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSPDM, msg)}); err != nil {
		t.Fatal(err)
	}
	f, err := fc.ReadFrame()
	if err != nil {
		t.Fatal(err)
	}
	if len(f.Payload) < 1 || f.Payload[0] != MCTPTypeSPDM {
		t.Fatalf("answer %x", f.Payload)
	}
	return f.Payload[1:]
}

func wantError(t *testing.T, rsp []byte, code ErrorCode) {
	t.Helper()
	var e ErrorResponse
	if err := e.Unmarshal(rsp); err != nil {
		t.Fatalf("want ERROR %s, got %x (%v)", code, rsp, err)
	}
	if e.ErrorCode != code {
		t.Fatalf("ERROR %s, want %s", e.ErrorCode, code)
	}
}

func TestResponderOutOfOrder(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	conn := startPipe(t, testResponderConfig(id))
	fc := NewFrameConn(conn)
	wantError(t, rawExchange(t, fc, (&GetDigests{Version: Version12}).Marshal()), ErrUnexpectedRequest)
	rawExchange(t, fc, (&GetVersion{Version: Version10}).Marshal())
	wantError(t, rawExchange(t, fc, (&GetDigests{Version: Version12}).Marshal()), ErrUnexpectedRequest)
	gc := GetCapabilities{Capabilities{Version: 0x15, DataTransferSize: 4096, MaxSPDMmsgSize: 4096}}
	wantError(t, rawExchange(t, fc, gc.Marshal()), ErrVersionMismatch)
	gc.Version = Version12
	gc.DataTransferSize = 10
	wantError(t, rawExchange(t, fc, gc.Marshal()), ErrInvalidRequest)
	gc.DataTransferSize = 4096
	if rsp := rawExchange(t, fc, gc.Marshal()); ResponseCode(rsp[1]) != ResponseCapabilities {
		t.Fatalf("CAPABILITIES: %x", rsp)
	}
	wantError(t, rawExchange(t, fc, (&GetDigests{Version: Version12}).Marshal()), ErrUnexpectedRequest)
	wantError(t, rawExchange(t, fc, []byte{0x12, 0xE3, 0, 0, 0xFF}), ErrInvalidRequest)
	na := NegotiateAlgorithms{Version: Version12, MeasurementSpec: MeasurementSpecDMTF, BaseAsym: AsymECDSAP384, BaseHash: HashSHA384, OtherParams: OpaqueDataFmt1}
	if rsp := rawExchange(t, fc, na.Marshal()); ResponseCode(rsp[1]) != ResponseAlgorithms {
		t.Fatalf("ALGORITHMS: %x", rsp)
	}
	wantError(t, rawExchange(t, fc, (&GetDigests{Version: Version13}).Marshal()), ErrVersionMismatch)
	wantError(t, rawExchange(t, fc, gc.Marshal()), ErrUnexpectedRequest)
	wantError(t, rawExchange(t, fc, (&Heartbeat{headerOnly{Version: Version12}}).Marshal()), ErrSessionRequired)
	wantError(t, rawExchange(t, fc, (&EndSession{headerOnly{Version: Version12}}).Marshal()), ErrSessionRequired)
	wantError(t, rawExchange(t, fc, []byte{0x12, 0xEE, 0, 0}), ErrUnsupportedRequest)
	wantError(t, rawExchange(t, fc, (&ChunkGet{Version: Version12, Handle: 9}).Marshal()), ErrUnexpectedRequest)
	wantError(t, rawExchange(t, fc, (&Finish{Version: Version12, VerifyData: make([]byte, 48)}).Marshal()), ErrUnexpectedRequest)
	wantError(t, rawExchange(t, fc, (&RespondIfReady{Version: Version12, RequestCode: RequestGetDigests}).Marshal()), ErrUnexpectedRequest)
	// Unknown measurement index, unprovisioned slot.
	wantError(t, rawExchange(t, fc, (&GetMeasurements{Version: Version12, Operation: 0x77}).Marshal()), ErrInvalidRequest)
	wantError(t, rawExchange(t, fc, (&GetCertificate{Version: Version12, SlotID: 3, Length: 100}).Marshal()), ErrInvalidRequest)
	wantError(t, rawExchange(t, fc, []byte{0x12, 0x83, 0, 0xFF, 1, 2}), ErrInvalidRequest)
}

// TestChallengeInsideSessionRefused: CHALLENGE inside a session gets
// UnexpectedRequest, as libspdm does.
func TestChallengeInsideSessionRefused(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	conn := startPipe(t, testResponderConfig(id))
	r := NewRequester(conn, testRequesterConfig(id))
	ctx := testCtx(t)
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CertificateChain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	s, err := r.StartSession(ctx, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ch := Challenge{Version: r.Negotiated().Version}
	rsp, err := r.roundTrip(ctx, s, ch.Marshal())
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, rsp, ErrUnexpectedRequest)
	if _, err := r.Challenge(ctx, 0, SummaryNone); err == nil {
		t.Fatal("requester API allowed CHALLENGE in a session")
	}
	// GET_VERSION inside the session is refused too; the session survives.
	rsp, err = r.roundTrip(ctx, s, (&GetVersion{Version: Version10}).Marshal())
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, rsp, ErrUnexpectedRequest)
	if err := s.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
	// A second KEY_EXCHANGE while the session is open.
	if _, err := r.StartSession(ctx, SessionOptions{}); err == nil {
		t.Fatal("second session accepted by the requester")
	}
	if err := s.End(ctx); err != nil {
		t.Fatal(err)
	}
	if err := s.Heartbeat(ctx); err == nil {
		t.Fatal("heartbeat on an ended session")
	}
}

func TestVersionNegotiation(t *testing.T) {
	peer := []VersionNumberEntry{0x1000, 0x1100, 0x1200, 0x1300, 0x1400}
	if v, ok := highestCommon(SupportedVersions, peer); !ok || v != Version13 {
		t.Fatalf("1.0-1.4 → %s", v)
	}
	if v, ok := highestCommon(SupportedVersions, peer[:3]); !ok || v != Version12 {
		t.Fatalf("1.0-1.2 → %s", v)
	}
	if _, ok := highestCommon(SupportedVersions, peer[:2]); ok {
		t.Fatal("1.0-1.1 accepted")
	}
	// Against a responder that speaks only 1.2.
	id := newTestIdentity(t, elliptic.P384(), 0)
	cfg := testResponderConfig(id)
	cfg.Versions = []Version{Version12}
	r := NewRequester(startPipe(t, cfg), testRequesterConfig(id))
	if err := r.Connect(testCtx(t)); err != nil || r.Negotiated().Version != Version12 {
		t.Fatalf("%v %s", err, r.Negotiated().Version)
	}
	// Requester speaking only 1.3 against it fails cleanly.
	rc := testRequesterConfig(id)
	rc.Versions = []Version{Version13}
	r = NewRequester(startPipe(t, cfg), rc)
	if err := r.Connect(testCtx(t)); err == nil {
		t.Fatal("no common version accepted")
	}
}

func TestCertificateModelChecks(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	h := HashSHA384.CryptoHash()
	raw, err := BuildCertChain(h, id.ders)
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCertChain(h, raw)
	if err != nil {
		t.Fatal(err)
	}
	opts := VerifyOptions{Roots: id.roots, Now: testNow, Asym: AsymECDSAP384, Model: CertModelAlias}
	if err := c.Verify(h, opts); err != nil {
		t.Fatal(err)
	}
	bad := opts
	bad.Asym = AsymECDSAP256
	if err := c.Verify(h, bad); !errors.Is(err, ErrCertChain) {
		t.Fatalf("wrong leaf algorithm accepted: %v", err)
	}
	bad = opts
	bad.Now = testNow.AddDate(20, 0, 0)
	if err := c.Verify(h, bad); err == nil {
		t.Fatal("expired chain accepted")
	}
	// A chain whose leaf is a CA is refused.
	caLeaf, err := BuildCertChain(h, id.ders[:2])
	if err != nil {
		t.Fatal(err)
	}
	c2, _ := ParseCertChain(h, caLeaf)
	if err := c2.Verify(h, opts); err == nil {
		t.Fatal("CA leaf accepted")
	}
	// Length field mismatch.
	raw[0]++
	if _, err := ParseCertChain(h, raw); err == nil {
		t.Fatal("bad Length accepted")
	}
}

func TestSequentialConnectionsAndShutdown(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	addr := startTCP(t, testResponderConfig(id))
	for i := range 3 {
		r, err := Dial(testCtx(t), addr, testRequesterConfig(id))
		if err != nil {
			t.Fatal(err)
		}
		ctx := testCtx(t)
		if err := r.Connect(ctx); err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		if _, err := r.Measurements(ctx, MeasurementRequest{Operation: MeasOpCount}); err != nil {
			t.Fatal(err)
		}
		if i == 1 {
			// Drop the connection without SHUTDOWN.
			r.closer.Close()
			continue
		}
		if err := r.Close(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

func TestTransportFraming(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	rsp, err := NewResponder(testResponderConfig(id))
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	defer a.Close()
	done := make(chan error, 1)
	go func() {
		_, err := rsp.ServeConn(context.Background(), b)
		b.Close()
		done <- err
	}()
	fc := NewFrameConn(a)
	// TEST is answered with the hello.
	if err := fc.WriteFrame(Frame{Command: CommandTest, TransportType: TransportMCTP, Payload: ClientHello}); err != nil {
		t.Fatal(err)
	}
	f, err := fc.ReadFrame()
	if err != nil || f.Command != CommandTest || !bytes.Equal(f.Payload, ServerHello) {
		t.Fatalf("hello: %v %+v", err, f)
	}
	// Another transport type is refused (no answer); the next frame works.
	if err := fc.WriteFrame(Frame{Command: CommandNormal, TransportType: 2, Payload: []byte{5, 0x10, 0x84, 0, 0}}); err != nil {
		t.Fatal(err)
	}
	if rsp := rawExchange(t, fc, (&GetVersion{Version: Version10}).Marshal()); ResponseCode(rsp[1]) != ResponseVersion {
		t.Fatalf("VERSION: %x", rsp)
	}
	// CONTINUE ends the connection with an empty answer.
	if err := fc.WriteFrame(Frame{Command: CommandContinue, TransportType: TransportMCTP}); err != nil {
		t.Fatal(err)
	}
	if f, err := fc.ReadFrame(); err != nil || f.Command != CommandContinue || len(f.Payload) != 0 {
		t.Fatalf("CONTINUE: %v %+v", err, f)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// Oversized frames are refused.
	var buf bytes.Buffer
	buf.Write([]byte{0, 0, 0, 1, 0, 0, 0, 1, 0x7f, 0, 0, 0})
	if _, err := NewFrameConn(&buf).ReadFrame(); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized frame: %v", err)
	}
}

// serialLine is a byte stream with garbage injected before each frame.
type serialLine struct {
	r *bytes.Buffer
	w bytes.Buffer
}

func (s *serialLine) Read(p []byte) (int, error)  { return s.r.Read(p) }
func (s *serialLine) Write(p []byte) (int, error) { return s.w.Write(p) }

func TestSerialResync(t *testing.T) {
	var wire bytes.Buffer
	enc := NewFrameConn(&wire)
	msg := (&GetVersion{Version: Version10}).Marshal()
	wire.Write([]byte{0xde, 0xad, 0, 0, 0, 0xff, 0xfe, 1, 2, 3})
	if err := enc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSPDM, msg)}); err != nil {
		t.Fatal(err)
	}
	wire.Write([]byte{0, 0, 0, 1, 0, 0, 0, 9, 0xff, 0xff, 0xff, 0xff, 0x55})
	if err := enc.WriteFrame(Frame{Command: CommandShutdown, TransportType: TransportMCTP}); err != nil {
		t.Fatal(err)
	}
	line := &serialLine{r: &wire}
	fc := NewSerialFrameConn(line)
	f, err := fc.ReadFrame()
	if err != nil || f.Command != CommandNormal || !bytes.Equal(f.Payload[1:], msg) {
		t.Fatalf("first frame after garbage: %v %+v", err, f)
	}
	f, err = fc.ReadFrame()
	if err != nil || f.Command != CommandShutdown {
		t.Fatalf("second frame after garbage: %v %+v", err, f)
	}
	// A responder on a serial line answers after resynchronising.
	id := newTestIdentity(t, elliptic.P384(), 0)
	rsp, _ := NewResponder(testResponderConfig(id))
	var in bytes.Buffer
	in.Write([]byte("garbage\x00\x01"))
	NewFrameConn(&in).WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSPDM, msg)})
	line = &serialLine{r: &in}
	if _, err := rsp.ServeSerial(context.Background(), line); err != nil {
		t.Fatal(err)
	}
	out, err := NewFrameConn(&line.w).ReadFrame()
	if err != nil || ResponseCode(out.Payload[2]) != ResponseVersion {
		t.Fatalf("serial answer: %v %x", err, out.Payload)
	}
}

// TestAlgorithmMatrix runs sessions over every supported algorithm.
func TestAlgorithmMatrix(t *testing.T) {
	ids := map[BaseAsymAlgo]*testIdentity{
		AsymECDSAP384: newTestIdentity(t, elliptic.P384(), 0),
		AsymECDSAP256: newTestIdentity(t, elliptic.P256(), 0),
	}
	for _, tc := range []struct {
		asym BaseAsymAlgo
		hash BaseHashAlgo
		meas MeasurementHashAlgo
		dhe  DHEGroup
		aead AEADSuite
	}{
		{AsymECDSAP384, HashSHA384, MeasHashSHA384, DHESECP384R1, AEADAES256GCM},
		{AsymECDSAP384, HashSHA384, MeasHashSHA512, DHESECP384R1, AEADChaCha20Poly1305},
		{AsymECDSAP256, HashSHA256, MeasHashSHA256, DHESECP256R1, AEADAES128GCM},
		{AsymECDSAP256, HashSHA512, MeasHashSHA512, DHESECP384R1, AEADAES256GCM},
	} {
		id := ids[tc.asym]
		cfg := testResponderConfig(id)
		cfg.MeasurementHash = tc.meas
		rc := testRequesterConfig(id)
		rc.BaseHash, rc.DHE, rc.AEAD = tc.hash, tc.dhe, tc.aead
		r := NewRequester(startPipe(t, cfg), rc)
		ctx := testCtx(t)
		if err := r.Connect(ctx); err != nil {
			t.Fatal(err)
		}
		n := r.Negotiated()
		if n.BaseAsym != tc.asym || n.BaseHash != tc.hash || n.MeasurementHash != tc.meas || n.DHE != tc.dhe || n.AEAD != tc.aead {
			t.Fatalf("negotiated %s, want %+v", n.String(), tc)
		}
		if _, err := r.CertificateChain(ctx, 0); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Challenge(ctx, 0, SummaryAll); err != nil {
			t.Fatal(err)
		}
		s, err := r.StartSession(ctx, SessionOptions{SummaryType: SummaryTCB})
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		m, err := s.Measurements(ctx, MeasurementRequest{Operation: 1, Signed: true})
		if err != nil || len(m.Blocks[0].Value) != tc.meas.CryptoHash().Size() {
			t.Fatalf("%+v: %v", tc, err)
		}
		if err := s.End(ctx); err != nil {
			t.Fatal(err)
		}
	}
}

// TestResponseNotReady puts a proxy in front of the responder that answers
// GET_DIGESTS with ResponseNotReady and forwards the request once the
// requester sends RESPOND_IF_READY (DSP0274 clause 10.13).
func TestResponseNotReady(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	real := startPipe(t, testResponderConfig(id))
	a, b := net.Pipe()
	t.Cleanup(func() { a.Close(); b.Close() })
	go func() {
		in, up := NewFrameConn(b), NewFrameConn(real)
		var token uint8
		for {
			f, err := in.ReadFrame()
			if err != nil {
				return
			}
			msg := f.Payload[1:]
			if RequestCode(msg[1]) == RequestGetDigests {
				token++
				e := ErrorResponse{Version: Version(msg[0]), ErrorCode: ErrResponseNotReady, Extended: []byte{2, msg[1], token, 1}}
				if in.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: mctpPayload(MCTPTypeSPDM, e.Marshal())}) != nil {
					return
				}
				f, err = in.ReadFrame()
				if err != nil {
					return
				}
				rir := f.Payload[1:]
				if RequestCode(rir[1]) != RequestRespondIfReady || rir[2] != byte(RequestGetDigests) || rir[3] != token {
					t.Errorf("RESPOND_IF_READY %x", rir)
					return
				}
				f.Payload = mctpPayload(MCTPTypeSPDM, msg)
			}
			if up.WriteFrame(f) != nil {
				return
			}
			g, err := up.ReadFrame()
			if err != nil || in.WriteFrame(g) != nil {
				return
			}
		}
	}()
	r := NewRequester(a, testRequesterConfig(id))
	ctx := testCtx(t)
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Digests(ctx); err != nil {
		t.Fatalf("after ResponseNotReady: %v", err)
	}
	if _, err := r.CertificateChain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Challenge(ctx, 0, SummaryNone); err != nil {
		t.Fatalf("M1 after RESPOND_IF_READY: %v", err)
	}
}

// TestSessionIDComposition: the session ID is RspSessionID<<16 |
// ReqSessionID (libspdm), little-endian on the wire.
func TestSessionIDComposition(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	r := NewRequester(startPipe(t, testResponderConfig(id)), testRequesterConfig(id))
	r.nextReqID = 0x1234
	ctx := testCtx(t)
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CertificateChain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	s, err := r.StartSession(ctx, SessionOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != 0xFFFF1234 {
		t.Fatalf("session ID 0x%08x", s.ID)
	}
	if err := s.Heartbeat(ctx); err != nil {
		t.Fatal(err)
	}
}

// TestLeafCertificateRules checks the DSP0274 leaf rules that differ from
// plain X.509 path validation.
func TestLeafCertificateRules(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	h := HashSHA384.CryptoHash()
	hwExt, _ := asn1.Marshal([]asn1.ObjectIdentifier{oidDMTFHardwareIdentity})
	check := func(mod func(*x509.Certificate), model uint8) error {
		raw, err := BuildCertChain(h, id.reissueLeaf(t, mod))
		if err != nil {
			t.Fatal(err)
		}
		c, err := ParseCertChain(h, raw)
		if err != nil {
			t.Fatal(err)
		}
		return c.Verify(h, VerifyOptions{Roots: id.roots, Now: testNow, Asym: AsymECDSAP384, Model: model})
	}
	withHW := func(c *x509.Certificate) {
		c.ExtraExtensions = []pkix.Extension{{Id: oidDMTFSPDMExtension, Value: hwExt}}
	}
	if err := check(withHW, CertModelDevice); err != nil {
		t.Fatalf("device certificate with hardware identity: %v", err)
	}
	if err := check(withHW, CertModelAlias); err == nil {
		t.Fatal("alias certificate with hardware identity accepted")
	}
	if err := check(func(c *x509.Certificate) { c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidDMTFEKURequesterAuth} }, CertModelAlias); err == nil {
		t.Fatal("requester-only leaf accepted")
	}
	if err := check(func(c *x509.Certificate) {
		c.UnknownExtKeyUsage = []asn1.ObjectIdentifier{oidDMTFEKURequesterAuth, oidDMTFEKUResponderAuth}
	}, CertModelAlias); err != nil {
		t.Fatalf("requester+responder leaf: %v", err)
	}
	if err := check(func(c *x509.Certificate) { c.KeyUsage = x509.KeyUsageKeyEncipherment }, CertModelAlias); err == nil {
		t.Fatal("leaf without digitalSignature accepted")
	}
	if err := check(func(c *x509.Certificate) { c.IsCA = true; c.KeyUsage |= x509.KeyUsageCertSign }, CertModelAlias); err == nil {
		t.Fatal("CA leaf accepted")
	}
}

// TestMultiKeySession: a 1.3 multi-key connection (DIGESTS with
// KeyPairID/CertificateInfo/KeyUsageMask, TH with message D) between our
// two sides.
func TestMultiKeySession(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	cfg := testResponderConfig(id)
	cfg.Overrides = &Overrides{Flags: CapCert | CapChal | CapMeasSig | CapKeyEx | CapEncrypt | CapMAC | CapHeartbeat | CapChunk | CapAliasCert | CapMultiKeyNeg,
		DataTransferSize: DefaultDataTransferSize, MaxSPDMmsgSize: DefaultMaxSPDMmsgSize}
	rc := testRequesterConfig(id)
	rc.OtherParams = OpaqueDataFmt1 | MultiKeyConnection
	r := NewRequester(startPipe(t, cfg), rc)
	ctx := testCtx(t)
	if err := r.Connect(ctx); err != nil {
		t.Fatal(err)
	}
	if !r.Negotiated().MultiKey {
		t.Fatal("multi-key connection not negotiated")
	}
	d, err := r.Digests(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.KeyPairIDs) != 1 || d.CertInfos[0] != CertModelAlias || d.KeyUsageMask[0] != 0xF {
		t.Fatalf("multi-key arrays: %+v", d)
	}
	if _, err := r.CertificateChain(ctx, 0); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Challenge(ctx, 0, SummaryAll); err != nil {
		t.Fatal(err)
	}
	s, err := r.StartSession(ctx, SessionOptions{SummaryType: SummaryAll})
	if err != nil {
		t.Fatalf("session with message D: %v", err)
	}
	if _, err := s.Measurements(ctx, MeasurementRequest{Operation: MeasOpAll, Signed: true}); err != nil {
		t.Fatal(err)
	}
}

// noisyLine writes garbage before every frame, like a serial console.
type noisyLine struct {
	net.Conn
}

func (n noisyLine) Write(p []byte) (int, error) {
	if _, err := n.Conn.Write([]byte("\r\nlogin: \x00\xff\xfe")); err != nil {
		return 0, err
	}
	return n.Conn.Write(p)
}

// TestSerialLineAttestation runs a session over a noisy byte stream in
// both directions.
func TestSerialLineAttestation(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	rsp, err := NewResponder(testResponderConfig(id))
	if err != nil {
		t.Fatal(err)
	}
	a, b := net.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = rsp.ServeSerial(context.Background(), noisyLine{b})
		b.Close()
	}()
	t.Cleanup(func() { a.Close(); b.Close(); <-done })
	rc := testRequesterConfig(id)
	rc.SerialLine = true
	r := NewRequester(noisyLine{a}, rc)
	attest(t, r, true, Version13)
}

// TestIdleClientDoesNotBlockServer: a silent client is dropped after
// IdleTimeout and the next connection is served.
func TestIdleClientDoesNotBlockServer(t *testing.T) {
	id := newTestIdentity(t, elliptic.P384(), 0)
	cfg := testResponderConfig(id)
	cfg.IdleTimeout = 100 * time.Millisecond
	addr := startTCP(t, cfg)
	idle, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	r, err := Dial(testCtx(t), addr, testRequesterConfig(id))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close(context.Background())
	if err := r.Connect(testCtx(t)); err != nil {
		t.Fatal(err)
	}
}
