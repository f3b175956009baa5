// This file implements the responder side of SPDM sessions: KEY_EXCHANGE /
// KEY_EXCHANGE_RSP (DSP0274 1.2/1.3 clause 10.16, TH signature of clause 15,
// the secured-message version selection of DSP0277 in the opaque data),
// FINISH/FINISH_RSP (clause 10.17; handshake keys unless
// HANDSHAKE_IN_THE_CLEAR), the key schedule (clause 12), HEARTBEAT (clause
// 10.19) and END_SESSION (clause 10.22), with DSP0277 secured messages.

package spdm

import (
	"crypto/hmac"
	"slices"
)

// rspSessionID is the RspSessionID we allocate (libspdm uses 0xFFFF for its
// first session too).
const rspSessionID = 0xFFFF

// rspSession is the responder's state of one session.
type rspSession struct {
	id          uint32
	slot        uint8
	established bool
	st          *sessionTranscript
	ks          *keySchedule
	reqHS       directionKeys
	rspHS       directionKeys
	tx, rx      *securedDirection
}

func (c *rspConn) keyExchange(msg []byte) ([]byte, func()) {
	v := c.neg.Version
	n := c.neg
	rf := c.s.caps.Flags
	if !rf.Has(CapKeyEx) || !n.RequesterCaps.Flags.Has(CapKeyEx) {
		return c.errorMsg(v, ErrUnsupportedRequest, uint8(RequestKeyExchange)), nil
	}
	var ke KeyExchange
	if err := ke.Unmarshal(msg, n.layout()); err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	chain, cs := c.slotChain(ke.SlotID)
	sum, ok := c.summary(ke.SummaryHashType)
	if chain == nil || !ok {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	offered, err := securedVersionsFrom(ke.OpaqueData, smDataIDSupported)
	if err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	var sel VersionNumberEntry
	for _, o := range offered {
		if slices.Contains(SecuredVersions, o) && o > sel {
			sel = o
		}
	}
	if sel == 0 {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	var key dheKey
	if c.s.cfg.dheKey != nil {
		key, err = c.s.cfg.dheKey(n.DHE)
	} else {
		var priv []byte
		if priv, err = generateDHEKeyBytes(n.DHE); err == nil {
			key, err = newDHEKey(n.DHE, priv)
		}
	}
	if err != nil {
		return c.errorMsg(v, ErrUnspecified, 0), nil
	}
	secret, err := key.sharedSecret(ke.ExchangeData)
	if err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	kr := KeyExchangeRsp{Version: v, HeartbeatPeriod: c.s.cfg.HeartbeatPeriod, RspSessionID: rspSessionID,
		ExchangeData: key.exchangeData(), SummaryHash: sum, OpaqueData: SelectedVersionOpaque(sel)}
	if err := c.nonce(kr.RandomData[:]); err != nil {
		return c.errorMsg(v, ErrUnspecified, 0), nil
	}
	h := n.Hash()
	st := newSessionTranscript(h, c.t.thPrefix(n.MultiKey), hashOf(h, chain))
	st.add(msg[:len(ke.Marshal())])
	unsigned := kr.Marshal()
	st.add(unsigned)
	sig, err := signTranscript(cs.Signer, h, v, contextKeyExchangeRsp, st.hash(nil), n.BaseAsym.SignatureSize())
	if err != nil {
		c.s.log.Error("KEY_EXCHANGE_RSP signing failed", "err", err)
		return c.errorMsg(v, ErrUnspecified, 0), nil
	}
	st.add(sig)
	ks := newKeySchedule(h, v, secret)
	th1 := st.hash(nil)
	reqHS, rspHS, err := ks.handshakeKeys(th1, n.AEAD.KeySize(), aeadIVSize)
	if err != nil {
		return c.errorMsg(v, ErrUnspecified, 0), nil
	}
	rsp := append(unsigned, sig...)
	ss := &rspSession{id: rspSessionID<<16 | uint32(ke.ReqSessionID), slot: ke.SlotID, st: st, ks: ks, reqHS: reqHS, rspHS: rspHS}
	if !n.HandshakeInTheClear {
		vd := verifyData(h, rspHS.finishedKey, th1)
		st.add(vd)
		rsp = append(rsp, vd...)
		if ss.rx, err = newSecuredDirection(n.AEAD, reqHS, ss.id, mctpSeqNumSize, nil); err != nil {
			return c.errorMsg(v, ErrUnspecified, 0), nil
		}
		if ss.tx, err = newSecuredDirection(n.AEAD, rspHS, ss.id, mctpSeqNumSize, c.s.cfg.padding); err != nil {
			return c.errorMsg(v, ErrUnspecified, 0), nil
		}
	}
	c.session = ss
	return rsp, nil
}

func (c *rspConn) finish(msg []byte, ss *rspSession) ([]byte, func()) {
	v := c.neg.Version
	n := c.neg
	cur := c.session
	// FINISH travels encrypted with the handshake keys unless the handshake
	// is in the clear; it must arrive on the matching path.
	if cur == nil || cur.established || (n.HandshakeInTheClear) != (ss == nil) {
		return c.errorMsg(v, ErrUnexpectedRequest, 0), nil
	}
	var fin Finish
	if err := fin.Unmarshal(msg, n.layout()); err != nil || fin.Attributes&1 != 0 {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	h := n.Hash()
	want := verifyData(h, cur.reqHS.finishedKey, cur.st.hash(msg[:headerSize]))
	if !hmac.Equal(want, fin.VerifyData) {
		c.session = nil
		return c.errorMsg(v, ErrDecryptError, 0), nil
	}
	cur.st.add(msg[:len(fin.Marshal())])
	fr := FinishRsp{Version: v}
	if n.HandshakeInTheClear {
		fr.VerifyData = verifyData(h, cur.rspHS.finishedKey, cur.st.hash(fr.Marshal()))
	}
	rsp := fr.Marshal()
	cur.st.add(rsp)
	reqData, rspData, err := cur.ks.dataKeys(cur.st.hash(nil), n.AEAD.KeySize(), aeadIVSize)
	if err != nil {
		c.session = nil
		return c.errorMsg(v, ErrUnspecified, 0), nil
	}
	rx, err1 := newSecuredDirection(n.AEAD, reqData, cur.id, mctpSeqNumSize, nil)
	tx, err2 := newSecuredDirection(n.AEAD, rspData, cur.id, mctpSeqNumSize, c.s.cfg.padding)
	if err1 != nil || err2 != nil {
		c.session = nil
		return c.errorMsg(v, ErrUnspecified, 0), nil
	}
	// Switch to the data keys once FINISH_RSP is on its way.
	return rsp, func() {
		cur.tx, cur.rx, cur.established = tx, rx, true
		cur.ks.forgetHandshake()
		cur.reqHS, cur.rspHS = directionKeys{}, directionKeys{}
	}
}

func (c *rspConn) heartbeat(msg []byte, ss *rspSession) []byte {
	v := c.neg.Version
	var hb Heartbeat
	if err := hb.Unmarshal(msg); err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0)
	}
	if ss == nil || !ss.established {
		return c.errorMsg(v, ErrSessionRequired, 0)
	}
	if !c.s.caps.Flags.Has(CapHeartbeat) {
		return c.errorMsg(v, ErrUnsupportedRequest, uint8(RequestHeartbeat))
	}
	return (&HeartbeatAck{headerOnly{Version: v}}).Marshal()
}

func (c *rspConn) endSession(msg []byte, ss *rspSession) ([]byte, func()) {
	v := c.neg.Version
	var es EndSession
	if err := es.Unmarshal(msg); err != nil {
		return c.errorMsg(v, ErrInvalidRequest, 0), nil
	}
	if ss == nil || !ss.established {
		return c.errorMsg(v, ErrSessionRequired, 0), nil
	}
	return (&EndSessionAck{headerOnly{Version: v}}).Marshal(), func() {
		if c.session == ss {
			c.session = nil
		}
		if es.Param1&1 != 0 {
			// Negotiated state clearing: the requester starts over with GET_VERSION.
			c.state = stateIdle
		}
	}
}
