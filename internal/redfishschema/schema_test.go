package redfishschema

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// bundle writes a miniature schema bundle shaped like DMTF's: an unversioned file whose
// anyOf names versions the bundle lacks, a latest versioned file, a Swordfish reference.
func bundle(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"Widget.json": `{
  "$id": "http://redfish.dmtf.org/schemas/v1/Widget.json",
  "$schema": "http://json-schema.org/draft-07/schema#",
  "definitions": {"Widget": {"anyOf": [
    {"$ref": "http://redfish.dmtf.org/schemas/v1/Widget.v1_0_3.json#/definitions/Widget"},
    {"$ref": "http://redfish.dmtf.org/schemas/v1/Widget.v1_2_0.json#/definitions/Widget"}]}}}`,
		"Widget.v1_2_0.json": `{
  "$id": "http://redfish.dmtf.org/schemas/v1/Widget.v1_2_0.json",
  "$schema": "http://json-schema.org/draft-07/schema#",
  "definitions": {
    "Widget": {"type": "object", "additionalProperties": false,
      "patternProperties": {"^([a-zA-Z_][a-zA-Z0-9_]*)?@(odata|Redfish|Message)\\.[a-zA-Z_][a-zA-Z0-9_]*$": {}},
      "properties": {"Id": {"type": "string"}, "State": {"$ref": "#/definitions/State"},
        "Vol": {"$ref": "http://redfish.dmtf.org/schemas/swordfish/v1/Volume.json#/definitions/Volume"}},
      "required": ["Id"]},
    "State": {"enum": ["On", "Off"], "type": "string"}}}`,
		"Widget.v1_1_0.json.txt": `not a schema`,
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestValidateByODataType(t *testing.T) {
	v, err := New(bundle(t))
	if err != nil {
		t.Fatal(err)
	}
	good := `{"@odata.type":"#Widget.v1_2_0.Widget","@odata.id":"/redfish/v1/W/1","Id":"1","State":"On","Vol":{"x":1}}`
	if err := v.Validate([]byte(good)); err != nil {
		t.Errorf("valid payload rejected: %v", err)
	}
	for _, c := range []struct{ payload, want string }{
		{`{"@odata.type":"#Widget.v1_2_0.Widget","Id":"1","State":"Paused"}`, "/State"},
		{`{"@odata.type":"#Widget.v1_2_0.Widget","Id":"1","Bogus":true}`, "Bogus"},
		{`{"@odata.type":"#Widget.v1_2_0.Widget"}`, "Id"},
		{`{"@odata.type":"#Widget.v1_0_3.Widget","Id":"1"}`, "not in the bundle"},
		{`{"Id":"1"}`, "no @odata.type"},
		{`{"@odata.type":"Widget","Id":"1"}`, "not #Namespace"},
	} {
		err := v.Validate([]byte(c.payload))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("Validate(%s) = %v, want an error mentioning %q", c.payload, err, c.want)
		}
	}
}

func TestMissingVersionMapsToLatest(t *testing.T) {
	v, err := New(bundle(t))
	if err != nil {
		t.Fatal(err)
	}
	if f, ok := v.Latest("Widget"); !ok || f != "Widget.v1_2_0.json" {
		t.Errorf("Latest(Widget) = %q, %v", f, ok)
	}
	// The unversioned schema references v1_0_3, which the bundle lacks.
	if err := v.ValidateAgainst([]byte(`{"Id":"1","State":"Off"}`), "Widget.json", "Widget"); err != nil {
		t.Errorf("unversioned schema: %v", err)
	}
	if err := v.ValidateAgainst([]byte(`{"Id":"1","State":"Dim"}`), "Widget.json", "Widget"); err == nil {
		t.Error("unversioned schema accepted State Dim")
	}
	if _, err := v.Resolve("Gadget.v1_0_0.json"); err == nil {
		t.Error("Resolve of an unknown family succeeded")
	}
}

func TestNewRejectsEmptyFolder(t *testing.T) {
	if _, err := New(t.TempDir()); err == nil {
		t.Error("New on an empty folder succeeded")
	}
	if _, err := New(filepath.Join(t.TempDir(), "absent")); err == nil {
		t.Error("New on a missing folder succeeded")
	}
}

func TestLinks(t *testing.T) {
	body := `{"@odata.id":"/redfish/v1/Systems/1","Links":{"Chassis":[{"@odata.id":"/redfish/v1/Chassis/1"}]},
	"Actions":{"#ComputerSystem.Reset":{"target":"/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
	"@Redfish.ActionInfo":"/redfish/v1/Systems/1/ResetActionInfo"}},
	"Thermal":{"@odata.id":"/redfish/v1/Chassis/1/Thermal#/Fans/0"},"Ext":{"@odata.id":"https://example.com/x"},
	"Odd":{"@odata.id":5},"Location":[{"Language":"en","Uri":"/redfish/v1/Registries/Base/Base"}],"Schema":{"@odata.id":"/redfish/v1/Systems/1"}}`
	got := Links([]byte(body))
	want := []string{"/redfish/v1/Chassis/1", "/redfish/v1/Chassis/1/Thermal", "/redfish/v1/Registries/Base/Base",
		"/redfish/v1/Systems/1", "/redfish/v1/Systems/1/ResetActionInfo"}
	if !slices.Equal(got, want) {
		t.Errorf("Links = %q, want %q", got, want)
	}
}

func TestWalkVisitsEachOnceAndIsBounded(t *testing.T) {
	tree := map[string]string{
		"/redfish/v1":           `{"Systems":{"@odata.id":"/redfish/v1/Systems"},"Self":{"@odata.id":"/redfish/v1"}}`,
		"/redfish/v1/Systems":   `{"Members":[{"@odata.id":"/redfish/v1/Systems/1"},{"@odata.id":"/redfish/v1/Systems/2"}]}`,
		"/redfish/v1/Systems/1": `{"Up":{"@odata.id":"/redfish/v1/Systems"}}`,
	}
	get := func(uri string) (int, []byte, error) {
		if b, ok := tree[uri]; ok {
			return 200, []byte(b), nil
		}
		return 404, []byte(`{}`), nil
	}
	var got []string
	n, err := Walk(get, "/redfish/v1", 100, func(p Page) error {
		got = append(got, fmt.Sprintf("%s %d", p.URI, p.Status))
		return nil
	})
	want := []string{"/redfish/v1 200", "/redfish/v1/Systems 200", "/redfish/v1/Systems/1 200", "/redfish/v1/Systems/2 404"}
	if err != nil || n != 4 || !slices.Equal(got, want) {
		t.Errorf("Walk = %d, %v, visited %q; want 4 pages %q", n, err, got, want)
	}
	// An endless tree stops at the limit with an error.
	endless := func(uri string) (int, []byte, error) {
		return 200, fmt.Appendf(nil, `{"Next":{"@odata.id":"%s/x"}}`, uri), nil
	}
	n, err = Walk(endless, "/redfish/v1", 10, func(Page) error { return nil })
	if err == nil || n != 10 {
		t.Errorf("endless Walk = %d, %v; want an error after 10 pages", n, err)
	}
}
