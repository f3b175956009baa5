package gatehttp_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/mgmtif/gatehttp"
)

type fixture struct {
	t    *testing.T
	tb   *testboard.TB
	rot  *rotsim.RoT
	gate *mgmtif.Gate
	srv  *httptest.Server
}

func newFixture(t *testing.T) *fixture {
	tb := testboard.Start(t, testboard.NoGate()) // this test builds its own gate around the service
	rot := rotsim.New(t, rotsim.Options{})
	cfg := mgmtif.NewGateConfig(rot.BMCConfig)
	cfg.Clock, cfg.Dial, cfg.Events = tb.Clock, rot.Dial, tb.Board
	cfg.Revokers = []mgmtif.Revoker{tb.Service.RevokeAllSessions}
	g, err := mgmtif.NewGate(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(gatehttp.Handler(gatehttp.Config{Gate: g, RetryAfter: 7 * time.Second}, tb.Service.Handler()))
	t.Cleanup(srv.Close)
	return &fixture{t: t, tb: tb, rot: rot, gate: g, srv: srv}
}

func (f *fixture) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); _ = f.gate.Run(ctx) }()
	f.t.Cleanup(func() { cancel(); <-done })
}

func (f *fixture) wait(s mgmtif.State) {
	f.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := f.gate.Wait(ctx, func(st mgmtif.Status) bool { return st.State == s }); err != nil {
		f.t.Fatal(err)
	}
}

func (f *fixture) do(method, path, token string, body any) (*http.Response, []byte) {
	f.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, f.srv.URL+path, rd)
	if err != nil {
		f.t.Fatal(err)
	}
	switch token {
	case "":
	case "basic":
		req.SetBasicAuth(f.tb.AdminUser, f.tb.AdminPassword)
	default:
		req.Header.Set("X-Auth-Token", token)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		f.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, b
}

func (f *fixture) login() string {
	f.t.Helper()
	resp, b := f.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": f.tb.AdminUser, "Password": f.tb.AdminPassword})
	if resp.StatusCode != http.StatusCreated {
		f.t.Fatalf("login: %d %s", resp.StatusCode, b)
	}
	return resp.Header.Get("X-Auth-Token")
}

// checkShut checks every non-discovery URI is 503 with the gate's body and
// discovery still answers.
func (f *fixture) checkShut(token string) {
	f.t.Helper()
	for _, p := range []string{"/redfish/v1/Systems/1", "/redfish/v1/SessionService/Sessions", "/redfish/v1/Registries", "/redfish/v1/Managers/bmc"} {
		resp, b := f.do("GET", p, token, nil)
		if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") != "7" {
			f.t.Fatalf("GET %s while shut: %d Retry-After %q", p, resp.StatusCode, resp.Header.Get("Retry-After"))
		}
		var body struct {
			Error struct {
				Code string `json:"code"`
				Info []struct {
					MessageID string `json:"MessageId"`
					Message   string `json:"Message"`
				} `json:"@Message.ExtendedInfo"`
			} `json:"error"`
		}
		if err := json.Unmarshal(b, &body); err != nil {
			f.t.Fatalf("body %s: %v", b, err)
		}
		if body.Error.Code != "Base.1.22.ServiceTemporarilyUnavailable" || len(body.Error.Info) != 2 ||
			!strings.HasPrefix(body.Error.Info[1].MessageID, "IronrootGate.1.0.") {
			f.t.Fatalf("body %s", b)
		}
		if _, ok := gatehttp.Registry().Messages[body.Error.Info[1].MessageID[len("IronrootGate.1.0."):]]; !ok {
			f.t.Fatalf("message %s not in the registry", body.Error.Info[1].MessageID)
		}
	}
	// No login succeeds.
	resp, _ := f.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": f.tb.AdminUser, "Password": f.tb.AdminPassword})
	if resp.StatusCode != http.StatusServiceUnavailable {
		f.t.Fatalf("login while shut: %d", resp.StatusCode)
	}
	for _, p := range []string{"/redfish", "/redfish/v1", "/redfish/v1/", "/redfish/v1/odata", "/redfish/v1/$metadata"} {
		if resp, b := f.do("GET", p, "", nil); resp.StatusCode != http.StatusOK {
			f.t.Fatalf("discovery %s while shut: %d %s", p, resp.StatusCode, b)
		}
	}
}

