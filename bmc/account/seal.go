package account

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/bmc/record"
)

const (
	// SealingKeySize is the size of the sealing key, an AES-256 key.
	SealingKeySize = 32
	sealAlg        = "aes-256-gcm"
	// sealVersion is the version of the sealed-key record; it is part of the
	// associated data, so a later format cannot be confused with this one.
	sealVersion = 1
	sealLabel   = "ironroot account IPMI key"
	// keyIDLabel is the HMAC message of a sealing key's ID.
	keyIDLabel = "ironroot sealing key id"
	keyIDSize  = 8
)

// sealedKey is an IPMI key encrypted with the sealing key.
type sealedKey struct {
	Alg     string `json:"alg"`
	Version int    `json:"v"`
	// KeyID names the sealing key that sealed it (SealingKeyID); absent in
	// records written before the key could come from the root of trust,
	// which were all sealed with the interim key file.
	KeyID  []byte `json:"kid,omitempty"`
	Nonce  []byte `json:"nonce"`
	Sealed []byte `json:"sealed"`
}

// SealingKeyID returns the ID of a sealing key: the first 8 bytes of
// HMAC-SHA256(key, "ironroot sealing key id"). It names the key in the
// record and in logs without revealing it.
func SealingKeyID(key []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(keyIDLabel))
	return m.Sum(nil)[:keyIDSize]
}

// sealer encrypts and decrypts IPMI keys for one sealing key.
type sealer struct {
	aead cipher.AEAD
	id   []byte // SealingKeyID of the key
}

func newSealer(key []byte) (*sealer, error) {
	if len(key) != SealingKeySize {
		return nil, fmt.Errorf("sealing key: %d bytes, want %d", len(key), SealingKeySize)
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, fmt.Errorf("sealing key: %w", err)
	}
	return &sealer{aead: aead, id: SealingKeyID(key)}, nil
}

// sealedBy reports whether k was sealed with this sealer's key, as far as
// its key ID tells: a key without an ID may have been sealed by any key.
func (s *sealer) sealedBy(k sealedKey) bool {
	return k.KeyID == nil || bytes.Equal(k.KeyID, s.id)
}

// associatedData binds a sealed key to its account ID and record version.
func associatedData(id, version int) []byte {
	ad := make([]byte, 0, len(sealLabel)+16)
	ad = append(ad, sealLabel...)
	ad = binary.BigEndian.AppendUint64(ad, uint64(version))
	return binary.BigEndian.AppendUint64(ad, uint64(id))
}

func (s *sealer) seal(id int, key []byte) (sealedKey, error) {
	nonce := make([]byte, s.aead.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return sealedKey{}, fmt.Errorf("seal IPMI key: %w", err)
	}
	// Pad to the IPMI key size (as RAKP does) so the ciphertext does not
	// reveal the password's length; keys never contain NUL.
	padded := make([]byte, max(len(key), MaxIPMIKeyLength))
	copy(padded, key)
	ct := s.aead.Seal(nil, nonce, padded, associatedData(id, sealVersion))
	clear(padded)
	return sealedKey{Alg: sealAlg, Version: sealVersion, KeyID: bytes.Clone(s.id), Nonce: nonce, Sealed: ct}, nil
}

func (s *sealer) open(id int, k sealedKey) ([]byte, error) {
	if k.Alg != sealAlg {
		return nil, fmt.Errorf("open IPMI key of account %d: unsupported algorithm %q", id, k.Alg)
	}
	if len(k.Nonce) != s.aead.NonceSize() {
		return nil, fmt.Errorf("open IPMI key of account %d: bad nonce size %d", id, len(k.Nonce))
	}
	pt, err := s.aead.Open(nil, k.Nonce, k.Sealed, associatedData(id, k.Version))
	if err != nil {
		return nil, fmt.Errorf("open IPMI key of account %d: %w", id, err)
	}
	return bytes.TrimRight(pt, "\x00"), nil
}

// LoadSealingKey returns the 32-byte sealing key kept in the interim key
// file at path, or nil and no error when there is no such file.
func LoadSealingKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("read sealing key: %w", err)
	case len(key) != SealingKeySize:
		return nil, fmt.Errorf("sealing key %s: %d bytes, want %d", path, len(key), SealingKeySize)
	}
	return key, nil
}

// LoadOrCreateSealingKey returns the 32-byte sealing key kept in the file
// at path, creating it (random, mode 0600, written crash-safely; parent
// directory created 0700) when absent. It is the interim home of the key
// on a board without a root of trust to hand bmcd the sealing key (tests,
// development); with one, Store.SetSealingKey replaces it.
func LoadOrCreateSealingKey(path string) ([]byte, error) {
	key, err := LoadSealingKey(path)
	if err != nil || key != nil {
		return key, err
	}
	key = make([]byte, SealingKeySize)
	if _, err := rand.Read(key); err != nil {
		return nil, fmt.Errorf("create sealing key: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, fmt.Errorf("create sealing key: %w", err)
	}
	if err := record.WriteFile(path, key, 0o600); err != nil {
		return nil, fmt.Errorf("create sealing key: %w", err)
	}
	return key, nil
}
