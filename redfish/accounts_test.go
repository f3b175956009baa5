package redfish_test

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// createUser creates an account with role through the API and returns its URI.
func createUser(t *testing.T, tb *testboard.TB, name, password, role string) string {
	t.Helper()
	r := call(t, tb, "POST", "/redfish/v1/AccountService/Accounts",
		map[string]any{"UserName": name, "Password": password, "RoleId": role})
	if r.StatusCode != 201 || r.Header.Get("Location") == "" {
		t.Fatalf("create %s: %d %s", name, r.StatusCode, r.Body)
	}
	return r.Header.Get("Location")
}

func TestSessionLifecycle(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	r := call(t, tb, "POST", "/redfish/v1/SessionService/Sessions",
		map[string]any{"UserName": tb.AdminUser, "Password": tb.AdminPassword}, "token", "-")
	if r.StatusCode != 201 {
		t.Fatalf("login: %d %s", r.StatusCode, r.Body)
	}
	token, loc := r.Header.Get("X-Auth-Token"), r.Header.Get("Location")
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(token) || !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") {
		t.Fatalf("token %q location %q", token, loc)
	}
	m := r.JSON(t)
	if m["@odata.id"] != loc || m["UserName"] != tb.AdminUser || m["Password"] != nil || strings.Contains(string(r.Body), tb.AdminPassword) {
		t.Fatalf("session body: %s", r.Body)
	}
	if r.Header.Get("Set-Cookie") != "" {
		t.Fatal("login set a cookie")
	}
	if g := call(t, tb, "GET", loc, nil, "token", token); g.StatusCode != 200 {
		t.Fatalf("GET own session: %d", g.StatusCode)
	}
	if d := call(t, tb, "DELETE", loc, nil, "token", token); d.StatusCode != 204 {
		t.Fatalf("logout: %d %s", d.StatusCode, d.Body)
	}
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token), 401, "NoValidSession")
	// Login failures.
	wantError(t, call(t, tb, "POST", "/redfish/v1/SessionService/Sessions",
		map[string]any{"UserName": tb.AdminUser, "Password": "wrong-password"}, "token", "-"), 401, "NoValidSession")
	wantError(t, call(t, tb, "POST", "/redfish/v1/SessionService/Sessions",
		map[string]any{"UserName": tb.AdminUser}, "token", "-"), 400, "PropertyMissing")
}

func TestSessionIdleExpiry(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	wantError(t, call(t, tb, "PATCH", "/redfish/v1/SessionService", map[string]any{"SessionTimeout": 29}), 400, "PropertyValueOutOfRange")
	wantError(t, call(t, tb, "PATCH", "/redfish/v1/SessionService", map[string]any{"SessionTimeout": 86401}), 400, "PropertyValueOutOfRange")
	if r := call(t, tb, "PATCH", "/redfish/v1/SessionService", map[string]any{"SessionTimeout": 60}); r.StatusCode != 200 || r.JSON(t)["SessionTimeout"] != 60.0 {
		t.Fatalf("SessionTimeout 60: %d %s", r.StatusCode, r.Body)
	}
	token, _ := tb.Login(t, tb.AdminUser, tb.AdminPassword)
	tb.Clock.Advance(50 * time.Second)
	if r := call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token); r.StatusCode != 200 {
		t.Fatalf("session used within the timeout: %d", r.StatusCode)
	}
	tb.Clock.Advance(50 * time.Second) // idle 50 s since the last use: still alive
	if r := call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token); r.StatusCode != 200 {
		t.Fatalf("activity did not extend the session: %d", r.StatusCode)
	}
	tb.Clock.Advance(61 * time.Second)
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token), 401, "NoValidSession")
}

func TestSessionPrivileges(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	createUser(t, tb, "reader", "Reader-pass-1", "ReadOnly")
	adminToken, adminLoc := tb.Login(t, tb.AdminUser, tb.AdminPassword)
	readerToken, readerLoc := tb.Login(t, "reader", "Reader-pass-1")
	list := call(t, tb, "GET", "/redfish/v1/SessionService/Sessions", nil, "token", readerToken).JSON(t)
	if list["Members@odata.count"] != 1.0 {
		t.Fatalf("ReadOnly sees other sessions: %v", list)
	}
	if all := call(t, tb, "GET", "/redfish/v1/SessionService/Sessions", nil, "token", adminToken).JSON(t); all["Members@odata.count"] != 2.0 {
		t.Fatalf("admin sees %v sessions", all["Members@odata.count"])
	}
	wantError(t, call(t, tb, "GET", adminLoc, nil, "token", readerToken), 403, "InsufficientPrivilege")
	wantError(t, call(t, tb, "DELETE", adminLoc, nil, "token", readerToken), 403, "InsufficientPrivilege")
	// ConfigureManager may end others' sessions.
	if r := call(t, tb, "DELETE", readerLoc, nil, "token", adminToken); r.StatusCode != 204 {
		t.Fatalf("admin deletes reader's session: %d %s", r.StatusCode, r.Body)
	}
	// Reader may not change the service.
	wantError(t, call(t, tb, "PATCH", "/redfish/v1/SessionService", map[string]any{"SessionTimeout": 60},
		"basic", "reader:Reader-pass-1"), 403, "InsufficientPrivilege")
}

