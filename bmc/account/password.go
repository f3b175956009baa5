package account

import (
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
)

const (
	// hashAlg names the password hash in the record.
	hashAlg = "pbkdf2-sha256"
	// defaultIterations is the PBKDF2 iteration count for new hashes; see
	// the package comment for how it was chosen.
	defaultIterations = 120_000
	// maxIterations bounds a stored count so a corrupt record cannot make
	// one verification take minutes.
	maxIterations = 10_000_000
	saltLen       = 16
	hashLen       = 32
)

// passwordHash is a stored password verifier with its parameters.
type passwordHash struct {
	Alg        string `json:"alg"`
	Iterations int    `json:"iterations"`
	Salt       []byte `json:"salt"`
	Hash       []byte `json:"hash"`
}

// newPasswordHash hashes password with a fresh random salt.
func newPasswordHash(password string, iterations int) (passwordHash, error) {
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return passwordHash{}, fmt.Errorf("password salt: %w", err)
	}
	h, err := pbkdf2.Key(sha256.New, password, salt, iterations, hashLen)
	if err != nil {
		return passwordHash{}, fmt.Errorf("hash password: %w", err)
	}
	return passwordHash{Alg: hashAlg, Iterations: iterations, Salt: salt, Hash: h}, nil
}

// unmatchableHash is the hash unknown user names are verified against: a random salt
// and a random hash value with the real parameters, so verifying costs exactly what a
// wrong password of a known user costs, and no password matches it. Unlike hashing a
// random password it costs nothing to make, which matters on a BMC's slow CPU at every
// boot.
func unmatchableHash(iterations int) (passwordHash, error) {
	b := make([]byte, saltLen+hashLen)
	if _, err := rand.Read(b); err != nil {
		return passwordHash{}, fmt.Errorf("unknown-user hash: %w", err)
	}
	return passwordHash{Alg: hashAlg, Iterations: iterations, Salt: b[:saltLen], Hash: b[saltLen:]}, nil
}

// verify reports whether password matches, in constant time with respect
// to the password and the stored hash.
func (h passwordHash) verify(password string) bool {
	if h.check() != nil {
		return false
	}
	got, err := pbkdf2.Key(sha256.New, password, h.Salt, h.Iterations, len(h.Hash))
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(got, h.Hash) == 1
}

// check validates stored parameters.
func (h passwordHash) check() error {
	switch {
	case h.Alg != hashAlg:
		return fmt.Errorf("password hash: unsupported algorithm %q", h.Alg)
	case h.Iterations < 1 || h.Iterations > maxIterations:
		return fmt.Errorf("password hash: iteration count %d out of range", h.Iterations)
	case len(h.Salt) < 8:
		return fmt.Errorf("password hash: salt of %d bytes too short", len(h.Salt))
	case len(h.Hash) < 16 || len(h.Hash) > 64:
		return fmt.Errorf("password hash: hash of %d bytes out of range", len(h.Hash))
	}
	return nil
}
