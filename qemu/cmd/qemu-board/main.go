// Command qemu-board is `make qemu`: it builds the BMC image (u-root initramfs with bmcd
// as uinit, modules cpio), signs it with the development vendor keys into a bundle,
// verifies the bundle into sealed memfds and boots the QEMU x86 q35 board from them,
// re-verifying before every power-on (a BMC reset makes QEMU exit). Until rotd starts
// QEMU children it runs the verified-bytes path itself. Ctrl-C stops QEMU and the BMC
// TPM by PID.
package main

import (
	"context"
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
	"github.com/ironroot-bmc/ironroot/images/uroot"
	"github.com/ironroot-bmc/ironroot/qemu"
)

type options struct {
	machine                                string
	kernelDir, buildDir, stateDir, keysDir string
	identityRoot                           string
	board, version                         string
	svn                                    uint64
	redfishPort, ipmiPort                  int
	debug                                  bool
	accel                                  string
	maxResets                              int
}

func main() {
	var o options
	flag.StringVar(&o.machine, "machine", qemu.MachineQ35, "board machine: q35 (x86_64) or ast2600-evb (32-bit ARM: no TPM, no disk, no RoT link yet)")
	flag.StringVar(&o.kernelDir, "kernel-dir", "build/kernel/cloud-amd64", "kernel fetched by scripts/fetch-kernel (armmp for ast2600-evb)")
	flag.StringVar(&o.buildDir, "build", "build", "build directory (image cache)")
	flag.StringVar(&o.stateDir, "state", ".run/qemu-x86", "board state directory")
	flag.StringVar(&o.keysDir, "keys", ".dev-keys/vendor", "vendor signing keys (created when missing)")
	flag.StringVar(&o.identityRoot, "identity-root", ".dev-keys/identity-root.pem",
		"identity root certificate(s) (PEM) for the bundle's bmc-config (`rotd identity-root --dir .dev-keys` makes it)")
	flag.StringVar(&o.board, "board", "ironroot-qemu-q35", "board ID")
	flag.StringVar(&o.version, "version", "dev", "firmware version")
	flag.Uint64Var(&o.svn, "svn", 1, "security version number")
	flag.IntVar(&o.redfishPort, "redfish-port", 18443, "host port on 127.0.0.1 forwarded to the BMC's Redfish (443); 0: any")
	flag.IntVar(&o.ipmiPort, "ipmi-port", 16230, "host UDP port on 127.0.0.1 forwarded to the BMC's IPMI (623); 0: any")
	flag.StringVar(&o.accel, "accel", "tcg", "QEMU accelerator (kvm only where nested KVM really works)")
	flag.BoolVar(&o.debug, "debug", false, "add a shell (gosh) to the image")
	flag.IntVar(&o.maxResets, "max-resets", 50, "BMC resets before the launcher gives up")
	flag.Parse()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
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
	if _, err := os.Stat(filepath.Join(o.keysDir, images.ES384PubFile)); err != nil {
		if _, err := images.GenerateVendorKeys(o.keysDir); err != nil {
			return fmt.Errorf("development vendor keys: %w", err)
		}
		log.Info("development vendor keys created", "dir", o.keysDir)
	}
	keys, err := images.LoadVendorKeySet(o.keysDir)
	if err != nil {
		return err
	}
	goarch, modules, dtb := "amd64", uroot.Q35Modules(), ""
	if o.machine == qemu.MachineAST2600 {
		abi, err := uroot.KernelRelease(o.kernelDir)
		if err != nil {
			return err
		}
		goarch, modules = "arm", uroot.AST2600Modules()
		dtb = filepath.Join(o.kernelDir, "root", "usr", "lib", "linux-image-"+abi, "aspeed-ast2600-evb.dtb")
	}
	b := uroot.Builder{RepoDir: repo, BuildDir: o.buildDir, Logger: log}
	initramfs, err := b.Initramfs(ctx, uroot.BMC(goarch, o.debug))
	if err != nil {
		return err
	}
	mods, err := b.Modules(o.kernelDir, modules)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.stateDir, 0o700); err != nil {
		return err
	}
	bmcConfig, err := writeBMCConfig(o, keys)
	if err != nil {
		return err
	}
	if bmcConfig == "" {
		log.Warn("no identity root: the bundle has no bmc-config and the BMC's gate stays Locked", "identity-root", o.identityRoot)
	}
	bundle := filepath.Join(o.stateDir, "firmware", "qemu.bundle")
	err = qemu.BuildBundle(bundle, qemu.BundleSpec{
		Meta:   images.Meta{BoardID: o.board, FirmwareVersion: o.version, SVN: o.svn, BuildTime: time.Now()},
		Kernel: filepath.Join(o.kernelDir, "vmlinuz"), Initramfs: initramfs, Modules: mods, KeysDir: o.keysDir,
		BMCConfig: bmcConfig, DTB: dtb,
	})
	if err != nil {
		return err
	}
	log.Info("signed board bundle", "path", bundle, "version", o.version, "svn", o.svn)

	board := &qemu.Board{ID: o.board, Machine: o.machine, StateDir: o.stateDir, Bundle: bundle, Keys: keys,
		Policy:      manifest.Policy{BoardID: o.board, MinSVN: o.svn},
		RedfishPort: o.redfishPort, IPMIPort: o.ipmiPort, BMCTPM: true, Console: os.Stdout, Logger: log, Accel: o.accel}
	if o.debug {
		// The shell needs the terminal; QEMU owns it until Ctrl-A x, and the board is not
		// powered on again after that.
		board.ConsoleInput = os.Stdin
		fmt.Fprintln(os.Stderr, "qemu board: DEBUG image: the shell starts when bmcd exits; Ctrl-A x quits QEMU")
	}
	defer board.Close()
	for resets := 0; resets <= o.maxResets; resets++ {
		vm, con, err := board.PowerOn(ctx)
		if err != nil {
			return err
		}
		reset, err := watch(ctx, vm, con, o, log)
		vm.Stop()
		if err != nil || !reset || o.debug {
			return err
		}
		why := con.ExitLine()
		if why == "" {
			why = "no exit line from bmcd: crash (panic=-1) or watchdog"
		}
		log.Info("BMC reset: re-verifying the bundle before the next power-on", "resets", resets+1, "why", why)
	}
	return fmt.Errorf("more than %d BMC resets", o.maxResets)
}