func TestAccountLifecycle(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	wantError(t, call(t, tb, "POST", "/redfish/v1/AccountService/Accounts",
		map[string]any{"UserName": "op", "Password": "Operator-pw-1"}), 400, "PropertyMissing")
	wantError(t, call(t, tb, "POST", "/redfish/v1/AccountService/Accounts",
		map[string]any{"UserName": "op", "Password": "Operator-pw-1", "RoleId": "Overlord"}), 400, "PropertyValueNotInList")
	// POST to <collection>/Members is the same as POST to the collection.
	r := call(t, tb, "POST", "/redfish/v1/AccountService/Accounts/Members",
		map[string]any{"UserName": "op", "Password": "Operator-pw-1", "RoleId": "Operator", "AccountTypes": []string{"Redfish", "IPMI"}})
	if r.StatusCode != 201 {
		t.Fatalf("create via Members: %d %s", r.StatusCode, r.Body)
	}
	loc := r.Header.Get("Location")
	m := r.JSON(t)
	if m["@odata.id"] != loc || m["RoleId"] != "Operator" || m["Password"] != nil || len(m["AccountTypes"].([]any)) != 2 {
		t.Fatalf("created account: %s", r.Body)
	}
	wantError(t, call(t, tb, "POST", "/redfish/v1/AccountService/Accounts",
		map[string]any{"UserName": "op", "Password": "Operator-pw-1", "RoleId": "Operator"}), 409, "ResourceAlreadyExists")
	r = call(t, tb, "PATCH", loc, map[string]any{"RoleId": "ReadOnly", "Enabled": false})
	if m := r.JSON(t); r.StatusCode != 200 || m["RoleId"] != "ReadOnly" || m["Enabled"] != false {
		t.Fatalf("PATCH account: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, call(t, tb, "PATCH", loc, map[string]any{"Locked": true}), 400, "PropertyValueIncorrect")
	wantError(t, call(t, tb, "GET", "/redfish/v1/AccountService/Accounts/99", nil), 404, "ResourceNotFound")
	if r := call(t, tb, "DELETE", loc, nil); r.StatusCode != 204 {
		t.Fatalf("DELETE account: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, call(t, tb, "GET", loc, nil), 404, "ResourceNotFound")
}

func TestConfigureSelfOnly(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	readerURI := createUser(t, tb, "reader", "Reader-pass-1", "ReadOnly")
	otherURI := createUser(t, tb, "other", "Other-pass-1", "ReadOnly")
	token, _ := tb.Login(t, "reader", "Reader-pass-1")
	if r := call(t, tb, "GET", readerURI, nil, "token", token); r.StatusCode != 200 {
		t.Fatalf("GET own account: %d", r.StatusCode)
	}
	wantError(t, call(t, tb, "GET", otherURI, nil, "token", token), 403, "InsufficientPrivilege")
	wantError(t, call(t, tb, "PATCH", otherURI, map[string]any{"Password": "Hacked-pass-1"}, "token", token), 403, "InsufficientPrivilege")
	wantError(t, call(t, tb, "PATCH", readerURI, map[string]any{"RoleId": "Administrator"}, "token", token), 403, "InsufficientPrivilege")
	wantError(t, call(t, tb, "POST", "/redfish/v1/AccountService/Accounts",
		map[string]any{"UserName": "x", "Password": "Xxxxxxx-pass-1", "RoleId": "ReadOnly"}, "token", token), 403, "InsufficientPrivilege")
	if r := call(t, tb, "PATCH", readerURI, map[string]any{"Password": "Reader-pass-2"}, "token", token); r.StatusCode != 200 {
		t.Fatalf("PATCH own password: %d %s", r.StatusCode, r.Body)
	}
	tb.Login(t, "reader", "Reader-pass-2")
	list := call(t, tb, "GET", "/redfish/v1/AccountService/Accounts", nil, "token", token).JSON(t)
	if list["Members@odata.count"] != 1.0 {
		t.Fatalf("ReadOnly lists %v accounts", list["Members@odata.count"])
	}
}

func TestPasswordChangeRequired(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t, testboard.FirstBoot())
	r := call(t, tb, "POST", "/redfish/v1/SessionService/Sessions",
		map[string]any{"UserName": tb.AdminUser, "Password": tb.AdminPassword}, "token", "-")
	if r.StatusCode != 201 {
		t.Fatalf("first-boot login: %d %s", r.StatusCode, r.Body)
	}
	token := r.Header.Get("X-Auth-Token")
	m := r.JSON(t)
	info, _ := m["@Message.ExtendedInfo"].([]any)
	if len(info) != 1 {
		t.Fatalf("login response lacks PasswordChangeRequired: %s", r.Body)
	}
	msg := info[0].(map[string]any)
	args := msg["MessageArgs"].([]any)
	if msg["MessageId"] != "Base.1.22.PasswordChangeRequired" || len(args) != 1 {
		t.Fatalf("message = %v", msg)
	}
	own := args[0].(string)
	if !strings.HasPrefix(own, "/redfish/v1/AccountService/Accounts/") {
		t.Fatalf("argument %q is not the account URI", own)
	}
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token), 403, "PasswordChangeRequired")
	wantError(t, call(t, tb, "GET", "/redfish/v1/AccountService/Accounts", nil, "token", token), 403, "PasswordChangeRequired")
	if r := call(t, tb, "GET", "/redfish/v1", nil, "token", token); r.StatusCode != 200 {
		t.Fatalf("service root: %d", r.StatusCode)
	}
	if r := call(t, tb, "GET", own, nil, "token", token); r.StatusCode != 200 || r.JSON(t)["PasswordChangeRequired"] != true {
		t.Fatalf("GET own account: %d %s", r.StatusCode, r.Body)
	}
	if r := call(t, tb, "PATCH", own, map[string]any{"Password": "Brand-new-pw-1"}, "token", token); r.StatusCode != 200 || r.JSON(t)["PasswordChangeRequired"] != false {
		t.Fatalf("PATCH own password: %d %s", r.StatusCode, r.Body)
	}
	if r := call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token); r.StatusCode != 200 {
		t.Fatalf("after the change: %d %s", r.StatusCode, r.Body)
	}
}

