// Package bmc owns the board: it opens a BMC state directory and wires the
// board's parts together — the clock and the board's DateTime offset, the
// host power state machine (bmc/power), the sensors (bmc/sensor), the
// inventory (bmc/inventory), the event store (bmc/event), the accounts
// (bmc/account) — and keeps the board's own settings (location indicator,
// network protocol settings). It turns power transitions, threshold
// crossings, account changes and login failures into events.
//
// It knows nothing of Redfish or IPMI wire formats; those layers read and
// change the board through *Board.
//
// # State directory
//
// Everything the BMC persists lives in Config.StateDir (the RoT's state and
// the dev keys do not), created 0700 on first boot:
//
//	board.json               board settings record (board ID, DateTime offset,
//	                         LocationIndicatorActive, IPMI enabled/port, power timing)
//	power.json               host power state + boot override record (bmc/power.Persisted)
//	inventory.json           serials, SKU, UUIDs (bmc/inventory)
//	sealing.key              0600, 32-byte interim sealing key (account.LoadOrCreateSealingKey):
//	                         only on a board without a root of trust (tests, development), or
//	                         from an older bmcd until UseSealingKey replaces and removes it
//	accounts/accounts.json   accounts, policy, lockout state (bmc/account)
//	events/seg-*.evt         event log segments (bmc/event)
//	tls/                     the Redfish TLS certificate and key (written by cmd/bmcd)
//	initial-admin-password   0600, the first boot's generated admin password
//
// The sealing key of the accounts' IPMI keys comes from the root of trust
// (GetSealingKey in the attested session) when Config.SealingKeyFromRoT is
// set: the board then opens the accounts with the interim key file only if
// one is left from an older bmcd (else with no key), never creates it, and
// UseSealingKey re-seals the IPMI keys under the RoT's key and removes the
// file. Without it, the board keeps the interim key file.
//
// Records are bmc/record envelopes {"version":N,"data":...}, written crash-
// safely; newer records stay readable by an older bmcd (additive fields).
//
// # First boot
//
// The first boot is the first Open of a state directory without board.json.
// Only then is the defaults file (Config.DefaultsFile, JSON Defaults) read;
// its settings are copied into board.json. The first boot creates the
// Administrator account (Defaults.AdminUser, "admin") with a random
// 20-character password from [A-Za-z0-9._~-] (at least one upper-case
// letter, lower-case letter, digit and symbol; the symbols survive shells
// and IPMI), PasswordChangeRequired, account types Redfish (+ IPMI when
// Defaults.IPMIEnabled), writes it to initial-admin-password and returns it
// in FirstBoot (behind a root of trust the sealing key is not there yet, so
// the admin's IPMI key is captured when its password is changed). board.json
// is written last, so a first boot interrupted by a crash is simply redone
// (the admin password is then reset).
package bmc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/bmc/inventory"
	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/bmc/record"
	"github.com/ironroot-bmc/ironroot/bmc/sensor"
)

// Names inside the state directory.
const (
	SettingsFile        = "board.json"
	PowerFile           = "power.json"
	SealingKeyFile      = "sealing.key"
	AccountsDir         = "accounts"
	EventsDir           = "events"
	TLSDir              = "tls"
	InitialPasswordFile = "initial-admin-password"
	settingsVersion     = 1
	powerVersion        = 1
	defaultBoardID      = "ironroot-sim"
	defaultAdminUser    = "admin"
	defaultIPMIPort     = 623
	defaultHTTPSPort    = 443
	adminPasswordLength = 20
	systemURI           = "/redfish/v1/Systems/1"
	managerURI          = "/redfish/v1/Managers/bmc"
	chassisSensorsURI   = "/redfish/v1/Chassis/1/Sensors/"
	accountServiceURI   = "/redfish/v1/AccountService"
	networkProtocolURI  = "/redfish/v1/Managers/bmc/NetworkProtocol"
	chassisURI          = "/redfish/v1/Chassis/1"
)