// writeBMCConfig writes the bundle's bmc-config (identity root, accepted vendor keys, the
// board ID, the gate's SVN floor) into the state's firmware directory; "" without an
// identity root.
func writeBMCConfig(o options, keys manifest.KeySet) (string, error) {
	pemData, err := os.ReadFile(o.identityRoot)
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("identity root: %w", err)
	}
	roots, err := manifest.ParseCertificatesPEM(pemData)
	if err != nil {
		return "", fmt.Errorf("identity root %s: %w", o.identityRoot, err)
	}
	if len(roots) == 0 {
		return "", fmt.Errorf("identity root %s: no certificate", o.identityRoot)
	}
	cfg := manifest.BMCConfig{BoardID: o.board, IdentityRoots: roots, VendorKeys: keys,
		Gate: manifest.GatePolicy{MeasurementInterval: 30 * time.Second, HeartbeatPeriod: 10 * time.Second, MinSVN: o.svn}}
	data, err := cfg.Encode()
	if err != nil {
		return "", err
	}
	p := filepath.Join(o.stateDir, "firmware", "bmc-config.cbor")
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return "", err
	}
	if err := os.WriteFile(p, data, 0o644); err != nil {
		return "", fmt.Errorf("bmc-config: %w", err)
	}
	return p, nil
}

// watch reports the board's addresses and first-boot password, then waits for the VM to
// exit or for Ctrl-C. QEMU exiting with status 0 is a BMC reset (bmcd's reset, a crash
// with panic=-1, the watchdog: -no-reboot turns each into an exit): reset is true.
func watch(ctx context.Context, vm *qemu.VM, con *qemu.Console, o options, log *slog.Logger) (bool, error) {
	redfish, ipmi, err := vm.Forwards(ctx)
	if err != nil {
		return false, err
	}
	fmt.Fprintf(os.Stderr, "qemu board %s: Redfish https://127.0.0.1:%d/redfish/v1  IPMI 127.0.0.1:%d/udp  (QEMU pid %d)\n",
		o.board, redfish, ipmi, vm.PID())
	firstBoot := con.FirstBoot()
	for {
		select {
		case <-ctx.Done():
			log.Info("stopping the board")
			return false, nil
		case <-firstBoot:
			firstBoot = nil // handled; a nil channel never fires
			p, err := con.SaveCredentials(o.stateDir)
			if err != nil {
				return false, err
			}
			user, _ := con.Credentials()
			fmt.Fprintf(os.Stderr, "qemu board: first boot: log in as %q with the password in %s (it must be changed at first login)\n", user, p)
		case <-vm.Done():
			if err := vm.Err(); err != nil {
				var ee interface{ ExitCode() int }
				if errors.As(err, &ee) {
					return false, fmt.Errorf("QEMU exited with status %d", ee.ExitCode())
				}
				return false, fmt.Errorf("QEMU: %w", err)
			}
			return true, nil
		}
	}
}
