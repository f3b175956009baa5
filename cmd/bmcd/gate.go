package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/account"
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

// sealingKeyRetry is how long useRoTSealingKey waits before asking the RoT again after a
// failed GetSealingKey while the gate stays Open.
const sealingKeyRetry = 5 * time.Second

// useRoTSealingKey fetches the sealing key from the RoT (GetSealingKey, inside the
// secured session) once the gate is Open and hands it to the board, which re-seals the
// IPMI keys under it and removes the interim key file. At each later Open (after a
// re-lock) it checks that the RoT still hands out the same key: a different one means a
// different device or vendor key set, which is logged as an error and not used (the
// secrets stay sealed under the first). A failure never changes the gate's decision.
func useRoTSealingKey(ctx context.Context, g *mgmtif.Gate, board *bmc.Board, log *slog.Logger) {
	var inUse []byte // the ID of the key in use (account.SealingKeyID)
	for {
		if _, err := g.Wait(ctx, func(s mgmtif.Status) bool { return s.State == mgmtif.Open }); err != nil {
			return
		}
		key, err := g.SealingKey(ctx)
		id := account.SealingKeyID(key)
		switch {
		case err == nil && inUse == nil:
			err = board.UseSealingKey(key)
			if err == nil {
				inUse = id
				log.Info("sealing key from the root of trust in use; interim key file removed", "key_id", fmt.Sprintf("%x", id))
			}
		case err == nil && !bytes.Equal(id, inUse):
			log.Error("the root of trust hands out a different sealing key than before (another device or vendor key set?); keeping the first",
				"key_id", fmt.Sprintf("%x", id), "in_use", fmt.Sprintf("%x", inUse))
		}
		clear(key)
		if err != nil {
			log.Error("the sealing key from the root of trust is not in use; the IPMI keys stay as they are", "err", err)
			if inUse == nil {
				select { // still Open: ask again
				case <-ctx.Done():
					return
				case <-time.After(sealingKeyRetry):
				}
				continue
			}
		}
		if _, err := g.Wait(ctx, func(s mgmtif.Status) bool { return s.State != mgmtif.Open }); err != nil {
			return
		}
	}
}
