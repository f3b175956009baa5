package redfish_test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"regexp"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// call sends method path with Basic admin auth unless token is given ("-" = no auth).
func call(t *testing.T, tb *testboard.TB, method, path string, body any, header ...string) *testboard.Response {
	t.Helper()
	req := tb.NewRequest(t, method, path, body)
	for i := 0; i+1 < len(header); i += 2 {
		switch header[i] {
		case "token":
			req.Header.Del("Authorization")
			if header[i+1] != "-" {
				req.Header.Set("X-Auth-Token", header[i+1])
			}
		case "basic":
			user, pw, _ := strings.Cut(header[i+1], ":")
			req.SetBasicAuth(user, pw)
		default:
			req.Header.Set(header[i], header[i+1])
		}
	}
	return tb.Do(t, req)
}

// wantError checks status and that the body is a DSP0266 error naming messageKey.
func wantError(t *testing.T, r *testboard.Response, status int, messageKey string) {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s %s: status %d, want %d: %s", r.Request.Method, r.Request.URL.Path, r.StatusCode, status, r.Body)
	}
	var e struct {
		Error struct {
			Code    string `json:"code"`
			Message string `json:"message"`
			Info    []struct {
				MessageID   string `json:"MessageId"`
				MessageArgs []string
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	if err := json.Unmarshal(r.Body, &e); err != nil || e.Error.Code == "" || e.Error.Message == "" || len(e.Error.Info) == 0 {
		t.Fatalf("error body malformed (%v): %s", err, r.Body)
	}
	for _, m := range e.Error.Info {
		if !strings.HasPrefix(m.MessageID, "Base.1.22.") && !strings.HasPrefix(m.MessageID, "IronrootEvent.") {
			t.Errorf("MessageId %q not from a registry", m.MessageID)
		}
		if strings.HasSuffix(m.MessageID, "."+messageKey) {
			return
		}
	}
	t.Fatalf("error lacks %s: %s", messageKey, r.Body)
}

func TestVersionsDocument(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	r := call(t, tb, "GET", "/redfish", nil, "token", "-")
	if r.StatusCode != 200 || string(r.Body) != `{"v1":"/redfish/v1/"}` {
		t.Fatalf("GET /redfish = %d %s", r.StatusCode, r.Body)
	}
}

func TestServiceRootWithAndWithoutSlash(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	for _, p := range []string{"/redfish/v1", "/redfish/v1/"} {
		r := call(t, tb, "GET", p, nil, "token", "-")
		if r.StatusCode != 200 {
			t.Fatalf("GET %s: %d %s", p, r.StatusCode, r.Body)
		}
		m := r.JSON(t)
		if m["@odata.id"] != "/redfish/v1" || m["ProtocolFeaturesSupported"] == nil || m["Links"] == nil {
			t.Errorf("GET %s: %s", p, r.Body)
		}
		pf := m["ProtocolFeaturesSupported"].(map[string]any)
		if pf["OnlyMemberQuery"] != true || pf["FilterQuery"] != false || pf["SelectQuery"] != false {
			t.Errorf("ProtocolFeaturesSupported = %v", pf)
		}
	}
}

func TestProtocolHeaders(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	for _, method := range []string{"GET", "HEAD"} {
		r := call(t, tb, method, "/redfish/v1/AccountService", nil)
		h := r.Header
		checks := map[string]string{
			"OData-Version": "4.0",
			"Content-Type":  "application/json; charset=utf-8",
			"Allow":         "GET, HEAD, PATCH",
			"Link":          "<http://redfish.dmtf.org/schemas/v1/AccountService.v1_18_1.json>; rel=describedby",
		}
		for k, want := range checks {
			if got := h.Get(k); got != want {
				t.Errorf("%s: %s = %q, want %q", method, k, got, want)
			}
		}
		if cc := h.Get("Cache-Control"); cc != "no-cache" && cc != "no-store" {
			t.Errorf("Cache-Control = %q", cc)
		}
		if !regexp.MustCompile(`^"[0-9a-f]{16,}"$`).MatchString(h.Get("ETag")) {
			t.Errorf("ETag = %q, want a strong quoted hash", h.Get("ETag"))
		}
		if method == "HEAD" && len(r.Body) != 0 {
			t.Errorf("HEAD has a body: %q", r.Body)
		}
		if h.Get("Set-Cookie") != "" {
			t.Errorf("Set-Cookie sent")
		}
	}
}

func TestODataServiceDocument(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	r := call(t, tb, "GET", "/redfish/v1/odata", nil, "token", "-")
	m := r.JSON(t)
	if r.StatusCode != 200 || m["@odata.context"] != "/redfish/v1/$metadata" || len(m["value"].([]any)) == 0 {
		t.Fatalf("odata: %d %s", r.StatusCode, r.Body)
	}
}

func TestMetadataIsCSDL(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	r := call(t, tb, "GET", "/redfish/v1/$metadata", nil, "token", "-")
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "application/xml") {
		t.Fatalf("$metadata: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}
	var doc struct {
		XMLName    xml.Name `xml:"Edmx"`
		References []struct {
			URI      string `xml:"Uri,attr"`
			Includes []struct {
				Namespace string `xml:"Namespace,attr"`
			} `xml:"Include"`
		} `xml:"Reference"`
		Schema struct {
			Namespace string `xml:"Namespace,attr"`
			Container struct {
				Name    string `xml:"Name,attr"`
				Extends string `xml:"Extends,attr"`
			} `xml:"EntityContainer"`
		} `xml:"DataServices>Schema"`
	}
	if err := xml.Unmarshal(r.Body, &doc); err != nil {
		t.Fatalf("$metadata is not XML: %v", err)
	}
	if doc.Schema.Namespace != "Service" || doc.Schema.Container.Name != "Service" ||
		!regexp.MustCompile(`^ServiceRoot\.v1_\d+_\d+\.ServiceContainer$`).MatchString(doc.Schema.Container.Extends) {
		t.Errorf("EntityContainer = %+v", doc.Schema)
	}
	refs := map[string]bool{}
	for _, ref := range doc.References {
		if !regexp.MustCompile(`^http://redfish\.dmtf\.org/schemas/v1/\w+_v1\.xml$`).MatchString(ref.URI) {
			t.Errorf("reference URI %q", ref.URI)
		}
		for _, inc := range ref.Includes {
			refs[inc.Namespace] = true
		}
	}
	// Every @odata.type of the framework's resources is referenced.
	for _, p := range []string{"/redfish/v1", "/redfish/v1/AccountService", "/redfish/v1/SessionService",
		"/redfish/v1/AccountService/Accounts", "/redfish/v1/AccountService/Roles/ReadOnly", "/redfish/v1/Registries"} {
		typ, _ := call(t, tb, "GET", p, nil).JSON(t)["@odata.type"].(string)
		ns := strings.TrimPrefix(typ[:strings.LastIndexByte(typ, '.')], "#")
		if !refs[ns] {
			t.Errorf("$metadata does not include namespace %s of %s", ns, p)
		}
	}
}

func TestAuthenticationRequired(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	for _, p := range []string{"/redfish/v1/SessionService", "/redfish/v1/AccountService/Accounts", "/redfish/v1/NoSuchThing"} {
		r := call(t, tb, "GET", p, nil, "token", "-")
		wantError(t, r, 401, "NoValidSession")
		if r.Header.Get("WWW-Authenticate") != `Basic realm="ironroot"` {
			t.Errorf("WWW-Authenticate = %q", r.Header.Get("WWW-Authenticate"))
		}
	}
	// Authentication comes before any other header check.
	r := call(t, tb, "PATCH", "/redfish/v1/AccountService", map[string]any{"MinPasswordLength": 9},
		"token", "-", "OData-Version", "4.1", "If-Match", `"nope"`)
	wantError(t, r, 401, "NoValidSession")
	r = call(t, tb, "GET", "/redfish/v1/SessionService", nil, "token", "0123")
	wantError(t, r, 401, "NoValidSession")
	r = call(t, tb, "GET", "/redfish/v1/SessionService", nil, "basic", tb.AdminUser+":wrong-password")
	wantError(t, r, 401, "NoValidSession")
}

func TestODataVersionHeader(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	wantError(t, call(t, tb, "GET", "/redfish/v1/SessionService", nil, "OData-Version", "4.1"), 412, "HeaderInvalid")
	if r := call(t, tb, "GET", "/redfish/v1/SessionService", nil, "OData-Version", "4.0"); r.StatusCode != 200 {
		t.Fatalf("OData-Version 4.0: %d", r.StatusCode)
	}
}

func TestMethodNotAllowed(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	for _, m := range []string{"DELETE", "PATCH", "POST", "PUT", "FOO"} {
		r := call(t, tb, m, "/redfish/v1", map[string]any{})
		wantError(t, r, 405, "OperationNotAllowed")
		if r.Header.Get("Allow") != "GET, HEAD" {
			t.Errorf("%s /redfish/v1: Allow = %q", m, r.Header.Get("Allow"))
		}
	}
	r := call(t, tb, "PATCH", "/redfish/v1/AccountService/Roles/Operator", map[string]any{"AssignedPrivileges": []string{"Login"}})
	wantError(t, r, 405, "OperationNotAllowed")
}

func TestETagAndConditionalRequests(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	r := call(t, tb, "GET", "/redfish/v1/AccountService", nil)
	etag := r.Header.Get("ETag")
	r = call(t, tb, "GET", "/redfish/v1/AccountService", nil, "If-None-Match", etag)
	if r.StatusCode != 304 || len(r.Body) != 0 {
		t.Fatalf("If-None-Match: %d %q", r.StatusCode, r.Body)
	}
	r = call(t, tb, "PATCH", "/redfish/v1/AccountService", map[string]any{"MinPasswordLength": 9}, "If-Match", `"0000"`)
	wantError(t, r, 412, "PreconditionFailed")
	if got := call(t, tb, "GET", "/redfish/v1/AccountService", nil).JSON(t)["MinPasswordLength"]; got != 8.0 {
		t.Fatalf("412 PATCH changed MinPasswordLength to %v", got)
	}
	r = call(t, tb, "PATCH", "/redfish/v1/AccountService", map[string]any{"MinPasswordLength": 9}, "If-Match", etag)
	if r.StatusCode != 200 {
		t.Fatalf("PATCH with matching If-Match: %d %s", r.StatusCode, r.Body)
	}
	if call(t, tb, "GET", "/redfish/v1/AccountService", nil).Header.Get("ETag") == etag {
		t.Fatalf("ETag did not change with the representation")
	}
}

func TestQueryParameters(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	for _, q := range []string{"$foo=1", "$expand=*", "$filter=Id%20eq%201", "$select=Id", "$top=1", "$skip=1", "excerpt"} {
		r := call(t, tb, "GET", "/redfish/v1/AccountService/Accounts?"+q, nil)
		wantError(t, r, 501, "QueryParameterUnsupported")
		name, _, _ := strings.Cut(q, "=")
		if !bytes.Contains(r.Body, []byte(name)) {
			t.Errorf("%s: error does not name the parameter: %s", q, r.Body)
		}
	}
	if r := call(t, tb, "GET", "/redfish/v1/AccountService?foo=bar", nil); r.StatusCode != 200 {
		t.Fatalf("unknown plain parameter: %d", r.StatusCode)
	}
	wantError(t, call(t, tb, "GET", "/redfish/v1/AccountService/Accounts?only=1", nil), 400, "QueryParameterValueFormatError")
	// One account: only returns the member.
	r := call(t, tb, "GET", "/redfish/v1/AccountService/Accounts?only", nil)
	if m := r.JSON(t); r.StatusCode != 200 || m["UserName"] != tb.AdminUser {
		t.Fatalf("only on a one-member collection: %d %s", r.StatusCode, r.Body)
	}
	// Three roles: only returns the collection.
	r = call(t, tb, "GET", "/redfish/v1/AccountService/Roles?only", nil)
	if m := r.JSON(t); m["Members@odata.count"] != 3.0 {
		t.Fatalf("only on a three-member collection: %s", r.Body)
	}
}

func TestPatchSemantics(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	const uri = "/redfish/v1/AccountService"
	r := call(t, tb, "PATCH", uri, map[string]any{"MinPasswordLength": 10, "Id": "x", "Bogus": 1})
	m := r.JSON(t)
	if r.StatusCode != 200 || m["MinPasswordLength"] != 10.0 {
		t.Fatalf("good+bad PATCH: %d %s", r.StatusCode, r.Body)
	}
	info, _ := m["@Message.ExtendedInfo"].([]any)
	if len(info) != 2 || !bytes.Contains(r.Body, []byte("Base.1.22.PropertyNotWritable")) || !bytes.Contains(r.Body, []byte("Base.1.22.PropertyUnknown")) {
		t.Fatalf("good+bad PATCH messages: %s", r.Body)
	}
	wantError(t, call(t, tb, "PATCH", uri, map[string]any{"Id": "x"}), 400, "PropertyNotWritable")
	wantError(t, call(t, tb, "PATCH", uri, map[string]any{"Bogus": "x"}), 400, "PropertyUnknown")
	wantError(t, call(t, tb, "PATCH", uri, map[string]any{"@odata.id": "x", "@odata.etag": "y"}), 400, "NoOperation")
	wantError(t, call(t, tb, "PATCH", uri, map[string]any{"HTTPBasicAuth": "Sometimes"}), 400, "PropertyValueNotInList")
	wantError(t, call(t, tb, "PATCH", uri, map[string]any{"MinPasswordLength": "ten"}), 400, "PropertyValueTypeError")
	wantError(t, call(t, tb, "PATCH", uri, "{not json"), 400, "MalformedJSON")
	// An error changes nothing.
	if got := call(t, tb, "GET", uri, nil).JSON(t)["MinPasswordLength"]; got != 10.0 {
		t.Fatalf("MinPasswordLength = %v after failed PATCHes", got)
	}
	r = call(t, tb, "PATCH", uri, `{"MinPasswordLength": 9}`, "Content-Type", "text/plain")
	wantError(t, r, 415, "HeaderInvalid")
	r = call(t, tb, "PATCH", uri, `{"Name":"`+strings.Repeat("x", 70<<10)+`"}`)
	wantError(t, r, 413, "PayloadTooLarge")
}

func TestHTTPBasicAuthSetting(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	token, _ := tb.Login(t, tb.AdminUser, tb.AdminPassword)
	r := call(t, tb, "PATCH", "/redfish/v1/AccountService", map[string]any{"HTTPBasicAuth": "Disabled"})
	if r.StatusCode != 200 {
		t.Fatalf("disable Basic: %d %s", r.StatusCode, r.Body)
	}
	wantError(t, call(t, tb, "GET", "/redfish/v1/AccountService", nil), 401, "NoValidSession")
	r = call(t, tb, "PATCH", "/redfish/v1/AccountService", map[string]any{"HTTPBasicAuth": "Enabled"}, "token", token)
	if r.StatusCode != 200 || call(t, tb, "GET", "/redfish/v1/AccountService", nil).StatusCode != 200 {
		t.Fatalf("re-enable Basic: %d %s", r.StatusCode, r.Body)
	}
}

func TestRegistries(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	r := call(t, tb, "GET", "/redfish/v1/Registries", nil)
	if m := r.JSON(t); m["Members@odata.count"] != 3.0 {
		t.Fatalf("Registries: %s", r.Body)
	}
	// IronrootGate is the gate's registry (redfish.Config.ExtraRegistries).
	for _, id := range []string{"Base", "IronrootEvent", "IronrootGate"} {
		f := call(t, tb, "GET", "/redfish/v1/Registries/"+id, nil).JSON(t)
		loc := f["Location"].([]any)[0].(map[string]any)["Uri"].(string)
		reg := call(t, tb, "GET", loc, nil)
		m := reg.JSON(t)
		if reg.StatusCode != 200 || m["RegistryPrefix"] != id || len(m["Messages"].(map[string]any)) == 0 {
			t.Fatalf("registry %s at %s: %d", id, loc, reg.StatusCode)
		}
		if !strings.Contains(reg.Header.Get("Link"), "MessageRegistry.v1_7_0.json") {
			t.Errorf("registry Link = %q", reg.Header.Get("Link"))
		}
	}
}
