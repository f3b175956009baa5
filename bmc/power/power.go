// Package power owns the simulated host's power state machine and its boot
// source override. The whole diagram is in this file: the phases (each with
// the Redfish PowerState it shows, how long it lasts and what follows it) in
// phases, and which reset request moves which phase where in resets.
//
//	Off  --On, PushPowerButton-->  PoweringOn  --PowerOn elapsed-->  On
//	On   --ForceOff-->  PoweringOff[powerDown]  --PowerOff elapsed-->  Off
//	On   --GracefulShutdown, PushPowerButton-->  PoweringOff[osShutdown]
//	         --OSShutdown elapsed (the OS is down)-->  PoweringOff[powerDown]
//	On   --GracefulRestart-->  PoweringOff[osRestart]  --OSShutdown elapsed-->  PoweringOn
//	On   --ForceRestart-->  PoweringOn (no wait for the OS)
//	On   --PowerCycle-->  PoweringOff[cycleDown]  --PowerOff-->  Off[cycleOff]  --PowerOff-->  PoweringOn
//	On   --Nmi-->  On (counted; Nmi is refused in every other state)
//
// plus the less common rows of resets (ForceOff during a boot or an OS
// shutdown, ForceRestart during a boot, ...). Requests already being carried
// out (On while On, ForceOff while Off) are accepted no-ops; anything without
// a row is refused with ErrNotAllowed.
//
// A boot starts whenever PoweringOn is entered: a Once override is consumed
// there (Enabled becomes Disabled) and LastBootSource records what the boot
// used. Every change is reported through the persist callback (so a restart
// of bmcd restores it with Restore) and every PowerState change through the
// notify callback (package bmc turns it into an event).
//
// The machine knows nothing of Redfish or IPMI; they map ErrNotAllowed to
// their own errors.
package power

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

// State is the host power state, with Redfish PowerState values.
type State string

// Power states.
const (
	Off         State = "Off"
	PoweringOn  State = "PoweringOn"
	On          State = "On"
	PoweringOff State = "PoweringOff"
)

// ResetType is a Redfish ResetType value.
type ResetType string

// Reset types the machine supports.
const (
	ResetOn               ResetType = "On"
	ResetForceOff         ResetType = "ForceOff"
	ResetGracefulShutdown ResetType = "GracefulShutdown"
	ResetGracefulRestart  ResetType = "GracefulRestart"
	ResetForceRestart     ResetType = "ForceRestart"
	ResetPowerCycle       ResetType = "PowerCycle"
	ResetNmi              ResetType = "Nmi"
	ResetPushPowerButton  ResetType = "PushPowerButton"
)

// ResetTypes returns the supported reset types (for ResetActionInfo).
func ResetTypes() []ResetType {
	return []ResetType{ResetOn, ResetForceOff, ResetGracefulShutdown, ResetGracefulRestart,
		ResetForceRestart, ResetPowerCycle, ResetNmi, ResetPushPowerButton}
}

// ErrNotAllowed is returned for a reset request the current state does not
// accept (e.g. Nmi while Off, GracefulRestart while PoweringOn).
var ErrNotAllowed = errors.New("reset not allowed in the current power state")

// ErrUnknownResetType is returned for a ResetType not in ResetTypes.
var ErrUnknownResetType = errors.New("unknown reset type")

// ErrInvalidBootOverride is returned by SetBootOverride for bad values.
var ErrInvalidBootOverride = errors.New("invalid boot source override")

// Timing sets how long the transitional phases last. A zero field takes its
// default: PowerOn 2s, PowerOff 1s, OSShutdown 5s.
type Timing struct {
	PowerOn    time.Duration // PoweringOn → On
	PowerOff   time.Duration // PoweringOff → Off once the OS is down (ForceOff, PowerCycle)
	OSShutdown time.Duration // how long the simulated OS takes to shut down on GracefulShutdown/Restart
}

// DefaultTiming returns the default timings.
func DefaultTiming() Timing {
	return Timing{PowerOn: 2 * time.Second, PowerOff: time.Second, OSShutdown: 5 * time.Second}
}

func (t Timing) withDefaults() Timing {
	d := DefaultTiming()
	if t.PowerOn <= 0 {
		t.PowerOn = d.PowerOn
	}
	if t.PowerOff <= 0 {
		t.PowerOff = d.PowerOff
	}
	if t.OSShutdown <= 0 {
		t.OSShutdown = d.OSShutdown
	}
	return t
}

// BootSource is a Redfish BootSourceOverrideTarget value.
type BootSource string

// Boot sources.
const (
	BootNone      BootSource = "None"
	BootPxe       BootSource = "Pxe"
	BootHdd       BootSource = "Hdd"
	BootCd        BootSource = "Cd"
	BootBiosSetup BootSource = "BiosSetup"
	BootUefiShell BootSource = "UefiShell"
)

