package bmc

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/bmc/sensor"
)

var epoch = time.Date(2026, 11, 27, 2, 0, 0, 0, time.UTC)

var fastTiming = &power.Timing{PowerOn: 2 * time.Second, PowerOff: time.Second, OSShutdown: 3 * time.Second}

func writeDefaults(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "defaults.json")
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func open(t *testing.T, cfg Config) (*Board, *FirstBoot) {
	t.Helper()
	b, fb, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b, fb
}

func eventsWith(b *Board, id string) []event.Event {
	var out []event.Event
	for _, e := range b.Events.List() {
		if e.MessageID == id {
			out = append(out, e)
		}
	}
	return out
}

var pwRE = regexp.MustCompile(`^[A-Za-z0-9._~-]{20}$`)

func TestFirstBootThenSecondBoot(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state") // does not exist yet
	clk := clock.NewFake(epoch)
	cfg := Config{StateDir: state, Clock: clk, FirmwareVersion: "1.2.3", PowerTiming: fastTiming,
		DefaultsFile: writeDefaults(t, `{"board_id":"test-board","admin_user":"admin","ipmi_enabled":true,"ipmi_port":16230,"future":1}`)}
	b, fb := open(t, cfg)
	if fb == nil {
		t.Fatal("first boot returned nil FirstBoot")
	}
	if fb.AdminUser != "admin" || !pwRE.MatchString(fb.AdminPassword) {
		t.Fatalf("first boot %+v", fb)
	}
	st, err := os.Stat(state)
	if err != nil || st.Mode().Perm() != 0o700 {
		t.Fatalf("state dir: %v %v", st, err)
	}
	pwFile := filepath.Join(state, InitialPasswordFile)
	data, err := os.ReadFile(pwFile)
	if err != nil || strings.TrimSpace(string(data)) != fb.AdminPassword {
		t.Fatalf("password file %q %v", data, err)
	}
	if st, _ := os.Stat(pwFile); st.Mode().Perm() != 0o600 {
		t.Fatalf("password file mode %v", st.Mode().Perm())
	}
	a, err := b.Accounts.ByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	if a.Role != account.Administrator || !a.PasswordChangeRequired || !a.Enabled ||
		!slices.Equal(a.AccountTypes, []account.AccountType{account.TypeRedfish, account.TypeIPMI}) {
		t.Fatalf("admin account %+v", a)
	}
	if _, err := b.Accounts.Authenticate("admin", fb.AdminPassword); err != nil {
		t.Fatalf("initial password does not work: %v", err)
	}
	if len(b.Accounts.List()) != 1 {
		t.Fatalf("accounts %+v: only admin may exist", b.Accounts.List())
	}
	if b.ID() != "test-board" {
		t.Fatalf("board ID %q", b.ID())
	}
	if np := b.NetworkProtocol(); !np.IPMIEnabled || np.IPMIPort != 16230 || np.SSHEnabled || np.HTTPSPort != 443 {
		t.Fatalf("network protocol %+v", np)
	}
	if b.Inventory.FirmwareVersion != "1.2.3" || b.Inventory.UUID == "" {
		t.Fatalf("inventory %+v", b.Inventory)
	}
	if len(eventsWith(b, event.FirstBoot)) != 1 || len(eventsWith(b, event.ManagerStarted)) != 1 ||
		len(eventsWith(b, event.AccountCreated)) != 1 {
		t.Fatalf("first boot events %+v", b.Events.List())
	}
	inv := b.Inventory
	b.Close()

	// Second boot: a different defaults file must not be read.
	cfg.DefaultsFile = writeDefaults(t, `{"board_id":"other","admin_user":"root","ipmi_enabled":false}`)
	b2, fb2 := open(t, cfg)
	if fb2 != nil {
		t.Fatalf("second boot returned FirstBoot %+v", fb2)
	}
	if b2.ID() != "test-board" || !b2.NetworkProtocol().IPMIEnabled {
		t.Fatal("defaults re-read on second boot")
	}
	if b2.Inventory.UUID != inv.UUID || b2.Inventory.SerialNumber != inv.SerialNumber {
		t.Fatal("inventory changed across restart")
	}
	if _, err := b2.Accounts.Authenticate("admin", fb.AdminPassword); err != nil {
		t.Fatalf("admin after restart: %v", err)
	}
	if n := len(eventsWith(b2, event.ManagerStarted)); n != 2 {
		t.Fatalf("ManagerStarted events %d", n)
	}
}

