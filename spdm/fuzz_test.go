// Fuzz targets for every message decoder (DSP0274 clause 10), the
// spdm-emu framer, the responder (a malformed request gets an ERROR, never a
// panic) and the requester's response handling.

package spdm

import (
	"bytes"
	"context"
	"crypto/elliptic"
	"encoding/binary"
	"encoding/hex"
	"testing"
)

// seedMessages returns one encoded example of every message type, plus a
// few recorded libspdm messages.
func seedMessages() [][]byte {
	hx := func(s string) []byte { b, _ := hex.DecodeString(s); return b }
	h48 := bytes.Repeat([]byte{0xAB}, 48)
	sig := bytes.Repeat([]byte{0x5A}, 96)
	blocks := []MeasurementBlock{{Index: 1, Spec: MeasurementSpecDMTF, ValueType: 1, Value: h48}, {Index: 0xFE, Spec: MeasurementSpecDMTF, ValueType: 0x85, Value: make([]byte, 16)}}
	msgs := []interface{ Marshal() []byte }{
		&GetVersion{Version: Version10},
		&VersionResponse{Version: Version10, Entries: []VersionNumberEntry{0x1200, 0x1300}},
		&GetCapabilities{Capabilities{Version: Version12, Flags: 0x2f7c6, DataTransferSize: 4608, MaxSPDMmsgSize: 0x28000}},
		&CapabilitiesResponse{Capabilities{Version: Version13, Flags: 0x1afbf7, DataTransferSize: 4608, MaxSPDMmsgSize: 0x28000}},
		&NegotiateAlgorithms{Version: Version13, MeasurementSpec: 1, OtherParams: 2, BaseAsym: 0x80, BaseHash: 2, MELSpec: 1, ExtAsym: []uint32{7},
			AlgStructs: []AlgStruct{{Type: 2, Supported: 0x10}, {Type: 3, Supported: 2, External: []uint32{1}}, {Type: 5, Supported: 1}}},
		&Algorithms{Version: Version12, MeasurementSpec: 1, MeasurementHash: 4, BaseAsym: 0x80, BaseHash: 2,
			AlgStructs: []AlgStruct{{Type: 2, Supported: 0x10}, {Type: 3, Supported: 2}, {Type: 4, Supported: 8}, {Type: 5, Supported: 1}}},
		&GetDigests{Version: Version12},
		&Digests{Version: Version13, SupportedSlots: 3, SlotMask: 3, Digests: [][]byte{h48, h48}, KeyPairIDs: []uint8{1, 2}, CertInfos: []uint8{1, 1}, KeyUsageMask: []uint16{0xf, 0xf}},
		&GetCertificate{Version: Version12, SlotID: 1, Length: 0xFFFF},
		&Certificate{Version: Version12, Portion: []byte{1, 2, 3}, RemainderLength: 9},
		&Challenge{Version: Version13, SummaryHashType: 0xFF},
		&ChallengeAuth{Version: Version13, CertChainHash: h48, SummaryHash: h48, OpaqueData: []byte{1, 2}, Signature: sig},
		&GetMeasurements{Version: Version13, Attributes: MeasSignatureRequested | MeasRawBitStream, Operation: 0xFF, SlotID: 1},
		&GetMeasurements{Version: Version12, Operation: 0},
		&Measurements{Version: Version12, Param2: 0x20, Blocks: blocks, Signature: sig},
		&KeyExchange{Version: Version12, SummaryHashType: 0xFF, ReqSessionID: 0xFFFF, SessionPolicy: 1, ExchangeData: make([]byte, 96), OpaqueData: SupportedVersionsOpaque(SecuredVersions)},
		&KeyExchangeRsp{Version: Version12, HeartbeatPeriod: 0xF0, RspSessionID: 0xFFFF, ExchangeData: make([]byte, 96), SummaryHash: h48, OpaqueData: SelectedVersionOpaque(0x1200), Signature: sig, VerifyData: h48},
		&Finish{Version: Version12, VerifyData: h48},
		&FinishRsp{Version: Version12, VerifyData: h48},
		&Heartbeat{headerOnly{Version: Version12}},
		&HeartbeatAck{headerOnly{Version: Version12}},
		&EndSession{headerOnly{Version: Version12, Param1: 1}},
		&EndSessionAck{headerOnly{Version: Version12}},
		&VendorDefinedRequest{VendorDefined{Version: Version12, StandardID: 0x10, VendorID: []byte{1, 2}, Payload: []byte("GetStatus")}},
		&VendorDefinedResponse{VendorDefined{Version: Version12, StandardID: 0x10, Payload: []byte("ok")}},
		&ChunkSend{chunkBody{Version: Version12, Handle: 1, LargeMessageSize: 100, Chunk: []byte{1, 2, 3}}},
		&ChunkSend{chunkBody{Version: Version12, Handle: 1, ChunkSeqNo: 1, Attributes: ChunkLast, Chunk: []byte{4}}},
		&ChunkSendAck{Version: Version12, Handle: 1, Response: []byte{0x12, 0x7E, 0, 0}},
		&ChunkGet{Version: Version12, Handle: 1},
		&ChunkResponse{chunkBody{Version: Version12, Handle: 1, LargeMessageSize: 10, Chunk: []byte{1}}},
		&ErrorResponse{Version: Version12, ErrorCode: ErrResponseNotReady, Extended: []byte{1, 0xE0, 3, 4}},
		&ErrorResponse{Version: Version12, ErrorCode: ErrLargeResponse, Extended: []byte{1}},
		&RespondIfReady{Version: Version12, RequestCode: RequestGetMeasurements, Token: 3},
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.Marshal())
	}
	// Recorded libspdm messages (DMTF libspdm, see ../shared/spdm-vectors).
	for _, s := range []string{
		"1004000000010012",
		"12e3040030000102800000000200000000000000000000000000000000000000022010000320020004200f0005200100",
		"13630400340001120400000080000000020000000000000000000000000000010000000002201000032002000420080005200100",
		"12600008000000000028470eb9ccc2cfac396dd8716c01c140e9b1c2621cbd59c392460642dbf596290000",
		"127f0100",
	} {
		out = append(out, hx(s))
	}
	return out
}