// BootSources returns the supported override targets (AllowableValues).
func BootSources() []BootSource {
	return []BootSource{BootNone, BootPxe, BootHdd, BootCd, BootBiosSetup, BootUefiShell}
}

// BootEnabled is a Redfish BootSourceOverrideEnabled value.
type BootEnabled string

// Override enablement.
const (
	BootDisabled   BootEnabled = "Disabled"
	BootOnce       BootEnabled = "Once"
	BootContinuous BootEnabled = "Continuous"
)

// BootEnabledValues returns the supported enablement values.
func BootEnabledValues() []BootEnabled {
	return []BootEnabled{BootDisabled, BootOnce, BootContinuous}
}

// Boot modes (BootSourceOverrideMode).
const (
	BootModeUEFI   = "UEFI"
	BootModeLegacy = "Legacy"
)

// BootOverride is the boot source override.
type BootOverride struct {
	Target  BootSource
	Enabled BootEnabled
	Mode    string // "UEFI" (default) or "Legacy"
}

// Persisted is what the machine asks its owner to store; Restore takes it
// back. A transitional State restores as its destination.
type Persisted struct {
	State          State
	Override       BootOverride
	LastBootSource BootSource
}

// phase is the machine's internal state; several phases may show the same
// PowerState but differ in what comes next.
type phase uint8

const (
	phaseOff        phase = iota // Off, stays
	phaseBooting                 // PoweringOn for PowerOn, then On
	phaseOn                      // On, stays
	phaseOSShutdown              // PoweringOff while the OS shuts down, then powerDown
	phasePowerDown               // PoweringOff for PowerOff, then Off
	phaseOSRestart               // PoweringOff while the OS shuts down, then booting
	phaseCycleDown               // PoweringOff for PowerOff, then cycleOff
	phaseCycleOff                // Off for PowerOff (power removed), then booting
)

// phaseDef: the PowerState a phase shows, how long it lasts (nil: until a
// reset request) and the phase that follows.
type phaseDef struct {
	name  string
	state State
	dwell func(Timing) time.Duration
	next  phase
}

var phases = [...]phaseDef{
	phaseOff:        {"off", Off, nil, phaseOff},
	phaseBooting:    {"booting", PoweringOn, func(t Timing) time.Duration { return t.PowerOn }, phaseOn},
	phaseOn:         {"on", On, nil, phaseOn},
	phaseOSShutdown: {"osShutdown", PoweringOff, func(t Timing) time.Duration { return t.OSShutdown }, phasePowerDown},
	phasePowerDown:  {"powerDown", PoweringOff, func(t Timing) time.Duration { return t.PowerOff }, phaseOff},
	phaseOSRestart:  {"osRestart", PoweringOff, func(t Timing) time.Duration { return t.OSShutdown }, phaseBooting},
	phaseCycleDown:  {"cycleDown", PoweringOff, func(t Timing) time.Duration { return t.PowerOff }, phaseCycleOff},
	phaseCycleOff:   {"cycleOff", Off, func(t Timing) time.Duration { return t.PowerOff }, phaseBooting},
}

// resetRow: in phase from, request rt moves the machine to phase to; noop
// rows are accepted without any change. A request with no row is refused
// with ErrNotAllowed.
type resetRow struct {
	from phase
	rt   ResetType
	to   phase
	noop bool
}

var resets = []resetRow{
	{from: phaseOff, rt: ResetOn, to: phaseBooting},
	{from: phaseOff, rt: ResetPushPowerButton, to: phaseBooting},
	{from: phaseOff, rt: ResetForceOff, noop: true},
	{from: phaseOff, rt: ResetGracefulShutdown, noop: true},

	{from: phaseBooting, rt: ResetOn, noop: true},
	{from: phaseBooting, rt: ResetForceOff, to: phasePowerDown},
	{from: phaseBooting, rt: ResetForceRestart, to: phaseBooting}, // restarts the boot
	{from: phaseBooting, rt: ResetPowerCycle, to: phaseCycleDown},

	{from: phaseOn, rt: ResetOn, noop: true},
	{from: phaseOn, rt: ResetForceOff, to: phasePowerDown},
	{from: phaseOn, rt: ResetGracefulShutdown, to: phaseOSShutdown},
	{from: phaseOn, rt: ResetPushPowerButton, to: phaseOSShutdown},
	{from: phaseOn, rt: ResetGracefulRestart, to: phaseOSRestart},
	{from: phaseOn, rt: ResetForceRestart, to: phaseBooting},
	{from: phaseOn, rt: ResetPowerCycle, to: phaseCycleDown},
	{from: phaseOn, rt: ResetNmi, noop: true}, // counted, no state change

	{from: phaseOSShutdown, rt: ResetGracefulShutdown, noop: true},
	{from: phaseOSShutdown, rt: ResetForceOff, to: phasePowerDown}, // stop waiting for the OS

	{from: phaseOSRestart, rt: ResetGracefulRestart, noop: true},
	{from: phaseOSRestart, rt: ResetForceOff, to: phasePowerDown},
	{from: phaseOSRestart, rt: ResetForceRestart, to: phaseBooting},

	{from: phasePowerDown, rt: ResetForceOff, noop: true},
	{from: phasePowerDown, rt: ResetGracefulShutdown, noop: true},

	{from: phaseCycleDown, rt: ResetPowerCycle, noop: true},
	{from: phaseCycleDown, rt: ResetForceOff, to: phasePowerDown},

	{from: phaseCycleOff, rt: ResetPowerCycle, noop: true},
	{from: phaseCycleOff, rt: ResetOn, to: phaseBooting},
	{from: phaseCycleOff, rt: ResetForceOff, to: phaseOff}, // cancel the power-on half
}

