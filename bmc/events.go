package bmc

import (
	"crypto/rand"
	"fmt"
	"strconv"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/bmc/record"
	"github.com/ironroot-bmc/ironroot/bmc/sensor"
)

// IPMI identity of the board's event-only (discrete) sensors, used in the
// SEL fields of the events package bmc logs.
const (
	// HostPowerSensorNumber: System ACPI Power State (sensor type 22h),
	// sensor-specific offsets 00h S0/G0 working, 05h S5/G2 soft-off.
	HostPowerSensorNumber uint8 = 0x40
	// SessionAuditSensorNumber: Session Audit (sensor type 2Ah), offsets
	// 00h session activated, 02h invalid user name or password.
	SessionAuditSensorNumber uint8 = 0x41

	ipmiTypeACPIPowerState uint8 = 0x22
	ipmiTypeSessionAudit   uint8 = 0x2A
)

// Log appends a board event. messageID is a full MessageId
// ("IronrootEvent.1.0.PowerStateChanged") or a bare key of BoardRegistry
// ("PowerStateChanged"); an empty severity takes the registry's. Errors are
// logged, not returned: an event that cannot be stored must not fail the
// operation it reports.
func (b *Board) Log(messageID string, severity event.Severity, origin string, args ...string) {
	b.logEvent(event.Event{MessageID: messageID, Severity: severity, OriginURI: origin, Args: args})
}

// LogEvent appends e (with SEL fields, if any) and returns it with its ID
// and time; messageID and severity are completed as in Log.
func (b *Board) LogEvent(e event.Event) (event.Event, error) {
	if !strings.Contains(e.MessageID, ".") {
		e.MessageID = event.RegistryPrefix + ".1.0." + e.MessageID
	}
	if _, def, ok := event.LookupBoardMessage(e.MessageID); ok {
		if e.Severity == "" {
			e.Severity = def.Severity
		}
		if len(e.Args) != def.NumberOfArgs {
			b.Logger.Warn("event with wrong number of args", "message_id", e.MessageID, "args", len(e.Args), "want", def.NumberOfArgs)
		}
	}
	return b.Events.Append(e)
}

func (b *Board) logEvent(e event.Event) {
	if _, err := b.LogEvent(e); err != nil {
		b.Logger.Error("log event", "message_id", e.MessageID, "args", e.Args, "err", err)
	}
}

// accountEvent is the account store's Events hook.
func (b *Board) accountEvent(messageID string, args ...string) {
	e := event.Event{MessageID: messageID, Args: args, OriginURI: accountServiceURI}
	if strings.HasSuffix(messageID, ".LoginFailed") || messageID == "LoginFailed" {
		e.SEL = &event.SEL{RecordType: event.SELSystemEvent, GeneratorID: event.SELGeneratorBMC,
			SensorType: ipmiTypeSessionAudit, SensorNumber: SessionAuditSensorNumber,
			EventType: event.SELSensorSpecific, EventData: [3]byte{0x02, 0xFF, 0xFF}}
	}
	b.logEvent(e)
}

// persistPower is the power machine's persist callback.
func (b *Board) persistPower(p power.Persisted) error {
	if err := record.Save(b.path(PowerFile), powerVersion, p); err != nil {
		b.Logger.Error("persist power state", "err", err)
		return err
	}
	return nil
}

// powerChanged is the power machine's notify callback.
func (b *Board) powerChanged(from, to power.State, cause string) {
	b.Logger.Info("host power state changed", "from", from, "to", to, "cause", cause)
	e := event.Event{MessageID: event.PowerStateChanged, OriginURI: systemURI, Args: []string{string(from), string(to), cause}}
	switch to {
	case power.On:
		e.SEL = &event.SEL{RecordType: event.SELSystemEvent, GeneratorID: event.SELGeneratorBMC, SensorType: ipmiTypeACPIPowerState,
			SensorNumber: HostPowerSensorNumber, EventType: event.SELSensorSpecific, EventData: [3]byte{0x00, 0xFF, 0xFF}}
	case power.Off:
		e.SEL = &event.SEL{RecordType: event.SELSystemEvent, GeneratorID: event.SELGeneratorBMC, SensorType: ipmiTypeACPIPowerState,
			SensorNumber: HostPowerSensorNumber, EventType: event.SELSensorSpecific, EventData: [3]byte{0x05, 0xFF, 0xFF}}
	}
	b.logEvent(e)
}

