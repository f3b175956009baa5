// Package testboard starts a real board with its real Redfish service for tests: the
// board state in t.TempDir, a fake clock the test advances, and the service's handler
// served over TLS on 127.0.0.1:0 with a fresh P-384 certificate that the returned client
// trusts. Everything is closed in t.Cleanup.
//
// The service sits behind the real management-interface gate (mgmtif, gatehttp), which
// attests a simulated root of trust (internal/rotsim: the real SPDM responder over
// net.Pipe with a per-test identity); Start returns once the gate is Open. The gate's
// re-checks run on the fake clock; TB.RoT makes the RoT misbehave, TB.Gate shows the
// state. NoGate() serves the service without the gate.
//
//	tb := testboard.Start(t)
//	resp, err := tb.Client.Get(tb.URL + "/redfish/v1/Systems/1") // no auth: 401
//	req := tb.NewRequest(t, "GET", "/redfish/v1/Systems/1", nil)  // Basic auth as admin
//	resp = tb.Do(t, req)
//
// It owns no production code and must not be imported outside tests.
package testboard

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"io"
	"log/slog"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/mgmtif/gatehttp"
	"github.com/ironroot-bmc/ironroot/redfish"
)

// Epoch is the fake clock's start time.
var Epoch = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

// AdminPassword is the admin password after Start changed it (unless FirstBoot).
const AdminPassword = "Ironroot-Test-Pw1"

// TB is a running test board.
type TB struct {
	URL     string       // "https://127.0.0.1:PORT", no trailing slash
	Client  *http.Client // trusts the server certificate
	CertPEM []byte       // the server certificate, PEM
	Clock   *clock.Fake
	Board   *bmc.Board
	Service *redfish.Service
	// AdminUser and AdminPassword are the first-boot administrator's credentials; the
	// password is already changed (PasswordChangeRequired false) unless FirstBoot.
	AdminUser     string
	AdminPassword string
	Server        *httptest.Server
	// Gate is the management-interface gate in front of the service (nil with
	// NoGate); RoT is the simulated root of trust it attests.
	Gate *mgmtif.Gate
	RoT  *rotsim.RoT

	mu     sync.Mutex
	resets []string
}

// Option changes how Start builds the board.
type Option func(*options)

type options struct {
	noGate    bool
	firstBoot bool
	logger    *slog.Logger
	config    func(*bmc.Config)
}

// FirstBoot keeps the first-boot state: the admin password is the generated one and
// PasswordChangeRequired is true.
func FirstBoot() Option { return func(o *options) { o.firstBoot = true } }

// NoGate serves the service without the management-interface gate.
func NoGate() Option { return func(o *options) { o.noGate = true } }

// Logger sets the board's and service's logger (default: discard).
func Logger(l *slog.Logger) Option { return func(o *options) { o.logger = l } }

// BoardConfig lets a test adjust bmc.Config (e.g. PowerTiming) before the board opens.
func BoardConfig(f func(*bmc.Config)) Option { return func(o *options) { o.config = f } }

// Start opens a board in t.TempDir with a fake clock at Epoch and serves its Redfish
// service over TLS. It fails the test on any error.
func Start(t testing.TB, opts ...Option) *TB {
	t.Helper()
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	if o.logger == nil {
		o.logger = slog.New(slog.DiscardHandler)
	}
	clk := clock.NewFake(Epoch)
	cfg := bmc.Config{StateDir: t.TempDir(), Clock: clk, Logger: o.logger, FirmwareVersion: "test"}
	if o.config != nil {
		o.config(&cfg)
	}
	board, first, err := bmc.Open(context.Background(), cfg)
	if err != nil {
		t.Fatalf("testboard: open board: %v", err)
	}
	t.Cleanup(func() {
		if err := board.Close(); err != nil {
			t.Errorf("testboard: close board: %v", err)
		}
	})
	if first == nil {
		t.Fatalf("testboard: a fresh state dir did not report a first boot")
	}
	tb := &TB{Clock: clk, Board: board, AdminUser: first.AdminUser, AdminPassword: first.AdminPassword}
	if !o.firstBoot {
		admin, err := board.Accounts.ByName(first.AdminUser)
		if err != nil {
			t.Fatalf("testboard: find admin: %v", err)
		}
		pw := AdminPassword
		if _, err := board.Accounts.Update(admin.ID, account.Patch{Password: &pw}); err != nil {
			t.Fatalf("testboard: change admin password: %v", err)
		}
		tb.AdminPassword = pw
	}
	rcfg := redfish.Config{
		Board:             board,
		Logger:            o.logger,
		OnManagerReset:    func(rt string) { tb.recordReset("Manager.Reset " + rt) },
		OnResetToDefaults: func() { tb.recordReset("Manager.ResetToDefaults") },
		ExtraRegistries:   []event.Registry{gatehttp.Registry()},
	}
	if !o.noGate {
		// The gate is built before the service (the service shows it) and run after
		// (its revoker is the service's).
		tb.newGate(t, clk, o.logger)
		rcfg.Attestation = tb.Gate
	}
	svc, err := redfish.New(rcfg)
	if err != nil {
		t.Fatalf("testboard: new service: %v", err)
	}
	tb.Service = svc
	handler := svc.Handler()
	if !o.noGate {
		handler = tb.startGate(t)
	}

	cert, certPEM, err := selfSigned()
	if err != nil {
		t.Fatalf("testboard: certificate: %v", err)
	}
	srv := httptest.NewUnstartedServer(handler)
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tb.Server, tb.URL, tb.Client, tb.CertPEM = srv, srv.URL, srv.Client(), certPEM
	return tb
}

