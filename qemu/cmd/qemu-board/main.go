// Command qemu-board is `make qemu` and `make qemu-ast2600`: it builds the BMC image
// (u-root initramfs with bmcd as uinit, the modules cpio, the board's bmc-config and, on
// the ast2600, its patched device tree), signs it with the development vendor keys into
// a bundle, and starts the board's host side: the RoT TPM (swtpm) and rotd, which
// provisions a new board, installs the bundle when it changed, verifies and measures it,
// and only then boots the VM from sealed memfds of the verified bytes (qemu.Host). It
// prints the Redfish URL and the first-boot password; Ctrl-C stops rotd, QEMU and both
// TPMs by PID.
package main

import (
	"context"
	"crypto/x509"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/qemu"
	"github.com/ironroot-bmc/ironroot/rot/identity"
)

type options struct {
	machine                                string
	kernelDir, dtb, buildDir, dir, keysDir string
	rotd                                   string
	board, version                         string
	svn                                    uint64
	redfishPort, ipmiPort                  int
	debug                                  bool
	accel                                  string
	probation                              time.Duration
}

func main() {
	var o options
	flag.StringVar(&o.machine, "machine", qemu.MachineQ35, "board machine: q35 (x86_64) or ast2600-evb (32-bit ARM)")
	flag.StringVar(&o.kernelDir, "kernel-dir", "build/kernel/cloud-amd64", "kernel fetched by scripts/fetch-kernel (armmp for ast2600-evb)")
	flag.StringVar(&o.dtb, "dtb", "", "ast2600-evb: the device tree patched by scripts/patch-ast2600-dtb (UART1 enabled)")
	flag.StringVar(&o.buildDir, "build", "build", "build directory (image cache)")
	flag.StringVar(&o.dir, "state", ".run/qemu-x86", "board directory: rot/ (rotd), tpm-rot/, bmc/ (state disk, BMC TPM, password), run/")
	flag.StringVar(&o.keysDir, "dev-keys", ".dev-keys", "development keys: vendor/ (signing keys) and the identity root (created when missing)")
	flag.StringVar(&o.rotd, "rotd", "bin/rotd", "the rotd binary (make build)")
	flag.StringVar(&o.board, "board", "ironroot-qemu-q35", "board ID")
	flag.StringVar(&o.version, "version", "dev", "firmware version")
	flag.Uint64Var(&o.svn, "svn", 1, "security version number")
	flag.IntVar(&o.redfishPort, "redfish-port", 18443, "host port on 127.0.0.1 forwarded to the BMC's Redfish (443); 0: any")
	flag.IntVar(&o.ipmiPort, "ipmi-port", 16230, "host UDP port on 127.0.0.1 forwarded to the BMC's IPMI (623); 0: any")
	flag.StringVar(&o.accel, "accel", "tcg", "QEMU accelerator (kvm only where nested KVM really works)")
	flag.BoolVar(&o.debug, "debug", false, "add a shell (gosh) to the image; it starts on the console when bmcd exits")
	flag.DurationVar(&o.probation, "probation", 60*time.Second, "how long a newly installed bundle has to prove healthy")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("prog", "qemu-board")
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer cancel()
	if err := run(ctx, o, log); err != nil {
		log.Error("qemu board", "err", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options, log *slog.Logger) error {
	repo, err := os.Getwd()
	if err != nil {
		return err
	}
	if _, err := qemu.FindQEMUFor(o.machine); err != nil {
		return err
	}
	if _, err := os.Stat(o.rotd); err != nil {
		return fmt.Errorf("%s: %w (run `make build` first)", o.rotd, err)
	}
	vendorDir := filepath.Join(o.keysDir, "vendor")
	if _, err := os.Stat(filepath.Join(vendorDir, images.ES384PubFile)); err != nil {
		if _, err := images.GenerateVendorKeys(vendorDir); err != nil {
			return fmt.Errorf("development vendor keys: %w", err)
		}
		log.Info("development vendor keys created", "dir", vendorDir)
	}
	keys, err := images.LoadVendorKeySet(vendorDir)
	if err != nil {
		return err
	}
	root, created, err := identity.EnsureDevRoot(o.keysDir, time.Now())
	if err != nil {
		return err
	}
	if created {
		log.Info("development identity root created", "dir", o.keysDir)
	}
	if err := os.MkdirAll(o.dir, 0o700); err != nil {
		return err
	}
	bundle := filepath.Join(o.dir, "firmware", "qemu.bundle")
	build := qemu.Build{
		RepoDir: repo, BuildDir: o.buildDir, KernelDir: o.kernelDir, Machine: o.machine, DTB: o.dtb, Debug: o.debug,
		KeysDir: vendorDir, IdentityRoots: []*x509.Certificate{root.Cert}, VendorKeys: keys,
		Meta:   images.Meta{BoardID: o.board, FirmwareVersion: o.version, SVN: o.svn, BuildTime: time.Now()},
		Gate:   manifest.GatePolicy{MeasurementInterval: 30 * time.Second, HeartbeatPeriod: 10 * time.Second, MinSVN: o.svn},
		Logger: log,
	}
	if err := build.Bundle(ctx, bundle); err != nil {
		return err
	}
	log.Info("signed board bundle", "path", bundle, "version", o.version, "svn", o.svn)

	h := &qemu.Host{
		Rotd: o.rotd, Dir: o.dir, Machine: o.machine, BoardID: o.board, VendorKeys: vendorDir, IdentityRoot: o.keysDir,
		Bundle: bundle, RedfishPort: o.redfishPort, IPMIPort: o.ipmiPort, Probation: o.probation,
		Accel: o.accel, Output: os.Stdout, Interactive: o.debug,
	}
	if err := h.Start(ctx); err != nil {
		return err
	}
	defer h.Stop()
	if o.debug {
		fmt.Fprintln(os.Stderr, "qemu board: DEBUG image: the shell starts on this console when bmcd exits")
	}
	r, err := h.WaitReady(ctx, 0, false)
	if err != nil {
		return ignoreStop(ctx, err)
	}
	fmt.Fprintf(os.Stderr, "\nqemu board %s: Redfish %s/redfish/v1  IPMI %s/udp  (rotd pid %d, QEMU pid %d)\n"+
		"rotd verified and measured the bundle before it powered the BMC on; `%s status --state %s` shows it.\n\n",
		o.board, r.Redfish, r.IPMI, h.RotdPID(), r.QEMUPID, o.rotd, h.RotState())
	pw := filepath.Join(h.BMCState(), qemu.PasswordFile)
	if _, err := os.Stat(pw); err == nil {
		fmt.Fprintf(os.Stderr, "qemu board: log in as \"admin\" with the first-boot password in %s until you change it\n\n", pw)
	} else if r, err = h.WaitReady(ctx, 0, true); err == nil {
		fmt.Fprintf(os.Stderr, "\nqemu board: first boot: log in as \"admin\" with the password printed above (also in %s);\n"+
			"the first login must change it, e.g.\n  curl -k -u admin:\"$(cat %s)\" -X PATCH -H 'Content-Type: application/json' \\\n"+
			"       -d '{\"Password\":\"<new password>\"}' %s/redfish/v1/AccountService/Accounts/2\n\n", r.PasswordFile, r.PasswordFile, r.Redfish)
	}
	select {
	case <-ctx.Done():
		log.Info("stopping the board")
		return nil
	case <-h.Done():
		return ignoreStop(ctx, h.Err())
	}
}

// ignoreStop drops the error of a board stopped by Ctrl-C.
func ignoreStop(ctx context.Context, err error) error {
	if ctx.Err() != nil && (err == nil || errors.Is(err, context.Canceled) || errors.Is(err, ctx.Err())) {
		return nil
	}
	return err
}
