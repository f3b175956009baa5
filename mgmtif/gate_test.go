package mgmtif_test

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/spdm"
)

var epoch = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// events records the gate's event log.
type events struct {
	mu  sync.Mutex
	got [][]string
}

func (e *events) Log(id string, _ event.Severity, _ string, args ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.got = append(e.got, append([]string{id}, args...))
}

func (e *events) list() [][]string {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([][]string(nil), e.got...)
}

type harness struct {
	rot     *rotsim.RoT
	gate    *mgmtif.Gate
	clk     *clock.Fake
	ev      *events
	revoked chan string
}

func start(t testing.TB, rot *rotsim.RoT, tweak ...func(*mgmtif.GateConfig)) *harness {
	t.Helper()
	h := &harness{rot: rot, clk: clock.NewFake(epoch), ev: &events{}, revoked: make(chan string, 64)}
	cfg := mgmtif.NewGateConfig(rot.BMCConfig)
	cfg.Clock, cfg.Dial, cfg.Events = h.clk, rot.Dial, h.ev
	cfg.LinkTimeout = 5 * time.Second
	cfg.Revokers = []mgmtif.Revoker{func(r string) { h.revoked <- r }}
	for _, f := range tweak {
		f(&cfg)
	}
	g, err := mgmtif.NewGate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	h.gate = g
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = g.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	return h
}

func (h *harness) wait(t testing.TB, what string, cond func(mgmtif.Status) bool) mgmtif.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := h.gate.Wait(ctx, cond)
	if err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
	return st
}

func (h *harness) waitState(t testing.TB, s mgmtif.State) mgmtif.Status {
	t.Helper()
	return h.wait(t, string(s), func(st mgmtif.Status) bool { return st.State == s })
}

// lockedWith waits for Locked and checks the reason.
func (h *harness) lockedWith(t *testing.T, want string) mgmtif.Status {
	t.Helper()
	st := h.wait(t, "Locked: "+want, func(st mgmtif.Status) bool {
		return st.State == mgmtif.Locked && strings.Contains(st.Reason, want)
	})
	t.Logf("Locked: %s", st.Reason)
	// The transition is in the event log with its reason.
	found := false
	for _, e := range h.ev.list() {
		if e[0] == event.GateStateChanged && e[2] == string(mgmtif.Locked) && strings.Contains(e[3], want) {
			found = true
		}
	}
	if !found {
		t.Fatalf("no GateStateChanged → Locked event mentioning %q in %v", want, h.ev.list())
	}
	return st
}

// pass advances the clock by one interval and waits for the next pass
// (or a state change).
func (h *harness) pass(t testing.TB) mgmtif.Status {
	t.Helper()
	before := h.gate.Status()
	h.clk.Advance(h.rot.BMCConfig.Gate.MeasurementInterval)
	return h.wait(t, "a re-check", func(st mgmtif.Status) bool { return st.Passes > before.Passes || st.State != before.State })
}

