// Package sensor owns the board's simulated sensors: their identity (the
// Redfish Id and the IPMI sensor number, entity, type, units and SDR
// linearisation, so the IPMI layer can render SDRs from them), their
// thresholds, and readings that follow the host power state with
// first-order dynamics.
//
// A Set ticks once a second on the board clock. Each sensor moves towards
// the target of the current power state (host powered: PoweringOn, On or
// PoweringOff; otherwise standby) as v += (target-v)*(1-exp(-dt/tau)), with
// a small deterministic multiplicative noise on the reported value. After
// each tick the thresholds are evaluated (with a hysteresis of 1% of the
// range when a status improves) and every status change is reported through
// the onThreshold callback. Sensors marked PowerGated (fans, the 12V rail:
// rails and fans that are off in standby) are only evaluated once the host
// has been On for PowerOnSettle; otherwise their status is OK.
//
// The package knows nothing of events, Redfish or IPMI transports.
package sensor

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

// Reading is a sensor value at a time.
type Reading struct {
	Value float64
	Time  time.Time
}

// Thresholds are the Redfish sensor thresholds; nil means not present.
type Thresholds struct {
	LowerCritical, LowerCaution, UpperCaution, UpperCritical *float64
}

// IPMI codes used by the sensors (IPMI 2.0 tables 42-3, 43-13, 43-15).
const (
	IPMITypeTemperature uint8 = 0x01
	IPMITypeVoltage     uint8 = 0x02
	IPMITypeFan         uint8 = 0x04
	IPMITypeOtherUnits  uint8 = 0x0B // "Other units-based sensor": used for watts, as OpenBMC does

	IPMIReadingThreshold uint8 = 0x01 // event/reading type code: threshold

	IPMIUnitDegreesC uint8 = 1
	IPMIUnitVolts    uint8 = 4
	IPMIUnitWatts    uint8 = 6
	IPMIUnitRPM      uint8 = 18

	IPMIEntityProcessor   uint8 = 0x03
	IPMIEntityPowerSupply uint8 = 0x0A
	IPMIEntityPowerModule uint8 = 0x14 // power module / DC-to-DC converter
	IPMIEntityFan         uint8 = 0x1D // fan / cooling device
	IPMIEntityAirInlet    uint8 = 0x37

	IPMILinear   uint8 = 0x00 // linearisation: linear
	IPMIUnsigned uint8 = 0x00 // analog data format: unsigned
)

// IPMI is a sensor's IPMI identity and the SDR fields (full sensor record,
// IPMI 2.0 §43.1) needed to convert readings:
//
//	value = L[(M*raw + B*10^BExp) * 10^RExp]   (L = identity for Linear)
//
// M and B are 10-bit signed, BExp and RExp 4-bit signed in the SDR.
type IPMI struct {
	Number         uint8
	EntityID       uint8
	EntityInstance uint8
	SensorType     uint8
	ReadingType    uint8 // 0x01 threshold
	BaseUnit       uint8 // IPMI unit code
	M              int16
	B              int16
	BExp           int8
	RExp           int8
	Linearization  uint8
	Analog         uint8  // 0 unsigned
	Name           string // ≤16 bytes (SDR ID string)
}

// FromRaw converts a raw reading byte to a value in the sensor's units.
func (p IPMI) FromRaw(raw uint8) float64 {
	return (float64(p.M)*float64(raw) + float64(p.B)*math.Pow10(int(p.BExp))) * math.Pow10(int(p.RExp))
}

// ToRaw converts a value to the nearest raw reading byte, clamped to 0..255.
func (p IPMI) ToRaw(v float64) uint8 {
	if p.M == 0 {
		return 0
	}
	r := (v/math.Pow10(int(p.RExp)) - float64(p.B)*math.Pow10(int(p.BExp))) / float64(p.M)
	r = math.Round(r)
	switch {
	case math.IsNaN(r) || r < 0:
		return 0
	case r > 255:
		return 255
	}
	return uint8(r)
}

// Resolution is the value step of one raw count.
func (p IPMI) Resolution() float64 {
	return math.Abs(float64(p.M)) * math.Pow10(int(p.RExp))
}

// Kind is the Redfish ReadingType of a sensor.
type Kind string

