package main

import (
	"errors"
	"flag"
	"log/slog"
	"os"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/qemu"
)

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