// decodeAll runs every decoder over b; a decoded message must re-encode
// to something that decodes to the same encoding again.
func decodeAll(t *testing.T, b []byte) {
	layouts := []Layout{
		{HashSize: 48, SignatureSize: 96, ExchangeSize: 96},
		{HashSize: 48, SignatureSize: 96, ExchangeSize: 96, MultiKey: true, SummaryHash: true, Signed: true, VerifyData: true},
		{HashSize: 32, SignatureSize: 64, ExchangeSize: 64, SummaryHash: true},
	}
	type plain interface {
		Marshal() []byte
		Unmarshal([]byte) error
	}
	type laid interface {
		Marshal() []byte
		Unmarshal([]byte, Layout) error
	}
	for _, mk := range []func() plain{
		func() plain { return &GetVersion{} }, func() plain { return &VersionResponse{} },
		func() plain { return &GetCapabilities{} }, func() plain { return &CapabilitiesResponse{} },
		func() plain { return &NegotiateAlgorithms{} }, func() plain { return &Algorithms{} },
		func() plain { return &GetDigests{} }, func() plain { return &GetCertificate{} }, func() plain { return &Certificate{} },
		func() plain { return &Challenge{} }, func() plain { return &GetMeasurements{} },
		func() plain { return &Heartbeat{} }, func() plain { return &HeartbeatAck{} },
		func() plain { return &EndSession{} }, func() plain { return &EndSessionAck{} },
		func() plain { return &VendorDefinedRequest{} }, func() plain { return &VendorDefinedResponse{} },
		func() plain { return &ChunkSend{} }, func() plain { return &ChunkSendAck{} }, func() plain { return &ChunkGet{} },
		func() plain { return &ChunkResponse{} }, func() plain { return &ErrorResponse{} }, func() plain { return &RespondIfReady{} },
	} {
		m := mk()
		if m.Unmarshal(b) != nil {
			continue
		}
		enc := m.Marshal()
		m2 := mk()
		if err := m2.Unmarshal(enc); err != nil {
			t.Fatalf("%T: re-decode of %x: %v", m, enc, err)
		}
		if !bytes.Equal(m2.Marshal(), enc) {
			t.Fatalf("%T: unstable encoding %x", m, enc)
		}
	}
	for _, l := range layouts {
		for _, mk := range []func() laid{
			func() laid { return &Digests{} }, func() laid { return &ChallengeAuth{} }, func() laid { return &Measurements{} },
			func() laid { return &KeyExchange{} }, func() laid { return &KeyExchangeRsp{} }, func() laid { return &Finish{} },
			func() laid { return &FinishRsp{} },
		} {
			m := mk()
			if m.Unmarshal(b, l) != nil {
				continue
			}
			enc := m.Marshal()
			m2 := mk()
			if err := m2.Unmarshal(enc, l); err != nil {
				t.Fatalf("%T: re-decode of %x: %v", m, enc, err)
			}
			if !bytes.Equal(m2.Marshal(), enc) {
				t.Fatalf("%T: unstable encoding %x", m, enc)
			}
		}
	}
	_, _ = ParseOpaque(b)
	_, _ = securedVersionsFrom(b, smDataIDSupported)
	_, _ = ParseMeasurementRecord(b, int(b[0]))
	_, _ = ParseCertChain(HashSHA384.CryptoHash(), b)
}

