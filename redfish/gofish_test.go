package redfish_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// gofishConnect logs in the way a datacenter tool does: gofish.Connect with a session
// (BasicAuth false) over HTTPS, through a client that verifies the board's certificate.
func gofishConnect(t *testing.T, tb *testboard.TB, user, password string) *gofish.APIClient {
	t.Helper()
	c, err := gofish.Connect(gofish.ClientConfig{
		Endpoint:   tb.URL,
		Username:   user,
		Password:   password,
		HTTPClient: tb.Client,
	})
	if err != nil {
		t.Fatalf("gofish.Connect as %s: %v", user, err)
	}
	t.Cleanup(c.Logout)
	return c
}

// gofishSystem returns a fresh view of the one ComputerSystem.
func gofishSystem(t *testing.T, c *gofish.APIClient) *schemas.ComputerSystem {
	t.Helper()
	systems, err := c.Service.Systems()
	if err != nil {
		t.Fatalf("Systems: %v", err)
	}
	if len(systems) != 1 {
		t.Fatalf("Systems: %d members, want 1", len(systems))
	}
	return systems[0]
}

// waitPowerState advances the board's fake clock a second at a time (at most 120 s of
// board time) until gofish sees the system in state want.
func waitPowerState(t *testing.T, tb *testboard.TB, c *gofish.APIClient, want schemas.PowerState) *schemas.ComputerSystem {
	t.Helper()
	var sys *schemas.ComputerSystem
	for i := 0; i < 120; i++ {
		sys = gofishSystem(t, c)
		if sys.PowerState == want {
			return sys
		}
		tb.Clock.Advance(time.Second)
	}
	t.Fatalf("PowerState %q after 120 s of board time, want %q", sys.PowerState, want)
	return nil
}

func TestGofishSessionLogin(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	c := gofishConnect(t, tb, tb.AdminUser, tb.AdminPassword)
	s, err := c.GetSession()
	if err != nil {
		t.Fatalf("GetSession: %v", err)
	}
	if len(s.Token) < 32 || !strings.HasPrefix(s.ID, "/redfish/v1/SessionService/Sessions/") {
		t.Errorf("session token %d chars, location %q; want ≥32 hex chars and a Sessions member", len(s.Token), s.ID)
	}
	ss, err := c.Service.SessionService()
	if err != nil {
		t.Fatalf("SessionService: %v", err)
	}
	sessions, err := ss.Sessions()
	if err != nil {
		t.Fatalf("Sessions: %v", err)
	}
	found := false
	for _, m := range sessions {
		if m.ODataID == s.ID {
			found = true
			if m.UserName != tb.AdminUser {
				t.Errorf("session %s UserName %q, want %q", m.ODataID, m.UserName, tb.AdminUser)
			}
		}
	}
	if !found {
		t.Errorf("own session %s not among %d sessions", s.ID, len(sessions))
	}
	if !ss.ServiceEnabled || ss.SessionTimeout == 0 {
		t.Errorf("SessionService ServiceEnabled %v SessionTimeout %d", ss.ServiceEnabled, ss.SessionTimeout)
	}

	// A wrong password gets no session.
	if _, err := gofish.Connect(gofish.ClientConfig{Endpoint: tb.URL, Username: tb.AdminUser,
		Password: "wrong-password-1", HTTPClient: tb.Client}); err == nil {
		t.Error("gofish.Connect with a wrong password succeeded")
	}
	// After logout the token no longer works.
	token := s.Token
	c.Logout()
	req := tb.NewRequest(t, "GET", "/redfish/v1/Systems", nil)
	req.Header.Del("Authorization")
	req.Header.Set("X-Auth-Token", token)
	if resp := tb.Do(t, req); resp.StatusCode != 401 {
		t.Errorf("GET with a logged-out token: %d, want 401", resp.StatusCode)
	}
}

