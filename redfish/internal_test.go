package redfish

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

func TestParseQuery(t *testing.T) {
	tests := []struct {
		raw    string
		only   bool
		status int // 0: no error
		key    string
	}{
		{raw: "foo=bar&baz"},
		{raw: "only", only: true},
		{raw: "only&foo=1", only: true},
		{raw: "only=", status: 400, key: "QueryParameterValueFormatError"},
		{raw: "only=1", status: 400, key: "QueryParameterValueFormatError"},
		{raw: "$foo", status: 501, key: "QueryParameterUnsupported"},
		{raw: "%24expand=.", status: 501, key: "QueryParameterUnsupported"},
		{raw: "excerpt", status: 501, key: "QueryParameterUnsupported"},
		{raw: "a=%zz", status: 400, key: "QueryParameterValueFormatError"},
	}
	for _, tc := range tests {
		q, err := parseQuery(tc.raw)
		if tc.status == 0 {
			if err != nil || q.only != tc.only {
				t.Errorf("parseQuery(%q) = %+v, %v", tc.raw, q, err)
			}
			continue
		}
		var e *Error
		if !errors.As(err, &e) || e.Status != tc.status || e.Messages[0].Key() != tc.key {
			t.Errorf("parseQuery(%q) error = %v, want %d %s", tc.raw, err, tc.status, tc.key)
		}
	}
}

func FuzzParseQuery(f *testing.F) {
	for _, s := range []string{"", "only", "only=1", "$expand=*($levels=2)", "$filter=Id%20eq%20'1'", "$top=1&$skip=2",
		"a=b&c", "%", "%2", "&&&", "only&only", "excerpt", "$select=Name,Id"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := parseQuery(raw)
		if err == nil {
			return
		}
		var e *Error
		if !errors.As(err, &e) || (e.Status != 400 && e.Status != 501) || len(e.Messages) != 1 || q.only {
			t.Fatalf("parseQuery(%q) = %+v, %v", raw, q, err)
		}
	})
}

func FuzzDecodeBody(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"UserName":"a","Password":"b"}`, `{"UserName":1}`, `{"Bogus":true}`,
		`{"@odata.type":"#X"}`, `[1]`, `null`, `{"a":1}{"b":2}`, `{"Enabled":"yes"}`, `{"Nested":{"Inner":5}}`, "\xff"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var v struct {
			UserName *string
			Password *string
			Enabled  *bool
			Nested   *struct{ Inner string }
		}
		err := decodeBody(body, &v, func(field string) base.Message { return base.PropertyUnknown(field) },
			func(value, field string) base.Message { return base.PropertyValueTypeError(value, field) })
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Status != http.StatusBadRequest || len(e.Messages) != 1 {
				t.Fatalf("decode(%q) = %v", body, err)
			}
		}
		// The PATCH path: patch never panics and classifies every property.
		r := &request{body: body}
		var s *string
		bad, err := r.patch(map[string]patchField{"UserName": field("UserName", &s, nil)}, "Id")
		if err == nil && s == nil {
			t.Fatalf("patch(%q) succeeded without staging: %v", body, bad)
		}
	})
}

func TestDecodeBodyErrors(t *testing.T) {
	type target struct {
		UserName *string
		Nested   *struct{ Inner int }
	}
	unknown := func(f string) base.Message { return base.ActionParameterUnknown("A.B", f) }
	badType := func(v, f string) base.Message { return base.ActionParameterValueTypeError(v, f, "A.B") }
	for body, want := range map[string]string{
		`{"UserName":5}`:                "ActionParameterValueTypeError",
		`{"Nested":{"Inner":"x"}}`:      "ActionParameterValueTypeError",
		`{"Other":1}`:                   "ActionParameterUnknown",
		`{"UserName":"a"} trailing`:     "MalformedJSON",
		`[]`:                            "MalformedJSON",
		`{"UserName":"a","@odata.x":1}`: "",
		``:                              "",
	} {
		var v target
		err := decodeBody([]byte(body), &v, unknown, badType)
		var e *Error
		switch {
		case want == "" && err != nil:
			t.Errorf("%s: %v", body, err)
		case want != "" && (!errors.As(err, &e) || e.Messages[0].Key() != want):
			t.Errorf("%s: %v, want %s", body, err, want)
		}
	}
	var v target
	err := decodeBody([]byte(`{"Nested":{"Inner":"x"}}`), &v, unknown, badType)
	var e *Error
	if errors.As(err, &e) && e.Messages[0].MessageArgs[1] != "Nested/Inner" {
		t.Errorf("nested property named %q", e.Messages[0].MessageArgs[1])
	}
}

func TestNestedPatch(t *testing.T) {
	r := &request{body: []byte(`{"Boot":{"Target":"Pxe","Mode":"Legacy","Bogus":1},"Name":"x"}`)}
	var target, mode *string
	bad, err := r.patch(map[string]patchField{
		"Boot": r.nested("Boot", map[string]patchField{
			"Target": field("Boot/Target", &target, oneOf("Boot/Target", "Pxe", "Hdd")),
			"Mode":   field("Boot/Mode", &mode, oneOf("Boot/Mode", "UEFI")),
		}),
	}, "Name")
	if err != nil || target == nil || *target != "Pxe" || mode != nil {
		t.Fatalf("patch = %v, %v, target %v mode %v", bad, err, target, mode)
	}
	var keys []string
	for _, m := range bad {
		keys = append(keys, m.Key()+" "+strings.Join(m.RelatedProperties, ""))
	}
	got := strings.Join(keys, "; ")
	for _, want := range []string{"PropertyNotWritable #/Name", "PropertyValueNotInList #/Boot/Mode", "PropertyUnknown #/Boot/Bogus"} {
		if !strings.Contains(got, want) {
			t.Errorf("messages %q lack %q", got, want)
		}
	}
}

func TestDescribedByAndExtendedInfo(t *testing.T) {
	body := []byte(`{"@odata.id":"/redfish/v1/Systems/1","@odata.type":"#ComputerSystem.v1_27_0.ComputerSystem","Status":{}}`)
	if got, want := describedBy(body), "<http://redfish.dmtf.org/schemas/v1/ComputerSystem.v1_27_0.json>; rel=describedby"; got != want {
		t.Errorf("describedBy = %q, want %q", got, want)
	}
	if got := describedBy([]byte(`{"@odata.type":"#SessionCollection.SessionCollection"}`)); !strings.Contains(got, "/SessionCollection.json>") {
		t.Errorf("collection describedBy = %q", got)
	}
	if describedBy([]byte(`{"v1":"/redfish/v1/"}`)) != "" {
		t.Error("describedBy without @odata.type")
	}
	for _, obj := range []string{`{}`, `{"a":1}`} {
		out, err := withExtendedInfo([]byte(obj), []base.Message{base.Success()})
		var m map[string]any
		if err != nil || json.Unmarshal(out, &m) != nil || m["@Message.ExtendedInfo"] == nil {
			t.Errorf("withExtendedInfo(%s) = %s, %v", obj, out, err)
		}
	}
	if !etagListMatches(`W/"a", "b"`, `"a"`) || etagListMatches(`"b"`, `"a"`) || !etagListMatches("*", `"a"`) {
		t.Error("etagListMatches")
	}
}

func TestErrorBody(t *testing.T) {
	var body struct {
		Error struct {
			Code, Message string
			Info          []base.Message `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	one := errorf(400, base.PropertyUnknown("X")).body()
	if err := json.Unmarshal(one, &body); err != nil || body.Error.Code != "Base.1.22.PropertyUnknown" || len(body.Error.Info) != 1 {
		t.Fatalf("one message: %s", one)
	}
	two := errorf(400, base.PropertyUnknown("X"), base.PropertyNotWritable("Y")).body()
	if err := json.Unmarshal(two, &body); err != nil || body.Error.Code != "Base.1.22.GeneralError" || len(body.Error.Info) != 2 {
		t.Fatalf("two messages: %s", two)
	}
}