// Sensor kinds.
const (
	Temperature Kind = "Temperature"
	Rotational  Kind = "Rotational"
	Power       Kind = "Power"
	Voltage     Kind = "Voltage"
)

// Sensor is a sensor's static description.
type Sensor struct {
	ID              string // Redfish Id
	Name            string
	Kind            Kind
	Units           string // Redfish ReadingUnits: "Cel", "RPM", "W", "V"
	PhysicalContext string // Redfish PhysicalContext
	Thresholds      Thresholds
	RangeMin        float64
	RangeMax        float64
	IPMI            IPMI
	PowerGated      bool // only meaningful (and evaluated) while the host is On
}

// Status is a sensor's health, derived from its thresholds.
type Status string

// Statuses, in increasing order of severity.
const (
	OK       Status = "OK"
	Warning  Status = "Warning"
	Critical Status = "Critical"
)

func (s Status) level() int {
	switch s {
	case Warning:
		return 1
	case Critical:
		return 2
	}
	return 0
}

// Worst returns the most severe of the statuses (OK when there are none).
func Worst(statuses ...Status) Status {
	worst := OK
	for _, st := range statuses {
		if st.level() > worst.level() {
			worst = st
		}
	}
	return worst
}

// Threshold names (Redfish Thresholds property names).
const (
	UpperCaution  = "UpperCaution"
	UpperCritical = "UpperCritical"
	LowerCaution  = "LowerCaution"
	LowerCritical = "LowerCritical"
)

// Crossing describes the threshold behind a status change from old to new
// at value: the threshold of the more severe of the two statuses, on the
// side (upper or lower) the value is on, and whether the change asserts
// (worsens) or deasserts (improves) it. ok is false for old == new or when
// the sensor has no such threshold.
type Crossing struct {
	Threshold string  // UpperCaution, UpperCritical, LowerCaution, LowerCritical
	Value     float64 // the threshold value
	Assert    bool
	// SELOffset is the IPMI generic threshold event offset (IPMI 2.0 table
	// 42-2): 00h lower non-critical going low, 02h lower critical going low,
	// 07h upper non-critical going high, 09h upper critical going high.
	SELOffset uint8
}

// Crossing returns the threshold crossed by a change from old to new.
func (s Sensor) Crossing(old, new Status, value float64) (Crossing, bool) {
	if old == new {
		return Crossing{}, false
	}
	worse := new
	if old.level() > new.level() {
		worse = old
	}
	th := s.Thresholds
	upper := true
	if th.UpperCaution == nil && th.UpperCritical == nil {
		upper = false
	} else if th.LowerCaution != nil || th.LowerCritical != nil {
		// both sides exist: the value's side of the normal range's middle
		lo, hi := s.RangeMin, s.RangeMax
		if th.LowerCaution != nil {
			lo = *th.LowerCaution
		} else if th.LowerCritical != nil {
			lo = *th.LowerCritical
		}
		if th.UpperCaution != nil {
			hi = *th.UpperCaution
		} else if th.UpperCritical != nil {
			hi = *th.UpperCritical
		}
		upper = value >= (lo+hi)/2
	}
	c := Crossing{Assert: new.level() > old.level()}
	var p *float64
	switch {
	case upper && worse == Critical:
		c.Threshold, p, c.SELOffset = UpperCritical, th.UpperCritical, 0x09
	case upper:
		c.Threshold, p, c.SELOffset = UpperCaution, th.UpperCaution, 0x07
	case worse == Critical:
		c.Threshold, p, c.SELOffset = LowerCritical, th.LowerCritical, 0x02
	default:
		c.Threshold, p, c.SELOffset = LowerCaution, th.LowerCaution, 0x00
	}
	if p == nil {
		return Crossing{}, false
	}
	c.Value = *p
	return c, true
}

// status returns the status of value under th; margin > 0 moves the value
// that much towards each threshold (used for hysteresis).
func (th Thresholds) status(v, margin float64) Status {
	switch {
	case th.UpperCritical != nil && v+margin >= *th.UpperCritical,
		th.LowerCritical != nil && v-margin <= *th.LowerCritical:
		return Critical
	case th.UpperCaution != nil && v+margin >= *th.UpperCaution,
		th.LowerCaution != nil && v-margin <= *th.LowerCaution:
		return Warning
	}
	return OK
}

