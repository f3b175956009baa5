package redfish

import (
	"net/http"
)

// Product identity shown in the service root.
const (
	productName    = "ironroot BMC"
	vendorName     = "ironroot"
	redfishVersion = "1.22.0" // DSP0266 version the service follows
)

func (s *Service) registerServiceRoutes() {
	s.route("GET /redfish", noAuth, s.getVersions)
	s.route("GET /redfish/v1", noAuth, s.getServiceRoot)
	s.route("GET /redfish/v1/odata", noAuth, s.getODataService)
	s.mux.Handle("/redfish/v1/$metadata", http.HandlerFunc(s.serveMetadata))
}

// getVersions is GET /redfish: exactly {"v1":"/redfish/v1/"}.
func (s *Service) getVersions(*request) (any, error) {
	return struct {
		V1 string `json:"v1"`
	}{"/redfish/v1/"}, nil
}

// serviceRoot is ServiceRoot.v1_20_0.
type serviceRoot struct {
	ODataID                   string           `json:"@odata.id"`
	ODataType                 string           `json:"@odata.type"`
	ID                        string           `json:"Id"`
	Name                      string           `json:"Name"`
	RedfishVersion            string           `json:"RedfishVersion"`
	UUID                      string           `json:"UUID,omitempty"`
	Product                   string           `json:"Product"`
	Vendor                    string           `json:"Vendor"`
	ProtocolFeaturesSupported protocolFeatures `json:"ProtocolFeaturesSupported"`
	Systems                   odataID          `json:"Systems"`
	Chassis                   odataID          `json:"Chassis"`
	Managers                  odataID          `json:"Managers"`
	SessionService            odataID          `json:"SessionService"`
	AccountService            odataID          `json:"AccountService"`
	Registries                odataID          `json:"Registries"`
	ComponentIntegrity        odataID          `json:"ComponentIntegrity"`
	Links                     serviceRootLinks `json:"Links"`
}

type serviceRootLinks struct {
	Sessions odataID `json:"Sessions"`
}

// protocolFeatures advertises exactly what the service implements: of the query
// parameters only `only` (see query.go).
type protocolFeatures struct {
	ExcerptQuery bool `json:"ExcerptQuery"`
	ExpandQuery  struct {
		ExpandAll bool `json:"ExpandAll"`
		Levels    bool `json:"Levels"`
		Links     bool `json:"Links"`
		NoLinks   bool `json:"NoLinks"`
	} `json:"ExpandQuery"`
	FilterQuery     bool `json:"FilterQuery"`
	OnlyMemberQuery bool `json:"OnlyMemberQuery"`
	SelectQuery     bool `json:"SelectQuery"`
	TopSkipQuery    bool `json:"TopSkipQuery"`
	DeepOperations  struct {
		DeepPATCH bool `json:"DeepPATCH"`
		DeepPOST  bool `json:"DeepPOST"`
	} `json:"DeepOperations"`
	MultipleHTTPRequests bool `json:"MultipleHTTPRequests"`
}

// getServiceRoot is GET /redfish/v1 (and /redfish/v1/).
func (s *Service) getServiceRoot(*request) (any, error) {
	return serviceRoot{
		ODataID:                   "/redfish/v1",
		ODataType:                 odataType("ServiceRoot"),
		ID:                        "RootService",
		Name:                      "Root Service",
		RedfishVersion:            redfishVersion,
		UUID:                      s.cfg.Board.Inventory.ManagerUUID,
		Product:                   productName,
		Vendor:                    vendorName,
		ProtocolFeaturesSupported: protocolFeatures{OnlyMemberQuery: true, MultipleHTTPRequests: true},
		Systems:                   odataID{"/redfish/v1/Systems"},
		Chassis:                   odataID{"/redfish/v1/Chassis"},
		Managers:                  odataID{"/redfish/v1/Managers"},
		SessionService:            odataID{"/redfish/v1/SessionService"},
		AccountService:            odataID{"/redfish/v1/AccountService"},
		Registries:                odataID{"/redfish/v1/Registries"},
		ComponentIntegrity:        odataID{componentIntegrityURI},
		Links:                     serviceRootLinks{Sessions: odataID{"/redfish/v1/SessionService/Sessions"}},
	}, nil
}

// getODataService is the OData service document: the top-level resources of the root.
func (s *Service) getODataService(*request) (any, error) {
	type entry struct {
		Name string `json:"name"`
		Kind string `json:"kind"`
		URL  string `json:"url"`
	}
	entries := []entry{{"Service", "Singleton", "/redfish/v1/"}}
	for _, name := range []string{"Systems", "Chassis", "Managers", "SessionService", "AccountService", "Registries", "ComponentIntegrity"} {
		entries = append(entries, entry{name, "Singleton", "/redfish/v1/" + name})
	}
	entries = append(entries, entry{"Sessions", "Singleton", "/redfish/v1/SessionService/Sessions"})
	return struct {
		Context string  `json:"@odata.context"`
		Value   []entry `json:"value"`
	}{"/redfish/v1/$metadata", entries}, nil
}