// thresholdCrossed is the sensors' onThreshold callback: one event per
// status change, with an IPMI threshold SEL record (event data 1 = 50h |
// offset: trigger reading in byte 2, trigger threshold in byte 3).
func (b *Board) thresholdCrossed(s sensor.Sensor, old, new sensor.Status, value float64) {
	c, ok := s.Crossing(old, new, value)
	e := event.Event{OriginURI: chassisSensorsURI + s.ID}
	switch {
	case new == sensor.OK:
		e.MessageID, e.Severity = event.SensorReturnedToNormal, event.OK
		e.Args = []string{s.Name, formatReading(s, value)}
	default:
		e.MessageID, e.Severity = event.SensorThresholdCrossed, event.Severity(new)
		th, thv := "", ""
		if ok {
			th, thv = c.Threshold, formatReading(s, c.Value)
		}
		e.Args = []string{s.Name, th, thv, formatReading(s, value)}
	}
	if ok {
		et := s.IPMI.ReadingType
		if !c.Assert {
			et |= event.SELDeassertion
		}
		e.SEL = &event.SEL{RecordType: event.SELSystemEvent, GeneratorID: event.SELGeneratorBMC, SensorType: s.IPMI.SensorType,
			SensorNumber: s.IPMI.Number, EventType: et,
			EventData: [3]byte{0x50 | c.SELOffset, s.IPMI.ToRaw(value), s.IPMI.ToRaw(c.Value)}}
	}
	b.Logger.Warn("sensor status changed", "sensor", s.ID, "from", old, "to", new, "value", value)
	b.logEvent(e)
}

func formatReading(s sensor.Sensor, v float64) string {
	prec := 0
	switch s.Kind {
	case sensor.Temperature:
		prec = 1
	case sensor.Voltage:
		prec = 2
	}
	return strconv.FormatFloat(v, 'f', prec, 64) + " " + s.Units
}

// Admin password alphabet: letters, digits and symbols that need no quoting
// in a shell and are valid in an IPMI password.
const (
	pwUpper   = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	pwLower   = "abcdefghijklmnopqrstuvwxyz"
	pwDigits  = "0123456789"
	pwSymbols = "._~-"
	pwAlpha   = pwUpper + pwLower + pwDigits + pwSymbols // 66 symbols
)

// NewAdminPassword returns a random 20-character password from
// [A-Za-z0-9._~-] with at least one character of each class (crypto/rand,
// uniform per character, retried until all classes occur).
func NewAdminPassword() (string, error) {
	for {
		pw := make([]byte, adminPasswordLength)
		for i := range pw {
			c, err := randomIndex(len(pwAlpha))
			if err != nil {
				return "", err
			}
			pw[i] = pwAlpha[c]
		}
		s := string(pw)
		if strings.ContainsAny(s, pwUpper) && strings.ContainsAny(s, pwLower) &&
			strings.ContainsAny(s, pwDigits) && strings.ContainsAny(s, pwSymbols) && s[0] != '-' && s[0] != '~' {
			return s, nil
		}
	}
}

// randomIndex returns a uniform random number in [0, n), n ≤ 256.
func randomIndex(n int) (int, error) {
	limit := 256 / n * n
	for {
		var b [1]byte
		if _, err := rand.Read(b[:]); err != nil {
			return 0, fmt.Errorf("random password: %w", err)
		}
		if int(b[0]) < limit {
			return int(b[0]) % n, nil
		}
	}
}
