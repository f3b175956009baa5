package redfish

import (
	"net/http"
	"sort"
	"strings"
	"sync"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// schemaVersions is the one place that names the schema version of every resource type
// the service emits: the latest versions of the DMTF bundle 2025.4 (DSP8010). Payloads
// use odataType, $metadata references every entry, and TestConformanceSchemaVersions
// checks the table against the bundle.
var schemaVersions = map[string]string{
	"AccountService":         "v1_18_1",
	"ActionInfo":             "v1_5_0",
	"Certificate":            "v1_11_0",
	"Chassis":                "v1_28_0",
	"ComponentIntegrity":     "v1_3_2",
	"ComputerSystem":         "v1_27_0",
	"EnvironmentMetrics":     "v1_5_0",
	"EthernetInterface":      "v1_12_4",
	"Fan":                    "v1_6_0",
	"LogEntry":               "v1_21_0",
	"LogService":             "v1_9_0",
	"Manager":                "v1_24_0",
	"ManagerAccount":         "v1_14_1",
	"ManagerNetworkProtocol": "v1_12_0",
	"Memory":                 "v1_23_0",
	"Message":                "v1_3_0",
	"MessageRegistry":        "v1_7_0",
	"MessageRegistryFile":    "v1_1_5",
	"PowerSubsystem":         "v1_1_3",
	"PowerSupply":            "v1_6_0",
	"PowerSupplyMetrics":     "v1_2_0",
	"Processor":              "v1_22_0",
	"Resource":               "v1_23_0",
	"Role":                   "v1_3_3",
	"SecurityPolicy":         "v1_0_3",
	"Sensor":                 "v1_12_0",
	"ServiceRoot":            "v1_20_0",
	"Session":                "v1_8_0",
	"SessionService":         "v1_2_0",
	"ThermalMetrics":         "v1_3_2",
	"ThermalSubsystem":       "v1_5_0",
	"TrustedComponent":       "v1_4_0",
}

// collectionTypes are the resource collections the service emits (unversioned schemas).
var collectionTypes = []string{
	"CertificateCollection", "ChassisCollection", "ComponentIntegrityCollection", "ComputerSystemCollection",
	"EthernetInterfaceCollection", "FanCollection",
	"LogEntryCollection", "LogServiceCollection", "ManagerAccountCollection", "ManagerCollection",
	"MemoryCollection", "MessageRegistryFileCollection", "PowerSupplyCollection", "ProcessorCollection",
	"RoleCollection", "SensorCollection", "SessionCollection", "TrustedComponentCollection",
}

// odataType returns the @odata.type of a resource type, e.g. odataType("Session") =
// "#Session.v1_8_0.Session", and "#SessionCollection.SessionCollection" for a
// collection type. It panics for a type missing from schemaVersions (a test catches it).
func odataType(name string) string {
	if strings.HasSuffix(name, "Collection") {
		return "#" + name + "." + name
	}
	v, ok := schemaVersions[name]
	if !ok {
		panic("redfish: no schema version for " + name)
	}
	return "#" + name + "." + v + "." + name
}

// metadata is the CSDL document served at /redfish/v1/$metadata and its ETag, built on
// the first request for it rather than at startup: most boots never serve it, and
// building it allocates several times its size.
var metadata = sync.OnceValues(func() ([]byte, []string) {
	doc := buildMetadata()
	return doc, []string{etagOf(doc)}
})

func buildMetadata() []byte {
	var b strings.Builder
	b.Grow(12 << 10) // the document is ~10 KB
	b.WriteString(`<?xml version="1.0" encoding="UTF-8"?>` + "\n")
	b.WriteString(`<edmx:Edmx xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx" Version="4.0">` + "\n")
	ref := func(file string, namespaces ...string) {
		b.WriteString(`  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/` + file + `_v1.xml">` + "\n")
		for _, ns := range namespaces {
			b.WriteString(`    <edmx:Include Namespace="` + ns + `"/>` + "\n")
		}
		b.WriteString("  </edmx:Reference>\n")
	}
	names := make([]string, 0, len(schemaVersions))
	for n := range schemaVersions {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		ref(n, n, n+"."+schemaVersions[n])
	}
	for _, n := range collectionTypes {
		ref(n, n)
	}
	b.WriteString(`  <edmx:Reference Uri="http://redfish.dmtf.org/schemas/v1/RedfishExtensions_v1.xml">` + "\n")
	b.WriteString(`    <edmx:Include Namespace="RedfishExtensions.v1_0_0" Alias="Redfish"/>` + "\n")
	b.WriteString("  </edmx:Reference>\n")
	b.WriteString("  <edmx:DataServices>\n")
	b.WriteString(`    <Schema xmlns="http://docs.oasis-open.org/odata/ns/edm" Namespace="Service">` + "\n")
	b.WriteString(`      <EntityContainer Name="Service" Extends="ServiceRoot.` + schemaVersions["ServiceRoot"] + `.ServiceContainer"/>` + "\n")
	b.WriteString("    </Schema>\n  </edmx:DataServices>\n</edmx:Edmx>\n")
	return []byte(b.String())
}

var (
	hdrXML           = []string{"application/xml"}
	hdrMetadataAllow = []string{"GET, HEAD"}
)

// serveMetadata serves the CSDL $metadata document (no authentication).
func (s *Service) serveMetadata(w http.ResponseWriter, hr *http.Request) {
	r := &request{Request: hr, svc: s}
	h := w.Header()
	h["Allow"] = hdrMetadataAllow
	if hr.Method != http.MethodGet && hr.Method != http.MethodHead {
		if err := s.authenticate(r); err != nil {
			s.fail(w, r, err)
			return
		}
		s.fail(w, r, errorf(http.StatusMethodNotAllowed, base.OperationNotAllowed()))
		return
	}
	doc, etag := metadata()
	setCommonHeaders(h)
	h["Content-Type"] = hdrXML
	h["Etag"] = etag
	if inm := hr.Header.Get("If-None-Match"); inm != "" && etagListMatches(inm, etag[0]) {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	if hr.Method == http.MethodHead {
		w.WriteHeader(http.StatusOK)
		return
	}
	_, _ = w.Write(doc)
}
