//go:build conformance

package redfish_test

// Conformance tests against DMTF reference data that is not kept in the repository:
// the Redfish schema bundle, CSDL and registries in $IRONROOT_SHARED/redfish (default
// <repo root>/../shared/redfish). Run with `go test -tags conformance -run Conformance ./redfish/`.

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	urlpath "path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/internal/redfishschema"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
	"github.com/ironroot-bmc/ironroot/redfish"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// walkLimit bounds every tree walk: the board has a few hundred resources at most.
const walkLimit = 3000

// sharedRedfish returns <shared>/redfish, where shared is $IRONROOT_SHARED or
// <repo root>/../shared; it fails the test with instructions when the data is absent.
func sharedRedfish(t *testing.T) string {
	t.Helper()
	shared := os.Getenv("IRONROOT_SHARED")
	if shared == "" {
		dir, err := os.Getwd()
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 64; i++ {
			if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
				break
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				t.Fatalf("conformance: no go.mod above %s; set IRONROOT_SHARED to the shared reference data folder", dir)
			}
			dir = parent
		}
		shared = filepath.Join(filepath.Dir(dir), "shared")
	}
	rf := filepath.Join(shared, "redfish")
	for _, sub := range []string{"json-schema", "csdl", "registries"} {
		if fi, err := os.Stat(filepath.Join(rf, sub)); err != nil || !fi.IsDir() {
			t.Fatalf("conformance: DMTF reference data %s is missing (%v). "+
				"Set IRONROOT_SHARED to the folder holding redfish/{json-schema,csdl,registries} "+
				"(default <repo root>/../shared); make conformance needs it, make test does not", filepath.Join(rf, sub), err)
		}
	}
	return rf
}

