// This file implements the requester side of SPDM sessions: KEY_EXCHANGE /
// KEY_EXCHANGE_RSP (DSP0274 1.2/1.3 clause 10.16, TH and signature of clause
// 15, secured-message version negotiation in the opaque data of DSP0277
// clause "Secured message opaque data"), FINISH/FINISH_RSP (clause 10.17,
// encrypted with the handshake keys unless both sides are
// HANDSHAKE_IN_THE_CLEAR), the key schedule (clause 12), and in-session
// GET_MEASUREMENTS, HEARTBEAT (clause 10.19), VENDOR_DEFINED_REQUEST and
// END_SESSION (clause 10.22) carried as DSP0277 secured messages.

package spdm

import (
	"context"
	"crypto/hmac"
	"fmt"
	"slices"
)

// SessionOptions configures StartSession.
type SessionOptions struct {
	SlotID      uint8
	SummaryType uint8 // SummaryNone, SummaryTCB or SummaryAll
	Policy      uint8 // SessionPolicy
	// EndAttributes is Param1 of the END_SESSION that End sends (bit 0:
	// the responder clears the negotiated state).
	EndAttributes uint8
}

// Session is an established secure session.
type Session struct {
	r *Requester
	// ID is the session ID as on the wire: RspSessionID << 16 | ReqSessionID
	// (as libspdm composes it).
	ID              uint32
	HeartbeatPeriod uint8
	SlotID          uint8
	// SecuredVersion is the DSP0277 version the responder selected.
	SecuredVersion VersionNumberEntry
	// KeyExchange is the verified KEY_EXCHANGE_RSP signature.
	KeyExchange *Evidence
	// SummaryHash is the MeasurementSummaryHash of KEY_EXCHANGE_RSP.
	SummaryHash []byte
	endAttrs    uint8
	tx, rx      *securedDirection
	st          *sessionTranscript
}

