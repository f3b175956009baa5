// Package redfish is the board's Redfish service (DSP0266): the route table with the
// privilege of every URI beside its path (from the DMTF privilege registry), HTTP Basic
// and session authentication, the OData protocol rules (headers, ETags, query
// parameters, PATCH semantics, error bodies built from the Base registry), and the
// resources: the service root, SessionService, AccountService, Registries (this file's
// siblings), the board's Systems, Chassis, Managers and logs, and its root of trust as
// the management-interface gate attests it (TrustedComponents, ComponentIntegrity).
//
// It serves HTTP only; TLS, listeners and process lifetime belong to cmd/bmcd. It reads
// and changes the board through *bmc.Board and never touches the host clock.
package redfish

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/bmc/record"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/redfish/base"
	"github.com/ironroot-bmc/ironroot/redfish/session"
)

// Config is everything the service needs. Board is required.
type Config struct {
	Board  *bmc.Board
	Logger *slog.Logger // nil: Board.Logger, or discard
	// OnManagerReset is called after the response to #Manager.Reset has been written;
	// bmcd flushes state, stops serving and exits with status 3 so that its supervisor
	// starts it again. nil: the reset is only logged.
	OnManagerReset func(resetType string)
	// OnResetToDefaults is called after the response to #Manager.ResetToDefaults; bmcd
	// wipes the BMC state and exits with status 3. nil: only logged.
	OnResetToDefaults func()
	// ExtraRegistries are OEM message registries published under
	// /redfish/v1/Registries besides Base and IronrootEvent (bmcd adds the
	// gate's IronrootGate registry, whose messages its 503 bodies carry).
	ExtraRegistries []event.Registry
	// Attestation is the management-interface gate (*mgmtif.Gate): TrustedComponents,
	// ComponentIntegrity and the SPDMGetSignedMeasurements action show and use it.
	// nil: the root of trust is reported unverified and the action answers 503.
	Attestation AttestationSource
}

// Service is the Redfish service of one board. Create it with New; serve Handler.
type Service struct {
	cfg      Config
	log      *slog.Logger
	sessions *session.Store

	mux       *http.ServeMux
	resources map[string]*resource // by path pattern
	routes    []*route             // in registration order
	privs     map[account.Role]uint32

	mu       sync.Mutex
	settings settings
}

// settings are the service's own persisted settings (AccountService.HTTPBasicAuth,
// SessionService.SessionTimeout), in <state>/redfish.json.
type settings struct {
	HTTPBasicAuth  bool `json:"http_basic_auth"`
	SessionTimeout int  `json:"session_timeout_seconds"`
}

const (
	settingsFile    = "redfish.json"
	settingsVersion = 1
)