func lookupReset(from phase, rt ResetType) (resetRow, bool) {
	for _, r := range resets {
		if r.from == from && r.rt == rt {
			return r, true
		}
	}
	return resetRow{}, false
}

// Machine is the host power state machine. It is safe for concurrent use.
type Machine struct {
	clk     clock.Clock
	timing  Timing
	persist func(Persisted) error
	notify  func(from, to State, cause string)

	mu       sync.Mutex
	phase    phase
	cause    string // the request that started the current sequence
	override BootOverride
	lastBoot BootSource
	boots    int
	nmis     int
	timer    clock.Timer
	gen      uint64 // invalidates timers of earlier phases
	stopped  bool
	lastErr  error // last persist error from a timer-driven transition
	flushing bool  // a goroutine is delivering notifyQ
	notifyQ  []change
}

type change struct {
	from, to State
	cause    string
}

// New returns a machine in Off with the override disabled. persist and
// notify may be nil. notify is called in order, outside the machine's lock,
// once per PowerState change; persist is called with the lock held after
// every change (its error fails the request that caused the change).
func New(clk clock.Clock, t Timing, persist func(Persisted) error, notify func(from, to State, cause string)) *Machine {
	if persist == nil {
		persist = func(Persisted) error { return nil }
	}
	if notify == nil {
		notify = func(State, State, string) {}
	}
	return &Machine{
		clk: clk, timing: t.withDefaults(), persist: persist, notify: notify,
		phase:    phaseOff,
		override: BootOverride{Target: BootNone, Enabled: BootDisabled, Mode: BootModeUEFI},
		lastBoot: BootNone,
	}
}

// Timing returns the effective timings.
func (m *Machine) Timing() Timing { return m.timing }

// Restore sets the machine to a persisted state without notifying or
// persisting. PoweringOn restores as On, PoweringOff as Off.
func (m *Machine) Restore(p Persisted) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.cancelTimerLocked()
	switch p.State {
	case On, PoweringOn:
		m.phase = phaseOn
	default:
		m.phase = phaseOff
	}
	m.cause = "restored"
	if validateOverride(&p.Override) == nil {
		m.override = p.Override
	}
	if slices.Contains(BootSources(), p.LastBootSource) {
		m.lastBoot = p.LastBootSource
	}
}

// State returns the current power state.
func (m *Machine) State() State {
	m.mu.Lock()
	defer m.mu.Unlock()
	return phases[m.phase].state
}

// Reset applies a reset request. It returns ErrUnknownResetType or
// ErrNotAllowed (wrapped, naming the state) when the request is refused.
func (m *Machine) Reset(rt ResetType) error {
	if !slices.Contains(ResetTypes(), rt) {
		return fmt.Errorf("reset %q: %w", rt, ErrUnknownResetType)
	}
	err := m.reset(rt)
	m.flushNotify()
	return err
}

func (m *Machine) reset(rt ResetType) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.stopped {
		return fmt.Errorf("reset %s: machine stopped", rt)
	}
	row, ok := lookupReset(m.phase, rt)
	if !ok {
		return fmt.Errorf("reset %s in %s (%s): %w", rt, phases[m.phase].state, phases[m.phase].name, ErrNotAllowed)
	}
	if rt == ResetNmi {
		m.nmis++
	}
	if row.noop {
		return nil
	}
	m.cause = string(rt)
	m.enterLocked(row.to)
	if err := m.persist(m.persistedLocked()); err != nil {
		return fmt.Errorf("reset %s: persist power state: %w", rt, err)
	}
	return nil
}

