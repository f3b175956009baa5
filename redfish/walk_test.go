package redfish_test

import (
	"encoding/json"
	"encoding/xml"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// links collects every @odata.id in a JSON value.
func links(v any, out map[string]bool) {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			if s, ok := e.(string); ok && k == "@odata.id" {
				out[strings.SplitN(s, "#", 2)[0]] = true
			}
			links(e, out)
		}
	case []any:
		for _, e := range x {
			links(e, out)
		}
	}
}

// TestWalkTree GETs and HEADs every resource reachable from the service root and checks
// the protocol headers of each, and that $metadata references every namespace used.
func TestWalkTree(t *testing.T) {
	t.Parallel()
	tb := testboard.Start(t)
	var meta struct {
		References []struct {
			Includes []struct {
				Namespace string `xml:"Namespace,attr"`
			} `xml:"Include"`
		} `xml:"Reference"`
	}
	if err := xml.Unmarshal(call(t, tb, "GET", "/redfish/v1/$metadata", nil).Body, &meta); err != nil {
		t.Fatal(err)
	}
	namespaces := map[string]bool{}
	for _, r := range meta.References {
		for _, inc := range r.Includes {
			namespaces[inc.Namespace] = true
		}
	}
	seen := map[string]bool{}
	queue := []string{"/redfish/v1"}
	for len(queue) > 0 {
		uri := queue[0]
		queue = queue[1:]
		if seen[uri] {
			continue
		}
		seen[uri] = true
		r := call(t, tb, "GET", uri, nil)
		if r.StatusCode != 200 {
			t.Errorf("GET %s: %d %s", uri, r.StatusCode, r.Body)
			continue
		}
		var body map[string]any
		if err := json.Unmarshal(r.Body, &body); err != nil {
			t.Errorf("GET %s: %v", uri, err)
			continue
		}
		typ, _ := body["@odata.type"].(string)
		if typ == "" || body["@odata.id"] == nil && !strings.HasPrefix(typ, "#MessageRegistry.") {
			t.Errorf("%s: @odata.type %q, @odata.id %v", uri, typ, body["@odata.id"])
			continue
		}
		full := strings.TrimPrefix(typ[:strings.LastIndexByte(typ, '.')], "#")
		if !namespaces[full] {
			t.Errorf("%s: $metadata does not include %s", uri, full)
		}
		want := "<http://redfish.dmtf.org/schemas/v1/" + full + ".json>; rel=describedby"
		for _, method := range []string{"GET", "HEAD"} {
			resp := r
			if method == "HEAD" {
				resp = call(t, tb, "HEAD", uri, nil)
				if len(resp.Body) != 0 || resp.StatusCode != 200 {
					t.Errorf("HEAD %s: %d with %d body bytes", uri, resp.StatusCode, len(resp.Body))
				}
			}
			h := resp.Header
			if h.Get("Link") != want || h.Get("OData-Version") != "4.0" || h.Get("ETag") == "" ||
				!strings.Contains(h.Get("Allow"), "GET") || h.Get("Cache-Control") == "" ||
				h.Get("Content-Type") != "application/json; charset=utf-8" {
				t.Errorf("%s %s headers: %v", method, uri, h)
			}
		}
		if members, ok := body["Members"].([]any); ok {
			if n, _ := body["Members@odata.count"].(float64); int(n) != len(members) {
				t.Errorf("%s: Members@odata.count %v for %d members", uri, body["Members@odata.count"], len(members))
			}
		}
		found := map[string]bool{}
		links(body, found)
		for l := range found {
			if strings.HasPrefix(l, "/redfish/v1") && !seen[l] {
				queue = append(queue, l)
			}
		}
		// Registries' Location URIs are not @odata.id links.
		if locs, ok := body["Location"].([]any); ok {
			for _, l := range locs {
				if u, ok := l.(map[string]any)["Uri"].(string); ok {
					queue = append(queue, u)
				}
			}
		}
	}
	if len(seen) < 20 {
		t.Errorf("walked only %d resources", len(seen))
	}
	t.Logf("walked %d resources", len(seen))
}