// Validate checks the thresholds are ordered LowerCritical ≤ LowerCaution <
// UpperCaution ≤ UpperCritical (for those present).
func (th Thresholds) Validate() error {
	order := []*float64{th.LowerCritical, th.LowerCaution, th.UpperCaution, th.UpperCritical}
	var prev *float64
	for _, p := range order {
		if p == nil {
			continue
		}
		if math.IsNaN(*p) || math.IsInf(*p, 0) {
			return ErrInvalidThresholds
		}
		if prev != nil && *p < *prev {
			return ErrInvalidThresholds
		}
		prev = p
	}
	return nil
}

// ErrInvalidThresholds is returned by SetThresholds for unordered values.
var ErrInvalidThresholds = errors.New("invalid sensor thresholds")

// model is a sensor's dynamic behaviour.
type model struct {
	standby, powered float64       // targets
	tau              time.Duration // first-order time constant
	noise            float64       // relative amplitude of the reported noise
}

func f(v float64) *float64 { return &v }

// boardSensors returns the board's sensors and their models.
func boardSensors() ([]Sensor, []model) {
	s := []Sensor{
		{
			ID: "CPU1Temp", Name: "CPU1 Temperature", Kind: Temperature, Units: "Cel", PhysicalContext: "CPU",
			Thresholds: Thresholds{UpperCaution: f(85), UpperCritical: f(95)}, RangeMin: 0, RangeMax: 255,
			IPMI: IPMI{Number: 0x01, EntityID: IPMIEntityProcessor, EntityInstance: 1, SensorType: IPMITypeTemperature,
				ReadingType: IPMIReadingThreshold, BaseUnit: IPMIUnitDegreesC, M: 1, Name: "CPU1 Temp"},
		},
		{
			ID: "InletTemp", Name: "Inlet Temperature", Kind: Temperature, Units: "Cel", PhysicalContext: "Intake",
			Thresholds: Thresholds{UpperCaution: f(35), UpperCritical: f(40)}, RangeMin: 0, RangeMax: 255,
			IPMI: IPMI{Number: 0x02, EntityID: IPMIEntityAirInlet, EntityInstance: 1, SensorType: IPMITypeTemperature,
				ReadingType: IPMIReadingThreshold, BaseUnit: IPMIUnitDegreesC, M: 1, Name: "Inlet Temp"},
		},
		{
			ID: "Fan1", Name: "Fan 1", Kind: Rotational, Units: "RPM", PhysicalContext: "Fan", PowerGated: true,
			Thresholds: Thresholds{LowerCritical: f(500), LowerCaution: f(1000)}, RangeMin: 0, RangeMax: 12750,
			IPMI: IPMI{Number: 0x10, EntityID: IPMIEntityFan, EntityInstance: 1, SensorType: IPMITypeFan,
				ReadingType: IPMIReadingThreshold, BaseUnit: IPMIUnitRPM, M: 50, Name: "Fan1"},
		},
		{
			ID: "Fan2", Name: "Fan 2", Kind: Rotational, Units: "RPM", PhysicalContext: "Fan", PowerGated: true,
			Thresholds: Thresholds{LowerCritical: f(500), LowerCaution: f(1000)}, RangeMin: 0, RangeMax: 12750,
			IPMI: IPMI{Number: 0x11, EntityID: IPMIEntityFan, EntityInstance: 2, SensorType: IPMITypeFan,
				ReadingType: IPMIReadingThreshold, BaseUnit: IPMIUnitRPM, M: 50, Name: "Fan2"},
		},
		{
			ID: "PSU1InputPower", Name: "PSU1 Input Power", Kind: Power, Units: "W", PhysicalContext: "PowerSupply",
			Thresholds: Thresholds{UpperCaution: f(700), UpperCritical: f(800)}, RangeMin: 0, RangeMax: 1020,
			IPMI: IPMI{Number: 0x20, EntityID: IPMIEntityPowerSupply, EntityInstance: 1, SensorType: IPMITypeOtherUnits,
				ReadingType: IPMIReadingThreshold, BaseUnit: IPMIUnitWatts, M: 4, Name: "PSU1 Input Power"},
		},
		{
			ID: "VR12V", Name: "12V Rail", Kind: Voltage, Units: "V", PhysicalContext: "VoltageRegulator", PowerGated: true,
			Thresholds: Thresholds{LowerCritical: f(10.8), LowerCaution: f(11.4), UpperCaution: f(12.6), UpperCritical: f(13.2)},
			RangeMin:   0, RangeMax: 15.3,
			IPMI: IPMI{Number: 0x30, EntityID: IPMIEntityPowerModule, EntityInstance: 1, SensorType: IPMITypeVoltage,
				ReadingType: IPMIReadingThreshold, BaseUnit: IPMIUnitVolts, M: 6, RExp: -2, Name: "12V Rail"},
		},
	}
	m := []model{
		{standby: 35, powered: 65, tau: 10 * time.Second, noise: 0.003},
		{standby: 22, powered: 24, tau: 60 * time.Second, noise: 0.003},
		{standby: 0, powered: 6000, tau: 2 * time.Second, noise: 0.005},
		{standby: 0, powered: 5800, tau: 2 * time.Second, noise: 0.005},
		{standby: 15, powered: 350, tau: time.Second, noise: 0.01},
		{standby: 0, powered: 12.05, tau: 500 * time.Millisecond, noise: 0.0015},
	}
	return s, m
}

