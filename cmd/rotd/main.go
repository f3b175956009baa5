// Command rotd is the root of trust of an ironroot board: it provisions the
// board's identity and RoT TPM, verifies and measures the firmware bundle
// of the active slot before anything runs, and only then starts the BMC
// (bmcd) from sealed memory of the verified bytes, supervising it across
// BMC resets. See package rot for the flow.
//
//	rotd identity-root --dir .dev-keys
//	rotd provision --state DIR --tpm SPEC --board-id ID --vendor-keys DIR --identity-root DIR [--bundle FILE]
//	rotd run --state DIR --tpm SPEC [--install BUNDLE] [--spdm-addr ADDR] [flags] -- BMCD-ARGS...
//	rotd run --state DIR --tpm SPEC --platform qemu --qemu-state DIR [--qemu-machine M] [flags]
//	rotd install [--state DIR] BUNDLE
//	rotd status [--state DIR] [--json]
//	rotd health [--state DIR]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ironroot-bmc/ironroot/qemu"
	"github.com/ironroot-bmc/ironroot/rot"
	"github.com/ironroot-bmc/ironroot/rot/control"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rot/tpm"
)

var version = "dev"

const usage = `usage: rotd COMMAND [flags]

commands:
  identity-root  create the development identity root (manufacturer CA) if missing
  provision      provision a board: UDS, DeviceID certificate, RoT TPM ownership and fuses
  run            boot: verify + measure the active slot, then start and supervise bmcd
  install        send a bundle to the running rotd (verified into the inactive slot)
  status         show rotd's state, slots and measurements
  health         report the running BMC healthy (until the gate reports over SPDM)
  version        print the version
`

