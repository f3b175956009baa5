// Command bmcd is the BMC userland: it opens the board's state, and serves Redfish over
// HTTPS. On a board it is the u-root image's uinit; on the simulated board the launcher
// (later rotd) runs it as a supervised child.
//
// Exit status:
//
//	0  clean shutdown on SIGTERM or SIGINT
//	1  a startup or serving error
//	3  a reset was requested (Manager.Reset, Manager.ResetToDefaults): state is flushed and
//	   the supervisor is expected to start bmcd again (after re-verifying it, once rotd
//	   supervises). bmcd never re-execs itself.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/bmc/guest"
	"github.com/ironroot-bmc/ironroot/bmc/record"
	"github.com/ironroot-bmc/ironroot/bmc/tlsidentity"
	"github.com/ironroot-bmc/ironroot/mgmtif/console"
	"github.com/ironroot-bmc/ironroot/mgmtif/gatehttp"
	"github.com/ironroot-bmc/ironroot/mgmtif/ipmi"
	"github.com/ironroot-bmc/ironroot/redfish"
)

// ExitReset is the status bmcd exits with when a reset was requested.
const ExitReset = 3

// version is set at build time with -ldflags "-X main.version=...".
var version = "dev"

type options struct {
	stateDir    string
	redfishAddr string
	ipmiAddr    string
	rotAddr     string
	rotDev      string
	bmcConfigFD int
	defaults    string
	readyFile   string
	logLevel    string
}

