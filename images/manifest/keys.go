package manifest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"slices"
	"sort"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/veraison/go-cose"
)

// KeyIDSize is the size of a vendor key ID: the first 16 bytes of the
// SHA-256 of the key's raw public encoding (see PublicKey.Bytes).
const KeyIDSize = 16

// oidMLDSA87 is id-ml-dsa-87 (NIST CSOR, FIPS 204), used for the public key
// file (SubjectPublicKeyInfo).
var oidMLDSA87 = asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 3, 19}

// PublicKey is one accepted vendor public key: an ES384 (P-384) key or an
// ML-DSA-87 key, with its derived kid.
type PublicKey struct {
	alg   cose.Algorithm
	raw   []byte
	kid   []byte
	ecdsa *ecdsa.PublicKey
	mldsa *mldsa87.PublicKey
}

// NewES384PublicKey wraps a P-384 public key.
func NewES384PublicKey(pub *ecdsa.PublicKey) (PublicKey, error) {
	if pub == nil || pub.Curve != elliptic.P384() {
		return PublicKey{}, fmt.Errorf("ES384 key is not on P-384: %w", ErrBadKey)
	}
	raw, err := pub.Bytes()
	if err != nil {
		return PublicKey{}, fmt.Errorf("encoding ES384 public key: %w: %v", ErrBadKey, err)
	}
	return PublicKey{alg: cose.AlgorithmES384, raw: raw, kid: keyID(raw), ecdsa: pub}, nil
}

// NewMLDSA87PublicKey wraps an ML-DSA-87 public key.
func NewMLDSA87PublicKey(pub *mldsa87.PublicKey) (PublicKey, error) {
	if pub == nil {
		return PublicKey{}, fmt.Errorf("nil ML-DSA-87 key: %w", ErrBadKey)
	}
	raw := pub.Bytes()
	return PublicKey{alg: AlgorithmMLDSA87, raw: raw, kid: keyID(raw), mldsa: pub}, nil
}

// ParseRawPublicKey builds a PublicKey from its algorithm and raw encoding
// (the form KeySet.Hash and the bmc-config component use).
func ParseRawPublicKey(alg cose.Algorithm, raw []byte) (PublicKey, error) {
	switch alg {
	case cose.AlgorithmES384:
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P384(), raw)
		if err != nil {
			return PublicKey{}, fmt.Errorf("parsing ES384 public key: %w: %v", ErrBadKey, err)
		}
		return NewES384PublicKey(pub)
	case AlgorithmMLDSA87:
		var pub mldsa87.PublicKey
		if err := pub.UnmarshalBinary(raw); err != nil {
			return PublicKey{}, fmt.Errorf("parsing ML-DSA-87 public key: %w: %v", ErrBadKey, err)
		}
		return NewMLDSA87PublicKey(&pub)
	}
	return PublicKey{}, fmt.Errorf("algorithm %d: %w", int64(alg), ErrUnsupportedAlgorithm)
}

func keyID(raw []byte) []byte {
	sum := sha256.Sum256(raw)
	return sum[:KeyIDSize]
}

// Algorithm is the COSE algorithm the key verifies.
func (k PublicKey) Algorithm() cose.Algorithm { return k.alg }

// KeyID is the key's kid (16 bytes).
func (k PublicKey) KeyID() []byte { return bytes.Clone(k.kid) }

// KeyIDHex is the kid in lowercase hex, the form tools print.
func (k PublicKey) KeyIDHex() string { return hex.EncodeToString(k.kid) }

// Bytes is the raw public key: the SEC 1 uncompressed point (97 bytes) for
// ES384, the FIPS 204 encoding (2,592 bytes) for ML-DSA-87.
func (k PublicKey) Bytes() []byte { return bytes.Clone(k.raw) }

// Equal reports whether both hold the same key.
func (k PublicKey) Equal(o PublicKey) bool { return k.alg == o.alg && bytes.Equal(k.raw, o.raw) }

func (k PublicKey) verifier() (cose.Verifier, error) {
	switch {
	case k.ecdsa != nil:
		v, err := cose.NewVerifier(cose.AlgorithmES384, k.ecdsa)
		if err != nil {
			return nil, fmt.Errorf("ES384 verifier: %w: %v", ErrBadKey, err)
		}
		return lowSVerifier{inner: v}, nil
	case k.mldsa != nil:
		return mldsa87Verifier{key: k.mldsa}, nil
	}
	return nil, fmt.Errorf("empty public key: %w", ErrBadKey)
}