func FuzzMessageDecoders(f *testing.F) {
	for _, s := range seedMessages() {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) == 0 {
			return
		}
		decodeAll(t, b)
	})
}

func FuzzFrameReader(f *testing.F) {
	var buf bytes.Buffer
	fc := NewFrameConn(&buf)
	_ = fc.WriteFrame(Frame{Command: CommandTest, TransportType: TransportMCTP, Payload: ClientHello})
	_ = fc.WriteFrame(Frame{Command: CommandNormal, TransportType: TransportMCTP, Payload: []byte{5, 0x10, 0x84, 0, 0}})
	f.Add(buf.Bytes(), false)
	f.Add(append([]byte("junk\x00\x00\x00"), buf.Bytes()...), true)
	f.Add([]byte{0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 1, 5}, false)
	f.Add([]byte{0, 0, 0xff, 0xfe, 0, 0, 0, 1, 0xff, 0xff, 0xff, 0xff}, true)
	f.Fuzz(func(t *testing.T, b []byte, serial bool) {
		rw := &serialLine{r: bytes.NewBuffer(b)}
		var fc *FrameConn
		if serial {
			fc = NewSerialFrameConn(rw)
		} else {
			fc = NewFrameConn(rw)
		}
		for range 64 {
			f, err := fc.ReadFrame()
			if err != nil {
				if len(f.Payload) > MaxFramePayload {
					t.Fatal("oversized payload returned")
				}
				if rw.r.Len() == 0 {
					return
				}
				continue
			}
			if len(f.Payload) > MaxFramePayload {
				t.Fatal("oversized payload returned")
			}
		}
	})
}