// New builds the service and its route table.
func New(cfg Config) (*Service, error) {
	if cfg.Board == nil {
		return nil, errors.New("redfish: Config.Board is required")
	}
	if g, ok := cfg.Attestation.(*mgmtif.Gate); ok && g == nil {
		cfg.Attestation = nil // a nil *Gate in the interface: no gate
	}
	log := cfg.Logger
	if log == nil {
		log = cfg.Board.Logger
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Service{
		cfg:       cfg,
		log:       log,
		mux:       http.NewServeMux(),
		resources: make(map[string]*resource),
		privs:     make(map[account.Role]uint32),
		settings:  settings{HTTPBasicAuth: true, SessionTimeout: int(session.DefaultTimeout.Seconds())},
	}
	for _, role := range account.Roles() {
		for _, p := range role.Privileges() {
			s.privs[role] |= privBit(p)
		}
	}
	if err := s.loadSettings(); err != nil {
		return nil, err
	}
	s.sessions = session.New(session.Config{
		Clock:   cfg.Board.Clock,
		Timeout: secondsDuration(s.settings.SessionTimeout),
		OnEnd: func(sess session.Session, reason string) {
			s.log.Info("redfish session ended", "session", sess.ID, "user", sess.UserName, "reason", reason)
		},
	})

	s.registerServiceRoutes()
	s.registerSessionRoutes()
	s.registerAccountRoutes()
	s.registerRoleRoutes()
	s.registerRegistryRoutes()
	s.registerSystemRoutes()
	s.registerChassisRoutes()
	s.registerManagerRoutes()
	s.registerLogRoutes()
	s.registerTrustedRoutes()
	s.registerIntegrityRoutes()
	s.mux.Handle("/", http.HandlerFunc(s.notFound))
	return s, nil
}

// Handler returns the HTTP handler of the whole service (serve it over TLS only).
func (s *Service) Handler() http.Handler { return http.HandlerFunc(s.serveHTTP) }

// serveHTTP canonicalises the path (a trailing slash is accepted on every URI) and
// dispatches through the route table.
func (s *Service) serveHTTP(w http.ResponseWriter, r *http.Request) {
	if p := r.URL.Path; len(p) > 1 && strings.HasSuffix(p, "/") {
		r2 := new(http.Request)
		*r2 = *r
		u := *r.URL
		u.Path = strings.TrimRight(p, "/")
		u.RawPath = ""
		r2.URL = &u
		r = r2
	}
	s.mux.ServeHTTP(w, r)
}

// notFound answers URIs that no route serves: authentication first (so unauthenticated
// clients learn nothing about the URI space), then 404.
func (s *Service) notFound(w http.ResponseWriter, hr *http.Request) {
	req := &request{Request: hr, svc: s}
	if err := s.authenticate(req); err != nil {
		s.fail(w, req, err)
		return
	}
	s.fail(w, req, errorf(http.StatusNotFound, base.ResourceNotFound("Resource", hr.URL.Path)))
}

// RevokeAllSessions ends every Redfish session (the gate locking, a manager reset).
func (s *Service) RevokeAllSessions(reason string) {
	n := s.sessions.RevokeAll(reason)
	s.log.Info("redfish sessions revoked", "count", n, "reason", reason)
}

// Sessions returns the session store (the gate and tests use it).
func (s *Service) Sessions() *session.Store { return s.sessions }

// privBit maps a privilege to a bit, so the per-request check allocates nothing.
func privBit(p account.Privilege) uint32 {
	switch p {
	case account.PrivLogin:
		return 1 << 0
	case account.PrivConfigureManager:
		return 1 << 1
	case account.PrivConfigureUsers:
		return 1 << 2
	case account.PrivConfigureSelf:
		return 1 << 3
	case account.PrivConfigureComponents:
		return 1 << 4
	}
	return 0
}

// roleHas reports whether role has privilege p.
func (s *Service) roleHas(role account.Role, p account.Privilege) bool {
	b := privBit(p)
	return b != 0 && s.privs[role]&b != 0
}

func (s *Service) loadSettings() error {
	path := filepath.Join(s.cfg.Board.StateDir, settingsFile)
	_, err := record.Load(path, &s.settings)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("load redfish settings: %w", err)
	}
	if s.settings.SessionTimeout == 0 {
		s.settings.SessionTimeout = int(session.DefaultTimeout.Seconds())
	}
	return nil
}

// updateSettings applies change to a copy of the settings, persists it, then adopts it.
func (s *Service) updateSettings(change func(*settings)) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.settings
	change(&next)
	if err := record.Save(filepath.Join(s.cfg.Board.StateDir, settingsFile), settingsVersion, next); err != nil {
		return fmt.Errorf("save redfish settings: %w", err)
	}
	s.settings = next
	return nil
}

func (s *Service) currentSettings() settings {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.settings
}

// logEvent appends a board event (login, session, account changes) to the event log.
func (s *Service) logEvent(messageID string, sev event.Severity, origin string, args ...string) {
	s.cfg.Board.Log(messageID, sev, origin, args...)
}