// enterLocked moves to phase p: records the PowerState change, starts a
// boot when entering PoweringOn, and arms the phase's timer.
func (m *Machine) enterLocked(p phase) {
	from := phases[m.phase].state
	m.cancelTimerLocked()
	m.phase = p
	def := phases[p]
	if def.state != from {
		m.notifyQ = append(m.notifyQ, change{from, def.state, m.cause})
	}
	if p == phaseBooting {
		m.startBootLocked()
	}
	if def.dwell != nil {
		gen := m.gen
		m.timer = m.clk.AfterFunc(def.dwell(m.timing), func() { m.elapsed(gen) })
	}
}

// startBootLocked: the boot source of this boot, and Once consumed.
func (m *Machine) startBootLocked() {
	m.boots++
	if m.override.Enabled == BootDisabled {
		m.lastBoot = BootNone
		return
	}
	m.lastBoot = m.override.Target
	if m.override.Enabled == BootOnce {
		m.override.Enabled = BootDisabled
	}
}

func (m *Machine) cancelTimerLocked() {
	m.gen++
	if m.timer != nil {
		m.timer.Stop()
		m.timer = nil
	}
}

// elapsed is the timer callback of the phase armed in generation gen.
func (m *Machine) elapsed(gen uint64) {
	m.mu.Lock()
	if gen != m.gen || m.stopped {
		m.mu.Unlock()
		return
	}
	m.timer = nil
	m.enterLocked(phases[m.phase].next)
	m.lastErr = m.persist(m.persistedLocked())
	m.mu.Unlock()
	m.flushNotify()
}

// flushNotify delivers queued PowerState changes in order without holding
// m.mu. One goroutine delivers at a time; a caller that finds a delivery in
// progress (another goroutine, or a notify callback that itself calls
// Reset) leaves its changes to that deliverer.
func (m *Machine) flushNotify() {
	m.mu.Lock()
	if m.flushing {
		m.mu.Unlock()
		return
	}
	m.flushing = true
	for len(m.notifyQ) > 0 {
		c := m.notifyQ[0]
		m.notifyQ = m.notifyQ[1:]
		m.mu.Unlock()
		m.notify(c.from, c.to, c.cause)
		m.mu.Lock()
	}
	m.flushing = false
	m.mu.Unlock()
}

func (m *Machine) persistedLocked() Persisted {
	return Persisted{State: phases[m.phase].state, Override: m.override, LastBootSource: m.lastBoot}
}

// Persisted returns the current persistable state.
func (m *Machine) Persisted() Persisted {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.persistedLocked()
}

// BootOverride returns the boot source override.
func (m *Machine) BootOverride() BootOverride {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.override
}

// SetBootOverride validates and sets the override. An empty Mode means UEFI.
// Refused (ErrInvalidBootOverride): unknown Target/Enabled/Mode, and
// UefiShell with Legacy mode. The override is persisted before it applies.
func (m *Machine) SetBootOverride(o BootOverride) error {
	if err := validateOverride(&o); err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	p := m.persistedLocked()
	p.Override = o
	if err := m.persist(p); err != nil {
		return fmt.Errorf("set boot override: persist: %w", err)
	}
	m.override = o
	return nil
}

func validateOverride(o *BootOverride) error {
	if o.Mode == "" {
		o.Mode = BootModeUEFI
	}
	switch {
	case !slices.Contains(BootSources(), o.Target):
		return fmt.Errorf("boot override target %q: %w", o.Target, ErrInvalidBootOverride)
	case !slices.Contains(BootEnabledValues(), o.Enabled):
		return fmt.Errorf("boot override enabled %q: %w", o.Enabled, ErrInvalidBootOverride)
	case o.Mode != BootModeUEFI && o.Mode != BootModeLegacy:
		return fmt.Errorf("boot override mode %q: %w", o.Mode, ErrInvalidBootOverride)
	case o.Target == BootUefiShell && o.Mode == BootModeLegacy:
		return fmt.Errorf("boot override target UefiShell needs mode UEFI: %w", ErrInvalidBootOverride)
	}
	return nil
}

// LastBootSource returns the source the most recent boot used (None: the
// normal boot order).
func (m *Machine) LastBootSource() BootSource {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastBoot
}

// PowerOnCount returns how many boots started since New.
func (m *Machine) PowerOnCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.boots
}

// NmiCount returns how many NMIs were delivered since New.
func (m *Machine) NmiCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.nmis
}

// Err returns the error of the last persist done by a timer-driven
// transition (nil if it succeeded).
func (m *Machine) Err() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.lastErr
}

// Stop cancels pending transitions; later Reset calls fail.
func (m *Machine) Stop() {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stopped = true
	m.cancelTimerLocked()
}