func main() {
	if len(os.Args) < 2 {
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("prog", "rotd")
	var err error
	args := os.Args[2:]
	switch os.Args[1] {
	case "identity-root":
		err = cmdIdentityRoot(args, log)
	case "provision":
		err = cmdProvision(ctx, args, log)
	case "run":
		err = cmdRun(ctx, args, log)
	case "install":
		err = cmdInstall(ctx, args)
	case "status":
		err = cmdStatus(ctx, args, os.Stdout)
	case "health":
		err = cmdHealth(ctx, args)
	case "version":
		fmt.Println("rotd", version)
	case "help", "-h", "--help":
		fmt.Print(usage)
	default:
		fmt.Fprint(os.Stderr, usage)
		os.Exit(2)
	}
	var exitErr *rot.BMCExitError
	switch {
	case err == nil:
	case errors.Is(err, flag.ErrHelp):
		os.Exit(2)
	case errors.As(err, &exitErr):
		os.Exit(exitErr.Code)
	default:
		fmt.Fprintf(os.Stderr, "rotd %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}

func newFlags(name string) *flag.FlagSet {
	fs := flag.NewFlagSet("rotd "+name, flag.ContinueOnError)
	return fs
}

func cmdIdentityRoot(args []string, log *slog.Logger) error {
	fs := newFlags("identity-root")
	dir := fs.String("dir", ".dev-keys", "directory for identity-root.key (0600) and identity-root.pem")
	if err := fs.Parse(args); err != nil {
		return err
	}
	r, created, err := identity.EnsureDevRoot(*dir, time.Now())
	if err != nil {
		return err
	}
	if created {
		log.Info("development identity root created", "cert", filepath.Join(*dir, identity.RootCertFile), "subject", r.Cert.Subject.CommonName)
	}
	return nil
}

func openTPM(ctx context.Context, spec string) (*tpm.TPM, error) {
	if spec == "" {
		return nil, errors.New("--tpm is required (swtpm:DATA,CTRL or /dev/tpmrm0)")
	}
	return tpm.Open(ctx, spec)
}

func cmdProvision(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlags("provision")
	state := fs.String("state", "", "rotd state directory")
	tpmSpec := fs.String("tpm", "", "RoT TPM: swtpm:DATA,CTRL or /dev/tpmrm0")
	board := fs.String("board-id", "", "board ID written to the TPM fuses")
	keys := fs.String("vendor-keys", "", "directory of the accepted vendor public keys (*.pub)")
	root := fs.String("identity-root", "", "directory of the identity root (identity-root.key, identity-root.pem)")
	bundle := fs.String("bundle", "", "factory bundle installed into slot A and committed")
	pf := platformFlags(fs, false)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" || *board == "" || *keys == "" || *root == "" {
		return errors.New("--state, --board-id, --vendor-keys and --identity-root are required")
	}
	r, err := identity.LoadRoot(*root)
	if err != nil {
		return err
	}
	t, err := openTPM(ctx, *tpmSpec)
	if err != nil {
		return err
	}
	defer t.Close()
	lock, err := rot.Lock(*state)
	if err != nil {
		return err
	}
	defer lock.Close()
	p, err := pf.platform(log, &rot.ProcessPlatform{})
	if err != nil {
		return err
	}
	cfg := rot.Config{StateDir: *state, TPM: t, Log: log, Version: version, Platform: p}
	if err := rot.Provision(ctx, cfg, rot.Provisioning{BoardID: *board, VendorKeysDir: *keys, Root: r, Bundle: *bundle}); err != nil {
		return err
	}
	log.Info("board provisioned", "board", *board, "state", *state)
	return nil
}

func cmdRun(ctx context.Context, args []string, log *slog.Logger) error {
	fs := newFlags("run")
	state := fs.String("state", "", "rotd state directory")
	tpmSpec := fs.String("tpm", "", "RoT TPM: swtpm:DATA,CTRL or /dev/tpmrm0")
	stage := fs.String("install", "", "bundle to install as a trial before booting, unless the active slot holds the same firmware")
	probation := fs.Duration("probation", 30*time.Second, "how long a newly installed slot has to prove healthy")
	requireReport := fs.Bool("require-health-report", false, "only a health report on the control socket proves a trial slot healthy (default: also running the whole probation)")
	maxBoots := fs.Int("max-trial-boots", 3, "boots a trial slot gets before rotd reverts it")
	spdmAddr := fs.String("spdm-addr", "127.0.0.1:2323", "TCP address of the RoT link's SPDM responder (empty: none); the bound address goes to STATE/rotlink.addr")
	cfgFD := fs.Bool("bmc-config-fd", false, "pass --bmc-config-fd 4 to bmcd (the verified bmc-config is always its fd 4)")
	heartbeat := fs.Duration("heartbeat", 10*time.Second, "SPDM heartbeat period announced to the BMC (whole seconds, 0: none); three silent periods reset a BMC that had attested")
	pf := platformFlags(fs, true)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *state == "" {
		return errors.New("--state is required")
	}
	if *heartbeat < 0 || *heartbeat > 255*time.Second || *heartbeat%time.Second != 0 {
		return fmt.Errorf("--heartbeat %v: whole seconds from 0 to 255", *heartbeat)
	}
	t, err := openTPM(ctx, *tpmSpec)
	if err != nil {
		return err
	}
	defer t.Close()
	p, err := pf.platform(log, &rot.ProcessPlatform{Args: fs.Args(), ConfigFD: *cfgFD})
	if err != nil {
		return err
	}
	cfg := rot.Config{
		StateDir: *state, TPM: t, Log: log, Version: version, Platform: p,
		Probation: *probation, RequireHealthReport: *requireReport, MaxTrialBoots: *maxBoots,
		SPDMAddr: *spdmAddr, HeartbeatPeriod: uint8(*heartbeat / time.Second),
	}
	if q, ok := p.(*qemu.Platform); ok {
		defer q.Close()
		cfg.SPDMAddr, cfg.SPDMSerial = "unix:"+q.RoTLink, true
	}
	d, lock, err := rot.Open(ctx, cfg)
	if err != nil {
		return err
	}
	defer lock.Close()
	return d.Run(ctx, *stage)
}

func socketFlag(fs *flag.FlagSet) func() string {
	state := fs.String("state", ".run/sim/rot", "rotd state directory (its control socket is STATE/control.sock)")
	sock := fs.String("socket", "", "control socket path (default STATE/control.sock)")
	return func() string {
		if *sock != "" {
			return *sock
		}
		return filepath.Join(*state, rot.ControlSocket)
	}
}

func cmdInstall(ctx context.Context, args []string) error {
	fs := newFlags("install")
	sock := socketFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return errors.New("usage: rotd install [--state DIR] BUNDLE")
	}
	f, err := os.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	resp, err := control.Call(ctx, sock(), control.Request{Op: "install", Size: fi.Size()}, f)
	if err != nil {
		return fmt.Errorf("install refused: %w", err)
	}
	fmt.Println(resp.Message)
	return nil
}

func cmdHealth(ctx context.Context, args []string) error {
	fs := newFlags("health")
	sock := socketFlag(fs)
	if err := fs.Parse(args); err != nil {
		return err
	}
	resp, err := control.Call(ctx, sock(), control.Request{Op: "health"}, nil)
	if err != nil {
		return err
	}
	fmt.Println(resp.Message)
	return nil
}

func cmdStatus(ctx context.Context, args []string, out io.Writer) error {
	fs := newFlags("status")
	sock := socketFlag(fs)
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return err
	}
	resp, err := control.Call(ctx, sock(), control.Request{Op: "status"}, nil)
	if err != nil {
		return err
	}
	st := resp.Status
	if st == nil {
		return errors.New("no status in response")
	}
	if *asJSON {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(st)
	}
	fmt.Fprintf(out, "state:     %s\n", st.State)
	if st.Recovery != "" {
		fmt.Fprintf(out, "recovery:  %s\n", st.Recovery)
	}
	fmt.Fprintf(out, "board:     %s\nSVN floor: %d\n", st.BoardID, st.SVNFloor)
	if st.BMCPID != 0 {
		fmt.Fprintf(out, "bmcd:      pid %d from slot %s\n", st.BMCPID, st.Slot)
	}
	if st.Probation != "" {
		fmt.Fprintf(out, "probation: %s\n", st.Probation)
	}
	for _, s := range st.Slots {
		mark := " "
		if s.Active {
			mark = "*"
		}
		fmt.Fprintf(out, "slot %s%s   %-9s firmware %q svn %d boots %d", s.Name, mark, s.State, s.FirmwareVersion, s.SVN, s.Boots)
		if s.Reason != "" {
			fmt.Fprintf(out, " (%s)", s.Reason)
		}
		fmt.Fprintln(out)
	}
	for _, m := range st.Measurements {
		fmt.Fprintf(out, "measurement %#02x type %#02x %-16s %s\n", m.Index, m.Type, m.Name, m.Value)
	}
	return nil
}
