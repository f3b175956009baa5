// This file holds the algorithm identifiers of DSP0274 1.2/1.3 clause 10.4
// (NEGOTIATE_ALGORITHMS / ALGORITHMS): BaseAsymAlgo, BaseHashAlgo,
// MeasurementSpecification, MeasurementHashAlgo, OtherParamsSupport and the
// AlgStructTable entries (DHE, AEADCipherSuite, ReqBaseAsymAlg, KeySchedule).

package spdm

import (
	"crypto"
	"crypto/elliptic"
)

// BaseAsymAlgo is the bit field of asymmetric signature algorithms.
type BaseAsymAlgo uint32

// BaseAsymAlgo bits (DSP0274 table "NEGOTIATE_ALGORITHMS request message").
const (
	AsymRSASSA2048 BaseAsymAlgo = 1 << 0
	AsymRSAPSS2048 BaseAsymAlgo = 1 << 1
	AsymRSASSA3072 BaseAsymAlgo = 1 << 2
	AsymRSAPSS3072 BaseAsymAlgo = 1 << 3
	AsymECDSAP256  BaseAsymAlgo = 1 << 4
	AsymRSASSA4096 BaseAsymAlgo = 1 << 5
	AsymRSAPSS4096 BaseAsymAlgo = 1 << 6
	AsymECDSAP384  BaseAsymAlgo = 1 << 7
	AsymECDSAP521  BaseAsymAlgo = 1 << 8
	AsymSM2P256    BaseAsymAlgo = 1 << 9
	AsymEdDSA25519 BaseAsymAlgo = 1 << 10
	AsymEdDSA448   BaseAsymAlgo = 1 << 11
)

// SignatureSize returns the size of a signature (r||s) for a single selected
// algorithm, or 0 if unsupported by this package.
func (a BaseAsymAlgo) SignatureSize() int {
	switch a {
	case AsymECDSAP256:
		return 64
	case AsymECDSAP384:
		return 96
	}
	return 0
}

// Curve returns the elliptic curve of a single selected ECDSA algorithm, or nil.
func (a BaseAsymAlgo) Curve() elliptic.Curve {
	switch a {
	case AsymECDSAP256:
		return elliptic.P256()
	case AsymECDSAP384:
		return elliptic.P384()
	}
	return nil
}

// BaseHashAlgo is the bit field of hash algorithms.
type BaseHashAlgo uint32

// BaseHashAlgo bits.
const (
	HashSHA256   BaseHashAlgo = 1 << 0
	HashSHA384   BaseHashAlgo = 1 << 1
	HashSHA512   BaseHashAlgo = 1 << 2
	HashSHA3_256 BaseHashAlgo = 1 << 3
	HashSHA3_384 BaseHashAlgo = 1 << 4
	HashSHA3_512 BaseHashAlgo = 1 << 5
	HashSM3      BaseHashAlgo = 1 << 6
)

// CryptoHash maps a single selected hash algorithm to crypto.Hash (0 if unsupported).
func (h BaseHashAlgo) CryptoHash() crypto.Hash {
	switch h {
	case HashSHA256:
		return crypto.SHA256
	case HashSHA384:
		return crypto.SHA384
	case HashSHA512:
		return crypto.SHA512
	}
	return 0
}

// MeasurementSpec is the MeasurementSpecification bit field.
type MeasurementSpec uint8

// MeasurementSpecDMTF selects the DMTF measurement block format.
const MeasurementSpecDMTF MeasurementSpec = 1 << 0

// MeasurementHashAlgo is the bit field of measurement hash algorithms.
type MeasurementHashAlgo uint32

// MeasurementHashAlgo bits.
const (
	MeasHashRawBitStreamOnly MeasurementHashAlgo = 1 << 0
	MeasHashSHA256           MeasurementHashAlgo = 1 << 1
	MeasHashSHA384           MeasurementHashAlgo = 1 << 2
	MeasHashSHA512           MeasurementHashAlgo = 1 << 3
	MeasHashSHA3_256         MeasurementHashAlgo = 1 << 4
	MeasHashSHA3_384         MeasurementHashAlgo = 1 << 5
	MeasHashSHA3_512         MeasurementHashAlgo = 1 << 6
	MeasHashSM3              MeasurementHashAlgo = 1 << 7
)

// CryptoHash maps a single selected measurement hash to crypto.Hash (0 if none).
func (h MeasurementHashAlgo) CryptoHash() crypto.Hash {
	switch h {
	case MeasHashSHA256:
		return crypto.SHA256
	case MeasHashSHA384:
		return crypto.SHA384
	case MeasHashSHA512:
		return crypto.SHA512
	}
	return 0
}

// OtherParams is the OtherParamsSupport / OtherParamsSelection byte.
type OtherParams uint8

// OtherParams bits. Bits 0-3 are the opaque data format.
const (
	OpaqueDataFmt0     OtherParams = 1 << 0
	OpaqueDataFmt1     OtherParams = 1 << 1
	OpaqueDataFmtMask  OtherParams = 0x0F
	MultiKeyConnection OtherParams = 1 << 4 // 1.3: RequesterMultiKeyConn support / selection
)

// AlgType is the AlgType of an AlgStructTable entry.
type AlgType uint8

// AlgStructTable types.
const (
	AlgTypeDHE         AlgType = 2
	AlgTypeAEAD        AlgType = 3
	AlgTypeReqBaseAsym AlgType = 4
	AlgTypeKeySchedule AlgType = 5
)

// DHEGroup is the DHE named group bit field (AlgType 2).
type DHEGroup uint16

// DHEGroup bits.
const (
	DHEFFDHE2048 DHEGroup = 1 << 0
	DHEFFDHE3072 DHEGroup = 1 << 1
	DHEFFDHE4096 DHEGroup = 1 << 2
	DHESECP256R1 DHEGroup = 1 << 3
	DHESECP384R1 DHEGroup = 1 << 4
	DHESECP521R1 DHEGroup = 1 << 5
	DHESM2P256   DHEGroup = 1 << 6
)

// PublicKeySize returns the ExchangeData size for a single selected group (0 if unsupported).
func (g DHEGroup) PublicKeySize() int {
	switch g {
	case DHESECP256R1:
		return 64
	case DHESECP384R1:
		return 96
	}
	return 0
}

// AEADSuite is the AEAD cipher suite bit field (AlgType 3).
type AEADSuite uint16

// AEADSuite bits.
const (
	AEADAES128GCM        AEADSuite = 1 << 0
	AEADAES256GCM        AEADSuite = 1 << 1
	AEADChaCha20Poly1305 AEADSuite = 1 << 2
	AEADSM4GCM           AEADSuite = 1 << 3
)

// KeySize returns the AEAD key size of a single selected suite (0 if unsupported).
func (a AEADSuite) KeySize() int {
	switch a {
	case AEADAES128GCM:
		return 16
	case AEADAES256GCM, AEADChaCha20Poly1305:
		return 32
	}
	return 0
}

// KeyScheduleAlgo is the key schedule bit field (AlgType 5).
type KeyScheduleAlgo uint16

// KeyScheduleSPDM is the SPDM key schedule of DSP0274 clause "Key schedule".
const KeyScheduleSPDM KeyScheduleAlgo = 1 << 0
