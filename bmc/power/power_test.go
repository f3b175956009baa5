package power

import (
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

var epoch = time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)

type rig struct {
	clk       *clock.Fake
	m         *Machine
	mu        sync.Mutex
	changes   []string
	persisted []Persisted
}

func newRig(t *testing.T) *rig {
	t.Helper()
	r := &rig{clk: clock.NewFake(epoch)}
	r.m = New(r.clk, Timing{PowerOn: 2 * time.Second, PowerOff: time.Second, OSShutdown: 5 * time.Second},
		func(p Persisted) error { r.mu.Lock(); r.persisted = append(r.persisted, p); r.mu.Unlock(); return nil },
		func(from, to State, cause string) {
			r.mu.Lock()
			r.changes = append(r.changes, fmt.Sprintf("%s>%s(%s)", from, to, cause))
			r.mu.Unlock()
		})
	t.Cleanup(r.m.Stop)
	return r
}

func (r *rig) take() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	s := strings.Join(r.changes, " ")
	r.changes = nil
	return s
}

func (r *rig) lastPersisted() Persisted {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.persisted[len(r.persisted)-1]
}

func (r *rig) want(t *testing.T, s State) {
	t.Helper()
	if got := r.m.State(); got != s {
		t.Fatalf("state %s, want %s", got, s)
	}
}

func (r *rig) reset(t *testing.T, rt ResetType) {
	t.Helper()
	if err := r.m.Reset(rt); err != nil {
		t.Fatalf("Reset(%s): %v", rt, err)
	}
}

func (r *rig) powerOn(t *testing.T) {
	t.Helper()
	r.reset(t, ResetOn)
	r.clk.Advance(2 * time.Second)
	r.want(t, On)
	r.take()
}

func TestPowerOnTiming(t *testing.T) {
	r := newRig(t)
	r.want(t, Off)
	r.reset(t, ResetOn)
	r.want(t, PoweringOn)
	r.clk.Advance(2*time.Second - time.Millisecond)
	r.want(t, PoweringOn)
	r.clk.Advance(time.Millisecond)
	r.want(t, On)
	if got := r.take(); got != "Off>PoweringOn(On) PoweringOn>On(On)" {
		t.Fatalf("changes %q", got)
	}
	if p := r.lastPersisted(); p.State != On {
		t.Fatalf("persisted %+v", p)
	}
	if r.m.PowerOnCount() != 1 {
		t.Fatalf("PowerOnCount %d", r.m.PowerOnCount())
	}
}

func TestGracefulShutdownWaitsForOS(t *testing.T) {
	r := newRig(t)
	r.powerOn(t)
	r.reset(t, ResetGracefulShutdown)
	r.want(t, PoweringOff)
	r.clk.Advance(5*time.Second - time.Millisecond) // the OS is still shutting down
	r.want(t, PoweringOff)
	r.clk.Advance(time.Millisecond + time.Second - time.Millisecond)
	r.want(t, PoweringOff) // OS down, power going off
	r.clk.Advance(time.Millisecond)
	r.want(t, Off)
	if got := r.take(); got != "On>PoweringOff(GracefulShutdown) PoweringOff>Off(GracefulShutdown)" {
		t.Fatalf("changes %q", got)
	}
}

func TestForceOffDoesNotWaitForOS(t *testing.T) {
	r := newRig(t)
	r.powerOn(t)
	r.reset(t, ResetForceOff)
	r.want(t, PoweringOff)
	r.clk.Advance(time.Second)
	r.want(t, Off)
	if got := r.take(); got != "On>PoweringOff(ForceOff) PoweringOff>Off(ForceOff)" {
		t.Fatalf("changes %q", got)
	}
}

func TestForceOffCutsGracefulShutdownShort(t *testing.T) {
	r := newRig(t)
	r.powerOn(t)
	r.reset(t, ResetGracefulShutdown)
	r.clk.Advance(2 * time.Second)
	r.reset(t, ResetForceOff)
	r.clk.Advance(time.Second)
	r.want(t, Off)
	r.clk.Advance(10 * time.Second) // the stale OS timer must not fire
	r.want(t, Off)
	if got := r.take(); got != "On>PoweringOff(GracefulShutdown) PoweringOff>Off(ForceOff)" {
		t.Fatalf("changes %q", got)
	}
}

func TestPushPowerButton(t *testing.T) {
	r := newRig(t)
	r.reset(t, ResetPushPowerButton)
	r.clk.Advance(2 * time.Second)
	r.want(t, On)
	r.reset(t, ResetPushPowerButton) // ACPI power button: graceful
	r.clk.Advance(5 * time.Second)
	r.want(t, PoweringOff)
	r.clk.Advance(time.Second)
	r.want(t, Off)
}

