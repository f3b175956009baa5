package ipmi

import (
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/event"
)

func newClient(t *testing.T, h *harness) *testClient {
	t.Helper()
	c, err := dialTest(h.addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func login(t *testing.T, h *harness) *testClient {
	t.Helper()
	c := newClient(t, h)
	if err := c.login(h.user, h.pass, privAdmin); err != nil {
		t.Fatalf("login: %v", err)
	}
	return c
}

func TestGoClientSession(t *testing.T) {
	h := startIPMI(t)
	c := login(t, h)
	cc, data, err := c.cmd(netFnApp, cmdGetDeviceID)
	if err != nil || cc != 0 || len(data) < 5 || data[4] != 0x02 {
		t.Fatalf("Get Device ID: cc %#x data % x err %v; want IPMI version 02h", cc, data, err)
	}
	if cc, _, _ := c.cmd(netFnGroup, 0x3E); cc != ccInvalidCommand {
		t.Errorf("PICMG probe: cc %#x, want C1h", cc)
	}
	if err := c.closeSession(); err != nil {
		t.Fatal(err)
	}
	if n := h.srv.ActiveSessions(); n != 0 {
		t.Errorf("%d sessions after Close Session", n)
	}
	var found bool
	for _, e := range h.tb.Board.Events.List() {
		found = found || e.MessageID == event.LoginSucceeded && len(e.Args) == 2 && e.Args[1] == "IPMI"
	}
	if !found {
		t.Error("no LoginSucceeded(…, IPMI) event")
	}
}

func TestReplayAndDuplicateDropped(t *testing.T) {
	h := startIPMI(t)
	c := login(t, h)
	req, err := c.sealRequest(netFnApp, cmdGetDeviceID)
	if err != nil {
		t.Fatal(err)
	}
	if cc, _, err := c.exchange(req); err != nil || cc != 0 {
		t.Fatalf("first send: cc %#x err %v", cc, err)
	}
	// The very same datagram again (a duplicate or a replay): no answer.
	if _, err := c.roundTrip(req, 300*time.Millisecond); err == nil {
		t.Fatal("duplicate packet answered")
	}
	// Advance the window by 40, then replay an old packet from below it.
	old := req
	for range 40 {
		if cc, _, err := c.cmd(netFnApp, cmdGetSelfTestResults); err != nil || cc != 0 {
			t.Fatalf("cmd: cc %#x err %v", cc, err)
		}
	}
	if _, err := c.roundTrip(old, 300*time.Millisecond); err == nil {
		t.Fatal("replayed old packet answered")
	}
	// A packet whose integrity code is broken is dropped.
	bad, _ := c.sealRequest(netFnApp, cmdGetDeviceID)
	bad[len(bad)-1] ^= 1
	if _, err := c.roundTrip(bad, 300*time.Millisecond); err == nil {
		t.Fatal("packet with a bad AuthCode answered")
	}
	if cc, _, err := c.cmd(netFnApp, cmdGetDeviceID); err != nil || cc != 0 {
		t.Fatalf("session unusable after drops: cc %#x err %v", cc, err)
	}
}

func TestReplayWindow(t *testing.T) {
	var w replayWindow
	for _, tc := range []struct {
		seq  uint32
		want bool
	}{{0, false}, {5, true}, {5, false}, {3, true}, {3, false}, {40, true}, {8, false}, {9, true}, {9, false}, {40, false}, {41, true}} {
		if got := w.accept(tc.seq); got != tc.want {
			t.Errorf("accept(%d) = %v, want %v", tc.seq, got, tc.want)
		}
	}
}

func TestCipherSuitesRefused(t *testing.T) {
	h := startIPMI(t)
	c := newClient(t, h)
	for _, s := range []struct {
		name           string
		auth, in, conf uint8
	}{{"cipher 0", 0, 0, 0}, {"cipher 1", 1, 0, 0}, {"cipher 2", 1, 1, 0}, {"cipher 3 (not enabled)", 1, 1, 1},
		{"cipher 8 MD5", 2, 2, 1}, {"cipher 16", 3, 4, 0}, {"RC4", 3, 4, 2}} {
		if st, err := c.open(s.auth, s.in, s.conf); err != nil || st != rmcpNoCipherSuiteMatch {
			t.Errorf("%s: status %#x err %v, want no cipher suite match (11h)", s.name, st, err)
		}
	}
	if _, err := NewServer(ServerConfig{Board: h.tb.Board, CipherSuites: []CipherSuite{0}}); err == nil {
		t.Error("NewServer accepted cipher suite 0")
	}
	// With suite 3 enabled it works.
	h3 := startIPMI(t, func(c *ServerConfig) { c.CipherSuites = []CipherSuite{Suite17, Suite3} })
	c3 := newClient(t, h3)
	c3.suite = Suite3
	if err := c3.login(h3.user, h3.pass, privAdmin); err != nil {
		t.Fatalf("suite 3 login when enabled: %v", err)
	}
	if cc, _, err := c3.cmd(netFnChassis, cmdGetChassisStatus); err != nil || cc != 0 {
		t.Fatalf("suite 3 command: cc %#x err %v", cc, err)
	}
}

func TestNoUserEnumeration(t *testing.T) {
	h := startIPMI(t)
	shape := func(user string) (uint8, int) {
		c := newClient(t, h)
		if st, err := c.open(Suite17.algorithms()); err != nil || st != 0 {
			t.Fatalf("open: %#x %v", st, err)
		}
		r2, err := c.rakp1(user, privAdmin)
		if err != nil {
			t.Fatalf("RAKP1 %q: %v", user, err)
		}
		return uint8(r2.RmcpStatusCode), len(r2.KeyExchangeAuthenticationCode)
	}
	ks, kl := shape(h.user)
	us, ul := shape("nosuchuser")
	if ks != 0 || us != 0 || kl != 32 || ul != 32 {
		t.Errorf("known user: status %#x, %d-byte code; unknown: status %#x, %d-byte code; want the same shape", ks, kl, us, ul)
	}
	// Null user names are refused outright.
	c := newClient(t, h)
	if st, err := c.open(Suite17.algorithms()); err != nil || st != 0 {
		t.Fatal(err)
	}
	if r2, err := c.rakp1("", privAdmin); err != nil || r2.RmcpStatusCode == 0 {
		t.Errorf("null user: status %#x err %v, want a refusal", r2.RmcpStatusCode, err)
	}
}

func TestWrongPasswordCountsTowardLockout(t *testing.T) {
	h := startIPMI(t)
	threshold := h.tb.Board.Accounts.Policy().LockoutThreshold
	for i := range threshold {
		c := newClient(t, h)
		err := c.login(h.user, "wrong-password", privAdmin)
		if err == nil || !strings.Contains(err.Error(), "0xf") {
			t.Fatalf("attempt %d with a wrong password: %v, want RAKP4 status 0Fh", i, err)
		}
	}
	a, err := h.tb.Board.Accounts.ByName(h.user)
	if err != nil || !a.Locked {
		t.Fatalf("account not locked after %d IPMI failures: %+v %v", threshold, a, err)
	}
	// Locked: even the right password fails (and looks like a wrong one).
	c := newClient(t, h)
	if err := c.login(h.user, h.pass, privAdmin); err == nil {
		t.Fatal("locked account logged in over IPMI")
	}
	var failed int
	for _, e := range h.tb.Board.Events.List() {
		if e.MessageID == event.LoginFailed && len(e.Args) == 2 && e.Args[1] == "IPMI" {
			failed++
		}
	}
	if failed == 0 { // the account policy throttles how many are logged
		t.Error("no LoginFailed(…, IPMI) event")
	}
}

func TestAccountRules(t *testing.T) {
	h := startIPMI(t)
	accts := h.tb.Board.Accounts
	ro, err := accts.Create("viewer", "Viewer-Pass-1", account.ReadOnly, []account.AccountType{account.TypeRedfish, account.TypeIPMI}, false)
	if err != nil {
		t.Fatal(err)
	}
	// ReadOnly ↔ USER: asking for ADMIN is refused after the proof; USER works
	// and Chassis Control is refused with D4h.
	c := newClient(t, h)
	if err := c.login("viewer", "Viewer-Pass-1", privAdmin); err == nil || !strings.Contains(err.Error(), "0xa") {
		t.Errorf("ReadOnly asking ADMIN: %v, want RAKP4 status 0Ah", err)
	}
	c = newClient(t, h)
	if err := c.login("viewer", "Viewer-Pass-1", privUser); err != nil {
		t.Fatalf("ReadOnly at USER: %v", err)
	}
	if cc, _, _ := c.cmd(netFnChassis, cmdChassisControl, 0x01); cc != ccPrivilege {
		t.Errorf("USER Chassis Control: cc %#x, want D4h", cc)
	}
	if cc, _, _ := c.cmd(netFnChassis, cmdGetChassisStatus); cc != 0 {
		t.Errorf("USER Get Chassis Status: cc %#x", cc)
	}
	// Redfish-only accounts cannot log in over IPMI.
	if _, err := accts.Create("webonly", "Webonly-Pass-1", account.Operator, []account.AccountType{account.TypeRedfish}, false); err != nil {
		t.Fatal(err)
	}
	if err := newClient(t, h).login("webonly", "Webonly-Pass-1", privOperator); err == nil {
		t.Error("account without IPMI in AccountTypes logged in")
	}
	// PasswordChangeRequired refuses until changed.
	yes := true
	if _, err := accts.Update(ro.ID, account.Patch{PasswordChangeRequired: &yes}); err != nil {
		t.Fatal(err)
	}
	if err := newClient(t, h).login("viewer", "Viewer-Pass-1", privUser); err == nil || !strings.Contains(err.Error(), "0xd") {
		t.Errorf("PasswordChangeRequired login: %v, want RAKP4 status 0Dh", err)
	}
}

func TestAbandonedSessionsDoNotBlockLogin(t *testing.T) {
	h := startIPMI(t)
	for i := range 100 {
		c := newClient(t, h)
		if st, err := c.open(Suite17.algorithms()); err != nil || st != 0 {
			t.Fatalf("open %d: %#x %v", i, st, err)
		}
		if i%2 == 0 {
			if _, err := c.rakp1(h.user, privAdmin); err != nil {
				t.Fatalf("RAKP1 %d: %v", i, err)
			}
		}
	}
	out := h.mustIpmitool(t, "chassis", "power", "status")
	mustContain(t, out, "Chassis Power is off")
	h.srv.mu.Lock()
	n := len(h.srv.sessions)
	h.srv.mu.Unlock()
	if n > defaultSessionLimit {
		t.Errorf("%d sessions in a table limited to %d", n, defaultSessionLimit)
	}
}

func TestRateLimit(t *testing.T) {
	h := startIPMI(t, func(c *ServerConfig) { c.OpenRate = RateLimit{Burst: 3, Every: time.Hour} })
	c := newClient(t, h)
	for i := range 3 {
		if st, err := c.open(Suite17.algorithms()); err != nil || st != 0 {
			t.Fatalf("open %d: %#x %v", i, st, err)
		}
	}
	if st, err := c.open(Suite17.algorithms()); err != nil || st != rmcpNoResources {
		t.Fatalf("4th open within the burst: %#x %v, want 01h", st, err)
	}
	h.tb.Clock.Advance(time.Hour)
	if st, err := c.open(Suite17.algorithms()); err != nil || st != 0 {
		t.Fatalf("open after refill: %#x %v", st, err)
	}
}

func TestIdleTimeout(t *testing.T) {
	h := startIPMI(t)
	c := login(t, h)
	h.tb.Clock.Advance(defaultIdleTimeout)
	if _, _, err := c.cmd(netFnApp, cmdGetDeviceID); err == nil {
		t.Fatal("idle session still answered")
	}
}

// fakeGate is a Gate a test opens and closes.
type fakeGate struct{ open atomic.Bool }

func (g *fakeGate) Open() bool { return g.open.Load() }

func TestGate(t *testing.T) {
	g := &fakeGate{}
	g.open.Store(true)
	h := startIPMI(t, func(c *ServerConfig) { c.Gate = g })
	c := login(t, h)
	g.open.Store(false)
	// Nothing is answered, not even pre-session discovery.
	if _, _, err := c.cmd(netFnApp, cmdGetDeviceID); err == nil {
		t.Fatal("answered while the gate is closed")
	}
	if out, err := h.ipmitool(t, "mc", "info"); err == nil {
		t.Fatalf("ipmitool worked while the gate is closed:\n%s", out)
	}
	g.open.Store(true)
	if _, _, err := c.cmd(netFnApp, cmdGetDeviceID); err == nil {
		t.Fatal("a session from before the gate closed survived")
	}
	mustContain(t, h.mustIpmitool(t, "mc", "info"), "IPMI Version              : 2.0")
}

func TestRevokeAll(t *testing.T) {
	h := startIPMI(t)
	a, b := login(t, h), login(t, h)
	if n := h.srv.ActiveSessions(); n != 2 {
		t.Fatalf("%d active sessions, want 2", n)
	}
	h.srv.RevokeAll("test")
	if n := h.srv.ActiveSessions(); n != 0 {
		t.Fatalf("%d active sessions after RevokeAll", n)
	}
	for _, c := range []*testClient{a, b} {
		if _, _, err := c.cmd(netFnApp, cmdGetDeviceID); err == nil {
			t.Error("revoked session answered")
		}
	}
	login(t, h)
}

func TestIPMIDisabled(t *testing.T) {
	h := startIPMI(t)
	c := login(t, h)
	if err := h.tb.Board.SetIPMIEnabled(false); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.cmd(netFnApp, cmdGetDeviceID); err == nil {
		t.Fatal("answered with IPMI over LAN disabled")
	}
	if err := h.tb.Board.SetIPMIEnabled(true); err != nil {
		t.Fatal(err)
	}
	login(t, h)
}