func TestGofishWalk(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	c := gofishConnect(t, tb, tb.AdminUser, tb.AdminPassword)
	svc := c.Service
	if svc.RedfishVersion == "" || svc.UUID == "" || svc.Product == "" {
		t.Errorf("service root RedfishVersion %q UUID %q Product %q: all must be set", svc.RedfishVersion, svc.UUID, svc.Product)
	}

	// Systems/1
	sys := gofishSystem(t, c)
	if sys.ID != "1" || sys.UUID == "" || sys.SerialNumber == "" || sys.BiosVersion == "" {
		t.Errorf("system Id %q UUID %q SerialNumber %q BiosVersion %q", sys.ID, sys.UUID, sys.SerialNumber, sys.BiosVersion)
	}
	if sys.PowerState != schemas.OffPowerState {
		t.Errorf("fresh board PowerState %q, want Off", sys.PowerState)
	}
	if sys.ProcessorSummary.Count == nil || *sys.ProcessorSummary.Count == 0 {
		t.Errorf("ProcessorSummary.Count %v, want > 0", sys.ProcessorSummary.Count)
	}
	if sys.MemorySummary.TotalSystemMemoryGiB == nil || *sys.MemorySummary.TotalSystemMemoryGiB <= 0 {
		t.Errorf("MemorySummary.TotalSystemMemoryGiB %v, want > 0", sys.MemorySummary.TotalSystemMemoryGiB)
	}
	if sys.Status.State == "" || sys.Status.Health == "" {
		t.Errorf("system Status %+v, want State and Health", sys.Status)
	}
	types, err := sys.GetSupportedResetTypes()
	if err != nil {
		t.Fatalf("GetSupportedResetTypes: %v", err)
	}
	for _, rt := range []schemas.ResetType{schemas.OnResetType, schemas.ForceOffResetType, schemas.GracefulShutdownResetType,
		schemas.GracefulRestartResetType, schemas.ForceRestartResetType, schemas.PowerCycleResetType, schemas.NmiResetType} {
		if !slices.Contains(types, rt) {
			t.Errorf("reset types %v lack %s", types, rt)
		}
	}
	sysChassis, err := sys.Chassis()
	if err != nil || len(sysChassis) != 1 {
		t.Errorf("system Links.Chassis: %d, %v; want 1", len(sysChassis), err)
	}
	managedBy, err := sys.ManagedBy()
	if err != nil || len(managedBy) != 1 {
		t.Errorf("system Links.ManagedBy: %d, %v; want 1", len(managedBy), err)
	}
	gofishLogEntries(t, c, sys) // the walk reaches the event log

	// Chassis/1 with sensors, thermal and power
	chassis, err := svc.Chassis()
	if err != nil || len(chassis) != 1 {
		t.Fatalf("Chassis: %d, %v; want 1", len(chassis), err)
	}
	ch := chassis[0]
	if ch.ChassisType != schemas.RackMountChassisType {
		t.Errorf("ChassisType %q, want RackMount", ch.ChassisType)
	}
	if ch.LocationIndicatorActive == nil {
		t.Error("chassis has no LocationIndicatorActive")
	}
	sensors, err := ch.Sensors()
	if err != nil {
		t.Fatalf("Sensors: %v", err)
	}
	if len(sensors) < 6 {
		t.Errorf("%d sensors, want at least 6", len(sensors))
	}
	units := map[string]bool{}
	for _, s := range sensors {
		if s.Reading == nil {
			t.Errorf("sensor %s has no Reading", s.ID)
		}
		if s.Name == "" || s.Status.State == "" {
			t.Errorf("sensor %s Name %q Status %+v", s.ID, s.Name, s.Status)
		}
		units[s.ReadingUnits] = true
	}
	// Fans read in percent of rated speed (the Sensor schema's ReadingType Percent) or RPM.
	for _, u := range []string{"Cel", "W", "V"} {
		if !units[u] {
			t.Errorf("no sensor reads in %s (units seen: %v)", u, units)
		}
	}
	if !units["%"] && !units["RPM"] {
		t.Errorf("no fan sensor (%% or RPM) among units %v", units)
	}
	ts, err := ch.ThermalSubsystem()
	if err != nil || ts == nil {
		t.Fatalf("ThermalSubsystem: %v", err)
	}
	fans, err := ts.Fans()
	if err != nil || len(fans) < 2 {
		t.Errorf("ThermalSubsystem Fans: %d, %v; want 2", len(fans), err)
	}
	for _, f := range fans {
		if f.Name == "" || f.Status.State == "" {
			t.Errorf("fan %s Name %q Status %+v", f.ID, f.Name, f.Status)
		}
	}
	tm, err := ts.ThermalMetrics()
	if err != nil || tm == nil {
		t.Errorf("ThermalMetrics: %v", err)
	} else if len(tm.TemperatureReadingsCelsius) == 0 {
		t.Error("ThermalMetrics has no TemperatureReadingsCelsius")
	}
	ps, err := ch.PowerSubsystem()
	if err != nil || ps == nil {
		t.Fatalf("PowerSubsystem: %v", err)
	}
	psus, err := ps.PowerSupplies()
	if err != nil || len(psus) == 0 {
		t.Errorf("PowerSupplies: %d, %v; want ≥ 1", len(psus), err)
	}
	for _, p := range psus {
		if p.Name == "" || p.Status.State == "" {
			t.Errorf("power supply %s Name %q Status %+v", p.ID, p.Name, p.Status)
		}
	}
	env, err := ch.EnvironmentMetrics()
	if err != nil || env == nil {
		t.Errorf("EnvironmentMetrics: %v", err)
	}

	// Managers/bmc
	managers, err := svc.Managers()
	if err != nil || len(managers) != 1 {
		t.Fatalf("Managers: %d, %v; want 1", len(managers), err)
	}
	m := managers[0]
	if m.ID != "bmc" || m.ManagerType != schemas.BMCManagerType || m.FirmwareVersion == "" || m.UUID == "" {
		t.Errorf("manager Id %q ManagerType %q FirmwareVersion %q UUID %q", m.ID, m.ManagerType, m.FirmwareVersion, m.UUID)
	}
	if _, err := time.Parse(time.RFC3339, m.DateTime); err != nil {
		t.Errorf("manager DateTime %q: %v", m.DateTime, err)
	}
	np, err := m.NetworkProtocol()
	if err != nil || np == nil {
		t.Errorf("NetworkProtocol: %v", err)
	} else if !np.HTTPS.ProtocolEnabled {
		t.Errorf("NetworkProtocol HTTPS %+v, want enabled", np.HTTPS)
	}
	if eths, err := m.EthernetInterfaces(); err != nil || len(eths) == 0 {
		t.Errorf("manager EthernetInterfaces: %d, %v; want ≥ 1", len(eths), err)
	}
	// The manager's LogServices collection exists (empty by design: the board's one
	// event store is shown under the system).
	if _, err := m.LogServices(); err != nil {
		t.Errorf("manager LogServices: %v", err)
	}

	// AccountService, accounts, roles
	as, err := svc.AccountService()
	if err != nil {
		t.Fatalf("AccountService: %v", err)
	}
	if as.MinPasswordLength == 0 || as.AccountLockoutThreshold == nil {
		t.Errorf("AccountService MinPasswordLength %d AccountLockoutThreshold %v", as.MinPasswordLength, as.AccountLockoutThreshold)
	}
	accounts, err := as.Accounts()
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	var admin *schemas.ManagerAccount
	for _, a := range accounts {
		if a.UserName == tb.AdminUser {
			admin = a
		}
	}
	if admin == nil {
		t.Fatalf("account %q not among %d accounts", tb.AdminUser, len(accounts))
	}
	if admin.RoleID != "Administrator" || !admin.Enabled || admin.PasswordChangeRequired {
		t.Errorf("admin RoleId %q Enabled %v PasswordChangeRequired %v", admin.RoleID, admin.Enabled, admin.PasswordChangeRequired)
	}
	role, err := admin.Role()
	if err != nil || role == nil || role.ID != "Administrator" {
		t.Errorf("admin Links.Role: %v, %v", role, err)
	}
	roles, err := as.Roles()
	if err != nil {
		t.Fatalf("Roles: %v", err)
	}
	wantPrivs := map[string][]schemas.PrivilegeType{
		"Administrator": {"Login", "ConfigureManager", "ConfigureUsers", "ConfigureSelf", "ConfigureComponents"},
		"Operator":      {"Login", "ConfigureSelf", "ConfigureComponents"},
		"ReadOnly":      {"Login", "ConfigureSelf"},
	}
	got := map[string]bool{}
	for _, r := range roles {
		got[r.ID] = true
		want, ok := wantPrivs[r.ID]
		if !ok {
			t.Errorf("unexpected role %q", r.ID)
			continue
		}
		if !r.IsPredefined {
			t.Errorf("role %s IsPredefined false", r.ID)
		}
		have := slices.Clone(r.AssignedPrivileges)
		slices.Sort(have)
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("role %s AssignedPrivileges %v, want %v", r.ID, have, want)
		}
	}
	if len(got) != 3 {
		t.Errorf("roles %v, want Administrator, Operator, ReadOnly", got)
	}

	// Registries are listed.
	regs, err := svc.Registries()
	if err != nil || len(regs) == 0 {
		t.Errorf("Registries: %d, %v; want ≥ 1", len(regs), err)
	}
}

