package redfish_test

import (
	"net/http"
	"regexp"
	"slices"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

func TestManagerResources(t *testing.T) {
	c := newResClient(t)
	if got := members(t, c.get("/redfish/v1/Managers")); len(got) != 1 || got[0] != "/redfish/v1/Managers/bmc" {
		t.Fatalf("Managers members %v", got)
	}
	m := c.get("/redfish/v1/Managers/bmc")
	inv := c.tb.Board.Inventory
	// The firmware version is the one the root of trust verified and the gate attested
	// (the signed manifest's), not bmcd's build version.
	attested := c.tb.Gate.Status().Result.Manifest.FirmwareVersion
	if attested == inv.FirmwareVersion {
		t.Fatalf("test board: attested firmware version %q equals bmcd's build version", attested)
	}
	for k, want := range map[string]any{
		"@odata.type": "#Manager.v1_24_0.Manager", "ManagerType": "BMC", "FirmwareVersion": attested,
		"UUID": inv.ManagerUUID, "ServiceEntryPointUUID": c.get("/redfish/v1")["UUID"],
		"DateTime": testboard.Epoch.Format("2006-01-02T15:04:05-07:00"), "DateTimeLocalOffset": "+00:00",
	} {
		if m[k] != want {
			t.Errorf("%s = %v, want %v", k, m[k], want)
		}
	}
	if path(m, "Links", "ManagerForServers").([]any)[0].(map[string]any)["@odata.id"] != "/redfish/v1/Systems/1" ||
		path(m, "Links", "ManagerForChassis").([]any)[0].(map[string]any)["@odata.id"] != "/redfish/v1/Chassis/1" {
		t.Errorf("Links %v", m["Links"])
	}
	for _, a := range []string{"#Manager.Reset", "#Manager.ResetToDefaults"} {
		info := c.get(path(m, "Actions", a, "@Redfish.ActionInfo").(string))
		if p := info["Parameters"].([]any)[0].(map[string]any); p["Name"] != "ResetType" {
			t.Errorf("%s ActionInfo %v", a, info)
		}
	}
	eths := members(t, c.get("/redfish/v1/Managers/bmc/EthernetInterfaces"))
	if len(eths) != 1 {
		t.Fatalf("EthernetInterfaces %v", eths)
	}
	eth := c.get(eths[0])
	mac, _ := eth["MACAddress"].(string)
	if !regexp.MustCompile(`^([0-9a-f]{2}:){5}[0-9a-f]{2}$`).MatchString(mac) || c.get(eths[0])["MACAddress"] != mac {
		t.Errorf("MACAddress %q", mac)
	}
	if ls := members(t, c.get("/redfish/v1/Managers/bmc/LogServices")); len(ls) != 0 {
		t.Errorf("manager log services %v", ls)
	}
	resWant(t, c.do(http.MethodGet, "/redfish/v1/Managers/1", nil), http.StatusNotFound, "ResourceNotFound")
}

func TestManagerDateTime(t *testing.T) {
	c := newResClient(t)
	set := testboard.Epoch.Add(90 * time.Minute).In(time.FixedZone("", 2*3600))
	r := c.do(http.MethodPatch, "/redfish/v1/Managers/bmc", map[string]string{"DateTime": set.Format(time.RFC3339)})
	resWant(t, r, http.StatusOK, "")
	if got := c.tb.Board.DateTimeOffset(); got != 90*time.Minute {
		t.Fatalf("offset %v, want 1h30m", got)
	}
	if !c.tb.Clock.Now().Equal(testboard.Epoch) {
		t.Fatalf("the board clock moved: %v", c.tb.Clock.Now())
	}
	if got := r.JSON(t)["DateTime"]; got != set.UTC().Format("2006-01-02T15:04:05-07:00") {
		t.Errorf("DateTime in PATCH body %v", got)
	}
	for _, bad := range []string{"yesterday", "2026-11-27T10:00:00", "2026-11-27"} {
		resWant(t, c.do(http.MethodPatch, "/redfish/v1/Managers/bmc", map[string]string{"DateTime": bad}),
			http.StatusBadRequest, "PropertyValueFormatError")
	}
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Managers/bmc", `{"DateTime":12}`), http.StatusBadRequest, "PropertyValueTypeError")
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Managers/bmc", `{"DateTimeLocalOffset":"+01:00"}`), http.StatusBadRequest, "PropertyNotWritable")
	if got := c.tb.Board.DateTimeOffset(); got != 90*time.Minute {
		t.Fatalf("bad PATCHes changed the offset to %v", got)
	}
	op := c.as("operator", account.Operator) // no ConfigureManager
	resWant(t, op.do(http.MethodPatch, "/redfish/v1/Managers/bmc", map[string]string{"DateTime": set.Format(time.RFC3339)}),
		http.StatusForbidden, "InsufficientPrivilege")
}

func TestManagerNetworkProtocol(t *testing.T) {
	c := newResClient(t)
	const uri = "/redfish/v1/Managers/bmc/NetworkProtocol"
	np := c.get(uri)
	if path(np, "HTTPS", "ProtocolEnabled") != true || path(np, "SSH", "ProtocolEnabled") != false {
		t.Errorf("NetworkProtocol %v", np)
	}
	for _, on := range []bool{true, false} {
		r := c.do(http.MethodPatch, uri, map[string]any{"IPMI": map[string]any{"ProtocolEnabled": on}})
		resWant(t, r, http.StatusOK, "")
		if c.tb.Board.NetworkProtocol().IPMIEnabled != on || path(r.JSON(t), "IPMI", "ProtocolEnabled") != on {
			t.Fatalf("IPMI enabled: board %v, body %s, want %v", c.tb.Board.NetworkProtocol().IPMIEnabled, r.Body, on)
		}
	}
	resWant(t, c.do(http.MethodPatch, uri, `{"IPMI":{"Port":1623}}`), http.StatusBadRequest, "PropertyNotWritable")
	resWant(t, c.do(http.MethodPatch, uri, `{"IPMI":{"ProtocolEnabled":"yes"}}`), http.StatusBadRequest, "PropertyValueTypeError")
	resWant(t, c.do(http.MethodPatch, uri, `{"HTTPS":{"ProtocolEnabled":false}}`), http.StatusBadRequest, "PropertyNotWritable")
	op := c.as("operator", account.Operator)
	resWant(t, op.do(http.MethodPatch, uri, `{"IPMI":{"ProtocolEnabled":true}}`), http.StatusForbidden, "InsufficientPrivilege")
	if c.tb.Board.NetworkProtocol().IPMIEnabled {
		t.Fatal("IPMI enabled by refused PATCHes")
	}
}

func TestManagerReset(t *testing.T) {
	c := newResClient(t)
	const reset = "/redfish/v1/Managers/bmc/Actions/Manager.Reset"
	const toDefaults = "/redfish/v1/Managers/bmc/Actions/Manager.ResetToDefaults"
	resWant(t, c.do(http.MethodPost, reset, `{"ResetType":"On"}`), http.StatusBadRequest, "ActionParameterValueNotInList")
	resWant(t, c.do(http.MethodPost, reset, `{}`), http.StatusBadRequest, "ActionParameterMissing")
	resWant(t, c.do(http.MethodPost, toDefaults, `{"ResetType":"PreserveNetwork"}`), http.StatusBadRequest, "ActionParameterValueNotInList")
	op := c.as("operator", account.Operator)
	resWant(t, op.do(http.MethodPost, reset, `{"ResetType":"ForceRestart"}`), http.StatusForbidden, "InsufficientPrivilege")
	if got := c.tb.Resets(); len(got) != 0 {
		t.Fatalf("refused requests reset the manager: %v", got)
	}

	resWant(t, c.do(http.MethodPost, reset, `{"ResetType":"GracefulRestart"}`), http.StatusNoContent, "")
	resWant(t, c.do(http.MethodPost, toDefaults, `{"ResetType":"ResetAll"}`), http.StatusNoContent, "")
	// The callbacks run after the 204 has been flushed, on the server's goroutine.
	want := []string{"Manager.Reset GracefulRestart", "Manager.ResetToDefaults"}
	deadline := time.Now().Add(5 * time.Second)
	for !slices.Equal(c.tb.Resets(), want) && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if got := c.tb.Resets(); !slices.Equal(got, want) {
		t.Fatalf("callbacks %v, want %v", got, want)
	}
}
