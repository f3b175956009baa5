package ipmi

import (
	"errors"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/power"
)

// Commands (NetFn Chassis).
const (
	cmdGetChassisCaps        = 0x00
	cmdGetChassisStatus      = 0x01
	cmdChassisControl        = 0x02
	cmdChassisIdentify       = 0x04
	cmdGetPOHCounter         = 0x0F
	cmdSetSystemBootOpts     = 0x08
	cmdGetSystemBootOpts     = 0x09
	cmdGetSystemRestartCause = 0x07
)

func (s *Server) getChassisCaps(*request) reply {
	return ok(0x00, 0x20, 0x20, 0x20, 0x20)
}

// getChassisStatus answers Get Chassis Status (§28.2) from the power
// machine and the location indicator.
func (s *Server) getChassisStatus(*request) reply {
	var pw uint8 = 0x40 // power restore policy: previous state
	if hostPowered(s.board.Power.State()) {
		pw |= 0x01
	}
	misc := uint8(0x40) // identify state supported
	if s.board.LocationIndicatorActive() {
		misc |= 0x20 // indefinite on
	}
	return ok(pw, 0x00, misc, 0x00)
}

// chassisControl maps Chassis Control (§28.3) onto power resets.
func (s *Server) chassisControl(r *request) reply {
	var rt power.ResetType
	switch r.data[0] & 0x0F {
	case 0x00:
		rt = power.ResetForceOff
	case 0x01:
		rt = power.ResetOn
	case 0x02:
		rt = power.ResetPowerCycle
	case 0x03:
		rt = power.ResetForceRestart
	case 0x04:
		rt = power.ResetNmi
	case 0x05:
		rt = power.ResetGracefulShutdown
	default:
		return fail(ccInvalidData)
	}
	s.log.Info("IPMI chassis control", "user", r.ss.userName, "reset", rt)
	if err := s.board.Power.Reset(rt); err != nil {
		if errors.Is(err, power.ErrNotAllowed) {
			return fail(ccNotInThisState)
		}
		s.log.Error("IPMI chassis control", "reset", rt, "err", err)
		return fail(ccUnspecified)
	}
	return ok()
}

// chassisIdentify turns the location indicator on for the requested
// interval (default 15 s; 0 = off) or indefinitely (force).
func (s *Server) chassisIdentify(r *request) reply {
	interval, force := 15, false
	if len(r.data) >= 1 {
		interval = int(r.data[0])
	}
	if len(r.data) >= 2 {
		force = r.data[1]&0x01 != 0
	}
	if s.identify != nil {
		s.identify.Stop()
		s.identify = nil
	}
	on := force || interval > 0
	if err := s.board.SetLocationIndicatorActive(on); err != nil {
		return fail(ccUnspecified)
	}
	if on && !force {
		s.identify = s.clk.AfterFunc(time.Duration(interval)*time.Second, func() {
			if err := s.board.SetLocationIndicatorActive(false); err != nil {
				s.log.Warn("identify off", "err", err)
			}
		})
	}
	return ok()
}

func (s *Server) getPOHCounter(*request) reply { return ok(60, 0, 0, 0, 0) }

func (s *Server) getRestartCause(*request) reply { return ok(0x00, lanChannel) }

// bootParams holds the boot option parameters kept only in memory: set in
// progress (0) and boot info acknowledge (4).
type bootParams struct {
	inProgress uint8
	ack        [2]byte
}

// Boot device selectors of boot flags data 2, bits 5:2 (table 28-14).
var bootDevices = []struct {
	sel    uint8
	target power.BootSource
}{
	{0x0, power.BootNone}, {0x1, power.BootPxe}, {0x2, power.BootHdd}, {0x3, power.BootHdd},
	{0x5, power.BootCd}, {0x6, power.BootBiosSetup},
}

// setBootOptions answers Set System Boot Options (§28.12) for parameters
// 0 (set in progress), 4 (boot info acknowledge) and 5 (boot flags).
func (s *Server) setBootOptions(r *request) reply {
	param, d := r.data[0]&0x7F, r.data[1:]
	switch param {
	case 0:
		if len(d) < 1 {
			return fail(ccRequestDataLength)
		}
		s.bootParam.inProgress = d[0] & 0x03
		return ok()
	case 4:
		if len(d) < 2 {
			return fail(ccRequestDataLength)
		}
		s.bootParam.ack[1] = s.bootParam.ack[1]&^d[0] | d[1]&d[0]
		return ok()
	case 5:
		if len(d) < 5 {
			return fail(ccRequestDataLength)
		}
		o := s.board.Power.BootOverride()
		o.Mode = power.BootModeLegacy
		if d[0]&0x20 != 0 {
			o.Mode = power.BootModeUEFI
		}
		found := false
		for _, bd := range bootDevices {
			if bd.sel == d[1]>>2&0x0F {
				o.Target, found = bd.target, true
			}
		}
		if !found {
			return fail(ccInvalidData)
		}
		switch {
		case d[0]&0x80 == 0 || o.Target == power.BootNone:
			o.Enabled = power.BootDisabled
		case d[0]&0x40 != 0:
			o.Enabled = power.BootContinuous
		default:
			o.Enabled = power.BootOnce
		}
		if err := s.board.Power.SetBootOverride(o); err != nil {
			s.log.Warn("IPMI set boot override", "err", err)
			return fail(ccInvalidData)
		}
		s.log.Info("IPMI boot override set", "user", r.ss.userName, "target", o.Target, "enabled", o.Enabled, "mode", o.Mode)
		return ok()
	}
	return fail(ccParamNotSupported)
}

// getBootOptions answers Get System Boot Options (§28.13).
func (s *Server) getBootOptions(r *request) reply {
	param := r.data[0] & 0x7F
	head := []byte{0x01, param}
	switch param {
	case 0:
		return okData(append(head, s.bootParam.inProgress))
	case 4:
		return okData(append(head, 0x00, s.bootParam.ack[1]))
	case 5:
		o := s.board.Power.BootOverride()
		var b1, sel uint8
		if o.Enabled != power.BootDisabled {
			b1 |= 0x80
		}
		if o.Enabled == power.BootContinuous {
			b1 |= 0x40
		}
		if o.Mode == power.BootModeUEFI {
			b1 |= 0x20
		}
		for _, bd := range bootDevices {
			if bd.target == o.Target && (sel == 0) {
				sel = bd.sel
			}
		}
		return okData(append(head, b1, sel<<2, 0, 0, 0))
	}
	return fail(ccParamNotSupported)
}