// fuzzResponder returns a responder connection after VCA at version v.
func fuzzResponder(t testing.TB, rsp *Responder, v Version, meas bool) *rspConn {
	c := &rspConn{s: rsp, ctx: context.Background()}
	c.handle((&GetVersion{Version: Version10}).Marshal(), nil)
	c.handle((&GetCapabilities{Capabilities{Version: v, Flags: CapKeyEx | CapEncrypt | CapMAC | CapChunk | CapHeartbeat, DataTransferSize: 4096, MaxSPDMmsgSize: 1 << 16}}).Marshal(), nil)
	na := NegotiateAlgorithms{Version: v, OtherParams: OpaqueDataFmt1, BaseAsym: AsymECDSAP384, BaseHash: HashSHA384,
		AlgStructs: []AlgStruct{{Type: AlgTypeDHE, Supported: uint16(DHESECP384R1)}, {Type: AlgTypeAEAD, Supported: uint16(AEADAES256GCM)}, {Type: AlgTypeKeySchedule, Supported: 1}}}
	if meas {
		na.MeasurementSpec = MeasurementSpecDMTF
	}
	if r, _ := c.handle(na.Marshal(), nil); ResponseCode(r[1]) != ResponseAlgorithms {
		t.Fatalf("VCA failed: %x", r)
	}
	return c
}

// FuzzResponderRequest: any request gets a well-formed answer (usually
// ERROR), never a panic.
func FuzzResponderRequest(f *testing.F) {
	for _, s := range seedMessages() {
		f.Add(s, true, true)
	}
	f.Add([]byte{0x12, 0xE0, 0x01, 0xFF}, false, false)
	id := newTestIdentity(f, elliptic.P384(), 0)
	rsp, err := NewResponder(testResponderConfig(id))
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, msg []byte, v13, meas bool) {
		v := Version12
		if v13 {
			v = Version13
		}
		if len(msg) >= 1 && msg[0]&0xF0 == 0x10 {
			// Keep the version plausible so deeper parsers are reached.
			msg = append([]byte{byte(v)}, msg[1:]...)
		}
		c := fuzzResponder(t, rsp, v, meas)
		for _, m := range [][]byte{msg, (&GetDigests{Version: v}).Marshal(), msg} {
			out, _ := c.handle(m, nil)
			if c.panicked {
				t.Fatalf("panic on %x", m)
			}
			if len(out) < headerSize {
				t.Fatalf("short answer %x to %x", out, m)
			}
		}
	})
}

// FuzzRequesterResponses feeds arbitrary response frames to the requester.
func FuzzRequesterResponses(f *testing.F) {
	frame := func(msg []byte) []byte {
		b := make([]byte, 12, 13+len(msg))
		binary.BigEndian.PutUint32(b, 1)
		binary.BigEndian.PutUint32(b[4:], 1)
		binary.BigEndian.PutUint32(b[8:], uint32(len(msg)+1))
		return append(append(b, 5), msg...)
	}
	var seed []byte
	for _, s := range seedMessages() {
		seed = append(seed, frame(s)...)
	}
	f.Add(seed)
	f.Add(append(frame([]byte{0x10, 0x04, 0, 0, 0, 1, 0, 0x12}), frame([]byte{0x12, 0x7f, 0x42, 0, 0, 0xE1, 1, 1})...))
	id := newTestIdentity(f, elliptic.P384(), 0)
	f.Fuzz(func(t *testing.T, b []byte) {
		rw := &serialLine{r: bytes.NewBuffer(b)}
		r := NewRequester(rw, testRequesterConfig(id))
		ctx := context.Background()
		r.connected = true
		r.neg = Negotiated{Version: Version12, BaseAsym: AsymECDSAP384, BaseHash: HashSHA384, MeasurementHash: MeasHashSHA384,
			DHE: DHESECP384R1, AEAD: AEADAES256GCM, KeySchedule: KeyScheduleSPDM,
			ResponderCaps: Capabilities{Flags: CapCert | CapChal | CapMeasSig | CapKeyEx | CapChunk | CapHeartbeat, DataTransferSize: 4096, MaxSPDMmsgSize: 1 << 16},
			RequesterCaps: r.ours}
		_, _ = r.Digests(ctx)
		_, _ = r.CertificateChain(ctx, 0)
		_, _ = r.Measurements(ctx, MeasurementRequest{Operation: MeasOpAll})
		_, _ = r.VendorDefined(ctx, VendorDefined{Payload: []byte{1}})
		_ = r.Connect(ctx)
	})
}