func TestRedfishBehindTheGate(t *testing.T) {
	f := newFixture(t)
	f.checkShut("basic") // Locked before the first attestation

	f.run()
	f.wait(mgmtif.Open)
	token := f.login()
	if resp, b := f.do("GET", "/redfish/v1/Systems/1", token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("open: %d %s", resp.StatusCode, b)
	}

	// A Redfish DateTime change does not lock the gate.
	if resp, b := f.do("PATCH", "/redfish/v1/Managers/bmc", token, map[string]string{"DateTime": "2099-01-01T00:00:00+00:00"}); resp.StatusCode/100 != 2 {
		t.Fatalf("DateTime: %d %s", resp.StatusCode, b)
	}
	passes := f.gate.Status().Passes
	f.tb.Clock.Advance(f.rot.BMCConfig.Gate.MeasurementInterval)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	st, err := f.gate.Wait(ctx, func(st mgmtif.Status) bool { return st.Passes > passes || st.State != mgmtif.Open })
	if err != nil || st.State != mgmtif.Open {
		t.Fatalf("after a DateTime change: %+v %v", st, err)
	}

	// The RoT stops answering: Locked within one interval, sessions gone.
	f.rot.Disconnect()
	f.tb.Clock.Advance(f.rot.BMCConfig.Gate.MeasurementInterval)
	f.wait(mgmtif.Locked)
	f.checkShut(token)
	if n := len(f.tb.Service.Sessions().List()); n != 0 {
		t.Fatalf("%d sessions survive Locked", n)
	}

	// Back: open again, the old session stays revoked, a new login works.
	f.rot.Reconnect()
	f.tb.Clock.Advance(mgmtif.DefaultRetryDelay)
	f.wait(mgmtif.Open)
	if resp, _ := f.do("GET", "/redfish/v1/Systems/1", token, nil); resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("revoked session after re-Open: %d", resp.StatusCode)
	}
	token = f.login()
	if resp, b := f.do("GET", "/redfish/v1/Systems/1", token, nil); resp.StatusCode != http.StatusOK {
		t.Fatalf("re-open: %d %s", resp.StatusCode, b)
	}

	// Every transition is in the board's event log with its reason.
	var seen []string
	for _, e := range f.tb.Board.Events.List() {
		if e.MessageID == event.GateStateChanged {
			seen = append(seen, e.Args[0]+"→"+e.Args[1])
			if e.Args[2] == "" {
				t.Fatalf("transition without a reason: %+v", e)
			}
		}
	}
	want := "Locked→Attesting Attesting→Open Open→Locked Locked→Attesting Attesting→Open"
	if strings.Join(seen, " ") != want {
		t.Fatalf("gate events %v, want %s", seen, want)
	}
}

func TestRegistry(t *testing.T) {
	r := gatehttp.Registry()
	if r.Prefix != "IronrootGate" || len(r.Messages) == 0 {
		t.Fatalf("%+v", r)
	}
	for k, m := range r.Messages {
		if m.NumberOfArgs != strings.Count(m.Message, "%") {
			t.Errorf("%s: %d args, message %q", k, m.NumberOfArgs, m.Message)
		}
	}
}

// testboard's default: the real gate in front of the service, Open, and
// locking when the simulated RoT misbehaves.
func TestTestboardGate(t *testing.T) {
	tb := testboard.Start(t)
	if tb.Gate == nil || !tb.Gate.IsOpen() {
		t.Fatal("testboard gate not open")
	}
	if resp := tb.Do(t, tb.NewRequest(t, "GET", "/redfish/v1/Systems/1", nil)); resp.StatusCode != http.StatusOK {
		t.Fatalf("%d", resp.StatusCode)
	}
	tb.RoT.ReplaySignatures(true)
	tb.Clock.Advance(tb.RoT.BMCConfig.Gate.MeasurementInterval)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := tb.Gate.Wait(ctx, func(s mgmtif.Status) bool { return s.State == mgmtif.Locked }); err != nil {
		t.Fatal(err)
	}
	if resp := tb.Do(t, tb.NewRequest(t, "GET", "/redfish/v1/Systems/1", nil)); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("%d while Locked", resp.StatusCode)
	}
	r := tb.Do(t, tb.NewRequest(t, "GET", "/redfish/v1/Registries/IronrootGate/IronrootGate", nil))
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("registry while Locked: %d", r.StatusCode)
	}
	tb.RoT.ReplaySignatures(false)
	tb.Clock.Advance(mgmtif.DefaultRetryDelay)
	if _, err := tb.Gate.Wait(ctx, func(s mgmtif.Status) bool { return s.State == mgmtif.Open }); err != nil {
		t.Fatal(err)
	}
	r = tb.Do(t, tb.NewRequest(t, "GET", "/redfish/v1/Registries/IronrootGate/IronrootGate", nil))
	if m := r.JSON(t); r.StatusCode != http.StatusOK || m["RegistryPrefix"] != "IronrootGate" {
		t.Fatalf("gate registry: %d %s", r.StatusCode, r.Body)
	}
}