// Defaults is the first-boot defaults file (JSON), read only when the state
// directory is created. power_timing fields are durations in nanoseconds
// (keys PowerOn, PowerOff, OSShutdown).
type Defaults struct {
	BoardID     string        `json:"board_id"`
	AdminUser   string        `json:"admin_user"` // "admin"
	IPMIEnabled bool          `json:"ipmi_enabled"`
	IPMIPort    int           `json:"ipmi_port"` // 623 when 0
	PowerTiming *power.Timing `json:"power_timing,omitempty"`
}

// Config configures Open.
type Config struct {
	StateDir        string
	DefaultsFile    string // may be ""; read on the first boot only
	Clock           clock.Clock
	Logger          *slog.Logger
	FirmwareVersion string
	PowerTiming     *power.Timing  // overrides the persisted timing (tests)
	HTTPSPort       int            // the port Redfish is served on, for NetworkProtocol; 443 when 0
	EventOptions    *event.Options // optional bounds of the event store (Clock/TimeOffset are set by Open)
	// SealingKeyFromRoT says the sealing key will come from the root of
	// trust (UseSealingKey): the interim key file is not created (see the
	// package comment).
	SealingKeyFromRoT bool
	// Alongside, when set, is the caller's own startup work that needs the
	// open board (cmd/bmcd: its TLS identity). Open runs it on its own
	// goroutine once the board's parts are open, alongside the rest of Open
	// (on a first boot: the administrator's password hash, seconds on a
	// board's CPU), waits for it and fails with its error.
	Alongside func(*Board) error
}

// FirstBoot is returned by Open on the first boot only.
type FirstBoot struct {
	AdminUser, AdminPassword string
}

// NetworkProtocol is the manager's network protocol settings.
type NetworkProtocol struct {
	HTTPSPort   int
	IPMIEnabled bool
	IPMIPort    int
	SSHEnabled  bool // always false for now
}

// settings is the board.json record (version 1; fields only ever added).
type settings struct {
	BoardID                 string        `json:"board_id"`
	AdminUser               string        `json:"admin_user"`
	TimeOffset              time.Duration `json:"time_offset_ns"`
	LocationIndicatorActive bool          `json:"location_indicator_active"`
	IPMIEnabled             bool          `json:"ipmi_enabled"`
	IPMIPort                int           `json:"ipmi_port"`
	PowerTiming             power.Timing  `json:"power_timing"`
	Created                 time.Time     `json:"created"`
}

// Board is one board's model.
type Board struct {
	Clock     clock.Clock
	Power     *power.Machine
	Sensors   *sensor.Set
	Inventory inventory.Inventory
	Events    *event.Store
	Accounts  *account.Store
	StateDir  string
	Logger    *slog.Logger

	httpsPort int
	mu        sync.Mutex // guards set and closed
	set       settings
	closed    bool
}

