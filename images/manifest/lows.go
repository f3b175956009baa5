package manifest

import (
	"crypto/elliptic"
	"errors"
	"io"
	"math/big"

	"github.com/veraison/go-cose"
)

// ECDSA signatures are malleable: (r, s) and (r, n-s) both verify. This
// format admits only the low-S form (s <= n/2), so a third party cannot
// produce a second valid encoding of a signed manifest, and the signed
// manifest rotd measures (SPDM block 0xFD) is exactly the vendor's bytes.
// ML-DSA is strongly unforgeable and needs no such rule.

// p384HalfOrder is n/2 for P-384.
func p384HalfOrder() *big.Int {
	return new(big.Int).Rsh(elliptic.P384().Params().N, 1)
}

// lowSSigner normalizes the ES384 signatures of the wrapped signer.
type lowSSigner struct {
	inner cose.Signer
}

func (s lowSSigner) Algorithm() cose.Algorithm { return s.inner.Algorithm() }

func (s lowSSigner) Sign(rand io.Reader, content []byte) ([]byte, error) {
	sig, err := s.inner.Sign(rand, content)
	if err != nil {
		return nil, err
	}
	const n = 48
	if len(sig) != 2*n {
		return nil, errors.New("ES384 signature is not 96 bytes")
	}
	sv := new(big.Int).SetBytes(sig[n:])
	if sv.Cmp(p384HalfOrder()) > 0 {
		sv.Sub(elliptic.P384().Params().N, sv)
		sv.FillBytes(sig[n:])
	}
	return sig, nil
}

// lowSVerifier refuses high-S ES384 signatures before verifying.
type lowSVerifier struct {
	inner cose.Verifier
}

func (v lowSVerifier) Algorithm() cose.Algorithm { return v.inner.Algorithm() }

func (v lowSVerifier) Verify(content, sig []byte) error {
	const n = 48
	if len(sig) != 2*n {
		return cose.ErrVerification
	}
	if new(big.Int).SetBytes(sig[n:]).Cmp(p384HalfOrder()) > 0 {
		return errors.New("ES384 signature is not in low-S form")
	}
	return v.inner.Verify(content, sig)
}