func TestFirstBootWithoutDefaultsFile(t *testing.T) {
	t.Parallel()
	b, fb := open(t, Config{StateDir: t.TempDir(), Clock: clock.NewFake(epoch)})
	if fb == nil || fb.AdminUser != "admin" {
		t.Fatalf("%+v", fb)
	}
	a, _ := b.Accounts.ByName("admin")
	if !slices.Equal(a.AccountTypes, []account.AccountType{account.TypeRedfish}) {
		t.Fatalf("account types %v without ipmi_enabled", a.AccountTypes)
	}
	if np := b.NetworkProtocol(); np.IPMIEnabled || np.IPMIPort != 623 {
		t.Fatalf("%+v", np)
	}
	if b.ID() != "ironroot-sim" {
		t.Fatalf("board ID %q", b.ID())
	}
}

func TestBadDefaultsFile(t *testing.T) {
	t.Parallel()
	for _, body := range []string{`{`, `{"ipmi_port":70000}`, `{"admin_user":"1bad name"}`} {
		_, _, err := Open(context.Background(), Config{StateDir: t.TempDir(), Clock: clock.NewFake(epoch), DefaultsFile: writeDefaults(t, body)})
		if err == nil {
			t.Errorf("defaults %s accepted", body)
		}
	}
	if _, _, err := Open(context.Background(), Config{StateDir: t.TempDir(), DefaultsFile: "/nonexistent/defaults.json"}); err == nil {
		t.Error("missing defaults file accepted")
	}
}

// A first boot that crashed before board.json was written is redone.
func TestInterruptedFirstBootIsRedone(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	cfg := Config{StateDir: state, Clock: clock.NewFake(epoch)}
	b, fb := open(t, cfg)
	b.Close()
	if err := os.Remove(filepath.Join(state, SettingsFile)); err != nil {
		t.Fatal(err)
	}
	b2, fb2 := open(t, cfg)
	if fb2 == nil || fb2.AdminPassword == fb.AdminPassword {
		t.Fatal("first boot not redone with a new password")
	}
	if _, err := b2.Accounts.Authenticate("admin", fb2.AdminPassword); err != nil {
		t.Fatal(err)
	}
	if _, err := b2.Accounts.Authenticate("admin", fb.AdminPassword); !errors.Is(err, account.ErrBadCredentials) {
		t.Fatalf("old password: %v", err)
	}
}

// Alongside runs once per Open with the board's parts open, while a first boot creates
// the administrator; Open returns after both, and the events say the manager started
// before the first boot's.
func TestAlongside(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	for _, boot := range []string{"first", "second"} {
		calls := 0
		var serial string
		b, fb, err := Open(context.Background(), Config{StateDir: state, Clock: clock.NewFake(epoch),
			Alongside: func(b *Board) error {
				calls++
				serial = b.Inventory.SerialNumber
				if b.Accounts == nil || b.Events == nil || b.Power == nil {
					return errors.New("parts not open")
				}
				return nil
			}})
		if err != nil {
			t.Fatalf("%s boot: %v", boot, err)
		}
		if calls != 1 || serial == "" || serial != b.Inventory.SerialNumber {
			t.Fatalf("%s boot: Alongside called %d times, serial %q", boot, calls, serial)
		}
		if (fb != nil) != (boot == "first") {
			t.Fatalf("%s boot: FirstBoot %+v", boot, fb)
		}
		if fb != nil {
			if _, err := b.Accounts.Authenticate(fb.AdminUser, fb.AdminPassword); err != nil {
				t.Fatalf("admin after Open: %v", err)
			}
			var ids []string
			for _, e := range b.Events.List() {
				ids = append(ids, e.MessageID)
			}
			if want := []string{event.ManagerStarted, event.AccountCreated, event.FirstBoot}; !slices.Equal(ids, want) {
				t.Fatalf("first boot events %v, want %v", ids, want)
			}
		}
		b.Close()
	}
}

// An Alongside error fails Open (after the first boot's own work has ended) and closes
// the board.
func TestAlongsideError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	var board *Board
	_, _, err := Open(context.Background(), Config{StateDir: t.TempDir(), Clock: clock.NewFake(epoch),
		Alongside: func(b *Board) error { board = b; return boom }})
	if !errors.Is(err, boom) {
		t.Fatalf("Open: %v, want the Alongside error", err)
	}
	if err := board.SetLocationIndicatorActive(true); err == nil {
		t.Fatal("the board of a failed Open is still open")
	}
}