// Open opens (on the first boot: creates) the board state in cfg.StateDir.
// FirstBoot is non-nil only on the first boot.
func Open(ctx context.Context, cfg Config) (*Board, *FirstBoot, error) {
	start := time.Now()
	if err := ctx.Err(); err != nil {
		return nil, nil, fmt.Errorf("open board: %w", err)
	}
	if cfg.StateDir == "" {
		return nil, nil, errors.New("open board: no state directory")
	}
	if cfg.Clock == nil {
		cfg.Clock = clock.Real()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	b := &Board{Clock: cfg.Clock, StateDir: cfg.StateDir, Logger: cfg.Logger, httpsPort: cfg.HTTPSPort}
	if b.httpsPort == 0 {
		b.httpsPort = defaultHTTPSPort
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, nil, fmt.Errorf("open board: %w", err)
	}

	_, err := record.Load(b.path(SettingsFile), &b.set)
	first := errors.Is(err, fs.ErrNotExist)
	if err != nil && !first {
		return nil, nil, fmt.Errorf("open board: %w", err)
	}
	if first {
		d, err := readDefaults(cfg.DefaultsFile)
		if err != nil {
			return nil, nil, fmt.Errorf("open board: first boot: %w", err)
		}
		b.set = settings{BoardID: d.BoardID, AdminUser: d.AdminUser, IPMIEnabled: d.IPMIEnabled,
			IPMIPort: d.IPMIPort, Created: cfg.Clock.Now().UTC()}
		if d.PowerTiming != nil {
			b.set.PowerTiming = *d.PowerTiming
		}
	}
	if b.set.IPMIPort == 0 {
		b.set.IPMIPort = defaultIPMIPort
	}
	b.Logger = b.Logger.With("board", b.set.BoardID)

	if err := b.openParts(cfg); err != nil {
		b.Close()
		return nil, nil, fmt.Errorf("open board: %w", err)
	}
	alongside := make(chan error, 1)
	if cfg.Alongside != nil {
		go func() { alongside <- cfg.Alongside(b) }()
	} else {
		alongside <- nil
	}
	b.Log(event.ManagerStarted, "", managerURI, b.Inventory.FirmwareVersion)
	var fb *FirstBoot
	if first {
		if fb, err = b.firstBoot(); err != nil {
			err = fmt.Errorf("open board: first boot: %w", err)
		}
	}
	if aerr := <-alongside; aerr != nil && err == nil {
		err = fmt.Errorf("open board: %w", aerr)
	}
	if err != nil {
		b.Close()
		return nil, nil, err
	}
	b.Logger.Info("board opened", "state", cfg.StateDir, "first_boot", first, "power", b.Power.State(),
		"took", time.Since(start).Round(time.Millisecond))
	return b, fb, nil
}

func (b *Board) path(name string) string { return filepath.Join(b.StateDir, name) }

// openParts opens the stores and starts the power machine and the sensors.
func (b *Board) openParts(cfg Config) error {
	var err error
	if b.Inventory, err = inventory.LoadOrCreate(b.StateDir); err != nil {
		return err
	}
	b.Inventory.FirmwareVersion = cfg.FirmwareVersion

	evOpt := event.Options{}
	if cfg.EventOptions != nil {
		evOpt = *cfg.EventOptions
	}
	evOpt.Clock, evOpt.TimeOffset, evOpt.Logger = b.Clock, b.DateTimeOffset, b.Logger
	if b.Events, err = event.Open(b.path(EventsDir), evOpt); err != nil {
		return err
	}

	load := account.LoadOrCreateSealingKey
	if cfg.SealingKeyFromRoT {
		load = account.LoadSealingKey // nil until UseSealingKey
	}
	key, err := load(b.path(SealingKeyFile))
	if err != nil {
		return err
	}
	b.Accounts, err = account.Open(account.Config{Dir: b.path(AccountsDir), SealingKey: key, Clock: b.Clock, Events: b.accountEvent})
	if err != nil {
		return err
	}

	timing := b.set.PowerTiming
	if cfg.PowerTiming != nil {
		timing = *cfg.PowerTiming
	}
	b.Power = power.New(b.Clock, timing, b.persistPower, b.powerChanged)
	var p power.Persisted
	switch _, err := record.Load(b.path(PowerFile), &p); {
	case err == nil:
		b.Power.Restore(p)
	case !errors.Is(err, fs.ErrNotExist):
		return err
	}
	b.Sensors = sensor.NewSet(b.Clock, b.Power.State, b.thresholdCrossed)
	return nil
}

// UseSealingKey makes key, the sealing key from the root of trust, the
// accounts' sealing key (account.Store.SetSealingKey re-seals the IPMI keys
// under it, on disk before it returns) and then removes the interim key
// file, durably. A crash in between leaves the file, and the next call
// removes it.
func (b *Board) UseSealingKey(key []byte) error {
	if err := b.Accounts.SetSealingKey(key); err != nil {
		return fmt.Errorf("use the sealing key: %w", err)
	}
	switch err := os.Remove(b.path(SealingKeyFile)); {
	case errors.Is(err, fs.ErrNotExist):
		return nil
	case err != nil:
		return fmt.Errorf("use the sealing key: remove the interim key file: %w", err)
	}
	if err := record.SyncDir(b.StateDir); err != nil {
		return fmt.Errorf("use the sealing key: %w", err)
	}
	return nil
}

func readDefaults(path string) (Defaults, error) {
	var d Defaults
	if path != "" {
		data, err := os.ReadFile(path)
		if err != nil {
			return Defaults{}, fmt.Errorf("read defaults: %w", err)
		}
		if err := json.Unmarshal(data, &d); err != nil {
			return Defaults{}, fmt.Errorf("read defaults %s: %w", path, err)
		}
	}
	if d.BoardID == "" {
		d.BoardID = defaultBoardID
	}
	if d.AdminUser == "" {
		d.AdminUser = defaultAdminUser
	}
	if d.IPMIPort == 0 {
		d.IPMIPort = defaultIPMIPort
	}
	if d.IPMIPort < 1 || d.IPMIPort > 65535 {
		return Defaults{}, fmt.Errorf("read defaults: ipmi_port %d out of range", d.IPMIPort)
	}
	if err := account.ValidateUserName(d.AdminUser); err != nil {
		return Defaults{}, fmt.Errorf("read defaults: admin_user: %w", err)
	}
	return d, nil
}

// firstBoot creates the administrator with a one-time password, writes the
// password to the password file and, once both are durable, marks the state
// as initialised by writing board.json. The password's PBKDF2 hash takes
// seconds on a board; Open's Alongside work runs meanwhile.
func (b *Board) firstBoot() (*FirstBoot, error) {
	pw, err := NewAdminPassword()
	if err != nil {
		return nil, err
	}
	user := b.set.AdminUser
	types := []account.AccountType{account.TypeRedfish}
	if b.set.IPMIEnabled {
		types = append(types, account.TypeIPMI)
	}
	if err := b.createAdmin(user, pw, types); err != nil {
		return nil, err
	}
	if err := record.WriteFile(b.path(InitialPasswordFile), []byte(pw+"\n"), 0o600); err != nil {
		return nil, err
	}
	b.mu.Lock()
	err = b.saveLocked(b.set)
	b.mu.Unlock()
	if err != nil {
		return nil, err
	}
	b.Log(event.FirstBoot, "", managerURI, user)
	return &FirstBoot{AdminUser: user, AdminPassword: pw}, nil
}

// createAdmin creates the first boot's administrator with the one-time
// password pw, or resets it when an earlier first boot crashed before
// board.json was written.
func (b *Board) createAdmin(user, pw string, types []account.AccountType) error {
	if a, err := b.Accounts.ByName(user); err == nil {
		yes, role := true, account.Administrator
		if _, err := b.Accounts.Update(a.ID, account.Patch{Password: &pw, PasswordChangeRequired: &yes, Role: &role,
			Enabled: &yes, AccountTypes: &types}); err != nil {
			return fmt.Errorf("reset admin account: %w", err)
		}
		return nil
	}
	if _, err := b.Accounts.Create(user, pw, account.Administrator, types, true); err != nil {
		return fmt.Errorf("create admin account: %w", err)
	}
	return nil
}

func (b *Board) saveLocked(s settings) error {
	if err := record.Save(b.path(SettingsFile), settingsVersion, s); err != nil {
		return fmt.Errorf("save board settings: %w", err)
	}
	b.set = s
	return nil
}

// update applies f to a copy of the settings, persists it, then makes it
// current.
func (b *Board) update(f func(*settings)) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return errors.New("board closed")
	}
	s := b.set
	f(&s)
	return b.saveLocked(s)
}

