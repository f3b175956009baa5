// This file keeps the transcripts of DSP0274 1.2/1.3 in one place: message A
// (VCA, clause 10.5 / 15), B (GET_DIGESTS, DIGESTS, GET_CERTIFICATE,
// CERTIFICATE) and C (CHALLENGE, CHALLENGE_AUTH without Signature) forming M1
// (clause 10.8), the measurement transcript forming L1 (clause 10.11; inside
// a session: A plus that session's measurement transcript), and TH for
// KEY_EXCHANGE_RSP / FINISH (clause 10.16/10.17, DSP0274 "TH" definitions).
// The bookkeeping follows DMTF libspdm: GET_DIGESTS starts a new B; B and C
// are emptied once CHALLENGE_AUTH has been handled, and before the
// connection is authenticated GET_MEASUREMENTS and KEY_EXCHANGE empty them
// too; the measurement transcript is cleared by any other request, by an
// ERROR answer to GET_MEASUREMENTS and by each signed MEASUREMENTS.

package spdm

import (
	"crypto"
)

// transcript is the connection-level transcript state. The requester and
// the responder keep identical copies.
type transcript struct {
	a, b, c []byte
	// d is the first DIGESTS after VCA on a 1.3 multi-key connection; TH
	// includes it after A (DSP0274 1.3 "message D").
	d []byte
	l []byte // measurement transcript outside sessions (without A)
	// authenticated is set once a CHALLENGE_AUTH has been handled.
	authenticated bool
}

// reset starts over (GET_VERSION).
func (t *transcript) reset() {
	*t = transcript{a: t.a[:0]}
}

// vca appends a VCA request/response pair to A.
func (t *transcript) vca(req, rsp []byte) {
	t.a = append(t.a, req...)
	t.a = append(t.a, rsp...)
}

// request applies the clearing rules for a request outside sessions before
// it is answered.
func (t *transcript) request(code RequestCode) {
	if code != RequestGetMeasurements {
		t.l = t.l[:0]
	}
	switch code {
	case RequestGetMeasurements, RequestKeyExchange:
		if !t.authenticated {
			t.b, t.c = t.b[:0], t.c[:0]
		}
	}
}

// digests starts a new B with a GET_DIGESTS/DIGESTS pair.
func (t *transcript) digests(req, rsp []byte) {
	t.b = append(append(t.b[:0], req...), rsp...)
	if t.d == nil {
		t.d = append([]byte{}, rsp...)
	}
}

// thPrefix returns what TH starts with: A, then message D on a 1.3
// multi-key connection.
func (t *transcript) thPrefix(multiKey bool) []byte {
	if !multiKey {
		return t.a
	}
	return append(append([]byte(nil), t.a...), t.d...)
}

// certificate appends a GET_CERTIFICATE/CERTIFICATE pair to B.
func (t *transcript) certificate(req, rsp []byte) {
	t.b = append(append(t.b, req...), rsp...)
}

// challenge returns M1 = A || B || C for a CHALLENGE and its CHALLENGE_AUTH
// without Signature, then empties B and C.
func (t *transcript) challenge(req, rspUnsigned []byte) []byte {
	m1 := make([]byte, 0, len(t.a)+len(t.b)+len(req)+len(rspUnsigned))
	m1 = append(append(append(append(m1, t.a...), t.b...), req...), rspUnsigned...)
	t.b, t.c = t.b[:0], t.c[:0]
	t.authenticated = true
	return m1
}

// challengeFailed empties B and C after a failed CHALLENGE.
func (t *transcript) challengeFailed() { t.b, t.c = t.b[:0], t.c[:0] }

// measurement records a GET_MEASUREMENTS/MEASUREMENTS pair in the
// measurement transcript l (the connection's or a session's). For a signed
// response rsp is without its Signature and the returned L1 = A || l || req
// || rsp; l is then cleared.
func (t *transcript) measurement(l *[]byte, req, rsp []byte, signed bool) []byte {
	*l = append(append(*l, req...), rsp...)
	if !signed {
		return nil
	}
	l1 := make([]byte, 0, len(t.a)+len(*l))
	l1 = append(append(l1, t.a...), *l...)
	*l = (*l)[:0]
	return l1
}

// sessionTranscript is TH of one session: A || H(cert chain) || KEY_EXCHANGE
// || KEY_EXCHANGE_RSP || FINISH || FINISH_RSP, built up as the handshake
// proceeds; l is the session's measurement transcript.
type sessionTranscript struct {
	h  crypto.Hash
	th []byte
	l  []byte
}

func newSessionTranscript(h crypto.Hash, a, chainDigest []byte) *sessionTranscript {
	th := make([]byte, 0, len(a)+len(chainDigest)+1024)
	th = append(append(th, a...), chainDigest...)
	return &sessionTranscript{h: h, th: th}
}

func (s *sessionTranscript) add(b []byte) { s.th = append(s.th, b...) }

// hash returns H(TH || extra).
func (s *sessionTranscript) hash(extra []byte) []byte {
	d := s.h.New()
	d.Write(s.th)
	d.Write(extra)
	return d.Sum(nil)
}

func hashOf(h crypto.Hash, b []byte) []byte {
	d := h.New()
	d.Write(b)
	return d.Sum(nil)
}