// TickInterval is how often a Set updates its readings.
const TickInterval = time.Second

// PowerOnSettle is how long the host must have been On before the
// thresholds of PowerGated sensors are evaluated.
const PowerOnSettle = 5 * time.Second

// Set is the board's sensors. It is safe for concurrent use.
type Set struct {
	clk         clock.Clock
	power       func() power.State
	onThreshold func(s Sensor, old, new Status, value float64)

	mu      sync.Mutex
	sensors []Sensor
	models  []model
	state   []float64 // smooth (noise-free) values
	read    []Reading // reported values
	status  []Status
	last    time.Time
	onSince time.Time // when the host was first seen On; zero while not On
	rng     *rand.Rand
	timer   clock.Timer
	stopped bool

	cbMu sync.Mutex // serializes onThreshold calls
}

// NewSet starts the board's sensors at the steady state of the current
// power state and ticks them every TickInterval on clk. onThreshold may be
// nil; it is called outside the Set's lock, in order.
func NewSet(clk clock.Clock, powerState func() power.State, onThreshold func(s Sensor, old, new Status, value float64)) *Set {
	sensors, models := boardSensors()
	st := &Set{
		clk: clk, power: powerState, onThreshold: onThreshold,
		sensors: sensors, models: models,
		state:  make([]float64, len(sensors)),
		read:   make([]Reading, len(sensors)),
		status: make([]Status, len(sensors)),
		last:   clk.Now(),
		rng:    rand.New(rand.NewPCG(0x1e0, 0x2007)),
	}
	ps := powerState()
	if ps == power.On {
		st.onSince = st.last.Add(-PowerOnSettle) // already settled
	}
	for i := range sensors {
		st.state[i] = st.target(i, ps)
		st.read[i] = Reading{Value: st.state[i], Time: st.last}
		st.status[i] = st.evaluate(i, ps, st.state[i], OK)
	}
	st.mu.Lock()
	st.timer = clk.AfterFunc(TickInterval, st.tick)
	st.mu.Unlock()
	return st
}

func powered(ps power.State) bool { return ps != power.Off && ps != "" }

func (st *Set) target(i int, ps power.State) float64 {
	if powered(ps) {
		return st.models[i].powered
	}
	return st.models[i].standby
}

// evaluate returns the status of sensor i at value v, given its previous
// status (hysteresis) and the power state (gating).
func (st *Set) evaluate(i int, ps power.State, v float64, prev Status) Status {
	s := st.sensors[i]
	if s.PowerGated && (ps != power.On || st.onSince.IsZero() || st.last.Sub(st.onSince) < PowerOnSettle) {
		return OK
	}
	now := s.Thresholds.status(v, 0)
	if now.level() < prev.level() {
		hyst := (s.RangeMax - s.RangeMin) * 0.01
		relaxed := s.Thresholds.status(v, hyst)
		if relaxed.level() > now.level() {
			now = relaxed
		}
		if now.level() > prev.level() {
			now = prev
		}
	}
	return now
}

type thresholdCall struct {
	s        Sensor
	old, new Status
	value    float64
}

