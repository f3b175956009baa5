// Package rottest holds the fixtures of the root-of-trust tests: a vendor
// with its signing keys, a development identity root, and signed bundles
// whose bmcd component is a small shell script (executed from a sealed
// memfd like the real bmcd). It is imported by tests only.
package rottest

import (
	"bytes"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rot/identity"
)

// Vendor is a test vendor: key files in Dir (public *.pub for rotd).
type Vendor struct {
	Dir     string
	Signers []manifest.Signer
	Keys    manifest.KeySet
	Root    *identity.Root
	RootDir string
}

// NewVendor creates vendor keys and an identity root under dir.
func NewVendor(t testing.TB, dir string) *Vendor {
	t.Helper()
	v := &Vendor{Dir: filepath.Join(dir, "vendor"), RootDir: filepath.Join(dir, "root")}
	if _, err := images.GenerateVendorKeys(v.Dir); err != nil {
		t.Fatal(err)
	}
	var err error
	if v.Signers, err = images.LoadVendorSigners(v.Dir); err != nil {
		t.Fatal(err)
	}
	if v.Keys, err = images.LoadVendorKeySet(v.Dir); err != nil {
		t.Fatal(err)
	}
	if v.Root, _, err = identity.EnsureDevRoot(v.RootDir, time.Now()); err != nil {
		t.Fatal(err)
	}
	return v
}

// Firmware describes a test bundle.
type Firmware struct {
	Board   string
	Version string
	SVN     uint64
	// Script is the bmcd component's shell script body (after #!/bin/sh).
	Script string
	// Config is the bmc-config component's content (default: a valid
	// bmc-config for Board with the vendor's keys and identity root).
	Config []byte
	// Extra, when set, is added as a host-bios component (bulk payload).
	Extra []byte
}

// BMCScript returns the bmcd component bytes of fw.
func (fw Firmware) BMCScript() []byte {
	return []byte("#!/bin/sh\n# ironroot test bmcd " + fw.Version + "\n" + fw.Script + "\n")
}

// Bundle builds and signs a bundle for fw into dir and returns its path.
func (v *Vendor) Bundle(t testing.TB, dir string, fw Firmware) string {
	t.Helper()
	b, err := v.BundleBytes(fw)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, fmt.Sprintf("%s-%s-%d.bundle", fw.Board, fw.Version, fw.SVN))
	if err := os.WriteFile(p, b, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// BundleBytes builds and signs a bundle for fw.
func (v *Vendor) BundleBytes(fw Firmware) ([]byte, error) {
	script := fw.BMCScript()
	cfg := fw.Config
	if cfg == nil {
		c := manifest.BMCConfig{
			BoardID: fw.Board, IdentityRoots: []*x509.Certificate{v.Root.Cert}, VendorKeys: v.Keys,
			Gate: manifest.GatePolicy{MeasurementInterval: 10 * time.Second, HeartbeatPeriod: 30 * time.Second, MinSVN: fw.SVN},
		}
		var err error
		if cfg, err = c.Encode(); err != nil {
			return nil, fmt.Errorf("encoding test bmc-config: %w", err)
		}
	}
	comps := []images.ComponentSource{
		{Name: manifest.ComponentBMCD, Version: fw.Version, Content: bytes.NewReader(script), Size: int64(len(script))},
		{Name: manifest.ComponentBMCConfig, Version: fw.Version, Content: bytes.NewReader(cfg), Size: int64(len(cfg))},
	}
	if fw.Extra != nil {
		comps = append(comps, images.ComponentSource{Name: manifest.ComponentHostBIOS, Version: fw.Version, Content: bytes.NewReader(fw.Extra), Size: int64(len(fw.Extra))})
	}
	var out bytes.Buffer
	_, err := images.Build(&out, images.Meta{
		BoardID: fw.Board, FirmwareVersion: fw.Version, SVN: fw.SVN,
		BuildTime: time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC),
	}, comps, v.Signers)
	if err != nil {
		return nil, fmt.Errorf("building test bundle: %w", err)
	}
	return out.Bytes(), nil
}