func main() {
	var o options
	flag.StringVar(&o.stateDir, "state", "", "BMC state directory (created on first boot)")
	flag.StringVar(&o.redfishAddr, "redfish-addr", "127.0.0.1:8443", "address the Redfish HTTPS service listens on")
	flag.StringVar(&o.ipmiAddr, "ipmi-addr", "127.0.0.1:6230", "UDP address IPMI over LAN (RMCP+) listens on; empty: no IPMI")
	flag.StringVar(&o.rotAddr, "rot-addr", "", "TCP address of the root of trust's SPDM responder (the sim board's RoT link)")
	flag.StringVar(&o.rotDev, "rot-dev", "", "serial device of the RoT link (QEMU x86: /dev/ttyS1); instead of -rot-addr")
	flag.IntVar(&o.bmcConfigFD, "bmc-config-fd", -1, "descriptor of the verified bmc-config (a sealed memfd rotd passes); without it every interface stays closed")
	flag.StringVar(&o.defaults, "defaults", "", "first-boot defaults file (JSON), read only when the state directory is created")
	flag.StringVar(&o.readyFile, "ready-file", "", "file to write the bound addresses to (JSON) once serving")
	flag.StringVar(&o.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintf(os.Stderr, "bmcd: bad -log-level %q\n", o.logLevel)
		os.Exit(1)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	var gc guest.Config
	inGuest := guest.IsGuest() // PID 1, or the kernel command line names an ironroot board
	if inGuest {
		var err error
		if gc, err = guestSetup(log); err != nil {
			log.Error("guest setup failed", "err", err)
			os.Exit(1)
		}
		o.stateDir, o.redfishAddr = gc.StateDir, gc.RedfishAddr
		o.ipmiAddr = gc.IPMIAddr       // the guest NIC, behind the launcher's forward
		o.rotDev = gc.RoTLinkPath      // the RoT link's serial line, already raw; "" without one
		o.bmcConfigFD = gc.BMCConfigFD // the verified bmc-config from the verified initrd, sealed
		if o.defaults == "" {
			o.defaults = gc.DefaultsFile // the image's first-boot defaults; "" if none
		}
	}
	if o.stateDir == "" {
		log.Error("the -state directory is required")
		os.Exit(1)
	}
	code, err := run(o, log)
	if err != nil {
		log.Error("bmcd stopped", "err", err)
	}
	if inGuest {
		guestExit(gc, code, log) // sync and unmount state; as PID 1 the exit makes QEMU stop (-no-reboot)
	}
	os.Exit(code)
}

// ready is what the ready file holds: the addresses bmcd bound, for the launcher and tests.
type ready struct {
	Redfish string `json:"redfish"`
	IPMI    string `json:"ipmi,omitempty"`
	PID     int    `json:"pid"`
}

type stopReason int

const (
	stopSignal stopReason = iota
	stopReset
	stopResetToDefaults
)

func run(o options, log *slog.Logger) (int, error) {
	ctx, cancel := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer cancel()

	// Bind first: the board reports the port it is really served on (NetworkProtocol).
	ln, err := net.Listen("tcp", o.redfishAddr)
	if err != nil {
		return 1, fmt.Errorf("listen for Redfish on %s: %w", o.redfishAddr, err)
	}
	defer ln.Close()
	var ipmiPC net.PacketConn
	if o.ipmiAddr != "" {
		if ipmiPC, err = net.ListenPacket("udp", o.ipmiAddr); err != nil {
			return 1, fmt.Errorf("listen for IPMI on %s: %w", o.ipmiAddr, err)
		}
		defer ipmiPC.Close()
	}
	// The TLS identity (on the first boot: a new P-384 key and certificate) is made while
	// the board opens; a first boot spends seconds on the administrator's password hash.
	var id *tlsidentity.Identity
	board, first, err := bmc.Open(ctx, bmc.Config{
		HTTPSPort:       ln.Addr().(*net.TCPAddr).Port,
		StateDir:        o.stateDir,
		DefaultsFile:    o.defaults,
		Clock:           clock.Real(),
		Logger:          log,
		FirmwareVersion: version,
		// With a verified bmc-config the gate fetches the sealing key from the RoT.
		SealingKeyFromRoT: o.bmcConfigFD >= 0,
		Alongside: func(b *bmc.Board) (err error) {
			id, err = tlsidentity.LoadOrCreate(filepath.Join(o.stateDir, bmc.TLSDir), tlsidentity.Options{
				CommonName: b.Inventory.SerialNumber,
			})
			if err != nil {
				return fmt.Errorf("load TLS identity: %w", err)
			}
			return nil
		},
	})
	if err != nil {
		return 1, fmt.Errorf("open board state: %w", err)
	}
	boardOpen := true
	defer func() {
		if boardOpen {
			board.Close()
		}
	}()
	if first != nil {
		fmt.Printf("first boot: created account %q with password %s\n", first.AdminUser, first.AdminPassword)
		fmt.Printf("first boot: the password is also in %s (0600); it must be changed at first login\n",
			filepath.Join(o.stateDir, "initial-admin-password"))
	}

	stop := make(chan stopReason, 1)
	request := func(r stopReason) {
		select {
		case stop <- r:
		default:
		}
	}
	// The gate exists before the services it guards (Redfish shows its attestation), so
	// its revokers reach them through closures; gate.Run starts only once both exist.
	var (
		svc     *redfish.Service
		ipmiSrv *ipmi.Server
	)
	gate, err := newGate(o, board, log,
		func(reason string) { svc.RevokeAllSessions(reason) },
		func(reason string) { ipmiSrv.RevokeAll(reason) })
	if err != nil {
		return 1, err
	}
	svc, err = redfish.New(redfish.Config{
		Attestation:     gate, // nil without a verified bmc-config: reported as not attested
		Board:           board,
		Logger:          log,
		ExtraRegistries: []event.Registry{gatehttp.Registry()},
		OnManagerReset: func(resetType string) {
			log.Info("manager reset requested", "type", resetType)
			request(stopReset)
		},
		OnResetToDefaults: func() {
			log.Info("reset to defaults requested")
			request(stopResetToDefaults)
		},
	})
	if err != nil {
		return 1, fmt.Errorf("start Redfish service: %w", err)
	}

	// What the interfaces consult: the gate, or, without a verified bmc-config, a gate
	// that never opens.
	var guard interface {
		gatehttp.StateSource
		IsOpen() bool
	} = closedGate{}
	if gate != nil {
		guard = gate
	}

	// The simulated host's serial console, which IPMI Serial over LAN attaches to.
	hostConsole := console.New(board.Clock, board.Power.State, board.ID())
	defer hostConsole.Stop()
	ipmiSrv, err = ipmi.NewServer(ipmi.ServerConfig{
		Board:   board,
		Logger:  log,
		Console: hostConsole,
		Gate:    ipmi.GateFunc(guard.IsOpen),
	})
	if err != nil {
		return 1, fmt.Errorf("start IPMI server: %w", err)
	}

	gateDone := make(chan error, 1)
	if gate != nil {
		go func() { gateDone <- gate.Run(ctx) }()
		go reportGateOpen(ctx, gate, log)
		go useRoTSealingKey(ctx, gate, board, log)
	}

	srv := &http.Server{
		Handler:           gatehttp.Handler(gatehttp.Config{Gate: guard}, svc.Handler()),
		TLSConfig:         id.ServerConfig(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelDebug),
	}
	serveErr := make(chan error, 1)
	go func() { serveErr <- srv.ServeTLS(tlsidentity.OnlyTLS(ln), "", "") }()

	url := "https://" + ln.Addr().String()
	fmt.Printf("redfish: listening on %s\n", url)
	log.Info("serving Redfish", "url", url)
	rd := ready{Redfish: url, PID: os.Getpid()}

	ipmiCtx, stopIPMI := context.WithCancel(ctx)
	defer stopIPMI()
	ipmiDone := make(chan error, 1)
	if ipmiPC != nil {
		go func() { ipmiDone <- ipmiSrv.Serve(ipmiCtx, ipmiPC) }()
		rd.IPMI = ipmiPC.LocalAddr().String()
		fmt.Printf("ipmi: listening on udp %s\n", rd.IPMI)
		log.Info("serving IPMI over LAN", "addr", rd.IPMI, "enabled", board.NetworkProtocol().IPMIEnabled)
	}
	if o.readyFile != "" {
		b, _ := json.Marshal(rd)
		if err := record.WriteFile(o.readyFile, b, 0o644); err != nil {
			return 1, fmt.Errorf("write ready file: %w", err)
		}
	}

	var reason stopReason
	select {
	case <-ctx.Done():
		reason = stopSignal
	case reason = <-stop:
	case err := <-serveErr:
		return 1, fmt.Errorf("serve Redfish: %w", err)
	case err := <-ipmiDone:
		return 1, fmt.Errorf("serve IPMI: %w", err)
	case err := <-gateDone:
		return 1, fmt.Errorf("gate: %w", err)
	}

	// Finish in-flight requests (the reset's own 204 among them), then flush state.
	shutdownCtx, cancelShutdown := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancelShutdown()
	if err := srv.Shutdown(shutdownCtx); err != nil && !errors.Is(err, http.ErrServerClosed) {
		log.Warn("Redfish shutdown", "err", err)
	}
	stopIPMI()
	if ipmiPC != nil {
		if err := <-ipmiDone; err != nil {
			log.Warn("IPMI shutdown", "err", err)
		}
	}
	switch reason {
	case stopResetToDefaults:
		boardOpen = false
		if err := board.ResetToDefaults(); err != nil {
			return 1, fmt.Errorf("reset to defaults: %w", err)
		}
		log.Info("BMC state wiped; exiting for the supervisor to restart", "status", ExitReset)
		return ExitReset, nil
	case stopReset:
		boardOpen = false
		if err := board.Close(); err != nil {
			return 1, fmt.Errorf("flush board state: %w", err)
		}
		log.Info("state flushed; exiting for the supervisor to restart", "status", ExitReset)
		return ExitReset, nil
	}
	boardOpen = false
	if err := board.Close(); err != nil {
		return 1, fmt.Errorf("flush board state: %w", err)
	}
	return 0, nil
}