func TestSchemaTableComplete(t *testing.T) {
	doc, _ := metadata()
	for name := range schemaVersions {
		if !strings.Contains(string(doc), `Namespace="`+name+"."+schemaVersions[name]+`"`) {
			t.Errorf("$metadata lacks %s", name)
		}
	}
	if odataType("Session") != "#Session.v1_8_0.Session" || odataType("RoleCollection") != "#RoleCollection.RoleCollection" {
		t.Error("odataType")
	}
}

func TestSecretsNotEchoed(t *testing.T) {
	var v struct{ Password *string }
	err := decodeBody([]byte(`{"Password": 12345678}`), &v, base.PropertyUnknown, base.PropertyValueTypeError)
	if err == nil || strings.Contains(string(err.(*Error).body()), "12345678") {
		t.Fatalf("password echoed: %v", err)
	}
	var pw *string
	m := field("Password", &pw, nil)(json.RawMessage(`987654321`))
	if m == nil || strings.Contains(m.Message, "987654321") {
		t.Fatalf("password echoed: %v", m)
	}
}

// A password set in the moment between the gate opening and bmcd taking the RoT's
// sealing key is a 503 the client may retry, not a 500.
func TestNoSealingKeyIsServiceUnavailable(t *testing.T) {
	err := policyError(fmt.Errorf("update account 2: %w", account.ErrNoSealingKey), nil)
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusServiceUnavailable || e.Header.Get("Retry-After") == "" {
		t.Fatalf("policyError(ErrNoSealingKey) = %#v, want 503 with Retry-After", err)
	}
}

// TestIsNonceMatchesPattern: isNonce accepts exactly what the pattern it replaced,
// ^[0-9a-fA-F]{64}$, does.
func TestIsNonceMatchesPattern(t *testing.T) {
	re := regexp.MustCompile(`^[0-9a-fA-F]{64}$`)
	hex64 := strings.Repeat("0123456789abcdefABCDEF", 3)[:64]
	for _, s := range []string{
		"", hex64, strings.ToUpper(hex64), hex64[:63], hex64 + "0", hex64[:63] + "g", hex64[:63] + "\n",
		hex64 + "\n", "\n" + hex64[1:], hex64[:62] + "é", strings.Repeat("0", 64), strings.Repeat("F", 64),
		hex64[:32] + " " + hex64[33:], hex64[:63] + "\x00", hex64[:60] + "\U0001F600",
	} {
		if got, want := isNonce(s), re.MatchString(s); got != want {
			t.Errorf("isNonce(%q) = %v, the pattern says %v", s, got, want)
		}
	}
}