func (b *Board) current() settings {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.set
}

// ID returns the board ID (from the first boot's defaults).
func (b *Board) ID() string { return b.current().BoardID }

// Now returns the board's DateTime: clock + persisted offset.
func (b *Board) Now() time.Time { return b.Clock.Now().Add(b.DateTimeOffset()) }

// DateTimeOffset returns the offset of the board DateTime from the clock.
func (b *Board) DateTimeOffset() time.Duration { return b.current().TimeOffset }

// SetDateTime sets the board DateTime to t by storing an offset from the
// clock; the host clock is never touched.
func (b *Board) SetDateTime(t time.Time) error {
	off := t.Sub(b.Clock.Now())
	if err := b.update(func(s *settings) { s.TimeOffset = off }); err != nil {
		return fmt.Errorf("set date time: %w", err)
	}
	b.Log(event.DateTimeChanged, "", managerURI, t.Format(time.RFC3339), off.String())
	return nil
}

// LocationIndicatorActive reports the chassis location indicator.
func (b *Board) LocationIndicatorActive() bool { return b.current().LocationIndicatorActive }

// SetLocationIndicatorActive turns the location indicator on or off.
func (b *Board) SetLocationIndicatorActive(on bool) error {
	if err := b.update(func(s *settings) { s.LocationIndicatorActive = on }); err != nil {
		return fmt.Errorf("set location indicator: %w", err)
	}
	b.Log(event.LocationIndicatorChanged, "", chassisURI, map[bool]string{true: "on", false: "off"}[on])
	return nil
}

