package redfish

import (
	"net/http"
	"slices"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

const registriesURI = "/redfish/v1/Registries"

// registryFile is one published message registry: the MessageRegistryFile resource at
// /redfish/v1/Registries/<Prefix> and the registry itself at .../<Prefix>/<Prefix>.
type registryFile struct {
	reg            event.Registry
	publicationURI string
}

func (s *Service) registries() []registryFile {
	out := []registryFile{
		{reg: base.Registry(), publicationURI: "https://redfish.dmtf.org/registries/Base." + base.Version + ".json"},
		{reg: event.BoardRegistry()},
	}
	for _, r := range s.cfg.ExtraRegistries {
		out = append(out, registryFile{reg: r})
	}
	return out
}

func (s *Service) registerRegistryRoutes() {
	s.route("GET /redfish/v1/Registries", privLogin, s.getRegistries)
	s.route("GET /redfish/v1/Registries/{id}", privLogin, s.getRegistryFile)
	s.route("GET /redfish/v1/Registries/{id}/{file}", privLogin, s.getRegistry)
}

func (s *Service) getRegistries(*request) (any, error) {
	var uris []string
	for _, f := range s.registries() {
		uris = append(uris, registriesURI+"/"+f.reg.Prefix)
	}
	return newCollection(registriesURI, "MessageRegistryFileCollection", "Registry File Collection", uris), nil
}

// majorMinor is "1.22" of "1.22.1".
func majorMinor(version string) string {
	if i := strings.LastIndexByte(version, '.'); i > 0 {
		return version[:i]
	}
	return version
}

func (s *Service) findRegistry(r *request) (registryFile, error) {
	id := r.PathValue("id")
	for _, f := range s.registries() {
		if f.reg.Prefix == id {
			return f, nil
		}
	}
	return registryFile{}, errorf(http.StatusNotFound, base.ResourceNotFound("MessageRegistryFile", id))
}

type registryLocation struct {
	Language       string `json:"Language"`
	URI            string `json:"Uri"`
	PublicationURI string `json:"PublicationUri,omitempty"`
}

type registryFileBody struct {
	ODataID     string             `json:"@odata.id"`
	ODataType   string             `json:"@odata.type"`
	ID          string             `json:"Id"`
	Name        string             `json:"Name"`
	Description string             `json:"Description"`
	Languages   []string           `json:"Languages"`
	Registry    string             `json:"Registry"`
	Location    []registryLocation `json:"Location"`
}

func (s *Service) getRegistryFile(r *request) (any, error) {
	f, err := s.findRegistry(r)
	if err != nil {
		return nil, err
	}
	p := f.reg.Prefix
	return registryFileBody{
		ODataID:     registriesURI + "/" + p,
		ODataType:   odataType("MessageRegistryFile"),
		ID:          p,
		Name:        p + " Message Registry File",
		Description: f.reg.Description,
		Languages:   []string{f.reg.Language},
		Registry:    p + "." + majorMinor(f.reg.Version),
		Location:    []registryLocation{{Language: f.reg.Language, URI: registriesURI + "/" + p + "/" + p, PublicationURI: f.publicationURI}},
	}, nil
}

type registryMessage struct {
	Description     string   `json:"Description"`
	Message         string   `json:"Message"`
	Severity        string   `json:"Severity"`
	MessageSeverity string   `json:"MessageSeverity"`
	NumberOfArgs    int      `json:"NumberOfArgs"`
	ParamTypes      []string `json:"ParamTypes,omitempty"`
	Resolution      string   `json:"Resolution"`
}

// registryBody is a MessageRegistry; the schema has no @odata.id.
type registryBody struct {
	ODataType       string                     `json:"@odata.type"`
	ID              string                     `json:"Id"`
	Name            string                     `json:"Name"`
	Description     string                     `json:"Description"`
	Language        string                     `json:"Language"`
	RegistryPrefix  string                     `json:"RegistryPrefix"`
	RegistryVersion string                     `json:"RegistryVersion"`
	OwningEntity    string                     `json:"OwningEntity"`
	Messages        map[string]registryMessage `json:"Messages"`
}

// getRegistry serves the registry itself (MessageRegistry) at its Location Uri.
func (s *Service) getRegistry(r *request) (any, error) {
	f, err := s.findRegistry(r)
	if err != nil {
		return nil, err
	}
	if r.PathValue("file") != f.reg.Prefix {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("MessageRegistry", r.PathValue("file")))
	}
	owner := "ironroot"
	if f.reg.Prefix == base.Prefix {
		owner = "DMTF"
	}
	msgs := make(map[string]registryMessage, len(f.reg.Messages))
	for key, m := range f.reg.Messages {
		msgs[key] = registryMessage{
			Description:     m.Description,
			Message:         m.Message,
			Severity:        string(m.Severity),
			MessageSeverity: string(m.Severity),
			NumberOfArgs:    m.NumberOfArgs,
			ParamTypes:      slices.Repeat([]string{"string"}, m.NumberOfArgs),
			Resolution:      m.Resolution,
		}
	}
	p := f.reg.Prefix
	return registryBody{
		ODataType:       odataType("MessageRegistry"),
		ID:              p + "." + f.reg.Version,
		Name:            p + " Message Registry",
		Description:     f.reg.Description,
		Language:        f.reg.Language,
		RegistryPrefix:  p,
		RegistryVersion: f.reg.Version,
		OwningEntity:    owner,
		Messages:        msgs,
	}, nil
}
