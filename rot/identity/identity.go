// Package identity owns the board's cryptographic identity inside rotd: the
// unique device secret (UDS; fuses on a real RoT, a 0600 file here), the
// DeviceID key derived from it and its certificate (issued by the identity
// root from a CSR at provisioning), the alias key derived from
// CDI = KDF(UDS, measurements) and its certificate (signed by DeviceID,
// carrying the measurements in a TCG DICE TcbInfo extension), the TPM auth
// values sealed under a UDS-derived key, and the development identity root.
//
// Private keys never leave this package except as crypto.Signer values held
// by rotd. Keys are derived with HKDF-SHA384 and ecdsa.ParseRawPrivateKey
// (Go 1.26's ecdsa.GenerateKey ignores its reader, so it cannot derive).
package identity

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha512"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/rot/record"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

// UDSSize is the size of the unique device secret.
const UDSSize = 48

// HKDF info labels: each derived value has its own.
const (
	labelDeviceID = "ironroot DeviceID v1"
	labelCDI      = "ironroot CDI v1"
	labelAlias    = "ironroot alias key v1"
	labelSeal     = "ironroot TPM auth seal v1"
)

// File names in rotd's identity directory.
const (
	UDSFile        = "uds"             // 48 raw bytes, 0600
	TPMAuthFile    = "tpm-auth.sealed" // AES-256-GCM under a UDS-derived key, 0600
	DeviceIDCSR    = "deviceid.csr.pem"
	DeviceIDCert   = "deviceid.pem"
	IdentityRootCA = "identity-root.pem" // the root the DeviceID chains to
)

// ErrNoIdentity: the directory holds no UDS (the board is not provisioned).
var ErrNoIdentity = errors.New("no device identity (run rotd provision)")

// UDS is the unique device secret.
type UDS [UDSSize]byte

// NewUDS draws a fresh UDS.
func NewUDS() (UDS, error) {
	var u UDS
	if _, err := rand.Read(u[:]); err != nil {
		return u, fmt.Errorf("drawing UDS: %w", err)
	}
	return u, nil
}

// SaveUDS writes the UDS to dir (0600). It refuses to replace one: a new
// UDS is a new device.
func SaveUDS(dir string, u UDS) error {
	p := filepath.Join(dir, UDSFile)
	if _, err := os.Lstat(p); err == nil {
		return fmt.Errorf("saving UDS: %s exists (a board has one UDS for life)", p)
	}
	return record.WriteFile(p, u[:], 0o600)
}

// LoadUDS reads the UDS from dir.
func LoadUDS(dir string) (UDS, error) {
	var u UDS
	p := filepath.Join(dir, UDSFile)
	fi, err := os.Stat(p)
	if errors.Is(err, os.ErrNotExist) {
		return u, ErrNoIdentity
	}
	if err != nil {
		return u, fmt.Errorf("loading UDS: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return u, fmt.Errorf("loading UDS: %s is mode %v, must be 0600", p, fi.Mode().Perm())
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return u, fmt.Errorf("loading UDS: %w", err)
	}
	if len(b) != UDSSize {
		return u, fmt.Errorf("loading UDS: %d bytes, want %d", len(b), UDSSize)
	}
	copy(u[:], b)
	return u, nil
}

// deriveP384 derives a P-384 key: HKDF-SHA384(secret, info) gives a
// 48-byte candidate scalar; a candidate that is zero or not below the group
// order (probability ~2^-190) is skipped by deriving again with a counter.
func deriveP384(secret []byte, info string) (*ecdsa.PrivateKey, error) {
	for i := range 8 {
		b, err := hkdf.Key(sha512.New384, secret, nil, fmt.Sprintf("%s/%d", info, i), 48)
		if err != nil {
			return nil, fmt.Errorf("deriving %s: %w", info, err)
		}
		k, err := ecdsa.ParseRawPrivateKey(elliptic.P384(), b)
		if err == nil {
			return k, nil
		}
	}
	return nil, fmt.Errorf("deriving %s: no valid scalar", info)
}

// DeviceIDKey derives the DeviceID key from the UDS.
func DeviceIDKey(u UDS) (*ecdsa.PrivateKey, error) {
	return deriveP384(u[:], labelDeviceID)
}

// CDI is the compound device identifier of one boot: KDF(UDS, measurements).
type CDI [48]byte

// DeriveCDI mixes the UDS with the digest of what was measured (the TCB of
// this boot): the same firmware yields the same CDI, different firmware a
// different one.
func DeriveCDI(u UDS, measurements []byte) (CDI, error) {
	var c CDI
	b, err := hkdf.Key(sha512.New384, u[:], measurements, labelCDI, len(c))
	if err != nil {
		return c, fmt.Errorf("deriving CDI: %w", err)
	}
	copy(c[:], b)
	return c, nil
}

// AliasKey derives the alias key from a CDI.
func AliasKey(c CDI) (*ecdsa.PrivateKey, error) {
	return deriveP384(c[:], labelAlias)
}

// SealTPMAuth stores the TPM auth values in dir, encrypted under a key
// derived from the UDS (on a real RoT they would never leave the chip).
func SealTPMAuth(dir string, u UDS, a tpm.Auth) error {
	aead, err := sealAEAD(u)
	if err != nil {
		return err
	}
	if len(a.Owner) > 255 || len(a.Lockout) > 255 {
		return errors.New("sealing TPM auth: value too long")
	}
	plain := append([]byte{byte(len(a.Owner))}, a.Owner...)
	plain = append(plain, byte(len(a.Lockout)))
	plain = append(plain, a.Lockout...)
	nonce := make([]byte, aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return fmt.Errorf("sealing TPM auth: %w", err)
	}
	out := aead.Seal(nonce, nonce, plain, []byte(TPMAuthFile))
	return record.WriteFile(filepath.Join(dir, TPMAuthFile), out, 0o600)
}

// UnsealTPMAuth reads back what SealTPMAuth stored.
func UnsealTPMAuth(dir string, u UDS) (tpm.Auth, error) {
	aead, err := sealAEAD(u)
	if err != nil {
		return tpm.Auth{}, err
	}
	b, err := os.ReadFile(filepath.Join(dir, TPMAuthFile))
	if err != nil {
		return tpm.Auth{}, fmt.Errorf("unsealing TPM auth: %w", err)
	}
	if len(b) < aead.NonceSize() {
		return tpm.Auth{}, errors.New("unsealing TPM auth: file too short")
	}
	plain, err := aead.Open(nil, b[:aead.NonceSize()], b[aead.NonceSize():], []byte(TPMAuthFile))
	if err != nil {
		return tpm.Auth{}, fmt.Errorf("unsealing TPM auth: %w", err)
	}
	var a tpm.Auth
	if len(plain) < 1 || len(plain) < 1+int(plain[0])+1 {
		return a, errors.New("unsealing TPM auth: malformed")
	}
	a.Owner = plain[1 : 1+plain[0]]
	rest := plain[1+plain[0]:]
	if len(rest) != 1+int(rest[0]) {
		return a, errors.New("unsealing TPM auth: malformed")
	}
	a.Lockout = rest[1:]
	return a, nil
}

func sealAEAD(u UDS) (cipher.AEAD, error) {
	key, err := hkdf.Key(sha512.New384, u[:], nil, labelSeal, 32)
	if err != nil {
		return nil, fmt.Errorf("deriving sealing key: %w", err)
	}
	blk, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return cipher.NewGCM(blk)
}
