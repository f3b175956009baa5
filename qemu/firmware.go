package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/images"
)

// Component names of the QEMU board's bundle.
const (
	ComponentKernel    = "bmc-kernel"
	ComponentInitramfs = "bmc-initramfs"
	ComponentModules   = "bmc-modules"
	ComponentBMCConfig = "bmc-config"
	ComponentDTB       = "bmc-dtb" // ast2600: the board's device tree
	// BMCConfigPath is where the verified bmc-config appears in the guest (bmc/guest
	// hands it to bmcd as a sealed memfd).
	BMCConfigPath = "etc/ironroot/bmc-config.cbor"
)

// BundleSpec is what BuildBundle signs: the kernel, the u-root initramfs and the modules
// cpio of one board build.
type BundleSpec struct {
	Meta                       images.Meta
	Kernel, Initramfs, Modules string // file paths
	// BMCConfig is the bmc-config component's file (fwbundle bmc-config); empty: none,
	// or BMCConfigData.
	BMCConfig string
	// BMCConfigData is the bmc-config component itself, encoded in memory (Build's);
	// only without BMCConfig.
	BMCConfigData []byte
	// DTB is the device tree component (ast2600); empty: none.
	DTB string
	// KeysDir holds the vendor signing keys (.dev-keys/vendor).
	KeysDir string
}

// BuildBundle writes a signed bundle to out (through a temporary file and a rename).
func BuildBundle(out string, spec BundleSpec) error {
	signers, err := images.LoadVendorSigners(spec.KeysDir)
	if err != nil {
		return fmt.Errorf("board bundle: %w", err)
	}
	var comps []images.ComponentSource
	parts := []struct{ name, path string }{
		{ComponentKernel, spec.Kernel}, {ComponentInitramfs, spec.Initramfs}, {ComponentModules, spec.Modules},
	}
	if spec.DTB != "" {
		parts = append(parts, struct{ name, path string }{ComponentDTB, spec.DTB})
	}
	if spec.BMCConfig != "" {
		if spec.BMCConfigData != nil {
			return errors.New("board bundle: both a bmc-config file and bmc-config data")
		}
		parts = append(parts, struct{ name, path string }{ComponentBMCConfig, spec.BMCConfig})
	}
	for _, c := range parts {
		f, err := os.Open(c.path)
		if err != nil {
			return fmt.Errorf("board bundle: %w", err)
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return fmt.Errorf("board bundle: %w", err)
		}
		comps = append(comps, images.ComponentSource{Name: c.name, Version: spec.Meta.FirmwareVersion, Content: f, Size: st.Size()})
	}
	if spec.BMCConfigData != nil {
		comps = append(comps, images.ComponentSource{Name: ComponentBMCConfig, Version: spec.Meta.FirmwareVersion,
			Content: bytes.NewReader(spec.BMCConfigData), Size: int64(len(spec.BMCConfigData))})
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o700); err != nil {
		return fmt.Errorf("board bundle: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(out), ".bundle-*")
	if err != nil {
		return fmt.Errorf("board bundle: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := images.Build(tmp, spec.Meta, comps, signers); err != nil {
		tmp.Close()
		return fmt.Errorf("board bundle: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("board bundle: %w", err)
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("board bundle: %w", err)
	}
	return nil
}
