package sensor

import (
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

var epoch = time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)

type rig struct {
	clk   *clock.Fake
	mu    sync.Mutex
	ps    power.State
	set   *Set
	calls []string
}

func newRig(t *testing.T, ps power.State) *rig {
	t.Helper()
	r := &rig{clk: clock.NewFake(epoch), ps: ps}
	r.set = NewSet(r.clk, func() power.State { r.mu.Lock(); defer r.mu.Unlock(); return r.ps },
		func(s Sensor, old, new Status, v float64) {
			r.mu.Lock()
			r.calls = append(r.calls, fmt.Sprintf("%s:%s>%s", s.ID, old, new))
			r.mu.Unlock()
		})
	t.Cleanup(r.set.Stop)
	return r
}

func (r *rig) setPower(ps power.State) { r.mu.Lock(); r.ps = ps; r.mu.Unlock() }

func (r *rig) take() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	c := r.calls
	r.calls = nil
	return c
}

func (r *rig) value(t *testing.T, id string) float64 {
	t.Helper()
	rd, _, ok := r.set.Read(id)
	if !ok {
		t.Fatalf("no sensor %s", id)
	}
	return rd.Value
}

func near(v, want, tol float64) bool { return math.Abs(v-want) <= tol }

func TestAtLeastSixSensorsWithIdentity(t *testing.T) {
	r := newRig(t, power.Off)
	list := r.set.List()
	if len(list) < 6 {
		t.Fatalf("%d sensors", len(list))
	}
	ids, nums := map[string]bool{}, map[uint8]bool{}
	for _, s := range list {
		if ids[s.ID] || nums[s.IPMI.Number] {
			t.Errorf("duplicate identity %s/%d", s.ID, s.IPMI.Number)
		}
		ids[s.ID], nums[s.IPMI.Number] = true, true
		if len(s.IPMI.Name) == 0 || len(s.IPMI.Name) > 16 {
			t.Errorf("%s: IPMI name %q", s.ID, s.IPMI.Name)
		}
		if s.IPMI.Number == 0 || s.IPMI.Number == 0xFF || s.IPMI.ReadingType != IPMIReadingThreshold {
			t.Errorf("%s: IPMI %+v", s.ID, s.IPMI)
		}
		if err := s.Thresholds.Validate(); err != nil {
			t.Errorf("%s: %v", s.ID, err)
		}
		got, ok := r.set.ByNumber(s.IPMI.Number)
		if !ok || got.ID != s.ID {
			t.Errorf("ByNumber(%d) = %s", s.IPMI.Number, got.ID)
		}
	}
	for _, id := range []string{"CPU1Temp", "InletTemp", "Fan1", "Fan2", "PSU1InputPower", "VR12V"} {
		if !ids[id] {
			t.Errorf("missing sensor %s", id)
		}
	}
	want := map[string][2]uint8{ // IPMI sensor type, unit
		"CPU1Temp": {0x01, 1}, "InletTemp": {0x01, 1}, "Fan1": {0x04, 18}, "Fan2": {0x04, 18},
		"PSU1InputPower": {0x0B, 6}, "VR12V": {0x02, 4},
	}
	for id, w := range want {
		s, _ := r.set.Get(id)
		if s.IPMI.SensorType != w[0] || s.IPMI.BaseUnit != w[1] {
			t.Errorf("%s: type %#x unit %d, want %#x %d", id, s.IPMI.SensorType, s.IPMI.BaseUnit, w[0], w[1])
		}
	}
}

