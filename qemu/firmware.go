package qemu

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/images/uroot"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
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
	// BMCConfig is the bmc-config component (fwbundle bmc-config); empty: none.
	BMCConfig string
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

// Firmware is a verified bundle in sealed memfds: the kernel alone, and the initramfs
// with the modules cpio concatenated after it (x86 -initrd takes one file; the kernel
// unpacks concatenated newc archives), then the bmc-config, when the bundle has one,
// wrapped in a one-file archive at BMCConfigPath.
type Firmware struct {
	Kernel, Initrd *supervise.Image
	// DTB is the device tree when the bundle has one (ast2600), else nil.
	DTB      *supervise.Image
	Verified *images.Verified
}

// Close releases the memfds.
func (f *Firmware) Close() {
	if f.Kernel != nil {
		f.Kernel.Close()
	}
	if f.Initrd != nil {
		f.Initrd.Close()
	}
	if f.DTB != nil {
		f.DTB.Close()
	}
}

// VerifyFirmware verifies the bundle at path and copies each component, read once and
// hashed as it is written, into memfds that are sealed only after every check passed.
// This is the verified-bytes path rotd runs; the launcher runs it itself until rotd
// starts QEMU children.
func VerifyFirmware(path string, keys manifest.KeySet, policy manifest.Policy) (*Firmware, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("board firmware: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("board firmware: %w", err)
	}
	b, err := images.Open(f, st.Size())
	if err != nil {
		return nil, fmt.Errorf("board firmware %s: %w", path, err)
	}
	kernel, err := supervise.NewMemfd("bmc-kernel")
	if err != nil {
		return nil, err
	}
	initrd, err := supervise.NewMemfd("bmc-initrd")
	if err != nil {
		kernel.Close()
		return nil, err
	}
	dtb, err := supervise.NewMemfd("bmc-dtb")
	if err != nil {
		kernel.Close()
		initrd.Close()
		return nil, err
	}
	seen := map[string]bool{}
	configSize := int64(-1)
	v, err := b.VerifyAndCopy(keys, policy, func(c manifest.Component) (io.Writer, error) {
		seen[c.Name] = true
		switch c.Name {
		case ComponentKernel:
			return kernel, nil
		case ComponentInitramfs, ComponentModules:
			return initrd, nil
		case ComponentDTB:
			return dtb, nil
		case ComponentBMCConfig:
			h, err := uroot.FileArchiveHeader(BMCConfigPath, int64(c.Size))
			if err != nil {
				return nil, err
			}
			if _, err := initrd.Write(h); err != nil {
				return nil, err
			}
			configSize = int64(c.Size)
			return initrd, nil
		}
		return io.Discard, nil
	})
	if err == nil && configSize >= 0 {
		_, err = initrd.Write(uroot.FileArchiveTrailer(configSize))
	}
	if err == nil && !(seen[ComponentKernel] && seen[ComponentInitramfs] && seen[ComponentModules]) {
		err = errors.New("bundle lacks bmc-kernel, bmc-initramfs or bmc-modules")
	}
	if err != nil {
		kernel.Close()
		initrd.Close()
		dtb.Close()
		return nil, fmt.Errorf("board firmware %s: %w", path, err)
	}
	fw := &Firmware{Verified: v}
	if fw.Kernel, err = kernel.Seal(); err != nil {
		initrd.Close()
		dtb.Close()
		return nil, err
	}
	if fw.Initrd, err = initrd.Seal(); err != nil {
		dtb.Close()
		fw.Close()
		return nil, err
	}
	if !seen[ComponentDTB] {
		dtb.Close()
		return fw, nil
	}
	if fw.DTB, err = dtb.Seal(); err != nil {
		fw.Close()
		return nil, err
	}
	return fw, nil
}