func TestClockOffset(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	clk := clock.NewFake(epoch)
	b, _ := open(t, Config{StateDir: state, Clock: clk})
	if !b.Now().Equal(epoch) || b.DateTimeOffset() != 0 {
		t.Fatalf("Now %v offset %v", b.Now(), b.DateTimeOffset())
	}
	want := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	if err := b.SetDateTime(want); err != nil {
		t.Fatal(err)
	}
	if !b.Now().Equal(want) || !clk.Now().Equal(epoch) {
		t.Fatalf("board %v clock %v", b.Now(), clk.Now())
	}
	clk.Advance(10 * time.Second)
	if !b.Now().Equal(want.Add(10 * time.Second)) {
		t.Fatalf("board time does not run: %v", b.Now())
	}
	ev := eventsWith(b, event.DateTimeChanged)
	if len(ev) != 1 || !ev[0].Time.Equal(want) || ev[0].Args[0] != "2030-01-02T03:04:05Z" {
		t.Fatalf("DateTimeChanged %+v", ev)
	}
	e, err := b.LogEvent(event.Event{MessageID: "LogCleared"})
	if err != nil || !e.Time.Equal(want.Add(10*time.Second)) || e.MessageID != event.LogCleared {
		t.Fatalf("event time %v %v", e, err)
	}
	b.Close()
	b2, _ := open(t, Config{StateDir: state, Clock: clk})
	if !b2.Now().Equal(want.Add(10 * time.Second)) {
		t.Fatalf("offset not persisted: %v", b2.Now())
	}
}

func TestSettingsPersisted(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	clk := clock.NewFake(epoch)
	b, _ := open(t, Config{StateDir: state, Clock: clk, HTTPSPort: 8443})
	if b.LocationIndicatorActive() {
		t.Fatal("indicator on at first boot")
	}
	if err := b.SetLocationIndicatorActive(true); err != nil {
		t.Fatal(err)
	}
	if err := b.SetIPMIEnabled(true); err != nil {
		t.Fatal(err)
	}
	if err := b.SetIPMIPort(6230); err != nil {
		t.Fatal(err)
	}
	if err := b.SetIPMIPort(0); err == nil {
		t.Fatal("port 0 accepted")
	}
	b.Close()
	if err := b.SetLocationIndicatorActive(false); err == nil {
		t.Fatal("closed board accepted a change")
	}
	b2, _ := open(t, Config{StateDir: state, Clock: clk, HTTPSPort: 8443})
	if !b2.LocationIndicatorActive() {
		t.Fatal("indicator not persisted")
	}
	if np := b2.NetworkProtocol(); np != (NetworkProtocol{HTTPSPort: 8443, IPMIEnabled: true, IPMIPort: 6230}) {
		t.Fatalf("%+v", np)
	}
	if len(eventsWith(b2, event.LocationIndicatorChanged)) != 1 || len(eventsWith(b2, event.NetworkProtocolChanged)) != 2 {
		t.Fatalf("events %+v", b2.Events.List())
	}
}

func TestPowerEventsAndRestore(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	clk := clock.NewFake(epoch)
	cfg := Config{StateDir: state, Clock: clk, PowerTiming: fastTiming}
	b, _ := open(t, cfg)
	if err := b.Power.SetBootOverride(power.BootOverride{Target: power.BootPxe, Enabled: power.BootContinuous}); err != nil {
		t.Fatal(err)
	}
	if err := b.Power.Reset(power.ResetOn); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Second)
	ev := eventsWith(b, event.PowerStateChanged)
	if len(ev) != 2 || strings.Join(ev[1].Args, ",") != "PoweringOn,On,On" || ev[1].OriginURI != "/redfish/v1/Systems/1" {
		t.Fatalf("power events %+v", ev)
	}
	if s := ev[1].SEL; s == nil || s.SensorType != 0x22 || s.EventData[0] != 0x00 || s.SensorNumber != HostPowerSensorNumber {
		t.Fatalf("power-on SEL %+v", ev[1].SEL)
	}
	b.Close()
	b2, _ := open(t, cfg)
	if b2.Power.State() != power.On {
		t.Fatalf("power state after restart %s", b2.Power.State())
	}
	if o := b2.Power.BootOverride(); o.Target != power.BootPxe || o.Enabled != power.BootContinuous {
		t.Fatalf("override after restart %+v", o)
	}
	// Sensors start settled in the restored state: no threshold storm.
	clk.Advance(30 * time.Second)
	if n := len(eventsWith(b2, event.SensorThresholdCrossed)); n != 0 {
		t.Fatalf("%d threshold events after restore", n)
	}
	if err := b2.Power.Reset(power.ResetForceOff); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	ev = eventsWith(b2, event.PowerStateChanged)
	if last := ev[len(ev)-1]; last.Args[1] != "Off" || last.SEL == nil || last.SEL.EventData[0] != 0x05 {
		t.Fatalf("power-off event %+v", last)
	}
}