// newGate builds the gate attesting a simulated RoT; its revoker ends the
// service's sessions (tb.Service, set before the gate runs).
func (tb *TB) newGate(t testing.TB, clk *clock.Fake, log *slog.Logger) {
	t.Helper()
	tb.RoT = rotsim.New(t, rotsim.Options{})
	cfg := mgmtif.NewGateConfig(tb.RoT.BMCConfig)
	cfg.Clock, cfg.Dial, cfg.Events, cfg.Logger = clk, tb.RoT.Dial, tb.Board, log
	cfg.Revokers = []mgmtif.Revoker{func(reason string) { tb.Service.RevokeAllSessions(reason) }}
	gate, err := mgmtif.NewGate(cfg)
	if err != nil {
		t.Fatalf("testboard: gate: %v", err)
	}
	tb.Gate = gate
}

// startGate runs the gate in front of the service and waits until it is Open.
func (tb *TB) startGate(t testing.TB) http.Handler {
	t.Helper()
	gate := tb.Gate
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = gate.Run(ctx)
	}()
	t.Cleanup(func() { cancel(); <-done })
	wctx, wcancel := context.WithTimeout(ctx, 30*time.Second)
	defer wcancel()
	if _, err := gate.Wait(wctx, func(s mgmtif.Status) bool { return s.State == mgmtif.Open }); err != nil {
		t.Fatalf("testboard: the gate did not open: %v", err)
	}
	return gatehttp.Handler(gatehttp.Config{Gate: gate}, tb.Service.Handler())
}

func (tb *TB) recordReset(what string) {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	tb.resets = append(tb.resets, what)
}

// Resets returns the Manager.Reset / ResetToDefaults callbacks seen so far
// ("Manager.Reset GracefulRestart", "Manager.ResetToDefaults").
func (tb *TB) Resets() []string {
	tb.mu.Lock()
	defer tb.mu.Unlock()
	return append([]string(nil), tb.resets...)
}

// NewRequest builds a request to path (e.g. "/redfish/v1/Systems/1") authenticated with
// HTTP Basic as the admin. body, if non-nil, is sent as JSON ([]byte and string as is).
func (tb *TB) NewRequest(t testing.TB, method, path string, body any) *http.Request {
	t.Helper()
	var rd io.Reader
	switch b := body.(type) {
	case nil:
	case []byte:
		rd = bytes.NewReader(b)
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, err := json.Marshal(b)
		if err != nil {
			t.Fatalf("testboard: marshal body: %v", err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, tb.URL+path, rd)
	if err != nil {
		t.Fatalf("testboard: new request: %v", err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.SetBasicAuth(tb.AdminUser, tb.AdminPassword)
	return req
}

// Do sends req and returns the response with its body read into Body (already closed).
func (tb *TB) Do(t testing.TB, req *http.Request) *Response {
	t.Helper()
	resp, err := tb.Client.Do(req)
	if err != nil {
		t.Fatalf("testboard: %s %s: %v", req.Method, req.URL.Path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("testboard: read body: %v", err)
	}
	return &Response{Response: resp, Body: body}
}

// Login creates a Redfish session and returns its X-Auth-Token and URI.
func (tb *TB) Login(t testing.TB, user, password string) (token, location string) {
	t.Helper()
	req := tb.NewRequest(t, http.MethodPost, "/redfish/v1/SessionService/Sessions",
		map[string]string{"UserName": user, "Password": password})
	req.Header.Del("Authorization")
	resp := tb.Do(t, req)
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("testboard: login %s: %d %s", user, resp.StatusCode, resp.Body)
	}
	return resp.Header.Get("X-Auth-Token"), resp.Header.Get("Location")
}

// Response is an HTTP response with its body read.
type Response struct {
	*http.Response
	Body []byte
}

// JSON decodes the body into a map; it fails the test if the body is not a JSON object.
func (r *Response) JSON(t testing.TB) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.Body, &m); err != nil {
		t.Fatalf("testboard: %d body is not a JSON object: %v: %s", r.StatusCode, err, r.Body)
	}
	return m
}

// selfSigned makes a P-384 certificate for 127.0.0.1, like the board's own.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "ironroot test board"},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1)},
		DNSNames:              []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return tls.Certificate{}, nil, err
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, pemBytes, nil
}
