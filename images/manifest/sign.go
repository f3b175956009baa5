package manifest

import (
	"crypto/ecdsa"
	"crypto/rand"
	"fmt"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/veraison/go-cose"
)

// Signer is one vendor signing key with its kid.
type Signer struct {
	signer cose.Signer
	public PublicKey
}

// NewES384Signer wraps a P-384 private key.
func NewES384Signer(key *ecdsa.PrivateKey) (Signer, error) {
	if key == nil {
		return Signer{}, fmt.Errorf("nil ES384 key: %w", ErrBadKey)
	}
	pub, err := NewES384PublicKey(&key.PublicKey)
	if err != nil {
		return Signer{}, err
	}
	s, err := cose.NewSigner(cose.AlgorithmES384, key)
	if err != nil {
		return Signer{}, fmt.Errorf("ES384 signer: %w: %v", ErrBadKey, err)
	}
	return Signer{signer: lowSSigner{inner: s}, public: pub}, nil
}

// NewMLDSA87Signer wraps an ML-DSA-87 private key.
func NewMLDSA87Signer(key *mldsa87.PrivateKey) (Signer, error) {
	if key == nil {
		return Signer{}, fmt.Errorf("nil ML-DSA-87 key: %w", ErrBadKey)
	}
	pub, err := NewMLDSA87PublicKey(key.Public().(*mldsa87.PublicKey))
	if err != nil {
		return Signer{}, err
	}
	return Signer{signer: mldsa87Signer{key: key}, public: pub}, nil
}

// Algorithm is the signer's COSE algorithm.
func (s Signer) Algorithm() cose.Algorithm { return s.public.alg }

// COSE is the underlying go-cose signer, for callers that assemble COSE
// structures themselves (tests of malformed envelopes, a future owner
// countersignature).
func (s Signer) COSE() cose.Signer { return s.signer }

// Public is the signer's public key (its kid included).
func (s Signer) Public() PublicKey { return s.public }

// Sign encodes m and signs it as a COSE_Sign_Tagged message with one
// COSE_Signature per signer, in the order given. It does not enforce the
// signature policy (Verify does; images.Build passes exactly the ES384 +
// ML-DSA-87 pair), so that tests can build every invalid case.
func Sign(m *Manifest, signers ...Signer) ([]byte, error) {
	payload, err := m.Encode()
	if err != nil {
		return nil, fmt.Errorf("signing manifest: %w", err)
	}
	if len(signers) == 0 {
		return nil, fmt.Errorf("signing manifest: no signers: %w", ErrBadKey)
	}
	msg := cose.NewSignMessage()
	msg.Headers.Protected[cose.HeaderLabelContentType] = ContentType
	msg.Payload = payload
	coseSigners := make([]cose.Signer, len(signers))
	for i, s := range signers {
		if s.signer == nil {
			return nil, fmt.Errorf("signing manifest: signer %d is empty: %w", i, ErrBadKey)
		}
		sig := cose.NewSignature()
		sig.Headers.Protected.SetAlgorithm(s.Algorithm())
		sig.Headers.Protected[cose.HeaderLabelKeyID] = s.public.KeyID()
		msg.Signatures = append(msg.Signatures, sig)
		coseSigners[i] = s.signer
	}
	if err := msg.Sign(rand.Reader, nil, coseSigners...); err != nil {
		return nil, fmt.Errorf("signing manifest: %w", err)
	}
	signed, err := msg.MarshalCBOR()
	if err != nil {
		return nil, fmt.Errorf("encoding COSE_Sign: %w", err)
	}
	// What we emit must pass our own strict parser.
	if _, err := parseEnvelope(newCodec(), signed); err != nil {
		return nil, fmt.Errorf("signing manifest: output rejected by the parser: %w", err)
	}
	return signed, nil
}
