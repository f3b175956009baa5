package qemu_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images/uroot"
	"github.com/ironroot-bmc/ironroot/qemu"
)

// TestQEMUAST2600Smoke boots the same bmcd built for GOARCH=arm GOARM=7 on
// qemu-system-arm -M ast2600-evb (Debian's armmp kernel, its dtb patched to enable UART1,
// ftgmac100) behind rotd: Redfish answers through the forward and the gate opens after
// attesting rotd over UART1. No TPM and no disk on this board.
func TestQEMUAST2600Smoke(t *testing.T) {
	e := setupE2E(t, qemu.MachineAST2600)
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	const boardID = "ironroot-qemu-ast2600-test"
	bundle := e.bundle(t, ctx, boardID, "e2e-ast2600", 1, nil)
	ub := uroot.Builder{RepoDir: e.repo, BuildDir: e.build}
	initramfs, err := ub.Initramfs(ctx, qemu.BMCImage(qemu.MachineAST2600, false))
	if err != nil {
		t.Fatal(err)
	}
	mods, err := ub.Modules(e.kernel, uroot.AST2600Modules())
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("qemu-ast2600-test: flash image %s\n", flashSize(t, filepath.Join(e.kernel, "vmlinuz"), initramfs, mods))

	h, _ := e.host(t, ctx, boardID, bundle, nil)
	rctx, rcancel := context.WithTimeout(ctx, 5*time.Minute)
	defer rcancel()
	r, err := h.WaitReady(rctx, 0, false)
	if err != nil {
		t.Fatal(err)
	}
	ready, err := waitHTTP(rctx, r.Redfish+"/redfish/v1", http.StatusOK, r.PoweredOn, h.Done())
	if err != nil {
		t.Fatalf("ast2600: Redfish never ready: %v", err)
	}
	r, err = h.WaitReady(rctx, 0, true)
	if err != nil {
		t.Fatalf("ast2600: first-boot password: %v", err)
	}
	pw, err := os.ReadFile(r.PasswordFile)
	if err != nil {
		t.Fatal(err)
	}
	_, pool := boardCert(t, r.Redfish)
	c := newRF(r.Redfish, pool)
	opened := c.waitOpen(t, "admin", strings.TrimSpace(string(pw)), 3*time.Minute)
	fmt.Printf("qemu-ast2600-test: power-on→Redfish %s, gate Open %s later (TCG ARM, RoT link on UART1)\n",
		ready.Round(time.Millisecond), opened.Round(time.Millisecond))
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
	return fmt.Sprintf("%.2f MiB (zImage %.2f MiB + xz initramfs %.2f MiB; goal ≤ 12 MiB)", float64(total)/(1<<20),
		float64(st.Size())/(1<<20), float64(xz)/(1<<20))
}