func (st *Set) tick() {
	ps := st.power()
	st.mu.Lock()
	if st.stopped {
		st.mu.Unlock()
		return
	}
	now := st.clk.Now()
	dt := now.Sub(st.last)
	st.last = now
	switch {
	case ps != power.On:
		st.onSince = time.Time{}
	case st.onSince.IsZero():
		st.onSince = now
	}
	var calls []thresholdCall
	for i := range st.sensors {
		m := st.models[i]
		alpha := 1 - math.Exp(-dt.Seconds()/m.tau.Seconds())
		st.state[i] += (st.target(i, ps) - st.state[i]) * alpha
		v := st.state[i] * (1 + m.noise*(2*st.rng.Float64()-1))
		v = min(max(v, st.sensors[i].RangeMin), st.sensors[i].RangeMax)
		st.read[i] = Reading{Value: v, Time: now}
		old := st.status[i]
		st.status[i] = st.evaluate(i, ps, v, old)
		if st.status[i] != old {
			calls = append(calls, thresholdCall{st.sensors[i].clone(), old, st.status[i], v})
		}
	}
	st.cbMu.Lock() // taken before unlocking so calls of consecutive ticks stay in order
	st.mu.Unlock()
	if st.onThreshold != nil {
		for _, c := range calls {
			st.onThreshold(c.s, c.old, c.new, c.value)
		}
	}
	st.cbMu.Unlock()
	st.mu.Lock()
	if !st.stopped {
		st.timer = st.clk.AfterFunc(TickInterval, st.tick)
	}
	st.mu.Unlock()
}

// List returns the sensors in a stable order.
func (st *Set) List() []Sensor {
	st.mu.Lock()
	defer st.mu.Unlock()
	out := make([]Sensor, len(st.sensors))
	for i, s := range st.sensors {
		out[i] = s.clone()
	}
	return out
}

// clone returns s with its own copies of the threshold values.
func (s Sensor) clone() Sensor {
	s.Thresholds = s.Thresholds.clone()
	return s
}

func (th Thresholds) clone() Thresholds {
	cp := func(p *float64) *float64 {
		if p == nil {
			return nil
		}
		v := *p
		return &v
	}
	return Thresholds{cp(th.LowerCritical), cp(th.LowerCaution), cp(th.UpperCaution), cp(th.UpperCritical)}
}

func (st *Set) index(id string) int {
	for i, s := range st.sensors {
		if s.ID == id {
			return i
		}
	}
	return -1
}

// Get returns the sensor with Redfish Id id.
func (st *Set) Get(id string) (Sensor, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i := st.index(id); i >= 0 {
		return st.sensors[i].clone(), true
	}
	return Sensor{}, false
}

// Health returns the most severe status of all sensors, without copying them (Redfish
// renders it into every ComputerSystem and Chassis Status).
func (st *Set) Health() Status {
	st.mu.Lock()
	defer st.mu.Unlock()
	return Worst(st.status...)
}

// Read returns the latest reading and status of sensor id.
func (st *Set) Read(id string) (Reading, Status, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	if i := st.index(id); i >= 0 {
		return st.read[i], st.status[i], true
	}
	return Reading{}, "", false
}

// ByNumber returns the sensor with IPMI sensor number n.
func (st *Set) ByNumber(n uint8) (Sensor, bool) {
	st.mu.Lock()
	defer st.mu.Unlock()
	for _, s := range st.sensors {
		if s.IPMI.Number == n {
			return s.clone(), true
		}
	}
	return Sensor{}, false
}

// SetThresholds replaces the thresholds of sensor id (e.g. a Redfish PATCH
// or a test provoking a crossing); the new thresholds apply from the next
// tick. Values are not persisted.
func (st *Set) SetThresholds(id string, th Thresholds) error {
	if err := th.Validate(); err != nil {
		return fmt.Errorf("set thresholds of %s: %w", id, err)
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	i := st.index(id)
	if i < 0 {
		return fmt.Errorf("set thresholds: no sensor %q", id)
	}
	st.sensors[i].Thresholds = th.clone()
	return nil
}

// Stop stops ticking.
func (st *Set) Stop() {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.stopped = true
	if st.timer != nil {
		st.timer.Stop()
	}
}
