package redfish_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// resClient talks to a test board over a session (HTTP Basic would run the
// password hash on every request).
type resClient struct {
	t     *testing.T
	tb    *testboard.TB
	token string
}

func newResClient(t *testing.T) *resClient {
	t.Helper()
	tb := testboard.Start(t)
	token, _ := tb.Login(t, tb.AdminUser, tb.AdminPassword)
	return &resClient{t: t, tb: tb, token: token}
}

// as returns a client logged in as a new account with role.
func (c *resClient) as(name string, role account.Role) *resClient {
	c.t.Helper()
	const pw = "Res-Test-Pw-42"
	if _, err := c.tb.Board.Accounts.Create(name, pw, role, nil, false); err != nil {
		c.t.Fatalf("create %s: %v", name, err)
	}
	token, _ := c.tb.Login(c.t, name, pw)
	return &resClient{t: c.t, tb: c.tb, token: token}
}

func (c *resClient) do(method, path string, body any) *testboard.Response {
	c.t.Helper()
	req := c.tb.NewRequest(c.t, method, path, body)
	req.Header.Del("Authorization")
	req.Header.Set("X-Auth-Token", c.token)
	return c.tb.Do(c.t, req)
}

// get GETs path, wants 200 and returns the JSON object.
func (c *resClient) get(path string) map[string]any {
	c.t.Helper()
	r := c.do(http.MethodGet, path, nil)
	if r.StatusCode != http.StatusOK {
		c.t.Fatalf("GET %s: %d %s", path, r.StatusCode, r.Body)
	}
	m := r.JSON(c.t)
	if m["@odata.id"] != strings.TrimSuffix(path, "/") {
		c.t.Errorf("GET %s: @odata.id %v", path, m["@odata.id"])
	}
	if _, ok := m["@odata.type"].(string); !ok {
		c.t.Errorf("GET %s: no @odata.type", path)
	}
	return m
}

// resWant checks a response's status and, for errors, that a message with key is in
// @Message.ExtendedInfo (of the error or of a 200 body).
func resWant(t *testing.T, r *testboard.Response, status int, key string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
	if key == "" {
		return
	}
	var body struct {
		Error struct {
			Info []struct{ MessageID string } `json:"@Message.ExtendedInfo"`
		} `json:"error"`
		Info []struct{ MessageID string } `json:"@Message.ExtendedInfo"`
	}
	if err := json.Unmarshal(r.Body, &body); err != nil {
		t.Fatalf("body: %v: %s", err, r.Body)
	}
	for _, m := range append(body.Error.Info, body.Info...) {
		if strings.HasSuffix(m.MessageID, "."+key) {
			return
		}
	}
	t.Fatalf("%s %s: no %s message: %s", r.Request.Method, r.Request.URL.Path, key, r.Body)
}