func TestRestartsAndCycle(t *testing.T) {
	r := newRig(t)
	r.powerOn(t)

	r.reset(t, ResetGracefulRestart)
	r.want(t, PoweringOff)
	r.clk.Advance(5 * time.Second)
	r.want(t, PoweringOn)
	r.clk.Advance(2 * time.Second)
	r.want(t, On)
	if got := r.take(); got != "On>PoweringOff(GracefulRestart) PoweringOff>PoweringOn(GracefulRestart) PoweringOn>On(GracefulRestart)" {
		t.Fatalf("graceful restart: %q", got)
	}

	r.reset(t, ResetForceRestart)
	r.want(t, PoweringOn)
	r.clk.Advance(2 * time.Second)
	r.want(t, On)
	if got := r.take(); got != "On>PoweringOn(ForceRestart) PoweringOn>On(ForceRestart)" {
		t.Fatalf("force restart: %q", got)
	}

	r.reset(t, ResetPowerCycle)
	r.clk.Advance(time.Second)
	r.want(t, Off)
	r.clk.Advance(time.Second)
	r.want(t, PoweringOn)
	r.clk.Advance(2 * time.Second)
	r.want(t, On)
	if got := r.take(); got != "On>PoweringOff(PowerCycle) PoweringOff>Off(PowerCycle) Off>PoweringOn(PowerCycle) PoweringOn>On(PowerCycle)" {
		t.Fatalf("power cycle: %q", got)
	}
	if n := r.m.PowerOnCount(); n != 4 {
		t.Fatalf("PowerOnCount %d, want 4", n)
	}
}

func TestNmiOnlyWhenOn(t *testing.T) {
	r := newRig(t)
	if err := r.m.Reset(ResetNmi); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Nmi while Off: %v", err)
	}
	r.reset(t, ResetOn)
	if err := r.m.Reset(ResetNmi); !errors.Is(err, ErrNotAllowed) {
		t.Fatalf("Nmi while PoweringOn: %v", err)
	}
	r.clk.Advance(2 * time.Second)
	r.take()
	r.reset(t, ResetNmi)
	r.want(t, On)
	if r.m.NmiCount() != 1 || r.take() != "" {
		t.Fatal("Nmi changed state or was not counted")
	}
}

func TestInvalidCombinationsRejected(t *testing.T) {
	r := newRig(t)
	for _, rt := range []ResetType{ResetGracefulRestart, ResetForceRestart, ResetPowerCycle, ResetNmi} {
		if err := r.m.Reset(rt); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s while Off: %v", rt, err)
		}
	}
	r.reset(t, ResetOn) // PoweringOn
	for _, rt := range []ResetType{ResetGracefulShutdown, ResetGracefulRestart, ResetPushPowerButton, ResetNmi} {
		if err := r.m.Reset(rt); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s while PoweringOn: %v", rt, err)
		}
	}
	r.clk.Advance(2 * time.Second)
	r.reset(t, ResetGracefulShutdown) // PoweringOff
	for _, rt := range []ResetType{ResetOn, ResetForceRestart, ResetPowerCycle, ResetNmi, ResetPushPowerButton} {
		if err := r.m.Reset(rt); !errors.Is(err, ErrNotAllowed) {
			t.Errorf("%s while PoweringOff: %v", rt, err)
		}
	}
	if err := r.m.Reset("Hibernate"); !errors.Is(err, ErrUnknownResetType) {
		t.Errorf("unknown reset type: %v", err)
	}
	// Accepted no-ops.
	r.clk.Advance(6 * time.Second)
	r.want(t, Off)
	r.take()
	for _, rt := range []ResetType{ResetForceOff, ResetGracefulShutdown} {
		r.reset(t, rt)
	}
	if r.take() != "" {
		t.Fatal("no-op produced a change")
	}
}

func TestBootOverrideOnceConsumedAtNextBoot(t *testing.T) {
	r := newRig(t)
	if err := r.m.SetBootOverride(BootOverride{Target: BootPxe, Enabled: BootOnce}); err != nil {
		t.Fatal(err)
	}
	if o := r.m.BootOverride(); o.Mode != BootModeUEFI || o.Enabled != BootOnce {
		t.Fatalf("override %+v", o)
	}
	if p := r.lastPersisted(); p.Override.Target != BootPxe {
		t.Fatalf("override not persisted: %+v", p)
	}
	r.reset(t, ResetOn)
	// Consumed as soon as the boot starts.
	if o := r.m.BootOverride(); o.Enabled != BootDisabled || o.Target != BootPxe {
		t.Fatalf("override after boot start %+v", o)
	}
	if r.m.LastBootSource() != BootPxe {
		t.Fatalf("last boot %s", r.m.LastBootSource())
	}
	r.clk.Advance(2 * time.Second)
	if p := r.lastPersisted(); p.Override.Enabled != BootDisabled || p.LastBootSource != BootPxe {
		t.Fatalf("persisted %+v", p)
	}
	r.reset(t, ResetForceRestart)
	r.clk.Advance(2 * time.Second)
	if r.m.LastBootSource() != BootNone {
		t.Fatalf("second boot used %s", r.m.LastBootSource())
	}
}