// The SDR linearisation covers each sensor's range in one byte, and
// converting to raw and back loses at most half a step.
func TestRawConversion(t *testing.T) {
	r := newRig(t, power.Off)
	for _, s := range r.set.List() {
		p := s.IPMI
		if p.M < -512 || p.M > 511 || p.B < -512 || p.B > 511 || p.BExp < -8 || p.BExp > 7 || p.RExp < -8 || p.RExp > 7 {
			t.Errorf("%s: SDR fields out of their bit widths: %+v", s.ID, p)
		}
		if p.Linearization != IPMILinear || p.Analog != IPMIUnsigned {
			t.Errorf("%s: not linear unsigned", s.ID)
		}
		res := p.Resolution()
		if lo := p.FromRaw(0); lo > s.RangeMin+res/2 {
			t.Errorf("%s: raw 0 = %v above RangeMin %v", s.ID, lo, s.RangeMin)
		}
		if hi := p.FromRaw(255); hi < s.RangeMax-res/2 {
			t.Errorf("%s: raw 255 = %v below RangeMax %v", s.ID, hi, s.RangeMax)
		}
		for i := 0; i <= 1000; i++ {
			v := s.RangeMin + (s.RangeMax-s.RangeMin)*float64(i)/1000
			back := p.FromRaw(p.ToRaw(v))
			if !near(back, v, res/2+1e-9) {
				t.Fatalf("%s: %v -> raw %d -> %v (resolution %v)", s.ID, v, p.ToRaw(v), back, res)
			}
		}
		for raw := 0; raw <= 255; raw++ {
			if got := p.ToRaw(p.FromRaw(uint8(raw))); got != uint8(raw) {
				t.Fatalf("%s: raw %d -> %v -> %d", s.ID, raw, p.FromRaw(uint8(raw)), got)
			}
		}
	}
	v12 := IPMI{M: 6, RExp: -2}
	if raw := v12.ToRaw(12.0); raw != 200 {
		t.Fatalf("12.0 V -> raw %d, want 200", raw)
	}
	if v := v12.FromRaw(200); !near(v, 12.0, 1e-9) {
		t.Fatalf("raw 200 -> %v V", v)
	}
	if v12.ToRaw(-1) != 0 || v12.ToRaw(100) != 255 || v12.ToRaw(math.NaN()) != 0 {
		t.Fatal("clamping")
	}
	withB := IPMI{M: 2, B: -5, BExp: 1, RExp: 0} // value = 2*raw - 50
	if withB.FromRaw(30) != 10 || withB.ToRaw(10) != 30 {
		t.Fatalf("B/BExp: %v %d", withB.FromRaw(30), withB.ToRaw(10))
	}
}

func TestSensorsFollowPower(t *testing.T) {
	r := newRig(t, power.Off)
	standby := map[string][2]float64{"CPU1Temp": {35, 1}, "InletTemp": {22, 0.5}, "Fan1": {0, 0}, "Fan2": {0, 0}, "PSU1InputPower": {15, 1}, "VR12V": {0, 0}}
	for id, w := range standby {
		if v := r.value(t, id); !near(v, w[0], w[1]) {
			t.Errorf("standby %s = %v, want %v±%v", id, v, w[0], w[1])
		}
	}
	r.setPower(power.On)
	r.clk.Advance(TickInterval)
	cpu1 := r.value(t, "CPU1Temp")
	if cpu1 <= 35 || cpu1 >= 50 {
		t.Fatalf("CPU after 1s powered = %v: want a first-order rise, not a jump", cpu1)
	}
	r.clk.Advance(2 * time.Minute)
	powered := map[string][2]float64{"CPU1Temp": {65, 1}, "InletTemp": {24, 0.5}, "Fan1": {6000, 60}, "Fan2": {5800, 60}, "PSU1InputPower": {350, 8}, "VR12V": {12.05, 0.05}}
	for id, w := range powered {
		if v := r.value(t, id); !near(v, w[0], w[1]) {
			t.Errorf("powered %s = %v, want %v±%v", id, v, w[0], w[1])
		}
		if _, st, _ := r.set.Read(id); st != OK {
			t.Errorf("powered %s status %s", id, st)
		}
	}
	if c := r.take(); len(c) != 0 {
		t.Fatalf("threshold calls with default thresholds: %v", c)
	}
	rd, _, _ := r.set.Read("CPU1Temp")
	if !rd.Time.Equal(r.clk.Now()) {
		t.Fatalf("reading time %v, now %v", rd.Time, r.clk.Now())
	}
	r.setPower(power.Off)
	r.clk.Advance(2 * time.Minute)
	for id, w := range standby {
		if v := r.value(t, id); !near(v, w[0], w[1]+0.5) {
			t.Errorf("back in standby %s = %v, want %v", id, v, w[0])
		}
	}
	if c := r.take(); len(c) != 0 {
		t.Fatalf("power-gated sensors raised %v when the host went off", c)
	}
}

