package images

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/cloudflare/circl/sign/mldsa/mldsa87"
	"github.com/ironroot-bmc/ironroot/images/manifest"
)

// Vendor key file names in a key directory (docs/bundle-format.md, "Vendor
// keys"). Private files are 0600 and refused if group- or world-readable.
const (
	ES384KeyFile    = "vendor-es384.key"    // PEM "PRIVATE KEY", PKCS#8, P-384
	ES384PubFile    = "vendor-es384.pub"    // PEM "PUBLIC KEY", PKIX
	MLDSA87SeedFile = "vendor-mldsa87.seed" // the 32-byte FIPS 204 seed, raw
	MLDSA87PubFile  = "vendor-mldsa87.pub"  // PEM "PUBLIC KEY", id-ml-dsa-87
	pubSuffix       = ".pub"
)

// GenerateVendorKeys creates a vendor key pair (ES384 and ML-DSA-87) in
// dir, private halves 0600. It refuses to overwrite existing key files.
func GenerateVendorKeys(dir string) ([]manifest.PublicKey, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("generating vendor keys: %w", err)
	}
	for _, name := range []string{ES384KeyFile, ES384PubFile, MLDSA87SeedFile, MLDSA87PubFile} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			return nil, fmt.Errorf("generating vendor keys: %s already exists", filepath.Join(dir, name))
		}
	}
	ec, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generating ES384 key: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(ec)
	if err != nil {
		return nil, fmt.Errorf("encoding ES384 key: %w", err)
	}
	var seed [mldsa87.SeedSize]byte
	if _, err := rand.Read(seed[:]); err != nil {
		return nil, fmt.Errorf("generating ML-DSA-87 seed: %w", err)
	}
	mlPub, _ := mldsa87.NewKeyFromSeed(&seed)

	esKey, err := manifest.NewES384PublicKey(&ec.PublicKey)
	if err != nil {
		return nil, err
	}
	mlKey, err := manifest.NewMLDSA87PublicKey(mlPub)
	if err != nil {
		return nil, err
	}
	esPEM, err := esKey.MarshalPEM()
	if err != nil {
		return nil, err
	}
	mlPEM, err := mlKey.MarshalPEM()
	if err != nil {
		return nil, err
	}
	files := []struct {
		name string
		data []byte
		perm os.FileMode
	}{
		{ES384KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), 0o600},
		{MLDSA87SeedFile, seed[:], 0o600},
		{ES384PubFile, esPEM, 0o644},
		{MLDSA87PubFile, mlPEM, 0o644},
	}
	for _, f := range files {
		if err := writeNewFile(filepath.Join(dir, f.name), f.data, f.perm); err != nil {
			return nil, fmt.Errorf("generating vendor keys: %w", err)
		}
	}
	return []manifest.PublicKey{esKey, mlKey}, nil
}

func writeNewFile(path string, data []byte, perm os.FileMode) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("syncing %s: %w", path, err)
	}
	return f.Close()
}

// LoadVendorSigners reads the vendor private keys of dir: the ES384 signer
// and the ML-DSA-87 signer, in that order.
func LoadVendorSigners(dir string) ([]manifest.Signer, error) {
	esPEM, err := readPrivateFile(filepath.Join(dir, ES384KeyFile))
	if err != nil {
		return nil, err
	}
	block, _ := pem.Decode(esPEM)
	if block == nil || block.Type != "PRIVATE KEY" {
		return nil, fmt.Errorf("loading %s: no PEM PRIVATE KEY block: %w", ES384KeyFile, manifest.ErrBadKey)
	}
	k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w: %v", ES384KeyFile, manifest.ErrBadKey, err)
	}
	ec, ok := k.(*ecdsa.PrivateKey)
	if !ok {
		return nil, fmt.Errorf("loading %s: key is %T, want P-384 ECDSA: %w", ES384KeyFile, k, manifest.ErrBadKey)
	}
	es, err := manifest.NewES384Signer(ec)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", ES384KeyFile, err)
	}
	seedBytes, err := readPrivateFile(filepath.Join(dir, MLDSA87SeedFile))
	if err != nil {
		return nil, err
	}
	if len(seedBytes) != mldsa87.SeedSize {
		return nil, fmt.Errorf("loading %s: %d bytes, want the %d-byte seed: %w", MLDSA87SeedFile, len(seedBytes), mldsa87.SeedSize, manifest.ErrBadKey)
	}
	var seed [mldsa87.SeedSize]byte
	copy(seed[:], seedBytes)
	_, mlPriv := mldsa87.NewKeyFromSeed(&seed)
	ml, err := manifest.NewMLDSA87Signer(mlPriv)
	if err != nil {
		return nil, fmt.Errorf("loading %s: %w", MLDSA87SeedFile, err)
	}
	return []manifest.Signer{es, ml}, nil
}

func readPrivateFile(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("loading vendor key: %w", err)
	}
	if fi.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("loading vendor key: %s is mode %v, must not be group- or world-accessible (chmod 600)", path, fi.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading vendor key: %w", err)
	}
	return b, nil
}

// LoadVendorKeySet reads every "*.pub" file of dir into a key set: the
// accepted vendor keys (rotation = add a file, revocation = remove one).
func LoadVendorKeySet(dir string) (manifest.KeySet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return manifest.KeySet{}, fmt.Errorf("loading vendor public keys: %w", err)
	}
	var names []string
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), pubSuffix) && e.Type()&fs.ModeType == 0 {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	var keys []manifest.PublicKey
	for _, name := range names {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return manifest.KeySet{}, fmt.Errorf("loading vendor public keys: %w", err)
		}
		k, err := manifest.ParsePublicKeyPEM(b)
		if err != nil {
			return manifest.KeySet{}, fmt.Errorf("loading vendor public key %s: %w", name, err)
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return manifest.KeySet{}, fmt.Errorf("loading vendor public keys: no *%s file in %s: %w", pubSuffix, dir, errors.New("empty key set"))
	}
	ks, err := manifest.NewKeySet(keys...)
	if err != nil {
		return manifest.KeySet{}, fmt.Errorf("loading vendor public keys: %w", err)
	}
	return ks, nil
}
