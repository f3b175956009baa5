package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/qemu"
	"github.com/ironroot-bmc/ironroot/rot"
)

// platformOptions are the flags that choose how the board's BMC runs: --platform and the
// QEMU board's.
type platformOptions struct {
	name string
	qemu qemuOptions
	// run: `rotd run`, which releases the BMC and takes every QEMU flag; provision takes
	// --qemu-machine only (the platform says what the board's bundles must carry).
	run bool
}

// platformFlags registers --platform and the QEMU board's flags of `rotd run` (run) or
// `rotd provision`.
func platformFlags(fs *flag.FlagSet, run bool) *platformOptions {
	o := &platformOptions{run: run}
	if run {
		fs.StringVar(&o.name, "platform", "process", "how the BMC runs: process (bmcd as rotd's child, the sim board) or qemu (a VM booted from the verified kernel and initrd)")
		o.qemu.flags(fs)
	} else {
		fs.StringVar(&o.name, "platform", "process", "how the board's BMC runs (what its bundles must carry): process or qemu")
		fs.StringVar(&o.qemu.machine, "qemu-machine", qemu.MachineQ35, "QEMU board: q35 or ast2600-evb")
	}
	return o
}

// platform is the chosen rot.Platform: bmcd for "process"; for "qemu" the board's VM
// (for provision only its Machine, which decides the components). A *qemu.Platform
// holds the BMC TPM: Close it when rotd stops.
func (o *platformOptions) platform(log *slog.Logger, bmcd *rot.ProcessPlatform) (rot.Platform, error) {
	switch o.name {
	case "process":
		return bmcd, nil
	case "qemu":
		if !o.run {
			return &qemu.Platform{Machine: o.qemu.machine}, nil
		}
		p, err := o.qemu.platform(log)
		if err != nil {
			return nil, err
		}
		return p, nil
	default:
		return nil, fmt.Errorf("--platform %q: process or qemu", o.name)
	}
}

// qemuOptions are `rotd run --platform qemu`'s flags: where the board's VM keeps its
// state and which host ports it forwards.
type qemuOptions struct {
	machine, state, run   string
	redfishPort, ipmiPort int
	noTPM                 bool
	accel, cpu            string
	memory                int
	readyFile             string
	consoleStdin          bool
}

func (o *qemuOptions) flags(fs *flag.FlagSet) {
	fs.StringVar(&o.machine, "qemu-machine", qemu.MachineQ35, "QEMU board: q35 (x86_64) or ast2600-evb (32-bit ARM)")
	fs.StringVar(&o.state, "qemu-state", "", "the QEMU board's state directory: its state disk, BMC TPM, first-boot password and ready file")
	fs.StringVar(&o.run, "qemu-run", "", "directory of the VM's sockets, the RoT link's included (default QEMU-STATE/run; keep it short)")
	fs.IntVar(&o.redfishPort, "redfish-port", 18443, "host port on 127.0.0.1 forwarded to the BMC's Redfish (443); 0: any, see the ready file")
	fs.IntVar(&o.ipmiPort, "ipmi-port", 16230, "host UDP port on 127.0.0.1 forwarded to the BMC's IPMI (623); 0: any")
	fs.BoolVar(&o.noTPM, "no-bmc-tpm", false, "no BMC TPM (x86 attaches a second swtpm as tpm-tis by default)")
	fs.StringVar(&o.accel, "qemu-accel", "tcg", "QEMU accelerator (kvm only where nested KVM really works)")
	fs.StringVar(&o.cpu, "qemu-cpu", "", "QEMU -cpu model (default: QEMU's)")
	fs.IntVar(&o.memory, "qemu-memory", 0, "guest memory in MiB (default 512)")
	fs.BoolVar(&o.consoleStdin, "qemu-console-stdin", false, "feed rotd's standard input to the BMC console (DEBUG images with a shell)")
	fs.StringVar(&o.readyFile, "ready-file", "", "where the VM's addresses are written after each power-on (default QEMU-STATE/qemu.ready.json)")
}

func (o *qemuOptions) platform(log *slog.Logger) (*qemu.Platform, error) {
	if o.state == "" {
		return nil, errors.New("--platform qemu needs --qemu-state")
	}
	if _, err := qemu.FindQEMUFor(o.machine); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(o.state, 0o700); err != nil {
		return nil, err
	}
	run := o.run
	if run == "" {
		run = filepath.Join(o.state, "run")
	}
	if err := os.MkdirAll(run, 0o700); err != nil {
		return nil, err
	}
	p := &qemu.Platform{
		Machine: o.machine, StateDir: o.state, RunDir: run, RoTLink: filepath.Join(run, "rotlink.sock"),
		RedfishPort: o.redfishPort, IPMIPort: o.ipmiPort, BMCTPM: !o.noTPM,
		Accel: o.accel, CPU: o.cpu, Memory: o.memory, Console: os.Stdout, ReadyFile: o.readyFile,
		Logger: log,
	}
	if o.consoleStdin {
		p.ConsoleInput = os.Stdin
	}
	return p, nil
}
