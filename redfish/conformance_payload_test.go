//go:build conformance

package redfish_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/redfishschema"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// TestConformanceFrameworkPayloads validates the framework's own responses that a tree
// walk does not see against the DMTF schemas: the Session returned by login, a PATCH
// response carrying @Message.ExtendedInfo, a created account, and the Messages inside
// error bodies.
func TestConformanceFrameworkPayloads(t *testing.T) {
	shared := os.Getenv("IRONROOT_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "shared")
	}
	v, err := redfishschema.New(filepath.Join(shared, "redfish", "json-schema"))
	if err != nil {
		t.Fatalf("DMTF schema bundle not found (set IRONROOT_SHARED): %v", err)
	}
	tb := testboard.Start(t, testboard.FirstBoot())
	login := call(t, tb, "POST", "/redfish/v1/SessionService/Sessions",
		map[string]any{"UserName": tb.AdminUser, "Password": tb.AdminPassword}, "token", "-")
	payloads := map[string][]byte{"login (PasswordChangeRequired)": login.Body}
	own := login.JSON(t)["@Message.ExtendedInfo"].([]any)[0].(map[string]any)["MessageArgs"].([]any)[0].(string)
	payloads["PATCH own password"] = call(t, tb, "PATCH", own, map[string]any{"Password": "Brand-new-pw-1", "Bogus": 1},
		"basic", tb.AdminUser+":"+tb.AdminPassword).Body
	tb.AdminPassword = "Brand-new-pw-1"
	payloads["create account"] = call(t, tb, "POST", "/redfish/v1/AccountService/Accounts",
		map[string]any{"UserName": "op", "Password": "Operator-pw-1", "RoleId": "Operator"}).Body
	payloads["PATCH AccountService"] = call(t, tb, "PATCH", "/redfish/v1/AccountService",
		map[string]any{"MinPasswordLength": 9, "Id": "x"}).Body
	payloads["PATCH SessionService"] = call(t, tb, "PATCH", "/redfish/v1/SessionService",
		map[string]any{"SessionTimeout": 600}).Body
	for _, reg := range []string{"Base/Base", "IronrootEvent/IronrootEvent"} {
		payloads[reg] = call(t, tb, "GET", "/redfish/v1/Registries/"+reg, nil).Body
	}
	for name, body := range payloads {
		if err := v.Validate(body); err != nil {
			t.Errorf("%s: %v\n%s", name, err, body)
		}
	}
	errs := []*testboard.Response{
		call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", "-"),
		call(t, tb, "PATCH", "/redfish/v1/AccountService", map[string]any{"Bogus": 1, "Id": "x"}),
		call(t, tb, "GET", "/redfish/v1/Systems?$expand=.", nil),
	}
	for _, r := range errs {
		var e struct {
			Error struct {
				Info []json.RawMessage `json:"@Message.ExtendedInfo"`
			} `json:"error"`
		}
		if err := json.Unmarshal(r.Body, &e); err != nil {
			t.Fatal(err)
		}
		for _, m := range e.Error.Info {
			if err := v.ValidateAgainst(m, "Message.v1_3_0.json", "Message"); err != nil {
				t.Errorf("%d error message: %v\n%s", r.StatusCode, err, m)
			}
		}
	}
}