// gofishLogEntries reads the system's EventLog entries through gofish.
func gofishLogEntries(t *testing.T, c *gofish.APIClient, sys *schemas.ComputerSystem) []*schemas.LogEntry {
	t.Helper()
	logs, err := sys.LogServices()
	if err != nil {
		t.Fatalf("system LogServices: %v", err)
	}
	for _, l := range logs {
		if l.ID != "EventLog" {
			continue
		}
		if !l.SupportsClearLog() {
			t.Error("EventLog has no #LogService.ClearLog")
		}
		entries, err := l.Entries()
		if err != nil {
			t.Fatalf("EventLog Entries: %v", err)
		}
		return entries
	}
	t.Fatalf("system has no EventLog among %d log services", len(logs))
	return nil
}

func TestGofishPowerAndBootOverride(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	c := gofishConnect(t, tb, tb.AdminUser, tb.AdminPassword)
	sys := gofishSystem(t, c)
	if sys.PowerState != schemas.OffPowerState {
		t.Fatalf("fresh board PowerState %q, want Off", sys.PowerState)
	}
	cpuTempOff := sensorReading(t, c, "Cel")

	// Boot override Pxe Once, read back.
	err := sys.SetBoot(&schemas.Boot{
		BootSourceOverrideTarget:  schemas.PxeBootSource,
		BootSourceOverrideEnabled: schemas.OnceBootSourceOverrideEnabled,
		BootSourceOverrideMode:    schemas.UEFIBootSourceOverrideMode,
	})
	if err != nil {
		t.Fatalf("SetBoot Pxe Once: %v", err)
	}
	sys = gofishSystem(t, c)
	if sys.Boot.BootSourceOverrideTarget != schemas.PxeBootSource || sys.Boot.BootSourceOverrideEnabled != schemas.OnceBootSourceOverrideEnabled {
		t.Errorf("after SetBoot: target %q enabled %q, want Pxe Once", sys.Boot.BootSourceOverrideTarget, sys.Boot.BootSourceOverrideEnabled)
	}
	if !slices.Contains(sys.Boot.AllowableBootSourceOverrideTargetValues, schemas.PxeBootSource) {
		t.Errorf("BootSourceOverrideTarget@Redfish.AllowableValues %v lacks Pxe", sys.Boot.AllowableBootSourceOverrideTargetValues)
	}

	// Power on; the transition finishes on the board's clock.
	if _, err := sys.Reset(schemas.OnResetType); err != nil {
		t.Fatalf("Reset On: %v", err)
	}
	sys = waitPowerState(t, tb, c, schemas.OnPowerState)
	// The Once override was consumed by this boot.
	if sys.Boot.BootSourceOverrideEnabled != schemas.DisabledBootSourceOverrideEnabled {
		t.Errorf("after boot: BootSourceOverrideEnabled %q, want Disabled (Once is consumed at the next boot)", sys.Boot.BootSourceOverrideEnabled)
	}
	ch, err := c.Service.Chassis()
	if err != nil || len(ch) != 1 || ch[0].PowerState != schemas.OnPowerState {
		t.Errorf("chassis PowerState after power on: %v", err)
	}

	// The CPU warms up while the host runs.
	tb.Clock.Advance(3 * time.Minute)
	if on := sensorReading(t, c, "Cel"); on <= cpuTempOff {
		t.Errorf("hottest temperature sensor %.1f °C after 3 min On, %.1f °C while Off; want it warmer", on, cpuTempOff)
	}

	// Graceful shutdown waits for the simulated OS, then Off.
	sys = gofishSystem(t, c)
	if _, err := sys.Reset(schemas.GracefulShutdownResetType); err != nil {
		t.Fatalf("Reset GracefulShutdown: %v", err)
	}
	waitPowerState(t, tb, c, schemas.OffPowerState)

	// Power on again and force it off.
	sys = gofishSystem(t, c)
	if _, err := sys.Reset(schemas.OnResetType); err != nil {
		t.Fatalf("Reset On: %v", err)
	}
	sys = waitPowerState(t, tb, c, schemas.OnPowerState)
	if _, err := sys.Reset(schemas.ForceOffResetType); err != nil {
		t.Fatalf("Reset ForceOff: %v", err)
	}
	waitPowerState(t, tb, c, schemas.OffPowerState)

	// Nmi while Off is refused, as an error the client can read.
	sys = gofishSystem(t, c)
	if _, err := sys.Reset(schemas.NmiResetType); err == nil {
		t.Error("Reset Nmi while Off succeeded")
	}

	// The event log tells the story.
	changes := 0
	for _, e := range gofishLogEntries(t, c, gofishSystem(t, c)) {
		if strings.HasSuffix(e.MessageID, ".PowerStateChanged") {
			changes++
			if e.Message == "" || e.Created == "" {
				t.Errorf("entry %s: Message %q Created %q", e.ID, e.Message, e.Created)
			}
		}
	}
	if changes < 4 {
		t.Errorf("%d PowerStateChanged entries after two power cycles, want ≥ 4", changes)
	}
}