// NetworkProtocol returns the manager's protocol settings.
func (b *Board) NetworkProtocol() NetworkProtocol {
	s := b.current()
	return NetworkProtocol{HTTPSPort: b.httpsPort, IPMIEnabled: s.IPMIEnabled, IPMIPort: s.IPMIPort}
}

// SetIPMIEnabled enables or disables IPMI over LAN (persisted).
func (b *Board) SetIPMIEnabled(on bool) error {
	if err := b.update(func(s *settings) { s.IPMIEnabled = on }); err != nil {
		return fmt.Errorf("set IPMI enabled: %w", err)
	}
	b.Log(event.NetworkProtocolChanged, "", networkProtocolURI, "IPMI", map[bool]string{true: "enabled", false: "disabled"}[on])
	return nil
}

// SetIPMIPort sets the IPMI over LAN port (persisted).
func (b *Board) SetIPMIPort(port int) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("set IPMI port: %d out of range", port)
	}
	if err := b.update(func(s *settings) { s.IPMIPort = port }); err != nil {
		return fmt.Errorf("set IPMI port: %w", err)
	}
	b.Log(event.NetworkProtocolChanged, "", networkProtocolURI, "IPMI", fmt.Sprintf("set to port %d", port))
	return nil
}

// ResetToDefaults stops the board and removes everything in the state
// directory (not the directory itself, not the RoT's state); the next Open
// is a first boot. The board is closed afterwards; the caller exits.
func (b *Board) ResetToDefaults() error {
	b.Logger.Warn("resetting board state to defaults", "state", b.StateDir)
	if err := b.Close(); err != nil {
		b.Logger.Warn("close before reset to defaults", "err", err)
	}
	ents, err := os.ReadDir(b.StateDir)
	if err != nil {
		return fmt.Errorf("reset to defaults: %w", err)
	}
	var errs []error
	for _, e := range ents {
		if err := os.RemoveAll(filepath.Join(b.StateDir, e.Name())); err != nil {
			errs = append(errs, err)
		}
	}
	if err := record.SyncDir(b.StateDir); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("reset to defaults: %w", err)
	}
	return nil
}

// Close stops the power machine and the sensors and closes the event store.
func (b *Board) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	b.mu.Unlock()
	if b.Sensors != nil {
		b.Sensors.Stop()
	}
	if b.Power != nil {
		b.Power.Stop()
	}
	if b.Events != nil {
		if err := b.Events.Close(); err != nil {
			return fmt.Errorf("close board: %w", err)
		}
	}
	return nil
}