// getter returns a redfishschema.Getter that GETs with the admin's Basic credentials.
func getter(t *testing.T, tb *testboard.TB) redfishschema.Getter {
	return func(uri string) (int, []byte, error) {
		req, err := http.NewRequest(http.MethodGet, tb.URL+uri, nil)
		if err != nil {
			return 0, nil, err
		}
		req.SetBasicAuth(tb.AdminUser, tb.AdminPassword)
		resp, err := tb.Client.Do(req)
		if err != nil {
			return 0, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp.StatusCode, body, err
	}
}

// entityOf returns the resource type of an @odata.type: "#ComputerSystem.v1_27_0.ComputerSystem" → "ComputerSystem".
func entityOf(odataType string) string {
	s := strings.TrimPrefix(odataType, "#")
	return s[strings.LastIndexByte(s, '.')+1:]
}

// namespaceOf returns the namespace of an @odata.type: "#ComputerSystem.v1_27_0.ComputerSystem" → "ComputerSystem.v1_27_0".
func namespaceOf(odataType string) string {
	s := strings.TrimPrefix(odataType, "#")
	return s[:max(strings.LastIndexByte(s, '.'), 0)]
}

// registryFile is the part of a DMTF message registry this test reads.
type registryFile struct {
	ID              string `json:"Id"`
	RegistryPrefix  string
	RegistryVersion string
	Messages        map[string]struct {
		Message         string
		NumberOfArgs    int
		MessageSeverity string
		Severity        string
		Resolution      string
	}
}

// powerTo resets the host and advances the fake clock until PowerState is want.
func powerTo(t *testing.T, tb *testboard.TB, resetType, want string) {
	t.Helper()
	resp := tb.Do(t, tb.NewRequest(t, http.MethodPost, "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset",
		map[string]string{"ResetType": resetType}))
	if resp.StatusCode/100 != 2 {
		t.Fatalf("Reset %s: %d %s", resetType, resp.StatusCode, resp.Body)
	}
	for i := 0; i < 120; i++ {
		sys := tb.Do(t, tb.NewRequest(t, http.MethodGet, "/redfish/v1/Systems/1", nil)).JSON(t)
		if sys["PowerState"] == want {
			// Let sensors follow the new state for a while.
			tb.Clock.Advance(time.Minute)
			return
		}
		tb.Clock.Advance(time.Second)
	}
	t.Fatalf("host not %s after 120 s of board time", want)
}

// TestConformanceSchemas walks the whole tree with the host Off and then On and
// validates every payload against the DMTF schema its @odata.type names; it also checks
// $metadata, the OData service document, the published registries and an error body.
func TestConformanceSchemas(t *testing.T) {
	rf := sharedRedfish(t)
	v, err := redfishschema.New(filepath.Join(rf, "json-schema"))
	if err != nil {
		t.Fatalf("load schema bundle: %v", err)
	}
	tb := testboard.Start(t)
	// Put something in the event log and a second account in the tree.
	resp := tb.Do(t, tb.NewRequest(t, http.MethodPost, "/redfish/v1/AccountService/Accounts",
		map[string]string{"UserName": "reader1", "Password": "Reader-Passw0rd1", "RoleId": "ReadOnly"}))
	if resp.StatusCode != http.StatusCreated {
		t.Fatalf("create account: %d %s", resp.StatusCode, resp.Body)
	}
	tb.Login(t, "reader1", "Reader-Passw0rd1") // a Session member in the tree

	registries := map[string]registryFile{} // published registries by prefix
	namespaces := map[string]bool{}
	get := getter(t, tb)
	for _, state := range []string{"Off", "On"} {
		if state == "On" {
			powerTo(t, tb, "On", "On")
		}
		validated := 0
		n, err := redfishschema.Walk(get, "/redfish/v1", walkLimit, func(p redfishschema.Page) error {
			if p.Status != http.StatusOK {
				t.Errorf("[host %s] GET %s (linked from %s): %d %s", state, p.URI, p.From, p.Status, p.Body)
				return nil
			}
			if p.URI == "/redfish/v1/odata" {
				return nil // the OData service document, checked below
			}
			var head struct {
				Type string `json:"@odata.type"`
				ID   string `json:"@odata.id"`
			}
			if err := json.Unmarshal(p.Body, &head); err != nil {
				t.Errorf("[host %s] GET %s: body is not a JSON object: %v", state, p.URI, err)
				return nil
			}
			if head.Type == "" {
				t.Errorf("[host %s] GET %s: no @odata.type", state, p.URI)
				return nil
			}
			if head.ID != "" && head.ID != p.URI && head.ID != p.URI+"/" {
				t.Errorf("[host %s] GET %s: @odata.id is %q", state, p.URI, head.ID)
			}
			namespaces[namespaceOf(head.Type)] = true
			if err := v.Validate(p.Body); err != nil {
				t.Errorf("[host %s] GET %s: %v", state, p.URI, err)
			}
			validated++
			if entityOf(head.Type) == "MessageRegistry" {
				var r registryFile
				if err := json.Unmarshal(p.Body, &r); err == nil {
					registries[r.RegistryPrefix] = r
				}
			}
			return nil
		})
		if err != nil {
			t.Errorf("[host %s] walk: %v", state, err)
		}
		t.Logf("host %s: walked %d resources, validated %d payloads", state, n, validated)
		if n < 40 {
			t.Errorf("[host %s] the walk reached only %d resources", state, n)
		}
	}

	// Every LogEntry's MessageId names a published registry message with its arg count.
	get2 := getter(t, tb)
	st, body, err := get2("/redfish/v1/Systems/1/LogServices/EventLog/Entries")
	if err != nil || st != 200 {
		t.Fatalf("GET EventLog Entries: %d %v", st, err)
	}
	checked := 0
	for _, l := range redfishschema.Links(body) {
		if !strings.HasPrefix(l, "/redfish/v1/Systems/1/LogServices/EventLog/Entries/") {
			continue
		}
		_, eb, err := get2(l)
		if err != nil {
			t.Fatal(err)
		}
		var e struct {
			MessageID   string `json:"MessageId"`
			MessageArgs []string
		}
		json.Unmarshal(eb, &e)
		if msg := checkMessageID(registries, e.MessageID, len(e.MessageArgs)); msg != "" {
			t.Errorf("%s: %s", l, msg)
		}
		checked++
	}
	if checked == 0 {
		t.Error("the event log has no entries to check after two power transitions")
	}

	// An error body conforms to redfish-error and uses published Base messages.
	st, body, _ = get2("/redfish/v1/Systems/no-such-system")
	if st != http.StatusNotFound {
		t.Errorf("GET an unknown system: %d, want 404", st)
	}
	if err := v.ValidateAgainst(body, "redfish-error.v1_0_2.json", "RedfishError"); err != nil {
		t.Errorf("404 body: %v", err)
	}
	var eb struct {
		Error struct {
			Info []struct {
				MessageID   string `json:"MessageId"`
				MessageArgs []string
			} `json:"@Message.ExtendedInfo"`
		} `json:"error"`
	}
	json.Unmarshal(body, &eb)
	for _, m := range eb.Error.Info {
		if msg := checkMessageID(registries, m.MessageID, len(m.MessageArgs)); msg != "" {
			t.Errorf("404 body: %s", msg)
		}
	}

	// The OData service document lists the service root's top-level resources.
	st, body, _ = get2("/redfish/v1/odata")
	var od struct {
		Context string `json:"@odata.context"`
		Value   []struct{ Name, Kind, URL string }
	}
	if err := json.Unmarshal(body, &od); err != nil || st != 200 || od.Context != "/redfish/v1/$metadata" || len(od.Value) == 0 {
		t.Errorf("GET /redfish/v1/odata: %d, context %q, %d entries, %v", st, od.Context, len(od.Value), err)
	}

	checkMetadata(t, tb, filepath.Join(rf, "csdl"), namespaces)
}

// checkMessageID reports a problem with a MessageId ("Prefix.Major.Minor.Key") against
// the registries the service publishes, or "".
func checkMessageID(registries map[string]registryFile, id string, nargs int) string {
	parts := strings.Split(id, ".")
	if len(parts) != 4 {
		return fmt.Sprintf("MessageId %q is not Prefix.Major.Minor.Key", id)
	}
	r, ok := registries[parts[0]]
	if !ok {
		return fmt.Sprintf("MessageId %q: registry %s is not published under /redfish/v1/Registries", id, parts[0])
	}
	if !strings.HasPrefix(r.RegistryVersion, parts[1]+"."+parts[2]+".") {
		return fmt.Sprintf("MessageId %q: the published %s registry is version %s", id, parts[0], r.RegistryVersion)
	}
	def, ok := r.Messages[parts[3]]
	if !ok {
		return fmt.Sprintf("MessageId %q: no message %s in the published %s registry", id, parts[3], parts[0])
	}
	if def.NumberOfArgs != nargs {
		return fmt.Sprintf("MessageId %q has %d args, the registry says %d", id, nargs, def.NumberOfArgs)
	}
	return ""
}

// checkMetadata checks that $metadata is well-formed CSDL with an EntityContainer, that
// every edmx:Reference names a CSDL file DMTF publishes, and that every namespace the
// walk saw is included.
func checkMetadata(t *testing.T, tb *testboard.TB, csdlDir string, namespaces map[string]bool) {
	t.Helper()
	resp, err := tb.Client.Get(tb.URL + "/redfish/v1/$metadata")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/xml") {
		t.Errorf("GET $metadata: %d, Content-Type %q; want 200 application/xml", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	dec := xml.NewDecoder(resp.Body)
	included := map[string]bool{}
	var root string
	container := false
	var refs []string
	for i := 0; i < 1_000_000; i++ {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Errorf("$metadata is not well-formed XML: %v", err)
			return
		}
		se, ok := tok.(xml.StartElement)
		if !ok {
			continue
		}
		if root == "" {
			root = se.Name.Local
		}
		attr := func(name string) string {
			for _, a := range se.Attr {
				if a.Name.Local == name {
					return a.Value
				}
			}
			return ""
		}
		switch se.Name.Local {
		case "Reference":
			refs = append(refs, attr("Uri"))
		case "Include":
			included[attr("Namespace")] = true
		case "EntityContainer":
			container = true
		}
	}
	if root != "Edmx" {
		t.Errorf("$metadata root element %q, want edmx:Edmx", root)
	}
	if !container {
		t.Error("$metadata has no EntityContainer")
	}
	if len(refs) == 0 {
		t.Error("$metadata has no edmx:Reference")
	}
	for _, u := range refs {
		const prefix = "http://redfish.dmtf.org/schemas/v1/"
		if !strings.HasPrefix(u, prefix) {
			continue // e.g. OData vocabularies at docs.oasis-open.org
		}
		if _, err := os.Stat(filepath.Join(csdlDir, urlpath.Base(u))); err != nil {
			t.Errorf("$metadata references %s: DMTF publishes no such CSDL file", u)
		}
	}
	var missing []string
	for ns := range namespaces {
		if !included[ns] {
			missing = append(missing, ns)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("$metadata does not include the namespaces of payloads the service returns: %v", missing)
	}
}

// TestConformanceBaseMessages checks the Base messages the service builds against the
// DMTF Base registry: same key, argument count, text, severity and resolution, and a
// MessageId prefix matching the registry version.
func TestConformanceBaseMessages(t *testing.T) {
	rf := sharedRedfish(t)
	files, _ := filepath.Glob(filepath.Join(rf, "registries", "Base.*.json"))
	if len(files) == 0 {
		t.Fatalf("no Base.*.json in %s", filepath.Join(rf, "registries"))
	}
	slices.Sort(files)
	data, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	var dmtf registryFile
	if err := json.Unmarshal(data, &dmtf); err != nil {
		t.Fatalf("%s: %v", files[len(files)-1], err)
	}
	ours := base.Registry()
	if ours.Prefix != dmtf.RegistryPrefix || ours.Version != dmtf.RegistryVersion {
		t.Errorf("our Base registry is %s %s, DMTF's file is %s %s", ours.Prefix, ours.Version, dmtf.RegistryPrefix, dmtf.RegistryVersion)
	}
	if len(ours.Messages) == 0 {
		t.Fatal("base.Registry() has no messages")
	}
	for key, def := range ours.Messages {
		d, ok := dmtf.Messages[key]
		if !ok {
			t.Errorf("Base message %s does not exist in %s", key, filepath.Base(files[len(files)-1]))
			continue
		}
		if def.NumberOfArgs != d.NumberOfArgs {
			t.Errorf("Base.%s: %d args, DMTF says %d", key, def.NumberOfArgs, d.NumberOfArgs)
		}
		if def.Message != d.Message {
			t.Errorf("Base.%s: text %q, DMTF says %q", key, def.Message, d.Message)
		}
		sev := d.MessageSeverity
		if sev == "" {
			sev = d.Severity
		}
		if string(def.Severity) != sev {
			t.Errorf("Base.%s: severity %q, DMTF says %q", key, def.Severity, sev)
		}
		if def.Resolution != d.Resolution {
			t.Errorf("Base.%s: resolution %q, DMTF says %q", key, def.Resolution, d.Resolution)
		}
	}
	// A built message carries the MessageId Base.<major>.<minor>.<Key>.
	m := base.PropertyUnknown("Bogus")
	major, minor, _ := strings.Cut(dmtf.RegistryVersion, ".")
	minor, _, _ = strings.Cut(minor, ".")
	if want := "Base." + major + "." + minor + ".PropertyUnknown"; m.MessageID != want || len(m.MessageArgs) != 1 {
		t.Errorf("base.PropertyUnknown: MessageId %q args %v, want %s with 1 arg", m.MessageID, m.MessageArgs, want)
	}
}

// privilegeRegistry is the part of the DMTF privilege registry this test reads.
type privilegeRegistry struct {
	Mappings []struct {
		Entity               string
		OperationMap         map[string][]struct{ Privilege []string }
		PropertyOverrides    []override
		SubordinateOverrides []override
	}
}

type override struct {
	Targets      []string
	OperationMap map[string][]struct{ Privilege []string }
}

func privSet(alts []struct{ Privilege []string }) []string {
	var out []string
	for _, a := range alts {
		p := slices.Clone(a.Privilege)
		slices.Sort(p)
		out = append(out, strings.Join(p, "+"))
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// patternRE turns a route pattern into a regexp matching concrete paths.
func patternRE(pattern string) *regexp.Regexp {
	var sb strings.Builder
	sb.WriteString("^")
	for _, seg := range strings.Split(strings.TrimPrefix(pattern, "/"), "/") {
		sb.WriteString("/")
		if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
			sb.WriteString("[^/]+")
		} else {
			sb.WriteString(regexp.QuoteMeta(seg))
		}
	}
	sb.WriteString("$")
	return regexp.MustCompile(sb.String())
}

// TestConformancePrivileges checks the privilege of every route against the DMTF
// privilege registry's OperationMap for the entity the route's URI serves (with the
// registry's subordinate and property overrides).
func TestConformancePrivileges(t *testing.T) {
	rf := sharedRedfish(t)
	files, _ := filepath.Glob(filepath.Join(rf, "registries", "Redfish_*_PrivilegeRegistry.json"))
	if len(files) == 0 {
		t.Fatalf("no Redfish_*_PrivilegeRegistry.json in %s", filepath.Join(rf, "registries"))
	}
	slices.Sort(files)
	data, err := os.ReadFile(files[len(files)-1])
	if err != nil {
		t.Fatal(err)
	}
	var reg privilegeRegistry
	if err := json.Unmarshal(data, &reg); err != nil {
		t.Fatal(err)
	}
	entities := map[string]int{}
	for i, m := range reg.Mappings {
		entities[m.Entity] = i
	}

	tb := testboard.Start(t)
	tb.Login(t, tb.AdminUser, tb.AdminPassword) // so that a Session member exists
	types := map[string]string{}                // URI → entity
	var uris []string
	_, err = redfishschema.Walk(getter(t, tb), "/redfish/v1", walkLimit, func(p redfishschema.Page) error {
		var head struct {
			Type string `json:"@odata.type"`
		}
		if p.Status == 200 && json.Unmarshal(p.Body, &head) == nil && head.Type != "" {
			types[p.URI] = entityOf(head.Type)
			uris = append(uris, p.URI)
		}
		return nil
	})
	if err != nil {
		t.Fatalf("walk: %v", err)
	}

	// Routes that need no authentication by DSP0266 (service root, OData documents,
	// session login).
	noAuthOK := map[string]bool{
		"GET /redfish": true, "GET /redfish/v1": true, "GET /redfish/v1/": true, "GET /redfish/v1/odata": true,
		"GET /redfish/v1/$metadata": true, "POST /redfish/v1/SessionService/Sessions": true,
		"POST /redfish/v1/SessionService/Sessions/Members": true,
	}
	routes := redfish.RouteTable(tb.Service)
	if len(routes) < 20 {
		t.Fatalf("RouteTable lists %d routes", len(routes))
	}
	for _, r := range routes {
		name := r.Method + " " + r.Pattern
		got := []string{}
		for _, p := range r.AnyOf {
			got = append(got, string(p))
		}
		if r.Own {
			got = append(got, string(account.PrivConfigureSelf))
		}
		slices.Sort(got)
		got = slices.Compact(got)
		if slices.Contains(got, "NoAuth") {
			if !noAuthOK[strings.Replace(name, "HEAD ", "GET ", 1)] {
				t.Errorf("%s needs no authentication; only the service root, OData documents and login may", name)
			}
			continue
		}
		target := r.Pattern
		if i := strings.Index(target, "/Actions/"); i >= 0 {
			target = target[:i] // an action's privilege is the POST of the resource it acts on
		}
		if r.Method == http.MethodPost {
			target = strings.TrimSuffix(target, "/Members")
		}
		re := patternRE(target)
		uri := ""
		for _, u := range uris {
			if re.MatchString(u) {
				uri = u
				break
			}
		}
		if uri == "" {
			t.Errorf("%s: no resource reachable from /redfish/v1 matches %s", name, target)
			continue
		}
		entity := types[uri]
		idx, ok := entities[entity]
		if !ok {
			t.Errorf("%s: entity %s (of %s) is not in the privilege registry", name, entity, uri)
			continue
		}
		m := reg.Mappings[idx]
		opmap := m.OperationMap
		// Subordinate overrides apply when every target is an ancestor's entity.
		var ancestors []string
		for p := urlpath.Dir(uri); strings.HasPrefix(p, "/redfish/v1"); p = urlpath.Dir(p) {
			if e, ok := types[p]; ok {
				ancestors = append(ancestors, e)
			}
		}
		merged := map[string][]struct{ Privilege []string }{}
		for k, v := range opmap {
			merged[k] = v
		}
		for _, o := range m.SubordinateOverrides {
			all := true
			for _, tg := range o.Targets {
				all = all && slices.Contains(ancestors, tg)
			}
			if all {
				for k, v := range o.OperationMap {
					merged[k] = v
				}
			}
		}
		want := privSet(merged[r.Method])
		// A route that checks some properties itself (PATCH of Password by ConfigureSelf)
		// admits the union of the property overrides at the route level.
		for _, o := range m.PropertyOverrides {
			want = append(want, privSet(o.OperationMap[r.Method])...)
		}
		slices.Sort(want)
		want = slices.Compact(want)
		if slices.Equal(got, want) {
			continue
		}
		// HEAD mirrors GET: accept the GET mapping for HEAD where the registry differs.
		if r.Method == http.MethodHead && slices.Equal(got, privSet(merged[http.MethodGet])) {
			continue
		}
		t.Errorf("%s (%s, entity %s): privileges %v, the DMTF privilege registry says %v", name, uri, entity, got, want)
	}
}

// TestConformanceValidatorIsLive guards the schema check itself: a real payload of the
// service, altered the way a bug would alter it, must fail validation against the real
// bundle (so TestConformanceSchemas cannot pass by validating nothing).
func TestConformanceValidatorIsLive(t *testing.T) {
	rf := sharedRedfish(t)
	v, err := redfishschema.New(filepath.Join(rf, "json-schema"))
	if err != nil {
		t.Fatalf("load schema bundle: %v", err)
	}
	tb := testboard.Start(t)
	sys := tb.Do(t, tb.NewRequest(t, http.MethodGet, "/redfish/v1/Systems/1", nil))
	if err := v.Validate(sys.Body); err != nil {
		t.Fatalf("the service's own Systems/1 fails: %v", err)
	}
	for name, mutate := range map[string]func(map[string]any){
		"PowerState not in the enum": func(m map[string]any) { m["PowerState"] = "Sideways" },
		"unknown property":           func(m map[string]any) { m["Frobnicator"] = true },
		"wrong type":                 func(m map[string]any) { m["UUID"] = 42 },
		"older schema version":       func(m map[string]any) { m["@odata.type"] = "#ComputerSystem.v1_0_0.ComputerSystem" },
	} {
		m := sys.JSON(t)
		mutate(m)
		bad, _ := json.Marshal(m)
		if err := v.Validate(bad); err == nil {
			t.Errorf("%s: the validator accepted %s", name, bad)
		}
	}
}