func TestThresholdCrossingCallbacks(t *testing.T) {
	r := newRig(t, power.Off)
	if err := r.set.SetThresholds("CPU1Temp", Thresholds{UpperCaution: f(50), UpperCritical: f(60)}); err != nil {
		t.Fatal(err)
	}
	r.setPower(power.On)
	r.clk.Advance(2 * time.Minute)
	c := r.take()
	if len(c) != 2 || c[0] != "CPU1Temp:OK>Warning" || c[1] != "CPU1Temp:Warning>Critical" {
		t.Fatalf("heating: %v", c)
	}
	r.setPower(power.Off)
	r.clk.Advance(2 * time.Minute)
	c = r.take()
	if len(c) != 2 || c[0] != "CPU1Temp:Critical>Warning" || c[1] != "CPU1Temp:Warning>OK" {
		t.Fatalf("cooling: %v", c)
	}
	if err := r.set.SetThresholds("CPU1Temp", Thresholds{UpperCaution: f(60), UpperCritical: f(50)}); err == nil {
		t.Fatal("unordered thresholds accepted")
	}
	if err := r.set.SetThresholds("Nope", Thresholds{}); err == nil {
		t.Fatal("unknown sensor accepted")
	}
}

func TestFanLowerThresholdOnlyWhenOn(t *testing.T) {
	r := newRig(t, power.Off)
	// 7000 RPM can never be reached: the fan is below both lower thresholds.
	if err := r.set.SetThresholds("Fan1", Thresholds{LowerCritical: f(6500), LowerCaution: f(7000)}); err != nil {
		t.Fatal(err)
	}
	r.clk.Advance(10 * time.Second)
	if c := r.take(); len(c) != 0 {
		t.Fatalf("gated fan raised %v while off", c)
	}
	r.setPower(power.PoweringOn)
	r.clk.Advance(2 * time.Second)
	if c := r.take(); len(c) != 0 {
		t.Fatalf("gated fan raised %v while powering on", c)
	}
	r.setPower(power.On)
	r.clk.Advance(PowerOnSettle) // first On tick + 4 s
	if c := r.take(); len(c) != 0 {
		t.Fatalf("gated fan raised %v before settling", c)
	}
	r.clk.Advance(time.Second)
	c := r.take()
	if len(c) != 1 || c[0] != "Fan1:OK>Critical" {
		t.Fatalf("fan on: %v", c)
	}
	r.setPower(power.Off)
	r.clk.Advance(time.Second)
	if c := r.take(); len(c) != 1 || c[0] != "Fan1:Critical>OK" {
		t.Fatalf("fan off: %v", c)
	}
}

func TestCrossing(t *testing.T) {
	cpu := Sensor{Thresholds: Thresholds{UpperCaution: f(85), UpperCritical: f(95)}, RangeMax: 255}
	c, ok := cpu.Crossing(OK, Warning, 86)
	if !ok || c.Threshold != UpperCaution || c.Value != 85 || !c.Assert || c.SELOffset != 0x07 {
		t.Fatalf("%+v %v", c, ok)
	}
	c, _ = cpu.Crossing(Critical, Warning, 90)
	if c.Threshold != UpperCritical || c.Assert || c.SELOffset != 0x09 {
		t.Fatalf("%+v", c)
	}
	rail := Sensor{Thresholds: Thresholds{LowerCritical: f(10.8), LowerCaution: f(11.4), UpperCaution: f(12.6), UpperCritical: f(13.2)}, RangeMax: 15.3}
	c, _ = rail.Crossing(OK, Critical, 10)
	if c.Threshold != LowerCritical || c.SELOffset != 0x02 || !c.Assert {
		t.Fatalf("%+v", c)
	}
	c, _ = rail.Crossing(Warning, OK, 12.9)
	if c.Threshold != UpperCaution || c.Assert {
		t.Fatalf("%+v", c)
	}
	if _, ok := rail.Crossing(OK, OK, 12); ok {
		t.Fatal("no change reported as crossing")
	}
}

func TestListReturnsCopies(t *testing.T) {
	r := newRig(t, power.Off)
	l := r.set.List()
	*l[0].Thresholds.UpperCaution = 1
	s, _ := r.set.Get(l[0].ID)
	if *s.Thresholds.UpperCaution == 1 {
		t.Fatal("List shares threshold storage with the Set")
	}
}

func TestStopStopsTicking(t *testing.T) {
	r := newRig(t, power.Off)
	r.set.Stop()
	r.setPower(power.On)
	r.clk.Advance(time.Minute)
	if v := r.value(t, "Fan1"); v != 0 {
		t.Fatalf("ticked after Stop: %v", v)
	}
}
