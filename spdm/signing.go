// This file implements the signature generation and verification rules of
// DSP0274 1.2/1.3 clause 15 ("Signature generation" and "Signature
// verification"): the 100-byte versioned signing context (four copies of
// "dmtf-spdm-vX.Y.*" followed by the zero-padded context string of table
// "SPDM signing context strings"), the message M = context || Hash(transcript),
// and the raw big-endian r||s encoding of ECDSA signatures (DSP0274 1.2
// clause 10.4, "ECDSA signature" encoding of the Signature field).

package spdm

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/rand"
	"encoding/asn1"
	"errors"
	"fmt"
	"math/big"
)

// Signing context strings of DSP0274 1.2/1.3 (table "SPDM signing context
// strings"). FINISH_RSP carries only an HMAC, so there is no responder-finish
// context.
const (
	// contextChallengeAuth is signed by the responder in CHALLENGE_AUTH.
	contextChallengeAuth = "responder-challenge_auth signing"
	// contextMutChallengeAuth is signed by the requester in an encapsulated
	// CHALLENGE_AUTH (mutual authentication).
	contextMutChallengeAuth = "requester-challenge_auth signing"
	// contextMeasurements is signed by the responder in MEASUREMENTS.
	contextMeasurements = "responder-measurements signing"
	// contextKeyExchangeRsp is signed by the responder in KEY_EXCHANGE_RSP.
	contextKeyExchangeRsp = "responder-key_exchange_rsp signing"
	// contextFinish is signed by the requester in FINISH (mutual authentication).
	contextFinish = "requester-finish signing"
)

const (
	signingPrefixSize  = 100 // DSP0274 "combined_spdm_prefix"
	signingVersionSize = 16  // one "dmtf-spdm-v1.2.*"
	signingContextSize = signingPrefixSize - 4*signingVersionSize
)

var (
	errSigningVersion = errors.New("spdm: signing context needs SPDM 1.2 or later")
	errSigningContext = errors.New("spdm: signing context string longer than 36 bytes")
	errSignatureSize  = errors.New("spdm: signature has the wrong size")
	errSignatureKey   = errors.New("spdm: unsupported signature key type")
	errSignatureHash  = errors.New("spdm: transcript hash has the wrong size")
	// errSignatureInvalid reports a well-formed signature that does not verify.
	errSignatureInvalid = errors.New("spdm: signature does not verify")
)

// signingPrefix returns the 100-byte signing context of DSP0274 1.2+: the
// 16 ASCII bytes "dmtf-spdm-vM.N.*" four times, then zero bytes and the
// context string, together 36 bytes. It panics if context is longer than 36
// bytes or version is below 1.2; the context constants of this file and the
// negotiated version (1.2 or later) always satisfy both. signTranscript and
// verifyTranscript check these conditions and return errors instead.
func signingPrefix(version Version, context string) []byte {
	p, err := buildSigningPrefix(version, context)
	if err != nil {
		panic(err)
	}
	return p
}

func buildSigningPrefix(version Version, context string) ([]byte, error) {
	if version < Version12 {
		return nil, fmt.Errorf("%w: version %s", errSigningVersion, version)
	}
	if len(context) > signingContextSize {
		return nil, fmt.Errorf("%w: %q", errSigningContext, context)
	}
	label := fmt.Sprintf("dmtf-spdm-v%d.%d.*", version.Major(), version.Minor())
	p := make([]byte, 0, signingPrefixSize)
	for range 4 {
		p = append(p, label...)
	}
	p = append(p, make([]byte, signingContextSize-len(context))...)
	p = append(p, context...)
	return p, nil
}

// signedDigest returns h(prefix || transcriptHash), the digest handed to
// the ECDSA primitive (DSP0274 1.2 clause 15: the transcript is hashed once
// into transcriptHash and M is hashed again by the signature algorithm).
func signedDigest(h crypto.Hash, version Version, context string, transcriptHash []byte) ([]byte, error) {
	if !h.Available() {
		return nil, fmt.Errorf("spdm: hash %v not available", h)
	}
	if len(transcriptHash) != h.Size() {
		return nil, fmt.Errorf("%w: %d bytes for %v", errSignatureHash, len(transcriptHash), h)
	}
	prefix, err := buildSigningPrefix(version, context)
	if err != nil {
		return nil, err
	}
	d := h.New()
	d.Write(prefix)
	d.Write(transcriptHash)
	return d.Sum(nil), nil
}

// ecdsaSignature is the ASN.1 form crypto.Signer returns for ECDSA keys.
type ecdsaSignature struct {
	R, S *big.Int
}

// signTranscript signs transcriptHash (the hash of the transcript under h)
// with the DSP0274 1.2+ signing context and returns the Signature field:
// r||s, each big-endian and sigLen/2 bytes wide. The signer must hold an
// ECDSA key (P-256 or P-384) whose size matches sigLen.
func signTranscript(signer crypto.Signer, h crypto.Hash, version Version, context string, transcriptHash []byte, sigLen int) ([]byte, error) {
	pub, ok := signer.Public().(*ecdsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("%w: %T", errSignatureKey, signer.Public())
	}
	width := (pub.Curve.Params().BitSize + 7) / 8
	if sigLen != 2*width {
		return nil, fmt.Errorf("%w: %d bytes requested for %s", errSignatureSize, sigLen, pub.Curve.Params().Name)
	}
	digest, err := signedDigest(h, version, context, transcriptHash)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", context, err)
	}
	der, err := signer.Sign(rand.Reader, digest, h)
	if err != nil {
		return nil, fmt.Errorf("sign %q: %w", context, err)
	}
	var sig ecdsaSignature
	rest, err := asn1.Unmarshal(der, &sig)
	if err != nil {
		return nil, fmt.Errorf("sign %q: decode signer output: %w", context, err)
	}
	if len(rest) != 0 || sig.R == nil || sig.S == nil || sig.R.Sign() <= 0 || sig.S.Sign() <= 0 ||
		sig.R.BitLen() > 8*width || sig.S.BitLen() > 8*width {
		return nil, fmt.Errorf("sign %q: malformed signer output", context)
	}
	out := make([]byte, sigLen)
	sig.R.FillBytes(out[:width])
	sig.S.FillBytes(out[width:])
	return out, nil
}

// verifyTranscript checks a raw r||s Signature field over transcriptHash
// with the DSP0274 1.2+ signing context. pub must be an *ecdsa.PublicKey;
// sig must be exactly twice the curve's byte size.
func verifyTranscript(pub crypto.PublicKey, h crypto.Hash, version Version, context string, transcriptHash []byte, sig []byte) error {
	key, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return fmt.Errorf("verify %q: %w: %T", context, errSignatureKey, pub)
	}
	width := (key.Curve.Params().BitSize + 7) / 8
	if len(sig) != 2*width {
		return fmt.Errorf("verify %q: %w: %d bytes for %s", context, errSignatureSize, len(sig), key.Curve.Params().Name)
	}
	digest, err := signedDigest(h, version, context, transcriptHash)
	if err != nil {
		return fmt.Errorf("verify %q: %w", context, err)
	}
	r := new(big.Int).SetBytes(sig[:width])
	s := new(big.Int).SetBytes(sig[width:])
	if !ecdsa.Verify(key, digest, r, s) {
		return fmt.Errorf("verify %q: %w", context, errSignatureInvalid)
	}
	return nil
}
