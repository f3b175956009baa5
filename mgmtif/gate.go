package mgmtif

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/attest"
	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/rotlink"
	"github.com/ironroot-bmc/ironroot/spdm"
)

// Defaults of GateConfig.
const (
	DefaultInterval    = 60 * time.Second
	DefaultRetryDelay  = 5 * time.Second
	DefaultLinkTimeout = 10 * time.Second
	// MinLinkTimeout is the floor of a link timeout derived from a short
	// interval: a pass takes ~10 ms idle and well under 100 ms on two
	// loaded cores, so a second leaves room for a busy CI machine.
	MinLinkTimeout = time.Second
)

// Timing is the gate's schedule for one interval (Schedule).
type Timing struct {
	// Interval is the measurement interval of bmc-config: a RoT that
	// stops answering locks the gate within it when LinkTimeout ≤
	// Interval/2 (always for the derived LinkTimeout and Interval ≥ 2 s);
	// otherwise within Recheck + LinkTimeout (1.5 s for a 1 s interval).
	Interval time.Duration
	// Recheck is the period between the starts of consecutive passes:
	// Interval − LinkTimeout − LinkTimeout/10, so that a pass begun just
	// before the RoT stops is followed by one that times out, and locks
	// the gate, before Interval has passed (the tenth is the slack for
	// noticing the timeout and locking). It is never below Interval/2.
	Recheck time.Duration
	// LinkTimeout bounds each exchange on the link (and each pass as a
	// whole, waiting for the link included) in real time.
	LinkTimeout time.Duration
	// RetryDelay is the first wait after Locked, never above Interval.
	RetryDelay time.Duration
}

// Schedule derives the gate's timing from the interval; a linkTimeout or
// retryDelay ≤ 0 takes its default: LinkTimeout = Interval/4 within
// [MinLinkTimeout, DefaultLinkTimeout], RetryDelay = DefaultRetryDelay.
// RetryDelay is capped by the interval. For the default 60 s interval:
// re-check every 49 s, link timeout 10 s, retry after 5 s.
func Schedule(interval, linkTimeout, retryDelay time.Duration) Timing {
	if interval <= 0 {
		interval = DefaultInterval
	}
	if linkTimeout <= 0 {
		linkTimeout = min(DefaultLinkTimeout, max(MinLinkTimeout, interval/4))
	}
	if retryDelay <= 0 {
		retryDelay = DefaultRetryDelay
	}
	return Timing{
		Interval:    interval,
		Recheck:     max(interval-linkTimeout-linkTimeout/10, interval/2),
		LinkTimeout: linkTimeout,
		RetryDelay:  min(retryDelay, interval),
	}
}

// ManagerURI is the OriginOfCondition of the gate's events.
const ManagerURI = "/redfish/v1/Managers/bmc"

// EventLog receives the gate's transitions (*bmc.Board implements it).
type EventLog interface {
	Log(messageID string, severity event.Severity, origin string, args ...string)
}

// Revoker ends every session of one management interface
// (redfish.Service.RevokeAllSessions, ipmi.Server.RevokeAll).
type Revoker func(reason string)

// Dialer opens the RoT link (TCP on the sim board, a serial line in QEMU,
// net.Pipe in tests).
type Dialer func(ctx context.Context) (io.ReadWriteCloser, error)

