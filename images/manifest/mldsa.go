package manifest

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/veraison/go-cose"
)

// AlgorithmMLDSA87 is the COSE algorithm identifier of ML-DSA-87 (RFC 9964,
// formerly draft-ietf-cose-dilithium): pure ML-DSA over the COSE
// ToBeSigned bytes with an empty context string.
const AlgorithmMLDSA87 cose.Algorithm = -50

// mldsa87Signer implements cose.Signer for ML-DSA-87; go-cose has none.
type mldsa87Signer struct {
	key *mldsa87.PrivateKey
}

func (mldsa87Signer) Algorithm() cose.Algorithm { return AlgorithmMLDSA87 }

// Sign signs content with the hedged (randomized) variant of FIPS 204.
// circl draws the randomness from crypto/rand itself; rand must be nil or
// crypto/rand.Reader so that a caller never believes it controls it.
func (s mldsa87Signer) Sign(r io.Reader, content []byte) ([]byte, error) {
	if r != nil && r != rand.Reader {
		return nil, fmt.Errorf("ML-DSA-87 signing uses crypto/rand only")
	}
	sig := make([]byte, mldsa87.SignatureSize)
	if err := mldsa87.SignTo(s.key, content, nil, true, sig); err != nil {
		return nil, fmt.Errorf("ML-DSA-87 signing: %w", err)
	}
	return sig, nil
}

// mldsa87Verifier implements cose.Verifier for ML-DSA-87.
type mldsa87Verifier struct {
	key *mldsa87.PublicKey
}

func (mldsa87Verifier) Algorithm() cose.Algorithm { return AlgorithmMLDSA87 }

func (v mldsa87Verifier) Verify(content, sig []byte) error {
	if len(sig) != mldsa87.SignatureSize {
		return fmt.Errorf("ML-DSA-87 signature is %d bytes, want %d", len(sig), mldsa87.SignatureSize)
	}
	if !mldsa87.Verify(v.key, content, nil, sig) {
		return cose.ErrVerification
	}
	return nil
}