func TestSensorThresholdEvents(t *testing.T) {
	t.Parallel()
	clk := clock.NewFake(epoch)
	b, _ := open(t, Config{StateDir: t.TempDir(), Clock: clk, PowerTiming: fastTiming})
	if err := b.Sensors.SetThresholds("CPU1Temp", sensor.Thresholds{UpperCaution: ptr(50.0), UpperCritical: ptr(60.0)}); err != nil {
		t.Fatal(err)
	}
	if err := b.Power.Reset(power.ResetOn); err != nil {
		t.Fatal(err)
	}
	clk.Advance(2 * time.Minute)
	ev := eventsWith(b, event.SensorThresholdCrossed)
	if len(ev) != 2 {
		t.Fatalf("threshold events %+v", ev)
	}
	w, c := ev[0], ev[1]
	if w.Severity != event.Warning || w.Args[0] != "CPU1 Temperature" || w.Args[1] != "UpperCaution" || w.Args[2] != "50.0 Cel" ||
		w.OriginURI != "/redfish/v1/Chassis/1/Sensors/CPU1Temp" {
		t.Fatalf("warning event %+v", w)
	}
	if c.Severity != event.Critical || c.Args[1] != "UpperCritical" {
		t.Fatalf("critical event %+v", c)
	}
	if s := c.SEL; s == nil || s.SensorType != 0x01 || s.SensorNumber != 0x01 || s.EventType != 0x01 ||
		s.EventData[0] != 0x59 || s.EventData[2] != 60 || s.EventData[1] < 60 {
		t.Fatalf("critical SEL %+v", c.SEL)
	}
	if err := b.Power.Reset(power.ResetForceOff); err != nil {
		t.Fatal(err)
	}
	clk.Advance(3 * time.Minute)
	normal := eventsWith(b, event.SensorReturnedToNormal)
	if len(normal) != 1 || normal[0].Args[0] != "CPU1 Temperature" || normal[0].Severity != event.OK {
		t.Fatalf("normal events %+v", normal)
	}
	if s := normal[0].SEL; s == nil || s.EventType != 0x81 || s.EventData[0] != 0x57 {
		t.Fatalf("deassertion SEL %+v", normal[0].SEL)
	}
	back := eventsWith(b, event.SensorThresholdCrossed)
	if len(back) != 3 || back[2].Severity != event.Warning || back[2].SEL.EventType != 0x81 {
		t.Fatalf("critical→warning %+v", back)
	}
	// Render every stored event through the registry.
	reg := event.BoardRegistry()
	for _, e := range b.Events.List() {
		if _, ok := reg.Render(e.MessageID, e.Args); !ok {
			t.Errorf("cannot render %s", e.MessageID)
		}
	}
}

func TestAccountEventsLogged(t *testing.T) {
	t.Parallel()
	b, _ := open(t, Config{StateDir: t.TempDir(), Clock: clock.NewFake(epoch)})
	// The account store logs every AuthFailureLoggingThreshold-th failure.
	for i := 0; i < max(1, b.Accounts.Policy().AuthFailureLoggingThreshold); i++ {
		if _, err := b.Accounts.Authenticate("admin", "wrong-password"); !errors.Is(err, account.ErrBadCredentials) {
			t.Fatalf("wrong password: %v", err)
		}
	}
	ev := eventsWith(b, event.LoginFailed)
	if len(ev) != 1 || ev[0].Args[0] != "admin" || ev[0].Severity != event.Warning {
		t.Fatalf("LoginFailed events %+v", ev)
	}
	if s := ev[0].SEL; s == nil || s.SensorType != 0x2A || s.EventData[0] != 0x02 {
		t.Fatalf("LoginFailed SEL %+v", ev[0].SEL)
	}
	if _, err := b.Accounts.Create("operator1", "Secret.pass1", account.Role("Operator"), nil, false); err != nil {
		t.Fatal(err)
	}
	if ev := eventsWith(b, event.AccountCreated); len(ev) != 2 || ev[1].Args[0] != "operator1" {
		t.Fatalf("AccountCreated %+v", ev)
	}
}