// sensorReading returns the highest reading among the chassis sensors in units.
func sensorReading(t *testing.T, c *gofish.APIClient, units string) float64 {
	t.Helper()
	ch, err := c.Service.Chassis()
	if err != nil || len(ch) == 0 {
		t.Fatalf("Chassis: %v", err)
	}
	sensors, err := ch[0].Sensors()
	if err != nil {
		t.Fatalf("Sensors: %v", err)
	}
	best, found := 0.0, false
	for _, s := range sensors {
		if s.ReadingUnits == units && s.Reading != nil && (!found || *s.Reading > best) {
			best, found = *s.Reading, true
		}
	}
	if !found {
		t.Fatalf("no sensor reads in %s", units)
	}
	return best
}

func TestGofishCreateDeleteAccount(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	c := gofishConnect(t, tb, tb.AdminUser, tb.AdminPassword)
	as, err := c.Service.AccountService()
	if err != nil {
		t.Fatalf("AccountService: %v", err)
	}
	const user, pw = "operator7", "Op-Passw0rd-77"
	acct, err := as.CreateAccount(user, pw, "Operator")
	if err != nil {
		t.Fatalf("CreateAccount: %v", err)
	}
	if acct.UserName != user || acct.RoleID != "Operator" || !acct.Enabled || acct.ODataID == "" {
		t.Errorf("created account: UserName %q RoleId %q Enabled %v @odata.id %q", acct.UserName, acct.RoleID, acct.Enabled, acct.ODataID)
	}
	accounts, err := as.Accounts()
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	if !slices.ContainsFunc(accounts, func(a *schemas.ManagerAccount) bool { return a.UserName == user }) {
		t.Fatalf("new account %s not listed", user)
	}

	// The new operator can log in, sees the system, and may not manage users.
	oc := gofishConnect(t, tb, user, pw)
	if sys := gofishSystem(t, oc); sys.ID != "1" {
		t.Errorf("operator sees system %q", sys.ID)
	}
	oas, err := oc.Service.AccountService()
	if err != nil {
		t.Fatalf("operator AccountService: %v", err)
	}
	if _, err := oas.CreateAccount("sneaky1", "Sneaky-Passw0rd1", "Administrator"); err == nil {
		t.Error("an Operator created an account")
	}
	oc.Logout()

	// Delete it; it is gone and can no longer log in.
	resp, err := c.Delete(acct.ODataID)
	if err != nil {
		t.Fatalf("DELETE %s: %v", acct.ODataID, err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 && resp.StatusCode != 204 {
		t.Errorf("DELETE %s: %d, want 200 or 204", acct.ODataID, resp.StatusCode)
	}
	accounts, err = as.Accounts()
	if err != nil {
		t.Fatalf("Accounts: %v", err)
	}
	if slices.ContainsFunc(accounts, func(a *schemas.ManagerAccount) bool { return a.UserName == user }) {
		t.Errorf("deleted account %s still listed", user)
	}
	if _, err := gofish.Connect(gofish.ClientConfig{Endpoint: tb.URL, Username: user, Password: pw, HTTPClient: tb.Client}); err == nil {
		t.Error("a deleted account could still log in")
	}
}