// GateConfig configures a Gate. TrustAnchors and Policy come from the
// verified bmc-config component only (NewGateConfig), never from flags.
// A zero TrustAnchors is refused.
type GateConfig struct {
	TrustAnchors attest.Anchors
	Policy       attest.Policy
	// Interval between re-checks inside the session (default 60 s).
	Interval time.Duration
	// Clock schedules re-checks, heartbeats and retries (default the host
	// clock; tests inject a clock.Fake). It is never used for certificate
	// validity: see CertTime.
	Clock clock.Clock

	// Dial opens the RoT link; required.
	Dial Dialer
	// Events receives every transition (nil: only the logger).
	Events EventLog
	// Revokers are called on every entry into Locked.
	Revokers []Revoker
	// RetryDelay is the wait on Clock before a new attempt after Locked
	// (default 5 s, never above Interval); it doubles on each consecutive
	// failure, up to Interval.
	RetryDelay time.Duration
	// LinkTimeout bounds each exchange on the link in real time (default
	// Interval/4 within [MinLinkTimeout, DefaultLinkTimeout]): a responder
	// that stops answering locks the gate. Re-checks start about every
	// Interval − LinkTimeout (Schedule).
	LinkTimeout time.Duration
	// CertTime is the instant certificates are checked at (default
	// attest.MonotonicTime(): never the board's settable clock).
	CertTime func() time.Time
	// SerialLine: the link is a serial line (resynchronising framing).
	SerialLine bool
	Logger     *slog.Logger
}

// NewGateConfig returns the anchors, policy and interval of a verified
// bmc-config; the caller adds Clock, Dial, Events and Revokers.
func NewGateConfig(bc *manifest.BMCConfig) GateConfig {
	return GateConfig{
		TrustAnchors: attest.AnchorsFrom(bc),
		Policy:       attest.PolicyFrom(bc),
		Interval:     bc.Gate.MeasurementInterval,
	}
}

// Status is a snapshot of the gate.
type Status struct {
	State State
	// Reason says why the gate is in State (for the event log and
	// authenticated callers; unauthenticated ones see only State).
	Reason string
	// Since is when the gate entered State, on the gate's Clock.
	Since time.Time
	// Passes counts appraisals that passed since the gate started.
	Passes uint64
	// Checked is when the last appraisal passed, on the gate's Clock.
	Checked time.Time
	// Result is the last good appraisal while Open (nil otherwise).
	Result *attest.Result
}

// Gate is the management-interface gate.
type Gate struct {
	cfg GateConfig
	// timing is the schedule derived from cfg's Interval, LinkTimeout and
	// RetryDelay (defaults applied); the gate reads it, never those fields.
	timing Timing
	log    *slog.Logger

	mu      sync.Mutex // guards st, changed
	st      Status
	changed chan struct{}

	// link serializes all traffic on the RoT link; it guards the fields below.
	link    sync.Mutex
	req     *spdm.Requester
	sess    *spdm.Session
	conn    io.Closer
	chainID []byte // digest of the slot 0 chain as verified
}

