package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/mgmtif"
)

// closedGate is the gate of a bmcd started without a verified bmc-config: every
// management interface stays closed. There is no flag that opens it; trust anchors only
// ever come from the bmc-config rotd verified and measured.
type closedGate struct{}

func (closedGate) State() mgmtif.State { return mgmtif.Locked }
func (closedGate) IsOpen() bool        { return false }

// newGate builds the gate from the verified bmc-config rotd passed as a sealed memfd. It
// returns nil, nil when bmcd was started without one (the interfaces then stay closed).
func newGate(o options, board *bmc.Board, log *slog.Logger, revokers ...mgmtif.Revoker) (*mgmtif.Gate, error) {
	if o.bmcConfigFD < 0 {
		log.Warn("no verified bmc-config (-bmc-config-fd): every management interface stays closed")
		return nil, nil
	}
	bc, err := mgmtif.LoadBMCConfig(o.bmcConfigFD)
	if err != nil {
		return nil, fmt.Errorf("load the verified bmc-config: %w", err)
	}
	cfg := mgmtif.NewGateConfig(bc)
	cfg.Clock, cfg.Events, cfg.Logger = board.Clock, board, log
	switch {
	case o.rotDev != "":
		cfg.Dial, cfg.SerialLine = mgmtif.SerialDialer(o.rotDev), true
	case o.rotAddr != "":
		cfg.Dial = mgmtif.TCPDialer(o.rotAddr)
	default:
		return nil, errors.New("-bmc-config-fd needs the RoT link: -rot-addr or -rot-dev")
	}
	cfg.Revokers = revokers
	g, err := mgmtif.NewGate(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure the gate: %w", err)
	}
	return g, nil
}

// reportGateOpen says on the console when the interfaces open, for the operator of a
// board (the event log has every transition with its reason).
func reportGateOpen(ctx context.Context, g *mgmtif.Gate, log *slog.Logger) {
	st, err := g.Wait(ctx, func(s mgmtif.Status) bool { return s.State == mgmtif.Open })
	if err != nil {
		return
	}
	fmt.Println("gate: Open (the root of trust is attested; Redfish and IPMI answer)")
	log.Info("gate open", "reason", st.Reason)
}