func TestGateOpens(t *testing.T) {
	h := start(t, rotsim.New(t, rotsim.Options{}))
	st := h.waitState(t, mgmtif.Open)
	if st.Result == nil || st.Result.Manifest.SVN != 5 || st.Result.Manifest.BoardID != rotsim.Board {
		t.Fatalf("open without the appraised manifest: %+v", st)
	}
	select {
	case <-h.rot.Healthy:
	case <-time.After(5 * time.Second):
		t.Fatal("no ReportHealthy after Open")
	}
	evs := h.ev.list()
	if len(evs) < 2 || evs[0][1] != "Locked" || evs[0][2] != "Attesting" || evs[1][1] != "Attesting" || evs[1][2] != "Open" {
		t.Fatalf("events %v", evs)
	}
	// Re-checks every interval keep it open.
	for range 3 {
		if st := h.pass(t); st.State != mgmtif.Open {
			t.Fatalf("re-check closed the gate: %+v", st)
		}
	}
	if st := h.gate.Status(); st.Passes < 4 {
		t.Fatalf("passes %d", st.Passes)
	}
	ctx := context.Background()
	key, err := h.gate.SealingKey(ctx)
	if err != nil || string(key) != string(h.rot.SealingKey) {
		t.Fatalf("sealing key %x, %v; want %x", key, err, h.rot.SealingKey)
	}
	ds, err := h.gate.DeviceStatus(ctx)
	if err != nil || ds.BoardID != rotsim.Board || ds.SVN != 5 {
		t.Fatalf("device status %+v, %v", ds, err)
	}
	if log, err := h.gate.BootLog(ctx); err != nil || string(log) != "test event log" {
		t.Fatalf("boot log %q, %v", log, err)
	}
	// The link is shared, serialized: a caller's signed measurements
	// inside the session, between the gate's own passes.
	err = h.gate.Link(ctx, func(ctx context.Context, r *spdm.Requester, s *spdm.Session) error {
		_, err := s.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if st := h.pass(t); st.State != mgmtif.Open {
		t.Fatalf("after a shared use of the link: %+v", st)
	}
}

func TestGateLocks(t *testing.T) {
	otherRoot, _, err := identity.EnsureDevRoot(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	otherVendor := rotsim.New(t, rotsim.Options{}).Vendor.Keys
	setBlock := func(typ uint8, f func(*spdm.MeasurementBlock)) func([]spdm.MeasurementBlock) []spdm.MeasurementBlock {
		return func(bs []spdm.MeasurementBlock) []spdm.MeasurementBlock {
			for i := range bs {
				if bs[i].ValueType&^spdm.MeasTypeRaw == typ {
					bs[i].Value = append([]byte(nil), bs[i].Value...)
					f(&bs[i])
				}
			}
			return bs
		}
	}
	for _, tc := range []struct {
		name string
		opt  rotsim.Options
		want string
	}{
		{"wrong identity root", rotsim.Options{ConfigRoot: otherRoot.Cert}, "certificate chain"},
		{"manifest signed by a key bmc-config does not accept", rotsim.Options{ConfigKeys: &otherVendor}, "manifest"},
		{"tampered manifest", rotsim.Options{Blocks: setBlock(spdm.MeasTypeManifest, func(b *spdm.MeasurementBlock) {
			b.Value[len(b.Value)-10] ^= 1
		})}, "manifest"},
		{"digest mismatch", rotsim.Options{Blocks: setBlock(spdm.MeasTypeMutableFirmware, func(b *spdm.MeasurementBlock) {
			b.Value[0] ^= 0xFF
		})}, "component digests"},
		{"SVN below the floor", rotsim.Options{SVN: 3, MinSVN: 4}, "below the floor"},
		{"measured SVN differs from the manifest", rotsim.Options{Blocks: setBlock(spdm.MeasTypeSVN, func(b *spdm.MeasurementBlock) {
			b.Value = rotsim.SVNBlock(9)
		})}, "SVN"},
		{"alias certificate states other firmware", rotsim.Options{AliasVersion: "0.9.0"}, "alias certificate"},
		{"debug mode", rotsim.Options{Blocks: setBlock(spdm.MeasTypeDeviceMode, func(b *spdm.MeasurementBlock) {
			b.Value[12] |= 0x02 // invasive debug active
		})}, "debug mode"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := start(t, rotsim.New(t, tc.opt))
			h.lockedWith(t, tc.want)
			if st := h.gate.Status(); st.Passes != 0 {
				t.Fatalf("passes %d", st.Passes)
			}
			// It retries, and fails again, never opening.
			h.clk.Advance(mgmtif.DefaultRetryDelay)
			h.wait(t, "a second attempt", func(st mgmtif.Status) bool { return st.State == mgmtif.Attesting || st.State == mgmtif.Locked })
			h.lockedWith(t, tc.want)
			if h.gate.IsOpen() {
				t.Fatal("open")
			}
		})
	}
}

// failsAfterOpen opens the gate, breaks the RoT and checks the next
// re-check locks the gate with the reason and revokes sessions.
func failsAfterOpen(t *testing.T, opt rotsim.Options, breakIt func(h *harness), want string) *harness {
	t.Helper()
	h := start(t, rotsim.New(t, opt))
	h.waitState(t, mgmtif.Open)
	for len(h.revoked) > 0 {
		<-h.revoked
	}
	breakIt(h)
	h.clk.Advance(h.rot.BMCConfig.Gate.MeasurementInterval)
	h.lockedWith(t, want)
	select {
	case r := <-h.revoked:
		if !strings.Contains(r, "locked") {
			t.Fatalf("revoke reason %q", r)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("sessions not revoked on Locked")
	}
	return h
}

func TestGateLocksAfterOpen(t *testing.T) {
	t.Run("responder gone", func(t *testing.T) {
		h := failsAfterOpen(t, rotsim.Options{}, func(h *harness) { h.rot.Disconnect() }, "GET_MEASUREMENTS")
		// Back: a fresh pass opens it again.
		h.rot.Reconnect()
		h.clk.Advance(mgmtif.DefaultRetryDelay)
		h.waitState(t, mgmtif.Open)
	})
	t.Run("replayed signature", func(t *testing.T) {
		h := failsAfterOpen(t, rotsim.Options{}, func(h *harness) { h.rot.ReplaySignatures(true) }, "signature")
		h.rot.ReplaySignatures(false)
		h.clk.Advance(mgmtif.DefaultRetryDelay)
		h.waitState(t, mgmtif.Open)
	})
	t.Run("chain change noticed via GET_DIGESTS", func(t *testing.T) {
		failsAfterOpen(t, rotsim.Options{}, func(h *harness) { h.rot.ChangeChain() }, "certificate chain changed")
	})
}

func TestGateHeartbeat(t *testing.T) {
	h := start(t, rotsim.New(t, rotsim.Options{HeartbeatPeriod: 10}))
	h.waitState(t, mgmtif.Open)
	h.clk.Advance(10 * time.Second) // a heartbeat, not a re-check
	h.clk.Advance(10 * time.Second)
	if st := h.pass(t); st.State != mgmtif.Open {
		t.Fatalf("%+v", st)
	}
	h.rot.Disconnect()
	h.clk.Advance(10 * time.Second)
	h.lockedWith(t, "HEARTBEAT")
}

// The gate's certificate check does not read the gate's (board's) clock:
// a clock far outside every certificate's validity changes nothing.
func TestGateIgnoresBoardClock(t *testing.T) {
	h := start(t, rotsim.New(t, rotsim.Options{}))
	h.waitState(t, mgmtif.Open)
	h.clk.Advance(100 * 365 * 24 * time.Hour) // a century later on the board's clock
	st := h.wait(t, "re-check", func(st mgmtif.Status) bool { return st.Passes >= 2 || st.State != mgmtif.Open })
	if st.State != mgmtif.Open {
		t.Fatalf("board clock moved the gate: %+v", st)
	}
}

func TestGateCertTimeMatters(t *testing.T) {
	// The certificate time is honoured: a time before the chain was
	// issued fails the chain check.
	h := start(t, rotsim.New(t, rotsim.Options{}), func(c *mgmtif.GateConfig) {
		c.CertTime = func() time.Time { return time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC) }
	})
	h.lockedWith(t, "certificate chain")
}

func TestNewGateRefusesZeroAnchors(t *testing.T) {
	if _, err := mgmtif.NewGate(mgmtif.GateConfig{Dial: rotsim.New(t, rotsim.Options{}).Dial}); err == nil {
		t.Fatal("zero anchors accepted")
	}
}

func TestTransitionTable(t *testing.T) {
	seen := map[mgmtif.State]bool{}
	for _, tr := range mgmtif.Transitions() {
		seen[tr.From], seen[tr.To] = true, true
		if tr.To == mgmtif.Locked && !tr.Revoke {
			t.Errorf("%s → Locked does not revoke", tr.From)
		}
		if tr.From == mgmtif.Locked && tr.To == mgmtif.Open {
			t.Error("Locked → Open skips the attestation")
		}
	}
	if len(seen) != 3 {
		t.Fatalf("states %v", seen)
	}
}

func TestSchedule(t *testing.T) {
	for _, tc := range []struct {
		interval, linkTimeout, retryDelay time.Duration
		want                              mgmtif.Timing
	}{
		// The default interval: re-check every 49 s, timeout 10 s, retry 5 s.
		{0, 0, 0, mgmtif.Timing{Interval: 60 * time.Second, Recheck: 49 * time.Second, LinkTimeout: 10 * time.Second, RetryDelay: 5 * time.Second}},
		{60 * time.Second, 0, 0, mgmtif.Timing{Interval: 60 * time.Second, Recheck: 49 * time.Second, LinkTimeout: 10 * time.Second, RetryDelay: 5 * time.Second}},
		{10 * time.Second, 0, 0, mgmtif.Timing{Interval: 10 * time.Second, Recheck: 7250 * time.Millisecond, LinkTimeout: 2500 * time.Millisecond, RetryDelay: 5 * time.Second}},
		{4 * time.Second, 0, 0, mgmtif.Timing{Interval: 4 * time.Second, Recheck: 2900 * time.Millisecond, LinkTimeout: time.Second, RetryDelay: 4 * time.Second}},
		// The floor of the link timeout; Recheck stays ≥ Interval/2.
		{2 * time.Second, 0, 0, mgmtif.Timing{Interval: 2 * time.Second, Recheck: time.Second, LinkTimeout: time.Second, RetryDelay: 2 * time.Second}},
		// Below 2·MinLinkTimeout the re-checks do not crowd each other.
		{time.Second, 0, 0, mgmtif.Timing{Interval: time.Second, Recheck: 500 * time.Millisecond, LinkTimeout: time.Second, RetryDelay: time.Second}},
		// Explicit values are kept, RetryDelay capped by the interval.
		{60 * time.Second, 300 * time.Millisecond, 90 * time.Second, mgmtif.Timing{Interval: 60 * time.Second, Recheck: 60*time.Second - 330*time.Millisecond, LinkTimeout: 300 * time.Millisecond, RetryDelay: 60 * time.Second}},
	} {
		got := mgmtif.Schedule(tc.interval, tc.linkTimeout, tc.retryDelay)
		if got != tc.want {
			t.Errorf("Schedule(%v, %v, %v) = %+v, want %+v", tc.interval, tc.linkTimeout, tc.retryDelay, got, tc.want)
		}
		if got.LinkTimeout <= got.Interval/2 && got.Recheck+got.LinkTimeout > got.Interval {
			t.Errorf("Schedule(%v): a stalled RoT locks %v after its last pass began, more than the interval", tc.interval, got.Recheck+got.LinkTimeout)
		}
	}
}

// A RoT that stops answering (SIGSTOP) right after a good pass locks the
// gate before Interval has passed since that pass: the next re-check is
// due Interval − LinkTimeout after the pass began and times out within
// LinkTimeout (real time). After it resumes, a fresh attestation opens it.
func TestGateRoTStalls(t *testing.T) {
	const linkTimeout = 300 * time.Millisecond
	h := start(t, rotsim.New(t, rotsim.Options{}), func(c *mgmtif.GateConfig) { c.LinkTimeout = linkTimeout })
	h.waitState(t, mgmtif.Open)
	tm := h.gate.Timing()
	if tm.LinkTimeout != linkTimeout || tm.Recheck+tm.LinkTimeout >= tm.Interval {
		t.Fatalf("timing %+v", tm)
	}
	// The first re-check is due Recheck after the first pass (in the
	// attestation) began, not Recheck after Open.
	open := h.gate.Status()
	h.clk.Advance(tm.Recheck)
	good := h.wait(t, "a re-check", func(st mgmtif.Status) bool { return st.Passes > open.Passes || st.State != mgmtif.Open })
	if good.State != mgmtif.Open || good.Checked.Sub(open.Checked) != tm.Recheck {
		t.Fatalf("re-check %+v, %v after the first pass", good, good.Checked.Sub(open.Checked))
	}
	for _, stall := range []struct {
		name string
		do   func()
	}{
		{"right after a pass", func() {}},
		// A caller of the link stuck on the stalled RoT does not delay the
		// gate's re-check beyond its own LinkTimeout.
		{"with a caller stuck on the link", func() {
			entered := make(chan struct{})
			go func() {
				_ = h.gate.Link(context.Background(), func(ctx context.Context, _ *spdm.Requester, s *spdm.Session) error {
					close(entered)
					_, err := s.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true})
					return err
				})
			}()
			<-entered
		}},
	} {
		t.Run(stall.name, func(t *testing.T) {
			h.rot.Stall()
			stall.do()
			h.clk.Advance(tm.Recheck)
			st := h.lockedWith(t, "GET_MEASUREMENTS")
			if d := st.Since.Sub(good.Checked); d >= tm.Interval {
				t.Fatalf("Locked %v after the last good pass, not within the interval %v", d, tm.Interval)
			}
			h.rot.Resume()
			h.clk.Advance(tm.RetryDelay)
			good = h.waitState(t, mgmtif.Open)
		})
	}
}

// The first retry after Locked waits at most one interval, however long
// RetryDelay is.
func TestGateRetryCappedByInterval(t *testing.T) {
	const interval = 2 * time.Second
	h := start(t, rotsim.New(t, rotsim.Options{Interval: interval}), func(c *mgmtif.GateConfig) {
		c.LinkTimeout, c.RetryDelay = 300*time.Millisecond, time.Minute
	})
	h.waitState(t, mgmtif.Open)
	if tm := h.gate.Timing(); tm.RetryDelay != interval {
		t.Fatalf("timing %+v", tm)
	}
	h.rot.Disconnect()
	h.clk.Advance(interval)
	h.lockedWith(t, "GET_MEASUREMENTS")
	h.rot.Reconnect()
	h.clk.Advance(interval)
	h.waitState(t, mgmtif.Open)
}