// MarshalPEM encodes the key as a PEM "PUBLIC KEY" block
// (SubjectPublicKeyInfo; id-ml-dsa-87 for ML-DSA-87, no parameters).
func (k PublicKey) MarshalPEM() ([]byte, error) {
	var der []byte
	var err error
	switch {
	case k.ecdsa != nil:
		der, err = x509.MarshalPKIXPublicKey(k.ecdsa)
	case k.mldsa != nil:
		der, err = asn1.Marshal(subjectPublicKeyInfo{
			Algorithm: pkix.AlgorithmIdentifier{Algorithm: oidMLDSA87},
			PublicKey: asn1.BitString{Bytes: k.raw, BitLength: 8 * len(k.raw)},
		})
	default:
		return nil, fmt.Errorf("empty public key: %w", ErrBadKey)
	}
	if err != nil {
		return nil, fmt.Errorf("encoding public key %s: %w", k.KeyIDHex(), err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), nil
}

type subjectPublicKeyInfo struct {
	Algorithm pkix.AlgorithmIdentifier
	PublicKey asn1.BitString
}

// ParsePublicKeyPEM decodes a PEM "PUBLIC KEY" block holding a P-384 or an
// ML-DSA-87 key.
func ParsePublicKeyPEM(b []byte) (PublicKey, error) {
	block, rest := pem.Decode(b)
	if block == nil || block.Type != "PUBLIC KEY" {
		return PublicKey{}, fmt.Errorf("no PEM PUBLIC KEY block: %w", ErrBadKey)
	}
	if len(bytes.TrimSpace(rest)) != 0 {
		return PublicKey{}, fmt.Errorf("data after the PEM block: %w", ErrBadKey)
	}
	var spki subjectPublicKeyInfo
	if r, err := asn1.Unmarshal(block.Bytes, &spki); err != nil || len(r) != 0 {
		return PublicKey{}, fmt.Errorf("parsing SubjectPublicKeyInfo: %w", ErrBadKey)
	}
	if spki.Algorithm.Algorithm.Equal(oidMLDSA87) {
		if len(spki.Algorithm.Parameters.FullBytes) != 0 || spki.PublicKey.BitLength != 8*len(spki.PublicKey.Bytes) {
			return PublicKey{}, fmt.Errorf("ML-DSA-87 SubjectPublicKeyInfo has parameters or a partial byte: %w", ErrBadKey)
		}
		return ParseRawPublicKey(AlgorithmMLDSA87, spki.PublicKey.Bytes)
	}
	pub, err := x509.ParsePKIXPublicKey(block.Bytes)
	if err != nil {
		return PublicKey{}, fmt.Errorf("parsing public key: %w: %v", ErrBadKey, err)
	}
	ec, ok := pub.(*ecdsa.PublicKey)
	if !ok {
		return PublicKey{}, fmt.Errorf("public key is %T, want P-384 ECDSA or ML-DSA-87: %w", pub, ErrBadKey)
	}
	return NewES384PublicKey(ec)
}

// KeySet is the set of accepted vendor public keys, looked up by kid.
// Rotation adds a key; revocation builds a set without it. The zero value
// is an empty set, which verifies nothing.
type KeySet struct {
	keys []PublicKey // sorted by kid
}

// NewKeySet builds a key set. Two keys with the same kid are refused.
func NewKeySet(keys ...PublicKey) (KeySet, error) {
	s := KeySet{keys: slices.Clone(keys)}
	// sort.Slice, not slices.SortFunc: no generic sort copy per element type in bmcd.
	sort.Slice(s.keys, func(i, j int) bool { return bytes.Compare(s.keys[i].kid, s.keys[j].kid) < 0 })
	for i, k := range s.keys {
		if k.alg == 0 {
			return KeySet{}, fmt.Errorf("key %d is empty: %w", i, ErrBadKey)
		}
		if i > 0 && bytes.Equal(s.keys[i-1].kid, k.kid) {
			return KeySet{}, fmt.Errorf("duplicate kid %s: %w", k.KeyIDHex(), ErrBadKey)
		}
	}
	return s, nil
}

// Keys returns the keys, ordered by kid.
func (s KeySet) Keys() []PublicKey { return slices.Clone(s.keys) }

// Len is the number of keys.
func (s KeySet) Len() int { return len(s.keys) }

// Lookup returns the key with the given kid.
func (s KeySet) Lookup(kid []byte) (PublicKey, bool) {
	i, ok := slices.BinarySearchFunc(s.keys, kid, func(k PublicKey, kid []byte) int { return bytes.Compare(k.kid, kid) })
	if !ok {
		return PublicKey{}, false
	}
	return s.keys[i], true
}

// Without returns the set minus the keys with the given kids (revocation).
func (s KeySet) Without(kids ...[]byte) KeySet {
	out := KeySet{}
	for _, k := range s.keys {
		if !slices.ContainsFunc(kids, func(kid []byte) bool { return bytes.Equal(kid, k.kid) }) {
			out.keys = append(out.keys, k)
		}
	}
	return out
}

// keySetDomain separates the key-set hash from any other SHA-384 use.
const keySetDomain = "ironroot vendor key set v1"

// Hash is the SHA-384 of the key set's canonical encoding, the value rotd
// writes to write-once NV at provisioning:
//
//	SHA-384( CBOR-deterministic [ "ironroot vendor key set v1",
//	         [ [alg, kid, raw public key], ... ] ] )   keys sorted by kid
//
// It does not depend on the order the keys were given in.
func (s KeySet) Hash() [sha512.Size384]byte {
	type entry struct {
		_   struct{} `cbor:",toarray"`
		Alg int64
		Kid []byte
		Raw []byte
	}
	entries := make([]entry, len(s.keys))
	for i, k := range s.keys {
		entries[i] = entry{Alg: int64(k.alg), Kid: k.kid, Raw: k.raw}
	}
	b, err := newCodec().enc.Marshal([]any{keySetDomain, entries})
	if err != nil {
		// Encoding strings, integers and byte strings cannot fail.
		panic(fmt.Sprintf("manifest: encoding key set: %v", err))
	}
	return sha512.Sum384(b)
}