// NewGate returns a Locked gate; Run attests.
func NewGate(cfg GateConfig) (*Gate, error) {
	if cfg.Dial == nil {
		return nil, errors.New("mgmtif: gate needs a Dial for the RoT link")
	}
	if len(cfg.TrustAnchors.IdentityRoots) == 0 || cfg.TrustAnchors.VendorKeys.Len() == 0 || cfg.TrustAnchors.BoardID == "" {
		return nil, errors.New("mgmtif: gate needs trust anchors (identity root, vendor keys, board) from bmc-config")
	}
	if cfg.Interval < 0 {
		return nil, fmt.Errorf("mgmtif: negative interval %v", cfg.Interval)
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.CertTime == nil {
		cfg.CertTime = attest.MonotonicTime()
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Gate{
		cfg:     cfg,
		timing:  Schedule(cfg.Interval, cfg.LinkTimeout, cfg.RetryDelay),
		log:     log.With("component", "gate"),
		st:      Status{State: Locked, Reason: "the root of trust is not attested yet", Since: cfg.Clock.Now()},
		changed: make(chan struct{}),
	}, nil
}

// Status returns the gate's current status.
func (g *Gate) Status() Status {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.st
}

// Timing returns the gate's schedule.
func (g *Gate) Timing() Timing { return g.timing }

// State returns the gate's current state.
func (g *Gate) State() State { return g.Status().State }

// IsOpen reports whether the management interfaces may serve.
func (g *Gate) IsOpen() bool { return g.State() == Open }

// Wait blocks until cond holds for the status (checked now and at every
// change) or ctx ends.
func (g *Gate) Wait(ctx context.Context, cond func(Status) bool) (Status, error) {
	for {
		g.mu.Lock()
		st, ch := g.st, g.changed
		g.mu.Unlock()
		if cond(st) {
			return st, nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return st, fmt.Errorf("mgmtif: waiting for the gate (now %s: %s): %w", st.State, st.Reason, ctx.Err())
		}
	}
}

// update changes the status and wakes waiters.
func (g *Gate) update(f func(*Status)) {
	g.mu.Lock()
	f(&g.st)
	close(g.changed)
	g.changed = make(chan struct{})
	g.mu.Unlock()
}

// enter moves the gate to state to through the transition table.
func (g *Gate) enter(to State, reason string) {
	g.mu.Lock()
	from := g.st.State
	g.mu.Unlock()
	t, err := transition(from, to)
	if err != nil {
		// A bug: fail closed.
		g.log.Error("gate transition refused", "err", err)
		to, reason = Locked, err.Error()
		t = Transition{From: from, To: Locked, Revoke: true}
	}
	// The new state takes effect at once (interfaces shut first); waiters
	// are told after the event is logged and the sessions are revoked.
	g.mu.Lock()
	g.st.State, g.st.Reason, g.st.Since = to, reason, g.cfg.Clock.Now()
	if to != Open {
		g.st.Result = nil
	}
	notify := g.changed
	g.changed = make(chan struct{})
	g.mu.Unlock()
	defer close(notify)
	lvl := slog.LevelInfo
	if to == Locked {
		lvl = slog.LevelWarn
	}
	g.log.Log(context.Background(), lvl, "gate state changed", "from", from, "to", to, "reason", reason)
	if g.cfg.Events != nil {
		g.cfg.Events.Log(event.GateStateChanged, "", ManagerURI, string(from), string(to), reason)
	}
	if t.Revoke {
		for _, r := range g.cfg.Revokers {
			r("the management interface gate locked: " + reason)
		}
	}
}

// Run attests the root of trust and keeps re-checking it until ctx ends:
// Locked → Attesting → Open, and back to Locked (then a new attempt after
// RetryDelay) on any failure.
func (g *Gate) Run(ctx context.Context) error {
	defer g.teardown()
	tm := g.timing
	g.log.Info("gate schedule", "interval", tm.Interval, "recheck", tm.Recheck,
		"link_timeout", tm.LinkTimeout, "retry_delay", tm.RetryDelay)
	delay := tm.RetryDelay
	for {
		g.enter(Attesting, "attesting the root of trust on the RoT link")
		began, err := g.establish(ctx)
		if err == nil {
			delay = tm.RetryDelay
			err = g.hold(ctx, began, func() { g.enter(Open, g.openReason()) })
		}
		if ctx.Err() != nil {
			return nil
		}
		// The retry timer is armed before Locked is visible, so whoever
		// sees Locked may rely on it (tests advance a fake clock). Locked
		// comes before the teardown: ending the session with a RoT that
		// stopped answering takes up to a second.
		retry, rt := g.after(delay)
		g.enter(Locked, reason(err))
		g.teardown()
		select {
		case <-retry:
		case <-ctx.Done():
			rt.Stop()
			return nil
		}
		// Consecutive failures back off up to one interval, so a RoT that
		// stays away does not flood the event log.
		delay = min(2*delay, tm.Interval)
	}
}

// reason renders a failure for the event log.
func reason(err error) string {
	if err == nil {
		return "the attestation ended"
	}
	return err.Error()
}

func (g *Gate) openReason() string {
	st := g.Status()
	if st.Result == nil || st.Result.Manifest == nil {
		return "the root of trust attested the firmware"
	}
	m := st.Result.Manifest
	return fmt.Sprintf("the root of trust attested firmware %s (SVN %d) on board %s", m.FirmwareVersion, m.SVN, m.BoardID)
}

// after returns a channel that receives once d has elapsed on the gate's
// clock, and the timer to stop.
func (g *Gate) after(d time.Duration) (<-chan struct{}, clock.Timer) {
	ch := make(chan struct{}, 1)
	t := g.cfg.Clock.AfterFunc(d, func() {
		select {
		case ch <- struct{}{}:
		default:
		}
	})
	return ch, t
}

// step bounds one exchange on the link.
func (g *Gate) step(ctx context.Context, what string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, g.timing.LinkTimeout)
	defer cancel()
	if err := f(ctx); err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	return nil
}

// establish runs VCA → DIGESTS → CERTIFICATE → CHALLENGE → KEY_EXCHANGE /
// FINISH and the first appraisal inside the session. It returns when (on
// Clock) that first pass began.
func (g *Gate) establish(ctx context.Context) (time.Time, error) {
	g.link.Lock()
	defer g.link.Unlock()
	var conn io.ReadWriteCloser
	if err := g.step(ctx, "connecting to the RoT link", func(ctx context.Context) error {
		var err error
		conn, err = g.cfg.Dial(ctx)
		return err
	}); err != nil {
		return time.Time{}, err
	}
	g.conn = conn
	r := spdm.NewRequester(conn, spdm.RequesterConfig{
		Roots: g.cfg.TrustAnchors.Roots(), Now: g.cfg.CertTime, SerialLine: g.cfg.SerialLine, Logger: g.log,
	})
	g.req = r
	if err := g.step(ctx, "SPDM transport hello", r.Hello); err != nil {
		return time.Time{}, err
	}
	if err := g.step(ctx, "SPDM VCA", r.Connect); err != nil {
		return time.Time{}, err
	}
	neg := r.Negotiated()
	if !neg.ResponderCaps.Flags.Has(spdm.CapAliasCert) {
		return time.Time{}, errors.New("SPDM: the responder does not use the alias certificate model (no ALIAS_CERT_CAP)")
	}
	var digests *spdm.Digests
	if err := g.step(ctx, "GET_DIGESTS", func(ctx context.Context) error {
		var err error
		digests, err = r.Digests(ctx)
		return err
	}); err != nil {
		return time.Time{}, err
	}
	var chain *spdm.CertChain
	if err := g.step(ctx, "GET_CERTIFICATE", func(ctx context.Context) error {
		var err error
		chain, err = r.CertificateChain(ctx, 0)
		return err
	}); err != nil {
		var f *attest.Failure
		if !errors.As(err, &f) {
			err = &attest.Failure{Check: attest.CheckChain, Err: err}
		}
		return time.Time{}, err
	}
	if d, ok := slotDigest(digests, 0); !ok || !bytes.Equal(d, chain.Digest) {
		return time.Time{}, errors.New("DIGESTS: slot 0 digest does not match the certificate chain retrieved")
	}
	g.chainID = chain.Digest
	if err := g.step(ctx, "CHALLENGE", func(ctx context.Context) error {
		_, err := r.Challenge(ctx, 0, spdm.SummaryAll)
		return err
	}); err != nil {
		return time.Time{}, err
	}
	if err := g.step(ctx, "KEY_EXCHANGE/FINISH", func(ctx context.Context) error {
		var err error
		g.sess, err = r.StartSession(ctx, spdm.SessionOptions{SlotID: 0, SummaryType: spdm.SummaryNone})
		return err
	}); err != nil {
		return time.Time{}, err
	}
	began := g.cfg.Clock.Now()
	if err := g.passLocked(ctx); err != nil {
		return time.Time{}, err
	}
	// The health report of a trial slot: this BMC reached Open.
	if _, err := g.controlLocked(ctx, rotlink.OpReportHealthy); err != nil {
		g.log.Warn("RoT did not accept the health report", "err", err)
	}
	return began, nil
}

// slotDigest returns the DIGESTS entry of slot.
func slotDigest(d *spdm.Digests, slot uint8) ([]byte, bool) {
	if d == nil || d.SlotMask&(1<<slot) == 0 {
		return nil, false
	}
	i := 0
	for s := range slot {
		if d.SlotMask&(1<<s) != 0 {
			i++
		}
	}
	if i >= len(d.Digests) {
		return nil, false
	}
	return d.Digests[i], true
}

// passLocked is one re-check inside the session: signed GET_MEASUREMENTS
// with a fresh nonce, appraised, and GET_DIGESTS to notice a chain change.
func (g *Gate) passLocked(ctx context.Context) error {
	if g.sess == nil {
		return errors.New("no secured session")
	}
	var mr *spdm.MeasurementResult
	if err := g.step(ctx, "GET_MEASUREMENTS", func(ctx context.Context) error {
		var err error
		mr, err = g.sess.Measurements(ctx, spdm.MeasurementRequest{Operation: spdm.MeasOpAll, Signed: true, SlotID: 0})
		return err
	}); err != nil {
		return err
	}
	res, err := attest.Appraise(attest.Evidence{
		Chain: g.req.Chain(0), Hash: g.req.Negotiated().BaseHash, Measurements: mr.Evidence,
	}, g.cfg.TrustAnchors, g.cfg.Policy, g.cfg.CertTime())
	if err != nil {
		return err
	}
	var d *spdm.Digests
	if err := g.step(ctx, "GET_DIGESTS in session", func(ctx context.Context) error {
		var err error
		d, err = g.sess.Digests(ctx)
		return err
	}); err != nil {
		return err
	}
	if dg, ok := slotDigest(d, 0); !ok || !bytes.Equal(dg, g.chainID) {
		return errors.New("certificate chain changed: the slot 0 digest differs from the chain attested")
	}
	g.update(func(s *Status) {
		s.Passes++
		s.Checked = g.cfg.Clock.Now()
		s.Result = res
	})
	return nil
}

// hold keeps the gate Open: a pass every Recheck after the previous one
// began (the first one began at began, in establish), every heartbeat
// period a HEARTBEAT. It calls opened once its timers are armed and
// returns the first failure.
//
// A RoT that stops answering right after a pass is asked again Recheck
// after that pass began and times out LinkTimeout later: Locked within
// Recheck + LinkTimeout ≤ Interval of the stop.
func (g *Gate) hold(ctx context.Context, began time.Time, opened func()) error {
	g.link.Lock()
	period := time.Duration(0)
	if g.sess != nil {
		period = time.Duration(g.sess.HeartbeatPeriod) * time.Second
	}
	g.link.Unlock()
	measure, mt := g.after(g.timing.Recheck - g.cfg.Clock.Now().Sub(began))
	defer func() { mt.Stop() }()
	var beat <-chan struct{}
	var bt clock.Timer
	if period > 0 {
		beat, bt = g.after(period)
		defer func() { bt.Stop() }()
	}
	opened()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-measure:
			// The next timer is armed before the pass is visible.
			measure, mt = g.after(g.timing.Recheck)
			if err := g.exchange(ctx, "re-check", g.passLocked); err != nil {
				return err
			}
		case <-beat:
			beat, bt = g.after(period)
			if err := g.exchange(ctx, "heartbeat", func(ctx context.Context) error {
				return g.step(ctx, "HEARTBEAT", g.sess.Heartbeat)
			}); err != nil {
				return err
			}
		}
	}
}

