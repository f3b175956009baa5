package qemu

import (
	"context"
	"crypto/x509"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc/guest"
	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/images/uroot"
)

// Build is one firmware build of a QEMU board: the u-root image with bmcd, the kernel
// modules the board needs, the board's bmc-config and (ast2600) its patched device
// tree, signed with the vendor keys into one bundle.
type Build struct {
	// RepoDir is the repository (bmcd's source); BuildDir caches images (build/).
	RepoDir, BuildDir string
	// KernelDir is what scripts/fetch-kernel unpacked (vmlinuz, root/lib/modules).
	KernelDir string
	// Machine is MachineQ35 (default) or MachineAST2600.
	Machine string
	// DTB is the patched device tree (ast2600: scripts/patch-ast2600-dtb).
	DTB string
	// Image is the u-root recipe (default BMCImage(Machine, Debug)).
	Image *uroot.Image
	// Debug adds a shell to the image.
	Debug bool
	// KeysDir holds the vendor signing keys.
	KeysDir string
	// IdentityRoots and VendorKeys go into the bmc-config: what bmcd's gate trusts.
	IdentityRoots []*x509.Certificate
	VendorKeys    manifest.KeySet
	Meta          images.Meta
	Gate          manifest.GatePolicy
	Logger        *slog.Logger
}

// GOARCH is the guest's Go architecture.
func (b Build) GOARCH() string { return goarch(b.Machine) }

func goarch(machine string) string {
	if machine == MachineAST2600 {
		return "arm"
	}
	return "amd64"
}

// BMCImage is the u-root recipe of machine's BMC: uroot.BMC for its GOARCH with the
// board's first-boot defaults (configs/qemu-x86 or configs/qemu-ast2600) where bmc/guest
// reads them; with debug, a shell too.
func BMCImage(machine string, debug bool) uroot.Image {
	defaults := "configs/qemu-x86/defaults.json"
	if machine == MachineAST2600 {
		defaults = "configs/qemu-ast2600/defaults.json"
	}
	img := uroot.BMC(goarch(machine), debug)
	img.Files = append(img.Files, defaults+":"+strings.TrimPrefix(guest.DefaultsPath, "/"))
	return img
}

// Bundle builds (from cache when nothing changed) and signs the bundle into out.
func (b Build) Bundle(ctx context.Context, out string) error {
	ub := uroot.Builder{RepoDir: b.RepoDir, BuildDir: b.BuildDir, Logger: b.Logger}
	img := BMCImage(b.Machine, b.Debug)
	if b.Image != nil {
		img = *b.Image
	}
	initramfs, err := ub.Initramfs(ctx, img)
	if err != nil {
		return err
	}
	mods := uroot.Q35Modules()
	if b.Machine == MachineAST2600 {
		mods = uroot.AST2600Modules()
		if b.DTB == "" {
			return fmt.Errorf("qemu board build: %s needs its patched device tree", b.Machine)
		}
	}
	modules, err := ub.Modules(b.KernelDir, mods)
	if err != nil {
		return err
	}
	cfg := manifest.BMCConfig{BoardID: b.Meta.BoardID, IdentityRoots: b.IdentityRoots, VendorKeys: b.VendorKeys, Gate: b.Gate}
	data, err := cfg.Encode()
	if err != nil {
		return fmt.Errorf("qemu board build: bmc-config: %w", err)
	}
	return BuildBundle(out, BundleSpec{
		Meta: b.Meta, Kernel: filepath.Join(b.KernelDir, "vmlinuz"), Initramfs: initramfs, Modules: modules,
		BMCConfigData: data, DTB: b.DTB, KeysDir: b.KeysDir,
	})
}