func TestResetToDefaults(t *testing.T) {
	t.Parallel()
	state := t.TempDir()
	clk := clock.NewFake(epoch)
	b, fb := open(t, Config{StateDir: state, Clock: clk})
	if err := os.MkdirAll(filepath.Join(state, TLSDir), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := b.SetDateTime(epoch.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := b.ResetToDefaults(); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(state)
	if err != nil || len(ents) != 0 {
		t.Fatalf("state dir after reset: %v %v", ents, err)
	}
	b2, fb2 := open(t, Config{StateDir: state, Clock: clk})
	if fb2 == nil || fb2.AdminPassword == fb.AdminPassword {
		t.Fatal("no new first boot after reset to defaults")
	}
	if b2.DateTimeOffset() != 0 || b2.Inventory.UUID == b.Inventory.UUID {
		t.Fatal("state survived reset to defaults")
	}
}

func TestNewAdminPassword(t *testing.T) {
	t.Parallel()
	seen := map[string]bool{}
	for i := 0; i < 300; i++ {
		pw, err := NewAdminPassword()
		if err != nil {
			t.Fatal(err)
		}
		if !pwRE.MatchString(pw) || seen[pw] {
			t.Fatalf("password %q", pw)
		}
		seen[pw] = true
		for _, class := range []string{pwUpper, pwLower, pwDigits, pwSymbols} {
			if !strings.ContainsAny(pw, class) {
				t.Fatalf("%q lacks one of %q", pw, class)
			}
		}
		if pw[0] == '-' || pw[0] == '~' {
			t.Fatalf("%q starts with a shell-special character", pw)
		}
		if err := account.DefaultPolicy().ValidatePassword("admin", pw); err != nil {
			t.Fatalf("%q fails the password policy: %v", pw, err)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func TestSealingKeyFromRoT(t *testing.T) {
	t.Parallel()
	rotKey := make([]byte, account.SealingKeySize)
	for i := range rotKey {
		rotKey[i] = byte(i)
	}
	keyFile := func(state string) error {
		_, err := os.Stat(filepath.Join(state, SealingKeyFile))
		return err
	}

	// A fresh board behind a RoT: no interim key file, also when the first
	// boot is redone, and the admin's IPMI key comes with its next password.
	state := t.TempDir()
	cfg := Config{StateDir: state, Clock: clock.NewFake(epoch), SealingKeyFromRoT: true,
		DefaultsFile: writeDefaults(t, `{"ipmi_enabled": true}`)}
	b, _ := open(t, cfg)
	b.Close()
	if err := os.Remove(filepath.Join(state, SettingsFile)); err != nil {
		t.Fatal(err)
	}
	b, fb := open(t, cfg)
	if fb == nil {
		t.Fatal("first boot not redone")
	}
	if err := keyFile(state); !os.IsNotExist(err) {
		t.Errorf("interim key file on a fresh board behind a RoT: %v", err)
	}
	if err := b.UseSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	admin, err := b.Accounts.ByName(fb.AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Accounts.Update(admin.ID, account.Patch{Password: ptr("Changed-Passw0rd")}); err != nil {
		t.Fatal(err)
	}
	if k, err := b.Accounts.IPMIKey(admin.ID); err != nil || string(k) != "Changed-Passw0rd" {
		t.Errorf("admin IPMI key = %q, %v", k, err)
	}
	b.Close()

	// Upgrade from an older bmcd's state: the interim key file is used,
	// then replaced by the RoT's key and removed.
	state = t.TempDir()
	b, _ = open(t, Config{StateDir: state, Clock: clock.NewFake(epoch)})
	a, err := b.Accounts.Create("ipmiop", "Ipmi-Passw0rd", account.Operator, []account.AccountType{account.TypeRedfish, account.TypeIPMI}, false)
	if err != nil {
		t.Fatal(err)
	}
	b.Close()
	if err := keyFile(state); err != nil {
		t.Fatalf("no interim key file without a RoT: %v", err)
	}
	cfg = Config{StateDir: state, Clock: clock.NewFake(epoch), SealingKeyFromRoT: true}
	b, _ = open(t, cfg)
	if k, err := b.Accounts.IPMIKey(a.ID); err != nil || string(k) != "Ipmi-Passw0rd" {
		t.Errorf("IPMI key under the interim key file = %q, %v", k, err)
	}
	if err := b.UseSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	if err := keyFile(state); !os.IsNotExist(err) {
		t.Errorf("interim key file after UseSealingKey: %v", err)
	}
	b.Close()
	b, _ = open(t, cfg)
	if _, err := b.Accounts.IPMIKey(a.ID); !errors.Is(err, account.ErrNoSealingKey) {
		t.Errorf("IPMI key before UseSealingKey: %v, want ErrNoSealingKey", err)
	}
	if err := b.UseSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	if k, err := b.Accounts.IPMIKey(a.ID); err != nil || string(k) != "Ipmi-Passw0rd" {
		t.Errorf("IPMI key under the RoT's key after a restart = %q, %v", k, err)
	}
	if err := keyFile(state); !os.IsNotExist(err) {
		t.Errorf("interim key file recreated: %v", err)
	}
}