// exchange runs f with the link, all of it (waiting for the link
// included) within LinkTimeout in real time: a caller of Link stuck on a
// stopped RoT does not delay the lock.
func (g *Gate) exchange(ctx context.Context, what string, f func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, g.timing.LinkTimeout)
	defer cancel()
	start := time.Now()
	g.link.Lock()
	err := f(ctx)
	g.link.Unlock()
	took := time.Since(start)
	switch {
	case err != nil:
		return err
	case took > g.timing.LinkTimeout/2:
		g.log.Warn("slow exchange on the RoT link", "what", what, "took", took, "link_timeout", g.timing.LinkTimeout)
	default:
		g.log.Debug("exchange on the RoT link", "what", what, "took", took)
	}
	return nil
}

// teardown ends the session and closes the link.
func (g *Gate) teardown() {
	g.link.Lock()
	defer g.link.Unlock()
	if g.sess != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_ = g.sess.End(ctx)
		cancel()
	}
	if g.conn != nil {
		g.conn.Close()
	}
	g.req, g.sess, g.conn, g.chainID = nil, nil, nil, nil
}

// ErrNotOpen: the gate is not Open, so the link is not usable.
var ErrNotOpen = errors.New("mgmtif: the gate is not Open")

// Link runs f with exclusive use of the attested requester and its
// session, serialized with the gate's own traffic (the Redfish
// SPDMGetSignedMeasurements action uses it). It fails unless the gate is
// Open.
func (g *Gate) Link(ctx context.Context, f func(ctx context.Context, r *spdm.Requester, s *spdm.Session) error) error {
	g.link.Lock()
	defer g.link.Unlock()
	if !g.IsOpen() || g.sess == nil {
		return ErrNotOpen
	}
	ctx, cancel := context.WithTimeout(ctx, g.timing.LinkTimeout)
	defer cancel()
	return f(ctx, g.req, g.sess)
}

