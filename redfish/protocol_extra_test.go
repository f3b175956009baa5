package redfish_test

// Protocol rules of issue 2 point 5 that the framework's own tests leave partly open
// (audit by the test engineer): each test names its rule.

import (
	"encoding/json"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/internal/redfishschema"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// pxDo sends method path as the admin (Basic) with extra header pairs.
func pxDo(t *testing.T, tb *testboard.TB, method, path string, body any, header ...string) *testboard.Response {
	t.Helper()
	req := tb.NewRequest(t, method, path, body)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	return tb.Do(t, req)
}

// pxError checks that r is a DSP0266 error: the status, and a body
// {"error":{"code","message","@Message.ExtendedInfo":[...]}} whose messages come from a
// registry by MessageId (Prefix.Major.Minor.Key); it returns the message keys.
func pxError(t *testing.T, r *testboard.Response, status int) []string {
	t.Helper()
	if r.StatusCode != status {
		t.Errorf("%s %s: status %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
		return nil
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Info    []struct {
				MessageID string `json:"MessageId"`
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || len(e.Error.Info) == 0 {
		t.Errorf("%s %s: %d body is not a Redfish error (%v): %s", r.Request.Method, r.Request.URL.Path, status, err, r.Body)
		return nil
	}
	var keys []string
	for _, m := range e.Error.Info {
		parts := strings.Split(m.MessageID, ".")
		if len(parts) != 4 {
			t.Errorf("%s %s: MessageId %q is not Prefix.Major.Minor.Key", r.Request.Method, r.Request.URL.Path, m.MessageID)
			continue
		}
		keys = append(keys, parts[3])
	}
	return keys
}

// Rule: POST to a collection and to <collection>/Members are equivalent — for sessions.
func TestProtocolPostToSessionsMembers(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	req := tb.NewRequest(t, http.MethodPost, "/redfish/v1/SessionService/Sessions/Members",
		map[string]string{"UserName": tb.AdminUser, "Password": tb.AdminPassword})
	req.Header.Del("Authorization")
	r := tb.Do(t, req)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("POST Sessions/Members: %d %s", r.StatusCode, r.Body)
	}
	tok, loc := r.Header.Get("X-Auth-Token"), r.Header.Get("Location")
	if tok == "" || !strings.HasPrefix(loc, "/redfish/v1/SessionService/Sessions/") || r.JSON(t)["@odata.id"] != loc {
		t.Errorf("POST Sessions/Members: token %q Location %q body %s", tok, loc, r.Body)
	}
	// The session it made works like any other.
	get := tb.NewRequest(t, http.MethodGet, "/redfish/v1/Systems/1", nil)
	get.Header.Del("Authorization")
	get.Header.Set("X-Auth-Token", tok)
	if g := tb.Do(t, get); g.StatusCode != 200 {
		t.Errorf("GET with the Members-created session: %d", g.StatusCode)
	}
}

// Rule: X-Auth-Token is hex of ≥128 random bits — two logins never share a token.
func TestProtocolTokensDiffer(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	hexRE := regexp.MustCompile(`^[0-9a-f]{32,}$`)
	seen := map[string]bool{}
	for i := 0; i < 8; i++ {
		tok, _ := tb.Login(t, tb.AdminUser, tb.AdminPassword)
		if !hexRE.MatchString(tok) {
			t.Errorf("token %q is not ≥128 bits of lower-case hex", tok)
		}
		if seen[tok] {
			t.Fatalf("login %d returned a token already issued", i)
		}
		seen[tok] = true
	}
}

// Rule: an unknown method gets 405 or 501 — on resources other than the service root
// too; a 405 carries Allow, and both carry the error body.
func TestProtocolUnknownMethodOnResources(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	for _, c := range []struct{ method, path string }{
		{"FOO", "/redfish/v1/Systems/1"},
		{"PUT", "/redfish/v1/Systems/1"},
		{"DELETE", "/redfish/v1/Systems/1"},
		{"POST", "/redfish/v1/Systems/1"},
		{"PATCH", "/redfish/v1/Systems"},
		{"DELETE", "/redfish/v1/Chassis/1/Sensors"},
		{"PUT", "/redfish/v1/AccountService/Accounts"},
	} {
		r := pxDo(t, tb, c.method, c.path, map[string]any{})
		if r.StatusCode != http.StatusMethodNotAllowed && r.StatusCode != http.StatusNotImplemented {
			t.Errorf("%s %s: %d, want 405 or 501", c.method, c.path, r.StatusCode)
			continue
		}
		pxError(t, r, r.StatusCode)
		if r.StatusCode == http.StatusMethodNotAllowed && !strings.Contains(r.Header.Get("Allow"), "GET") {
			t.Errorf("%s %s: 405 with Allow %q", c.method, c.path, r.Header.Get("Allow"))
		}
	}
}

// Rule: every 4xx carries the error body — also for a URI no route serves, and such a
// request, authenticated, is 404 (not 401, not 405).
func TestProtocolUnknownURI(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	for _, p := range []string{"/redfish/v1/NoSuchThing", "/redfish/v1/Systems/1/NoSuchChild", "/redfish/v1/Chassis/2"} {
		keys := pxError(t, pxDo(t, tb, http.MethodGet, p, nil), http.StatusNotFound)
		if keys != nil && !strings.Contains(strings.Join(keys, ","), "ResourceNotFound") && !strings.Contains(strings.Join(keys, ","), "ResourceMissingAtURI") {
			t.Errorf("GET %s: messages %v, want ResourceNotFound or ResourceMissingAtURI", p, keys)
		}
	}
}

// Rule: a strong ETag (hash of the representation) on every GET of a single resource:
// every resource of the tree has a strong ETag, it is stable while nothing changes, and
// If-None-Match with it gets 304 without a body.
func TestProtocolStrongETagEverywhere(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	get := func(uri string) (int, []byte, error) {
		r := pxDo(t, tb, http.MethodGet, uri, nil)
		return r.StatusCode, r.Body, nil
	}
	strong := regexp.MustCompile(`^"[^"]+"$`)
	n, err := redfishschema.Walk(get, "/redfish/v1", 3000, func(p redfishschema.Page) error {
		if p.Status != 200 {
			return nil
		}
		var head struct {
			Type string `json:"@odata.type"`
		}
		json.Unmarshal(p.Body, &head)
		if strings.HasSuffix(head.Type, "Collection") {
			return nil // the rule is about single resources
		}
		r1 := pxDo(t, tb, http.MethodGet, p.URI, nil)
		r2 := pxDo(t, tb, http.MethodGet, p.URI, nil)
		e1, e2 := r1.Header.Get("ETag"), r2.Header.Get("ETag")
		if !strong.MatchString(e1) {
			t.Errorf("GET %s: ETag %q is not a strong entity tag", p.URI, e1)
			return nil
		}
		if string(r1.Body) == string(r2.Body) && e1 != e2 {
			t.Errorf("GET %s: same representation, ETags %s and %s", p.URI, e1, e2)
		}
		if nm := pxDo(t, tb, http.MethodGet, p.URI, nil, "If-None-Match", e2); nm.StatusCode != http.StatusNotModified || len(nm.Body) != 0 {
			if nm.StatusCode == 200 && nm.Header.Get("ETag") != e2 {
				return nil // the representation moved on between the two requests
			}
			t.Errorf("GET %s If-None-Match %s: %d with %d body bytes, want 304 and none", p.URI, e2, nm.StatusCode, len(nm.Body))
		}
		return nil
	})
	if err != nil || n < 20 {
		t.Errorf("walk: %d resources, %v", n, err)
	}
}

// Rule: Members@odata.count on collections — on every collection, including empty ones.
func TestProtocolMembersCountOnEveryCollection(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	get := func(uri string) (int, []byte, error) {
		r := pxDo(t, tb, http.MethodGet, uri, nil)
		return r.StatusCode, r.Body, nil
	}
	collections := 0
	_, err := redfishschema.Walk(get, "/redfish/v1", 3000, func(p redfishschema.Page) error {
		var c struct {
			Type    string            `json:"@odata.type"`
			Count   *int              `json:"Members@odata.count"`
			Members []json.RawMessage `json:"Members"`
		}
		if p.Status != 200 || json.Unmarshal(p.Body, &c) != nil || !strings.HasSuffix(c.Type, "Collection") {
			return nil
		}
		collections++
		if c.Count == nil || c.Members == nil || *c.Count != len(c.Members) {
			t.Errorf("GET %s: Members@odata.count %v with %d Members (Members present: %v)", p.URI, c.Count, len(c.Members), c.Members != nil)
		}
		return nil
	})
	if err != nil || collections < 5 {
		t.Errorf("walk: %d collections, %v", collections, err)
	}
}

// Rule: every 4xx/5xx changes nothing — a refused create and a refused action leave the
// resources as they were.
func TestProtocolErrorsChangeNothing(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	before := pxDo(t, tb, http.MethodGet, "/redfish/v1/AccountService/Accounts", nil).JSON(t)["Members@odata.count"]
	for _, body := range []map[string]any{
		{"UserName": "x1", "Password": "Good-Passw0rd-1", "RoleId": "Overlord"},
		{"UserName": "x2", "Password": "short", "RoleId": "Operator"},
		{"UserName": "x3", "Password": "Good-Passw0rd-1", "RoleId": "Operator", "Bogus": 1},
		{"UserName": "x4", "Password": "Good-Passw0rd-1", "RoleId": "Operator", "Id": "7"},
	} {
		r := pxDo(t, tb, http.MethodPost, "/redfish/v1/AccountService/Accounts", body)
		if r.StatusCode < 400 {
			t.Errorf("create %v: %d, want a 4xx", body, r.StatusCode)
			continue
		}
		pxError(t, r, r.StatusCode)
	}
	if after := pxDo(t, tb, http.MethodGet, "/redfish/v1/AccountService/Accounts", nil).JSON(t)["Members@odata.count"]; after != before {
		t.Errorf("refused creates changed the account count from %v to %v", before, after)
	}

	sys := pxDo(t, tb, http.MethodGet, "/redfish/v1/Systems/1", nil)
	etag := sys.Header.Get("ETag")
	for _, body := range []any{
		map[string]any{"ResetType": "Sideways"},
		map[string]any{},
		map[string]any{"ResetType": 5},
		map[string]any{"ResetType": "On", "Bogus": true},
		"{not json",
	} {
		r := pxDo(t, tb, http.MethodPost, "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", body)
		if r.StatusCode < 400 {
			t.Errorf("Reset %v: %d, want a 4xx", body, r.StatusCode)
			continue
		}
		pxError(t, r, r.StatusCode)
	}
	if st := tb.Board.Power.State(); st != power.Off {
		t.Errorf("refused resets left the host %s, want Off", st)
	}
	if again := pxDo(t, tb, http.MethodGet, "/redfish/v1/Systems/1", nil).Header.Get("ETag"); again != etag {
		t.Errorf("refused resets changed Systems/1 (ETag %s → %s)", etag, again)
	}
}

// Rule: login with PasswordChangeRequired carries the message whose argument is the
// account URI — of the very account that logged in.
func TestProtocolPasswordChangeRequiredNamesOwnAccount(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t, testboard.FirstBoot())
	req := tb.NewRequest(t, http.MethodPost, "/redfish/v1/SessionService/Sessions",
		map[string]string{"UserName": tb.AdminUser, "Password": tb.AdminPassword})
	req.Header.Del("Authorization")
	r := tb.Do(t, req)
	if r.StatusCode != http.StatusCreated {
		t.Fatalf("first-boot login: %d %s", r.StatusCode, r.Body)
	}
	var body struct {
		Info []struct {
			MessageID   string `json:"MessageId"`
			MessageArgs []string
		} `json:"@Message.ExtendedInfo"`
	}
	json.Unmarshal(r.Body, &body)
	uri := ""
	for _, m := range body.Info {
		if strings.HasSuffix(m.MessageID, ".PasswordChangeRequired") && len(m.MessageArgs) == 1 {
			uri = m.MessageArgs[0]
		}
	}
	if uri == "" {
		t.Fatalf("no PasswordChangeRequired message with one argument: %s", r.Body)
	}
	admin, err := tb.Board.Accounts.ByName(tb.AdminUser)
	if err != nil {
		t.Fatal(err)
	}
	if want := "/redfish/v1/AccountService/Accounts/" + strconv.Itoa(admin.ID); uri != want {
		t.Errorf("PasswordChangeRequired names %q, want the admin's own %q", uri, want)
	}
}