// StartSession runs KEY_EXCHANGE and FINISH and returns the session.
func (r *Requester) StartSession(ctx context.Context, opts SessionOptions) (*Session, error) {
	if err := r.begin(RequestKeyExchange, nil); err != nil {
		return nil, err
	}
	if r.session != nil {
		return nil, fmt.Errorf("KEY_EXCHANGE: a session is already open")
	}
	n := r.neg
	if !n.ResponderCaps.Flags.Has(CapKeyEx) || !n.RequesterCaps.Flags.Has(CapKeyEx) {
		return nil, fmt.Errorf("KEY_EXCHANGE: KEY_EX_CAP not negotiated")
	}
	pub, chain, err := r.leafKey(opts.SlotID)
	if err != nil {
		return nil, err
	}
	h := n.Hash()
	var key dheKey
	if r.cfg.dhe != nil {
		key, err = r.cfg.dhe(n.DHE)
	} else {
		var priv []byte
		if r.cfg.DHEKey != nil {
			priv, err = r.cfg.DHEKey(n.DHE)
		} else {
			priv, err = generateDHEKeyBytes(n.DHE)
		}
		if err == nil {
			key, err = newDHEKey(n.DHE, priv)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("KEY_EXCHANGE: %w", err)
	}
	ke := KeyExchange{Version: n.Version, SummaryHashType: opts.SummaryType, SlotID: opts.SlotID,
		ReqSessionID: r.nextReqID, SessionPolicy: opts.Policy, ExchangeData: key.exchangeData(),
		OpaqueData: SupportedVersionsOpaque(SecuredVersions)}
	if err := r.random(ke.RandomData[:]); err != nil {
		return nil, err
	}
	req := ke.Marshal()
	rsp, err := r.roundTrip(ctx, nil, req)
	if err == nil {
		err = r.expect(rsp, ResponseKeyExchangeRsp, n.Version)
	}
	if err != nil {
		return nil, fmt.Errorf("KEY_EXCHANGE: %w", err)
	}
	l := n.layout()
	l.SummaryHash = opts.SummaryType != SummaryNone
	l.VerifyData = !n.HandshakeInTheClear
	var kr KeyExchangeRsp
	if err := kr.Unmarshal(rsp, l); err != nil {
		return nil, fmt.Errorf("KEY_EXCHANGE_RSP: %w", err)
	}
	if kr.MutAuthRequested != 0 {
		return nil, fmt.Errorf("KEY_EXCHANGE_RSP: mutual authentication requested but not supported")
	}
	sel, err := securedVersionsFrom(kr.OpaqueData, smDataIDSelection)
	if err != nil || !slices.Contains(SecuredVersions, sel[0]) {
		return nil, fmt.Errorf("%w: KEY_EXCHANGE_RSP secured message version selection: %v", ErrProtocol, err)
	}
	total := len(kr.Marshal())
	sigOff := total - len(kr.Signature) - len(kr.VerifyData)
	st := newSessionTranscript(h, r.t.thPrefix(n.MultiKey), chain.Digest)
	st.add(req)
	st.add(rsp[:sigOff])
	ev := &Evidence{Version: n.Version, Hash: n.BaseHash, Asym: n.BaseAsym, Context: contextKeyExchangeRsp,
		Request: req, Response: rsp[:total], Transcript: append([]byte(nil), st.th...), Signature: kr.Signature, SlotID: opts.SlotID}
	if err := ev.Verify(pub); err != nil {
		return nil, fmt.Errorf("KEY_EXCHANGE_RSP: %w", err)
	}
	st.add(kr.Signature)
	secret, err := key.sharedSecret(kr.ExchangeData)
	if err != nil {
		return nil, fmt.Errorf("KEY_EXCHANGE_RSP: %w", err)
	}
	ks := newKeySchedule(h, n.Version, secret)
	th1 := st.hash(nil)
	keyLen := n.AEAD.KeySize()
	reqHS, rspHS, err := ks.handshakeKeys(th1, keyLen, aeadIVSize)
	if err != nil {
		return nil, fmt.Errorf("handshake keys: %w", err)
	}
	s := &Session{r: r, ID: uint32(kr.RspSessionID)<<16 | uint32(ke.ReqSessionID), HeartbeatPeriod: kr.HeartbeatPeriod,
		SlotID: opts.SlotID, SecuredVersion: sel[0], endAttrs: opts.EndAttributes, KeyExchange: ev, SummaryHash: kr.SummaryHash, st: st}
	if !n.HandshakeInTheClear {
		if !hmac.Equal(verifyData(h, rspHS.finishedKey, th1), kr.VerifyData) {
			return nil, fmt.Errorf("%w: KEY_EXCHANGE_RSP ResponderVerifyData does not verify", ErrProtocol)
		}
		st.add(kr.VerifyData)
		if s.tx, err = newSecuredDirection(n.AEAD, reqHS, s.ID, mctpSeqNumSize, r.cfg.padding); err != nil {
			return nil, err
		}
		if s.rx, err = newSecuredDirection(n.AEAD, rspHS, s.ID, mctpSeqNumSize, nil); err != nil {
			return nil, err
		}
	}
	if err := r.finish(ctx, s, ks, reqHS, rspHS); err != nil {
		return nil, err
	}
	r.nextReqID--
	if r.nextReqID == 0 {
		r.nextReqID = 0xFFFF
	}
	r.session = s
	return s, nil
}

func (r *Requester) finish(ctx context.Context, s *Session, ks *keySchedule, reqHS, rspHS directionKeys) error {
	n := r.neg
	h := n.Hash()
	fin := Finish{Version: n.Version}
	hdr := fin.Marshal()
	fin.VerifyData = verifyData(h, reqHS.finishedKey, s.st.hash(hdr))
	req := fin.Marshal()
	rsp, err := r.roundTrip(ctx, s, req)
	if err == nil {
		err = r.expect(rsp, ResponseFinishRsp, n.Version)
	}
	if err != nil {
		return fmt.Errorf("FINISH: %w", err)
	}
	s.st.add(req)
	l := n.layout()
	l.VerifyData = n.HandshakeInTheClear
	var fr FinishRsp
	if err := fr.Unmarshal(rsp, l); err != nil {
		return fmt.Errorf("FINISH_RSP: %w", err)
	}
	if n.HandshakeInTheClear {
		if !hmac.Equal(verifyData(h, rspHS.finishedKey, s.st.hash(rsp[:headerSize])), fr.VerifyData) {
			return fmt.Errorf("%w: FINISH_RSP ResponderVerifyData does not verify", ErrProtocol)
		}
	}
	s.st.add(rsp[:headerSize+len(fr.VerifyData)])
	reqData, rspData, err := ks.dataKeys(s.st.hash(nil), n.AEAD.KeySize(), aeadIVSize)
	if err != nil {
		return fmt.Errorf("data keys: %w", err)
	}
	if s.tx, err = newSecuredDirection(n.AEAD, reqData, s.ID, mctpSeqNumSize, r.cfg.padding); err != nil {
		return err
	}
	if s.rx, err = newSecuredDirection(n.AEAD, rspData, s.ID, mctpSeqNumSize, nil); err != nil {
		return err
	}
	return nil
}

func (s *Session) live() error {
	if s.r.session != s {
		return fmt.Errorf("spdm: session 0x%08x is closed", s.ID)
	}
	return nil
}

// Measurements sends GET_MEASUREMENTS inside the session; a signed response
// covers L1 = A || this session's measurement transcript.
func (s *Session) Measurements(ctx context.Context, mr MeasurementRequest) (*MeasurementResult, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	return s.r.measurements(ctx, s, mr)
}

// Digests sends GET_DIGESTS inside the session.
func (s *Session) Digests(ctx context.Context) (*Digests, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	return s.r.digests(ctx, s)
}

// VendorDefined sends VENDOR_DEFINED_REQUEST inside the session.
func (s *Session) VendorDefined(ctx context.Context, req VendorDefined) (*VendorDefined, error) {
	if err := s.live(); err != nil {
		return nil, err
	}
	return s.r.vendorDefined(ctx, s, req)
}

// Heartbeat sends HEARTBEAT.
func (s *Session) Heartbeat(ctx context.Context) error {
	if err := s.live(); err != nil {
		return err
	}
	r := s.r
	if !r.neg.ResponderCaps.Flags.Has(CapHeartbeat) {
		return fmt.Errorf("HEARTBEAT: responder has no HBEAT_CAP")
	}
	_ = r.begin(RequestHeartbeat, s)
	rsp, err := r.roundTrip(ctx, s, (&Heartbeat{headerOnly{Version: r.neg.Version}}).Marshal())
	if err == nil {
		err = r.expect(rsp, ResponseHeartbeatAck, r.neg.Version)
	}
	if err != nil {
		return fmt.Errorf("HEARTBEAT: %w", err)
	}
	return nil
}

// End sends END_SESSION and forgets the session.
func (s *Session) End(ctx context.Context) error {
	if err := s.live(); err != nil {
		return err
	}
	r := s.r
	_ = r.begin(RequestEndSession, s)
	rsp, err := r.roundTrip(ctx, s, (&EndSession{headerOnly{Version: r.neg.Version, Param1: s.endAttrs}}).Marshal())
	r.session = nil
	if s.endAttrs&1 != 0 {
		r.connected = false
	}
	if err == nil {
		err = r.expect(rsp, ResponseEndSessionAck, r.neg.Version)
	}
	if err != nil {
		return fmt.Errorf("END_SESSION: %w", err)
	}
	return nil
}

// Session returns the open session, if any.
func (r *Requester) Session() *Session { return r.session }