func TestLockout(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	if r := call(t, tb, "PATCH", "/redfish/v1/AccountService", map[string]any{"AccountLockoutThreshold": 2, "AccountLockoutDuration": 60}); r.StatusCode != 200 {
		t.Fatalf("set lockout: %d %s", r.StatusCode, r.Body)
	}
	uri := createUser(t, tb, "victim", "Victim-pass-1", "ReadOnly")
	for range 2 {
		call(t, tb, "GET", "/redfish/v1/SessionService", nil, "basic", "victim:wrong-pass-1")
	}
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "basic", "victim:Victim-pass-1"), 401, "NoValidSession")
	if call(t, tb, "GET", uri, nil).JSON(t)["Locked"] != true {
		t.Fatal("account not reported Locked")
	}
	tb.Clock.Advance(61 * time.Second)
	if r := call(t, tb, "GET", "/redfish/v1/SessionService", nil, "basic", "victim:Victim-pass-1"); r.StatusCode != 200 {
		t.Fatalf("after the lockout duration: %d", r.StatusCode)
	}
}

func TestSessionsEndWithAccountAndRevokeAll(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	uri := createUser(t, tb, "temp", "Temp-pass-123", "Operator")
	token, _ := tb.Login(t, "temp", "Temp-pass-123")
	if r := call(t, tb, "PATCH", uri, map[string]any{"Enabled": false}); r.StatusCode != 200 {
		t.Fatalf("disable: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token), 401, "NoValidSession")
	call(t, tb, "PATCH", uri, map[string]any{"Enabled": true})
	token, _ = tb.Login(t, "temp", "Temp-pass-123")
	if r := call(t, tb, "DELETE", uri, nil); r.StatusCode != 204 {
		t.Fatalf("delete: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", token), 401, "NoValidSession")
	adminToken, _ := tb.Login(t, tb.AdminUser, tb.AdminPassword)
	tb.Service.RevokeAllSessions("gate locked")
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", adminToken), 401, "NoValidSession")
	// The login is in the event log.
	found := false
	for _, e := range tb.Board.Events.List() {
		if strings.HasSuffix(e.MessageID, ".LoginSucceeded") && len(e.Args) > 0 && e.Args[0] == "temp" {
			found = true
		}
	}
	if !found {
		t.Error("no LoginSucceeded event for the session login")
	}
}
