// This file implements the SPDM key schedule of DSP0274 1.2/1.3 clause 12
// ("Key schedule"): BinConcat, HKDF-Extract/HKDF-Expand (RFC 5869) with the
// negotiated hash, the handshake secret from the DHE secret, the request and
// response handshake secrets bound to the TH1 hash, finished keys, the AEAD
// encryption keys and IVs, the master secret, the data secrets bound to the
// TH2 hash, the export master secret, the key update of clause "Major secrets
// update" ("traffic upd"), and the FINISH / FINISH_RSP verify data
// (HMAC over the TH hash with a finished key, DSP0274 clause "FINISH request
// and FINISH_RSP response").

package spdm

import (
	"crypto"
	"crypto/hkdf"
	"crypto/hmac"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// BinConcat labels of DSP0274 table "Key schedule labels" (BIN_STR_0..9).
const (
	labelDerived    = "derived"
	labelReqHS      = "req hs data"
	labelRspHS      = "rsp hs data"
	labelReqApp     = "req app data"
	labelRspApp     = "rsp app data"
	labelKey        = "key"
	labelIV         = "iv"
	labelFinished   = "finished"
	labelExpMaster  = "exp master"
	labelTrafficUpd = "traffic upd"
)

var errKeySchedule = errors.New("spdm: key schedule")

// directionKeys holds the keys of one direction (requester→responder or
// responder→requester) of one phase of a session.
//
//   - secret is the major secret the others were expanded from (request or
//     response handshake secret, or request or response data secret); a key
//     update expands it again with "traffic upd".
//   - key and iv are the AEAD encryption key and IV (salt) for DSP0277
//     secured messages.
//   - finishedKey is the HMAC key for FINISH (requester) or FINISH_RSP
//     (responder) verify data; it is set only for handshake keys.
type directionKeys struct {
	secret      []byte
	key         []byte
	iv          []byte
	finishedKey []byte
}

// keySchedule derives the secrets of one SPDM session established with
// KEY_EXCHANGE. Its zero value is not usable; build it with newKeySchedule.
type keySchedule struct {
	hash            crypto.Hash
	versionLabel    string // "spdm1.2 " (with the trailing space)
	handshakeSecret []byte // HKDF-Extract(salt_0 = zeros, DHE secret)
}

// newKeySchedule starts a key schedule for the negotiated hash and SPDM
// version from the DHE shared secret (for ECDHE the X coordinate, as
// crypto/ecdh returns it). handshake_secret = HKDF-Extract(salt_0, DHE) with
// salt_0 = Hash.Size() zero bytes.
func newKeySchedule(h crypto.Hash, version Version, dheSecret []byte) *keySchedule {
	k := &keySchedule{
		hash:         h,
		versionLabel: fmt.Sprintf("spdm%d.%d ", version.Major(), version.Minor()),
	}
	if h.Available() {
		// HKDF-Extract never fails for an available hash (any IKM length).
		k.handshakeSecret, _ = hkdf.Extract(k.newHash, dheSecret, make([]byte, h.Size()))
	}
	return k
}

func (k *keySchedule) newHash() hash.Hash { return k.hash.New() }

// binConcat returns BinConcat(length, version label, label, context) of
// DSP0274: length as u16 little-endian, "spdmM.N ", the label, the context.
func (k *keySchedule) binConcat(length int, label string, context []byte) string {
	b := make([]byte, 2, 2+len(k.versionLabel)+len(label)+len(context))
	binary.LittleEndian.PutUint16(b, uint16(length))
	b = append(b, k.versionLabel...)
	b = append(b, label...)
	b = append(b, context...)
	return string(b)
}

// expand is HKDF-Expand(secret, BinConcat(length, label, context), length).
func (k *keySchedule) expand(secret []byte, label string, context []byte, length int) ([]byte, error) {
	if length <= 0 || length > 0xFFFF {
		return nil, fmt.Errorf("%w: %q: bad length %d", errKeySchedule, label, length)
	}
	out, err := hkdf.Expand(k.newHash, secret, k.binConcat(length, label, context), length)
	if err != nil {
		return nil, fmt.Errorf("%w: expand %q: %w", errKeySchedule, label, err)
	}
	return out, nil
}

func (k *keySchedule) check(thHash []byte, keyLen, ivLen int) error {
	if !k.hash.Available() || k.handshakeSecret == nil {
		return fmt.Errorf("%w: hash %v not available", errKeySchedule, k.hash)
	}
	if len(thHash) != k.hash.Size() {
		return fmt.Errorf("%w: transcript hash is %d bytes, want %d", errKeySchedule, len(thHash), k.hash.Size())
	}
	if keyLen <= 0 || ivLen <= 0 {
		return fmt.Errorf("%w: key length %d, IV length %d", errKeySchedule, keyLen, ivLen)
	}
	return nil
}

// directionFromSecret expands key, IV and (if withFinished) the finished
// key from one major secret.
func (k *keySchedule) directionFromSecret(secret []byte, keyLen, ivLen int, withFinished bool) (directionKeys, error) {
	d := directionKeys{secret: secret}
	var err error
	if d.key, err = k.expand(secret, labelKey, nil, keyLen); err != nil {
		return directionKeys{}, err
	}
	if d.iv, err = k.expand(secret, labelIV, nil, ivLen); err != nil {
		return directionKeys{}, err
	}
	if withFinished {
		if d.finishedKey, err = k.expand(secret, labelFinished, nil, k.hash.Size()); err != nil {
			return directionKeys{}, err
		}
	}
	return d, nil
}

// handshakeKeys derives the request and response handshake keys from the
// TH1 hash (the hash of VCA || cert chain hash || KEY_EXCHANGE ||
// KEY_EXCHANGE_RSP as DSP0274 defines TH1). keyLen and ivLen are the AEAD
// key and IV sizes of the negotiated cipher suite.
func (k *keySchedule) handshakeKeys(th1Hash []byte, keyLen, ivLen int) (req, rsp directionKeys, err error) {
	if err := k.check(th1Hash, keyLen, ivLen); err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	n := k.hash.Size()
	reqSecret, err := k.expand(k.handshakeSecret, labelReqHS, th1Hash, n)
	if err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	rspSecret, err := k.expand(k.handshakeSecret, labelRspHS, th1Hash, n)
	if err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	if req, err = k.directionFromSecret(reqSecret, keyLen, ivLen, true); err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	if rsp, err = k.directionFromSecret(rspSecret, keyLen, ivLen, true); err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	return req, rsp, nil
}

// masterSecret returns HKDF-Extract(salt_1, 0^Hash.Size()) with
// salt_1 = HKDF-Expand(handshake_secret, BinConcat(H, "derived"), H).
func (k *keySchedule) masterSecret() ([]byte, error) {
	n := k.hash.Size()
	salt1, err := k.expand(k.handshakeSecret, labelDerived, nil, n)
	if err != nil {
		return nil, err
	}
	ms, err := hkdf.Extract(k.newHash, make([]byte, n), salt1)
	if err != nil {
		return nil, fmt.Errorf("%w: master secret: %w", errKeySchedule, err)
	}
	return ms, nil
}

// dataKeys derives the request and response data (application) keys from
// the TH2 hash (TH1's messages || FINISH || FINISH_RSP). The returned keys
// have no finishedKey.
func (k *keySchedule) dataKeys(th2Hash []byte, keyLen, ivLen int) (req, rsp directionKeys, err error) {
	if err := k.check(th2Hash, keyLen, ivLen); err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	ms, err := k.masterSecret()
	if err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	n := k.hash.Size()
	reqSecret, err := k.expand(ms, labelReqApp, th2Hash, n)
	if err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	rspSecret, err := k.expand(ms, labelRspApp, th2Hash, n)
	if err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	if req, err = k.directionFromSecret(reqSecret, keyLen, ivLen, false); err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	if rsp, err = k.directionFromSecret(rspSecret, keyLen, ivLen, false); err != nil {
		return directionKeys{}, directionKeys{}, err
	}
	return req, rsp, nil
}

// exportMasterSecret returns HKDF-Expand(master_secret,
// BinConcat(H, "exp master", TH2 hash), H).
func (k *keySchedule) exportMasterSecret(th2Hash []byte) ([]byte, error) {
	if err := k.check(th2Hash, 1, 1); err != nil {
		return nil, err
	}
	ms, err := k.masterSecret()
	if err != nil {
		return nil, err
	}
	return k.expand(ms, labelExpMaster, th2Hash, k.hash.Size())
}

// updateKeys performs a KEY_UPDATE for one direction: the new data secret is
// HKDF-Expand(old secret, BinConcat(H, "traffic upd"), H), and key and IV
// are expanded from it as usual.
func (k *keySchedule) updateKeys(old directionKeys, keyLen, ivLen int) (directionKeys, error) {
	if len(old.secret) != k.hash.Size() {
		return directionKeys{}, fmt.Errorf("%w: key update without a major secret", errKeySchedule)
	}
	if keyLen <= 0 || ivLen <= 0 {
		return directionKeys{}, fmt.Errorf("%w: key length %d, IV length %d", errKeySchedule, keyLen, ivLen)
	}
	secret, err := k.expand(old.secret, labelTrafficUpd, nil, k.hash.Size())
	if err != nil {
		return directionKeys{}, err
	}
	return k.directionFromSecret(secret, keyLen, ivLen, false)
}

// forgetHandshake drops the handshake secret once the data keys have been
// derived (DSP0274: the handshake secrets are no longer needed after FINISH).
func (k *keySchedule) forgetHandshake() {
	clear(k.handshakeSecret)
	k.handshakeSecret = nil
}

// verifyData returns HMAC(finishedKey, thHash) with the negotiated hash: the
// RequesterVerifyData of FINISH (request finished key) or the
// ResponderVerifyData of FINISH_RSP / KEY_EXCHANGE_RSP (response finished
// key). Compare received values with hmac.Equal. It returns nil if h is not
// available, which never equals a received value.
func verifyData(h crypto.Hash, finishedKey, thHash []byte) []byte {
	if !h.Available() {
		return nil
	}
	m := hmac.New(h.New, finishedKey)
	m.Write(thHash)
	return m.Sum(nil)
}