func TestBootOverrideContinuousKept(t *testing.T) {
	r := newRig(t)
	if err := r.m.SetBootOverride(BootOverride{Target: BootHdd, Enabled: BootContinuous, Mode: BootModeLegacy}); err != nil {
		t.Fatal(err)
	}
	r.powerOn(t)
	for i := 0; i < 3; i++ {
		r.reset(t, ResetForceRestart)
		r.clk.Advance(2 * time.Second)
		if o := r.m.BootOverride(); o.Enabled != BootContinuous || o.Target != BootHdd {
			t.Fatalf("boot %d: override %+v", i, o)
		}
		if r.m.LastBootSource() != BootHdd {
			t.Fatalf("boot %d used %s", i, r.m.LastBootSource())
		}
	}
}

func TestBootOverrideValidation(t *testing.T) {
	r := newRig(t)
	for _, o := range []BootOverride{
		{Target: "Floppy", Enabled: BootOnce},
		{Target: BootPxe, Enabled: "Always"},
		{Target: BootPxe, Enabled: BootOnce, Mode: "BIOS"},
		{Target: BootUefiShell, Enabled: BootOnce, Mode: BootModeLegacy},
		{},
	} {
		if err := r.m.SetBootOverride(o); !errors.Is(err, ErrInvalidBootOverride) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	if o := r.m.BootOverride(); o != (BootOverride{Target: BootNone, Enabled: BootDisabled, Mode: BootModeUEFI}) {
		t.Fatalf("rejected override applied: %+v", o)
	}
}

func TestPersistFailureRefusesOverride(t *testing.T) {
	clk := clock.NewFake(epoch)
	fail := errors.New("disk full")
	m := New(clk, Timing{}, func(Persisted) error { return fail }, nil)
	defer m.Stop()
	if err := m.SetBootOverride(BootOverride{Target: BootCd, Enabled: BootOnce}); !errors.Is(err, fail) {
		t.Fatalf("err %v", err)
	}
	if m.BootOverride().Target != BootNone {
		t.Fatal("override applied despite persist failure")
	}
	if m.Timing() != DefaultTiming() {
		t.Fatalf("zero Timing did not take defaults: %+v", m.Timing())
	}
}

func TestRestore(t *testing.T) {
	for _, tc := range []struct{ saved, want State }{{On, On}, {PoweringOn, On}, {PoweringOff, Off}, {Off, Off}, {"", Off}} {
		r := newRig(t)
		r.m.Restore(Persisted{State: tc.saved, Override: BootOverride{Target: BootCd, Enabled: BootContinuous}, LastBootSource: BootCd})
		r.want(t, tc.want)
		if o := r.m.BootOverride(); o.Target != BootCd || o.Enabled != BootContinuous || o.Mode != BootModeUEFI {
			t.Fatalf("restored override %+v", o)
		}
		if r.m.LastBootSource() != BootCd {
			t.Fatal("last boot source not restored")
		}
		if r.take() != "" {
			t.Fatal("Restore notified")
		}
	}
	// Restore cancels a pending transition.
	r := newRig(t)
	r.reset(t, ResetOn)
	r.m.Restore(Persisted{State: Off})
	r.clk.Advance(time.Minute)
	r.want(t, Off)
}

// A notify callback may itself request a reset (e.g. an automation that
// powers the host back on): no deadlock, and the order of changes is kept.
func TestNotifyMayReset(t *testing.T) {
	clk := clock.NewFake(epoch)
	var m *Machine
	var got []string
	m = New(clk, Timing{}, nil, func(from, to State, cause string) {
		got = append(got, string(from)+">"+string(to))
		if to == Off {
			if err := m.Reset(ResetOn); err != nil {
				t.Errorf("reset from notify: %v", err)
			}
		}
	})
	defer m.Stop()
	m.Restore(Persisted{State: On})
	if err := m.Reset(ResetForceOff); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	clk.Advance(2 * time.Second)
	if s := strings.Join(got, " "); s != "On>PoweringOff PoweringOff>Off Off>PoweringOn PoweringOn>On" {
		t.Fatalf("changes %q", s)
	}
}

func TestResetTableWellFormed(t *testing.T) {
	seen := map[[2]string]bool{}
	for _, row := range resets {
		k := [2]string{phases[row.from].name, string(row.rt)}
		if seen[k] {
			t.Errorf("duplicate row %v", k)
		}
		seen[k] = true
		found := false
		for _, rt := range ResetTypes() {
			found = found || rt == row.rt
		}
		if !found {
			t.Errorf("row with unknown reset type %v", k)
		}
	}
	for p, def := range phases {
		if def.dwell == nil && def.next != phase(p) {
			t.Errorf("phase %s has a successor but no dwell", def.name)
		}
	}
}