// path walks nested maps: path(m, "Boot", "BootSourceOverrideTarget").
func path(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func members(t *testing.T, coll map[string]any) []string {
	t.Helper()
	ms, _ := coll["Members"].([]any)
	if n, _ := coll["Members@odata.count"].(float64); int(n) != len(ms) {
		t.Errorf("%v: Members@odata.count %v, %d members", coll["@odata.id"], coll["Members@odata.count"], len(ms))
	}
	var out []string
	for _, m := range ms {
		out = append(out, path(m, "@odata.id").(string))
	}
	return out
}

func TestSystemResources(t *testing.T) {
	c := newResClient(t)
	coll := c.get("/redfish/v1/Systems")
	if got := members(t, coll); len(got) != 1 || got[0] != "/redfish/v1/Systems/1" {
		t.Fatalf("Systems members %v", got)
	}
	if coll["@odata.type"] != "#ComputerSystemCollection.ComputerSystemCollection" {
		t.Errorf("collection type %v", coll["@odata.type"])
	}
	sys := c.get("/redfish/v1/Systems/1")
	inv := c.tb.Board.Inventory
	for k, want := range map[string]any{
		"@odata.type": "#ComputerSystem.v1_27_0.ComputerSystem", "Id": "1", "SystemType": "Physical",
		"PowerState": "Off", "UUID": inv.UUID, "SerialNumber": inv.SerialNumber, "BiosVersion": inv.BiosVersion,
		"Manufacturer": inv.Manufacturer,
	} {
		if sys[k] != want {
			t.Errorf("%s = %v, want %v", k, sys[k], want)
		}
	}
	if got := path(sys, "Status", "State"); got != "StandbyOffline" {
		t.Errorf("Status.State %v with the host off", got)
	}
	if got := path(sys, "ProcessorSummary", "Count"); got != float64(inv.ProcessorCount) {
		t.Errorf("ProcessorSummary.Count %v", got)
	}
	if got := path(sys, "MemorySummary", "TotalSystemMemoryGiB"); got != float64(inv.MemoryGiB) {
		t.Errorf("MemorySummary %v", got)
	}
	if got := path(sys, "Boot", "BootSourceOverrideTarget@Redfish.AllowableValues"); len(got.([]any)) != len(power.BootSources()) {
		t.Errorf("boot allowable values %v", got)
	}
	reset := path(sys, "Actions", "#ComputerSystem.Reset").(map[string]any)
	if reset["target"] != "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset" || reset["@Redfish.ActionInfo"] != "/redfish/v1/Systems/1/ResetActionInfo" {
		t.Errorf("reset action %v", reset)
	}
	if path(sys, "Links", "Chassis").([]any)[0].(map[string]any)["@odata.id"] != "/redfish/v1/Chassis/1" ||
		path(sys, "Links", "ManagedBy").([]any)[0].(map[string]any)["@odata.id"] != "/redfish/v1/Managers/bmc" {
		t.Errorf("links %v", sys["Links"])
	}
	info := c.get("/redfish/v1/Systems/1/ResetActionInfo")
	p := info["Parameters"].([]any)[0].(map[string]any)
	if p["Name"] != "ResetType" || p["Required"] != true || len(p["AllowableValues"].([]any)) < 7 {
		t.Errorf("ResetActionInfo parameter %v", p)
	}
	resWant(t, c.do(http.MethodGet, "/redfish/v1/Systems/2", nil), http.StatusNotFound, "ResourceNotFound")
}

func TestSystemPatchBoot(t *testing.T) {
	c := newResClient(t)
	m := c.tb.Board.Power
	r := c.do(http.MethodPatch, "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideTarget":"Pxe","BootSourceOverrideEnabled":"Once"}}`)
	resWant(t, r, http.StatusOK, "")
	if o := m.BootOverride(); o.Target != power.BootPxe || o.Enabled != power.BootOnce {
		t.Fatalf("override %+v", o)
	}
	if got := path(r.JSON(t), "Boot", "BootSourceOverrideTarget"); got != "Pxe" {
		t.Errorf("PATCH body Boot target %v", got)
	}

	// Bad values change nothing.
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideTarget":"Floppy"}}`),
		http.StatusBadRequest, "PropertyValueNotInList")
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideEnabled":5}}`),
		http.StatusBadRequest, "PropertyValueTypeError")
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideTarget":"UefiShell","BootSourceOverrideMode":"Legacy"}}`),
		http.StatusBadRequest, "PropertyValueConflict")
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Systems/1", `{"PowerState":"On"}`), http.StatusBadRequest, "PropertyNotWritable")
	if o := m.BootOverride(); o.Target != power.BootPxe || o.Enabled != power.BootOnce || o.Mode != power.BootModeUEFI {
		t.Fatalf("override changed by bad PATCHes: %+v", o)
	}

	// Good and bad together: the good one applies, 200 reports the bad one.
	r = c.do(http.MethodPatch, "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideTarget":"Hdd","BootSourceOverrideEnabled":"Sometimes"}}`)
	resWant(t, r, http.StatusOK, "PropertyValueNotInList")
	if o := m.BootOverride(); o.Target != power.BootHdd || o.Enabled != power.BootOnce {
		t.Fatalf("override after mixed PATCH %+v", o)
	}

	ro := c.as("viewer", account.ReadOnly)
	resWant(t, ro.do(http.MethodPatch, "/redfish/v1/Systems/1", `{"Boot":{"BootSourceOverrideTarget":"Cd"}}`),
		http.StatusForbidden, "InsufficientPrivilege")
}

func TestSystemReset(t *testing.T) {
	c := newResClient(t)
	const action = "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset"
	resWant(t, c.do(http.MethodPost, action, `{}`), http.StatusBadRequest, "ActionParameterMissing")
	resWant(t, c.do(http.MethodPost, action, `{"ResetType":"Explode"}`), http.StatusBadRequest, "ActionParameterValueNotInList")
	resWant(t, c.do(http.MethodPost, action, `{"ResetType":1}`), http.StatusBadRequest, "ActionParameterValueTypeError")
	resWant(t, c.do(http.MethodPost, action, `{"ResetType":"On","Delay":3}`), http.StatusBadRequest, "ActionParameterUnknown")
	resWant(t, c.do(http.MethodPost, action, `{"ResetType":"Nmi"}`), http.StatusConflict, "ResourceInStandby")
	if got := c.tb.Board.Power.State(); got != power.Off {
		t.Fatalf("rejected resets changed the state to %s", got)
	}

	resWant(t, c.do(http.MethodPost, action, `{"ResetType":"On"}`), http.StatusNoContent, "")
	if got := c.get("/redfish/v1/Systems/1")["PowerState"]; got != "PoweringOn" {
		t.Fatalf("PowerState right after On: %v", got)
	}
	resWant(t, c.do(http.MethodPost, action, `{"ResetType":"GracefulRestart"}`), http.StatusConflict, "ResourceInUse")
	c.tb.Clock.Advance(c.tb.Board.Power.Timing().PowerOn + time.Second)
	sys := c.get("/redfish/v1/Systems/1")
	if sys["PowerState"] != "On" || path(sys, "Status", "State") != "Enabled" {
		t.Fatalf("after boot: PowerState %v, Status %v", sys["PowerState"], sys["Status"])
	}

	op := c.as("operator", account.Operator) // ConfigureComponents
	resWant(t, op.do(http.MethodPost, action, `{"ResetType":"ForceOff"}`), http.StatusNoContent, "")
	c.tb.Clock.Advance(c.tb.Board.Power.Timing().PowerOff + time.Second)
	if got := c.get("/redfish/v1/Systems/1")["PowerState"]; got != "Off" {
		t.Fatalf("after ForceOff: %v", got)
	}
	ro := c.as("viewer", account.ReadOnly)
	resWant(t, ro.do(http.MethodPost, action, `{"ResetType":"On"}`), http.StatusForbidden, "InsufficientPrivilege")
}
