package ipmi

import (
	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/bmc/sensor"
)

// Commands (NetFn Sensor/Event).
const (
	cmdGetSensorHysteresis  = 0x25
	cmdGetSensorThresholds  = 0x27
	cmdGetSensorEventEnable = 0x29
	cmdGetSensorReading     = 0x2D
)

// thresholdSensor returns the threshold sensor with IPMI number n.
func (s *Server) thresholdSensor(n uint8) (sensor.Sensor, bool) {
	se, found := s.board.Sensors.ByNumber(n)
	return se, found && se.IPMI.ReadingType == sensor.IPMIReadingThreshold
}

// getSensorReading answers Get Sensor Reading (§35.14). A power-gated
// sensor reads "unavailable" while the host is not On.
func (s *Server) getSensorReading(r *request) reply {
	n := r.data[0]
	se, found := s.thresholdSensor(n)
	if !found {
		if n == sessionAuditSensor || n == hostPowerSensor {
			return ok(0x00, 0xC0, 0x00, 0x80) // discrete, no states asserted
		}
		return fail(ccNotPresent)
	}
	rd, _, _ := s.board.Sensors.Read(se.ID)
	if se.PowerGated && s.board.Power.State() != power.On {
		return ok(0x00, 0xC0|0x20, 0x00)
	}
	var cmp uint8
	th, v := se.Thresholds, rd.Value
	if th.LowerCaution != nil && v < *th.LowerCaution {
		cmp |= 0x01
	}
	if th.LowerCritical != nil && v < *th.LowerCritical {
		cmp |= 0x02
	}
	if th.UpperCaution != nil && v > *th.UpperCaution {
		cmp |= 0x08
	}
	if th.UpperCritical != nil && v > *th.UpperCritical {
		cmp |= 0x10
	}
	return ok(se.IPMI.ToRaw(v), 0xC0, cmp)
}

// getSensorThresholds answers Get Sensor Thresholds (§35.9).
func (s *Server) getSensorThresholds(r *request) reply {
	se, found := s.thresholdSensor(r.data[0])
	if !found {
		return fail(ccNotPresent)
	}
	p, th := se.IPMI, se.Thresholds
	return ok(thresholdMask(th),
		rawOr0(p, th.LowerCaution), rawOr0(p, th.LowerCritical), 0,
		rawOr0(p, th.UpperCaution), rawOr0(p, th.UpperCritical), 0)
}

func (s *Server) getSensorHysteresis(r *request) reply {
	if _, found := s.thresholdSensor(r.data[0]); !found {
		return fail(ccNotPresent)
	}
	return ok(0, 0)
}

func (s *Server) getSensorEventEnable(r *request) reply {
	if _, found := s.thresholdSensor(r.data[0]); !found {
		return fail(ccNotPresent)
	}
	return ok(0x00) // event messages and scanning are not controllable
}