// Control sends one control message inside the session and returns the
// response body.
func (g *Gate) Control(ctx context.Context, op rotlink.Op) ([]byte, error) {
	g.link.Lock()
	defer g.link.Unlock()
	if !g.IsOpen() || g.sess == nil {
		return nil, ErrNotOpen
	}
	return g.controlLocked(ctx, op)
}

func (g *Gate) controlLocked(ctx context.Context, op rotlink.Op) ([]byte, error) {
	payload, err := rotlink.Request(op).Marshal()
	if err != nil {
		return nil, err
	}
	var rsp *spdm.VendorDefined
	if err := g.step(ctx, op.String(), func(ctx context.Context) error {
		var err error
		rsp, err = g.sess.VendorDefined(ctx, spdm.VendorDefined{StandardID: rotlink.StandardIDIANA, VendorID: rotlink.VendorID(), Payload: payload})
		return err
	}); err != nil {
		return nil, err
	}
	if !rotlink.IsOurs(rsp.StandardID, rsp.VendorID) {
		return nil, fmt.Errorf("%v: answered by standard %d vendor %x", op, rsp.StandardID, rsp.VendorID)
	}
	m, err := rotlink.Parse(rsp.Payload)
	if err != nil {
		return nil, fmt.Errorf("%v: %w", op, err)
	}
	return m.Check(op)
}

// SealingKey asks the RoT for the BMC sealing key (secrets at rest).
func (g *Gate) SealingKey(ctx context.Context) ([]byte, error) {
	b, err := g.Control(ctx, rotlink.OpGetSealingKey)
	if err != nil {
		return nil, err
	}
	return rotlink.DecodeSealingKey(b)
}

// DeviceStatus asks the RoT for its status.
func (g *Gate) DeviceStatus(ctx context.Context) (rotlink.DeviceStatus, error) {
	b, err := g.Control(ctx, rotlink.OpGetStatus)
	if err != nil {
		return rotlink.DeviceStatus{}, err
	}
	return rotlink.DecodeStatus(b)
}

// BootLog asks the RoT for the boot's TCG event log.
func (g *Gate) BootLog(ctx context.Context) ([]byte, error) {
	return g.Control(ctx, rotlink.OpGetBootLog)
}
