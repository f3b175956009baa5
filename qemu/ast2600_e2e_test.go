package qemu_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/images/uroot"
	"github.com/ironroot-bmc/ironroot/qemu"
)

// TestQEMUAST2600Smoke boots the same bmcd built for GOARCH=arm GOARM=7 on
// qemu-system-arm -M ast2600-evb (Debian's armmp kernel and its stock dtb, ftgmac100) and
// waits for the Redfish service root through the forward. No TPM, no disk, and no RoT link
// yet (the dtb patch that enables UART1 is not done), so the gate stays Locked.
func TestQEMUAST2600Smoke(t *testing.T) {
	if os.Getenv(e2eEnv) == "" {
		t.Skipf("QEMU end-to-end test: run `make qemu-ast2600-test` (sets %s=1)", e2eEnv)
	}
	if _, err := qemu.FindQEMUFor(qemu.MachineAST2600); err != nil {
		t.Fatal(err)
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	build := filepath.Join(repo, "build")
	kernel := filepath.Join(build, "kernel", "armmp")
	if _, err := os.Stat(filepath.Join(kernel, "VERSION")); err != nil {
		out, err := exec.Command(filepath.Join(repo, "scripts", "fetch-kernel"), "armhf", "linux-image-armmp", kernel).CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/fetch-kernel: %v\n%s", err, out)
		}
	}
	abi, err := uroot.KernelRelease(kernel)
	if err != nil {
		t.Fatal(err)
	}
	dtb := filepath.Join(kernel, "root", "usr", "lib", "linux-image-"+abi, "aspeed-ast2600-evb.dtb")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	b := uroot.Builder{RepoDir: repo, BuildDir: build}
	initramfs, err := b.Initramfs(ctx, uroot.BMC("arm", false))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := b.Modules(kernel, uroot.AST2600Modules())
	if err != nil {
		t.Fatal(err)
	}
	keysDir := t.TempDir()
	if _, err := images.GenerateVendorKeys(keysDir); err != nil {
		t.Fatal(err)
	}
	keys, err := images.LoadVendorKeySet(keysDir)
	if err != nil {
		t.Fatal(err)
	}
	const boardID = "ironroot-qemu-ast2600-test"
	bundle := filepath.Join(t.TempDir(), "ast2600.bundle")
	err = qemu.BuildBundle(bundle, qemu.BundleSpec{
		Meta:   images.Meta{BoardID: boardID, FirmwareVersion: "e2e-ast2600", SVN: 1, BuildTime: time.Now()},
		Kernel: filepath.Join(kernel, "vmlinuz"), Initramfs: initramfs, Modules: mods, DTB: dtb, KeysDir: keysDir,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("ast2600 flash image (zImage + xz initramfs + modules): %s", flashSize(t, filepath.Join(kernel, "vmlinuz"), initramfs, mods))

	board := &qemu.Board{ID: boardID, Machine: qemu.MachineAST2600, StateDir: t.TempDir(), Bundle: bundle,
		Keys: keys, Policy: manifest.Policy{BoardID: boardID}}
	vm, con, err := board.PowerOn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Stop()
		board.Close()
		if t.Failed() {
			t.Logf("ast2600 console (tail):\n%s", lastLines(con.Tail(), 60))
		}
	})
	port, _, err := vm.Forwards(ctx)
	if err != nil || port == 0 {
		t.Fatalf("ast2600 forwards: %d, %v", port, err)
	}
	rctx, rcancel := context.WithTimeout(ctx, 4*time.Minute)
	ready, err := waitHTTP(rctx, vm, fmt.Sprintf("https://127.0.0.1:%d/redfish/v1", port), 200)
	rcancel()
	if err != nil {
		t.Fatalf("ast2600: Redfish never ready: %v", err)
	}
	fmt.Printf("qemu-ast2600-test: power-on→Redfish %s (TCG ARM)\n", ready.Round(time.Millisecond))
}

// flashSize is the size of what an SPI flash slot would hold, the initramfs compressed
// with xz -9 (goal: ≤ 12 MiB so two slots and the RoT fit 32 MiB).
func flashSize(t *testing.T, kernel, initramfs, modules string) string {
	t.Helper()
	st, err := os.Stat(kernel)
	if err != nil {
		return "?"
	}
	cmd := exec.Command("sh", "-c", `cat "$1" "$2" | xz -9 -T1 -c | wc -c`, "sh", initramfs, modules)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Sprintf("zImage %.2f MiB, xz not available: %v", float64(st.Size())/(1<<20), err)
	}
	var xz int64
	fmt.Sscan(string(out), &xz)
	total := st.Size() + xz
	return fmt.Sprintf("%.2f MiB (zImage %.2f MiB + xz initramfs %.2f MiB)", float64(total)/(1<<20),
		float64(st.Size())/(1<<20), float64(xz)/(1<<20))
}
