package manifest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"time"

	"github.com/veraison/go-cose"
)

// BMCConfigVersion is the bmc-config format this package reads and writes.
const BMCConfigVersion = 1

// maxBMCConfigSize bounds the bmc-config component.
const maxBMCConfigSize = 256 << 10

// BMCConfig is the content of the bmc-config component: bmcd's trust
// anchors and gate policy. It travels inside the signed, measured bundle,
// so bmcd never takes anchors from flags or state files.
type BMCConfig struct {
	// BoardID must equal the manifest's board ID.
	BoardID string
	// IdentityRoots are the DER certificates of the identity root (the
	// manufacturer CA that signs DeviceID certificates).
	IdentityRoots []*x509.Certificate
	// VendorKeys are the accepted vendor public keys.
	VendorKeys KeySet
	// Gate is the policy of bmcd's management-interface gate.
	Gate GatePolicy
}

// GatePolicy is the gate's policy. Durations are whole seconds on the wire.
type GatePolicy struct {
	// MeasurementInterval is how often the gate asks for signed
	// measurements inside the SPDM session.
	MeasurementInterval time.Duration
	// HeartbeatPeriod is the SPDM heartbeat period to negotiate.
	HeartbeatPeriod time.Duration
	// MinSVN is the lowest firmware SVN the gate accepts in measurements.
	MinSVN uint64
}

type wireBMCConfig struct {
	FormatVersion uint64          `cbor:"1,keyasint"`
	BoardID       string          `cbor:"2,keyasint"`
	IdentityRoots [][]byte        `cbor:"3,keyasint"`
	VendorKeys    []wireVendorKey `cbor:"4,keyasint"`
	Gate          wireGatePolicy  `cbor:"5,keyasint"`
}

type wireVendorKey struct {
	Alg    int64  `cbor:"1,keyasint"`
	Kid    []byte `cbor:"2,keyasint"`
	Public []byte `cbor:"3,keyasint"`
}

type wireGatePolicy struct {
	MeasurementIntervalSeconds uint64 `cbor:"1,keyasint"`
	HeartbeatPeriodSeconds     uint64 `cbor:"2,keyasint"`
	MinSVN                     uint64 `cbor:"3,keyasint"`
}

// Encode returns the deterministic CBOR encoding of the config.
func (cfg *BMCConfig) Encode() ([]byte, error) {
	w := wireBMCConfig{
		FormatVersion: BMCConfigVersion,
		BoardID:       cfg.BoardID,
		IdentityRoots: [][]byte{},
		VendorKeys:    []wireVendorKey{},
		Gate: wireGatePolicy{
			MeasurementIntervalSeconds: uint64(cfg.Gate.MeasurementInterval / time.Second),
			HeartbeatPeriodSeconds:     uint64(cfg.Gate.HeartbeatPeriod / time.Second),
			MinSVN:                     cfg.Gate.MinSVN,
		},
	}
	for _, c := range cfg.IdentityRoots {
		w.IdentityRoots = append(w.IdentityRoots, c.Raw)
	}
	for _, k := range cfg.VendorKeys.Keys() {
		w.VendorKeys = append(w.VendorKeys, wireVendorKey{Alg: int64(k.alg), Kid: k.kid, Public: k.raw})
	}
	b, err := newCodec().enc.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encoding bmc-config: %w", err)
	}
	if _, err := ParseBMCConfig(b); err != nil {
		return nil, fmt.Errorf("encoding bmc-config: %w", err)
	}
	return b, nil
}

// ParseBMCConfig decodes a bmc-config component. The bytes must be the
// verified component (images hands them out only after the digest check).
func ParseBMCConfig(b []byte) (*BMCConfig, error) {
	if len(b) > maxBMCConfigSize {
		return nil, fmt.Errorf("bmc-config is %d bytes (max %d): %w", len(b), maxBMCConfigSize, ErrOversized)
	}
	c := newCodec()
	var w wireBMCConfig
	if err := c.dec.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("decoding bmc-config: %w", cborError(err))
	}
	if again, err := c.enc.Marshal(w); err != nil || !bytes.Equal(again, b) {
		return nil, fmt.Errorf("decoding bmc-config: not the deterministic encoding or a field is missing: %w", ErrMalformed)
	}
	if w.FormatVersion != BMCConfigVersion {
		return nil, fmt.Errorf("bmc-config version %d (want %d): %w", w.FormatVersion, BMCConfigVersion, ErrUnsupportedVersion)
	}
	if err := checkText("bmc-config board ID", w.BoardID, MaxBoardIDLen); err != nil {
		return nil, err
	}
	cfg := &BMCConfig{BoardID: w.BoardID}
	if len(w.IdentityRoots) == 0 {
		return nil, fmt.Errorf("bmc-config has no identity root: %w", ErrBadManifest)
	}
	for i, der := range w.IdentityRoots {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("bmc-config identity root %d: %w: %v", i, ErrBadManifest, err)
		}
		if !cert.IsCA {
			return nil, fmt.Errorf("bmc-config identity root %d is not a CA: %w", i, ErrBadManifest)
		}
		cfg.IdentityRoots = append(cfg.IdentityRoots, cert)
	}
	var keys []PublicKey
	for i, wk := range w.VendorKeys {
		k, err := ParseRawPublicKey(cose.Algorithm(wk.Alg), wk.Public)
		if err != nil {
			return nil, fmt.Errorf("bmc-config vendor key %d: %w", i, err)
		}
		if !bytes.Equal(k.kid, wk.Kid) {
			return nil, fmt.Errorf("bmc-config vendor key %d: kid %x does not match the key (%x): %w", i, wk.Kid, k.kid, ErrBadKey)
		}
		keys = append(keys, k)
	}
	ks, err := NewKeySet(keys...)
	if err != nil {
		return nil, fmt.Errorf("bmc-config vendor keys: %w", err)
	}
	if ks.Len() == 0 {
		return nil, fmt.Errorf("bmc-config has no vendor key: %w", ErrBadManifest)
	}
	cfg.VendorKeys = ks
	const maxSeconds = 1 << 31
	if w.Gate.MeasurementIntervalSeconds == 0 || w.Gate.MeasurementIntervalSeconds > maxSeconds ||
		w.Gate.HeartbeatPeriodSeconds > 255 {
		return nil, fmt.Errorf("bmc-config gate policy: interval %ds (1..2^31), heartbeat %ds (0..255): %w",
			w.Gate.MeasurementIntervalSeconds, w.Gate.HeartbeatPeriodSeconds, ErrBadManifest)
	}
	cfg.Gate = GatePolicy{
		MeasurementInterval: time.Duration(w.Gate.MeasurementIntervalSeconds) * time.Second,
		HeartbeatPeriod:     time.Duration(w.Gate.HeartbeatPeriodSeconds) * time.Second,
		MinSVN:              w.Gate.MinSVN,
	}
	return cfg, nil
}
