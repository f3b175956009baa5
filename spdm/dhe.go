// This file implements the ephemeral Diffie-Hellman exchange of DSP0274
// 1.2/1.3 clause 10.16 (KEY_EXCHANGE ExchangeData for secp256r1/secp384r1:
// X || Y big-endian without the SEC1 0x04 prefix; the shared secret is the
// X coordinate, DSP0274 table "DHE structure").

package spdm

import (
	"crypto/ecdh"
	"crypto/rand"
	"fmt"
)

// dheKey is one side's ephemeral key.
type dheKey interface {
	exchangeData() []byte
	sharedSecret(peer []byte) ([]byte, error)
}

type ecdhKey struct{ k *ecdh.PrivateKey }

func (e ecdhKey) exchangeData() []byte { return e.k.PublicKey().Bytes()[1:] }

func (e ecdhKey) sharedSecret(peer []byte) ([]byte, error) {
	pub, err := e.k.Curve().NewPublicKey(append([]byte{4}, peer...))
	if err != nil {
		return nil, fmt.Errorf("peer DHE public key: %w", err)
	}
	s, err := e.k.ECDH(pub)
	if err != nil {
		return nil, fmt.Errorf("ECDH: %w", err)
	}
	return s, nil
}

func dheCurve(g DHEGroup) (ecdh.Curve, error) {
	switch g {
	case DHESECP256R1:
		return ecdh.P256(), nil
	case DHESECP384R1:
		return ecdh.P384(), nil
	}
	return nil, fmt.Errorf("spdm: unsupported DHE group 0x%x", uint16(g))
}

// newDHEKey builds a key from private scalar bytes.
func newDHEKey(g DHEGroup, priv []byte) (dheKey, error) {
	c, err := dheCurve(g)
	if err != nil {
		return nil, err
	}
	k, err := c.NewPrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("DHE private key: %w", err)
	}
	return ecdhKey{k}, nil
}

// generateDHEKeyBytes returns fresh private scalar bytes for g.
func generateDHEKeyBytes(g DHEGroup) ([]byte, error) {
	c, err := dheCurve(g)
	if err != nil {
		return nil, err
	}
	k, err := c.GenerateKey(rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate DHE key: %w", err)
	}
	return k.Bytes(), nil
}
