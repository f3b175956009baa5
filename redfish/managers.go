package redfish

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

const (
	managerResetAction           = "Manager.Reset"
	managerResetToDefaultsAction = "Manager.ResetToDefaults"
	ethernetID                   = "eth0"
)

// Manager reset types: the BMC restarts by exiting and being restarted by
// its supervisor, so a graceful and a forced restart differ only in whether
// bmcd flushes state first (that is bmcd's OnManagerReset). ResetToDefaults
// supports only ResetAll: keeping the network or the users while wiping the
// rest is not implemented.
var (
	managerResetTypes           = []string{"GracefulRestart", "ForceRestart"}
	managerResetToDefaultsTypes = []string{"ResetAll"}
)

type manager struct {
	resHeader
	ManagerType           string         `json:"ManagerType"`
	Manufacturer          string         `json:"Manufacturer"`
	Model                 string         `json:"Model"`
	FirmwareVersion       string         `json:"FirmwareVersion"`
	UUID                  string         `json:"UUID,omitempty"`
	ServiceEntryPointUUID string         `json:"ServiceEntryPointUUID,omitempty"`
	DateTime              string         `json:"DateTime"`
	DateTimeLocalOffset   string         `json:"DateTimeLocalOffset"`
	PowerState            string         `json:"PowerState"`
	Status                resStatus      `json:"Status"`
	NetworkProtocol       odataID        `json:"NetworkProtocol"`
	EthernetInterfaces    odataID        `json:"EthernetInterfaces"`
	LogServices           odataID        `json:"LogServices"`
	SecurityPolicy        odataID        `json:"SecurityPolicy"`
	Links                 managerLinks   `json:"Links"`
	Actions               managerActions `json:"Actions"`
}

type managerLinks struct {
	ManagerForServers []odataID `json:"ManagerForServers"`
	ManagerForChassis []odataID `json:"ManagerForChassis"`
	ManagerInChassis  odataID   `json:"ManagerInChassis"`
}

type managerActions struct {
	Reset           resActionTarget `json:"#Manager.Reset"`
	ResetToDefaults resActionTarget `json:"#Manager.ResetToDefaults"`
}

type networkProtocol struct {
	resHeader
	Status resStatus       `json:"Status"`
	HTTPS  protocolSetting `json:"HTTPS"`
	IPMI   protocolSetting `json:"IPMI"`
	SSH    protocolSetting `json:"SSH"`
}

// protocolSetting is ManagerNetworkProtocol.Protocol (and HTTPSProtocol).
type protocolSetting struct {
	ProtocolEnabled bool `json:"ProtocolEnabled"`
	Port            *int `json:"Port,omitempty"`
}

type ethernetInterface struct {
	resHeader
	EthernetInterfaceType string         `json:"EthernetInterfaceType"`
	InterfaceEnabled      bool           `json:"InterfaceEnabled"`
	LinkStatus            string         `json:"LinkStatus"`
	MACAddress            string         `json:"MACAddress"`
	PermanentMACAddress   string         `json:"PermanentMACAddress"`
	SpeedMbps             int            `json:"SpeedMbps"`
	FullDuplex            bool           `json:"FullDuplex"`
	MTUSize               int            `json:"MTUSize"`
	IPv4Addresses         []ethernetIPv4 `json:"IPv4Addresses"`
	IPv6Addresses         []ethernetIPv6 `json:"IPv6Addresses"`
	Status                resStatus      `json:"Status"`
}

type ethernetIPv4 struct {
	Address       string `json:"Address"`
	SubnetMask    string `json:"SubnetMask"`
	AddressOrigin string `json:"AddressOrigin"`
}

type ethernetIPv6 struct {
	Address       string `json:"Address"`
	PrefixLength  int    `json:"PrefixLength"`
	AddressOrigin string `json:"AddressOrigin"`
}

func (s *Service) registerManagerRoutes() {
	s.route("GET /redfish/v1/Managers", privLogin, s.getManagerCollection)
	s.route("GET /redfish/v1/Managers/{id}", privLogin, s.getManager)
	s.route("PATCH /redfish/v1/Managers/{id}", privConfigureManager, s.patchManager)
	s.route("POST /redfish/v1/Managers/{id}/Actions/Manager.Reset", privConfigureManager, s.resetManager)
	s.route("GET /redfish/v1/Managers/{id}/ResetActionInfo", privLogin, s.getManagerResetActionInfo)
	s.route("POST /redfish/v1/Managers/{id}/Actions/Manager.ResetToDefaults", privConfigureManager, s.resetManagerToDefaults)
	s.route("GET /redfish/v1/Managers/{id}/ResetToDefaultsActionInfo", privLogin, s.getManagerResetToDefaultsActionInfo)
	s.route("GET /redfish/v1/Managers/{id}/NetworkProtocol", privLogin, s.getNetworkProtocol)
	s.route("PATCH /redfish/v1/Managers/{id}/NetworkProtocol", privConfigureManager, s.patchNetworkProtocol)
	s.route("GET /redfish/v1/Managers/{id}/EthernetInterfaces", privLogin, s.getEthernetInterfaces)
	s.route("GET /redfish/v1/Managers/{id}/EthernetInterfaces/{eth}", privLogin, s.getEthernetInterface)
}

// checkManager reports a 404 for any manager but the board's BMC.
func checkManager(r *request) error {
	if id := r.PathValue("id"); id != managerID {
		return errorf(http.StatusNotFound, base.ResourceNotFound("Manager", id))
	}
	return nil
}

func (s *Service) getManagerCollection(*request) (any, error) {
	return newCollection("/redfish/v1/Managers", "ManagerCollection", "Manager Collection", []string{managerURI}), nil
}

func (s *Service) getManager(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	return s.manager(), nil
}

// firmwareVersion is the version of the firmware the root of trust verified and the
// gate attested (the signed manifest's), once the gate has appraised it; before that,
// or without a gate, bmcd's own build version.
func (s *Service) firmwareVersion() string {
	st, _ := s.attestation() // without a gate, a zero Status: no Result
	if r := st.Result; r != nil && r.Manifest != nil && r.Manifest.FirmwareVersion != "" {
		return r.Manifest.FirmwareVersion
	}
	return s.cfg.Board.Inventory.FirmwareVersion
}

func (s *Service) manager() manager {
	b := s.cfg.Board
	inv := b.Inventory
	return manager{
		resHeader:             resHeader{ODataID: managerURI, ODataType: odataType("Manager"), ID: managerID, Name: "Board Management Controller"},
		ManagerType:           "BMC",
		Manufacturer:          inv.Manufacturer,
		Model:                 "ironroot BMC",
		FirmwareVersion:       s.firmwareVersion(),
		UUID:                  inv.ManagerUUID,
		ServiceEntryPointUUID: inv.ManagerUUID,
		DateTime:              boardTime(b.Now()),
		DateTimeLocalOffset:   "+00:00",
		PowerState:            "On",
		Status:                resStatus{State: "Enabled", Health: "OK"},
		NetworkProtocol:       odataID{ID: managerURI + "/NetworkProtocol"},
		EthernetInterfaces:    odataID{ID: managerURI + "/EthernetInterfaces"},
		LogServices:           odataID{ID: managerURI + "/LogServices"},
		SecurityPolicy:        odataID{ID: securityPolicyURI},
		Links: managerLinks{
			ManagerForServers: []odataID{{ID: systemURI}},
			ManagerForChassis: []odataID{{ID: chassisURI}},
			ManagerInChassis:  odataID{ID: chassisURI},
		},
		Actions: managerActions{
			Reset: resActionTarget{
				Target:                   managerURI + "/Actions/Manager.Reset",
				ActionInfo:               managerURI + "/ResetActionInfo",
				ResetTypeAllowableValues: managerResetTypes,
			},
			ResetToDefaults: resActionTarget{
				Target:                   managerURI + "/Actions/Manager.ResetToDefaults",
				ActionInfo:               managerURI + "/ResetToDefaultsActionInfo",
				ResetTypeAllowableValues: managerResetToDefaultsTypes,
			},
		},
	}
}

// patchManager writes DateTime. Only the board's offset from its clock is
// stored (bmc.Board.SetDateTime); the host clock is never set. The time zone
// stays UTC: DateTimeLocalOffset is read-only here.
func (s *Service) patchManager(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	var dateTime *string
	bad, err := r.patch(map[string]patchField{
		"DateTime": field("DateTime", &dateTime, func(v string) *base.Message {
			if _, err := time.Parse(time.RFC3339, v); err != nil {
				m := base.PropertyValueFormatError(v, "DateTime")
				return &m
			}
			return nil
		}),
	}, "Id", "Name", "ManagerType", "Manufacturer", "Model", "FirmwareVersion", "UUID",
		"ServiceEntryPointUUID", "DateTimeLocalOffset", "PowerState", "Status", "NetworkProtocol",
		"EthernetInterfaces", "LogServices", "SecurityPolicy", "Links", "Actions")
	if err != nil {
		return nil, err
	}
	if dateTime != nil {
		t, err := time.Parse(time.RFC3339, *dateTime)
		if err != nil {
			return nil, fmt.Errorf("parse staged DateTime: %w", err)
		}
		if err := s.cfg.Board.SetDateTime(t); err != nil {
			return nil, fmt.Errorf("manager %s: set date time: %w", managerID, err)
		}
	}
	return extended{Body: s.manager(), Messages: bad}, nil
}

func (s *Service) getManagerResetActionInfo(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	return newResetTypeActionInfo(managerURI+"/ResetActionInfo", "ResetActionInfo", "Reset Action Info", managerResetTypes), nil
}

func (s *Service) getManagerResetToDefaultsActionInfo(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	return newResetTypeActionInfo(managerURI+"/ResetToDefaultsActionInfo", "ResetToDefaultsActionInfo",
		"Reset To Defaults Action Info", managerResetToDefaultsTypes), nil
}

// resetManager answers 204 and then, once the response is flushed, hands the
// restart to bmcd (Config.OnManagerReset), which flushes state and exits for
// its supervisor to start it again.
func (s *Service) resetManager(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	rt, err := decodeResetType(r, managerResetAction, managerResetTypes)
	if err != nil {
		return nil, err
	}
	s.logEvent(event.ManagerReset, event.OK, managerURI, rt)
	s.log.Info("manager reset requested", "resetType", rt, "user", r.Account.UserName)
	if onReset := s.cfg.OnManagerReset; onReset != nil {
		r.afterResponse(func() { onReset(rt) })
	}
	return nil, nil
}

// resetManagerToDefaults answers 204 and then hands over to bmcd
// (Config.OnResetToDefaults), which wipes the BMC state (not the root of
// trust) and exits.
func (s *Service) resetManagerToDefaults(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	rt, err := decodeResetType(r, managerResetToDefaultsAction, managerResetToDefaultsTypes)
	if err != nil {
		return nil, err
	}
	s.logEvent(event.ManagerResetToDefaults, event.Warning, managerURI, rt)
	s.log.Warn("manager reset to defaults requested", "resetType", rt, "user", r.Account.UserName)
	if onReset := s.cfg.OnResetToDefaults; onReset != nil {
		r.afterResponse(onReset)
	}
	return nil, nil
}

func (s *Service) getNetworkProtocol(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	return s.networkProtocol(), nil
}

func (s *Service) networkProtocol() networkProtocol {
	np := s.cfg.Board.NetworkProtocol()
	httpsPort, ipmiPort := np.HTTPSPort, np.IPMIPort
	p := networkProtocol{
		resHeader: resHeader{ODataID: managerURI + "/NetworkProtocol", ODataType: odataType("ManagerNetworkProtocol"), ID: "NetworkProtocol", Name: "Manager Network Protocol"},
		Status:    resStatus{State: "Enabled", Health: "OK"},
		HTTPS:     protocolSetting{ProtocolEnabled: true},
		IPMI:      protocolSetting{ProtocolEnabled: np.IPMIEnabled},
		SSH:       protocolSetting{ProtocolEnabled: np.SSHEnabled},
	}
	if httpsPort > 0 {
		p.HTTPS.Port = &httpsPort
	}
	if ipmiPort > 0 {
		p.IPMI.Port = &ipmiPort
	}
	return p
}

// patchNetworkProtocol writes IPMI/ProtocolEnabled. HTTPS (how this request
// arrived) and SSH (not implemented) are fixed; ports come from the
// listeners' flags.
func (s *Service) patchNetworkProtocol(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	var ipmiEnabled *bool
	bad, err := r.patch(map[string]patchField{
		"IPMI": r.nested("IPMI", map[string]patchField{
			"ProtocolEnabled": field("IPMI/ProtocolEnabled", &ipmiEnabled, nil),
		}, "Port"),
	}, "Id", "Name", "Status", "HTTPS", "SSH")
	if err != nil {
		return nil, err
	}
	if ipmiEnabled != nil {
		if err := s.cfg.Board.SetIPMIEnabled(*ipmiEnabled); err != nil {
			return nil, fmt.Errorf("manager %s: set IPMI enabled: %w", managerID, err)
		}
	}
	return extended{Body: s.networkProtocol(), Messages: bad}, nil
}

func (s *Service) getEthernetInterfaces(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	return newCollection(managerURI+"/EthernetInterfaces", "EthernetInterfaceCollection",
		"Ethernet Network Interface Collection", []string{managerURI + "/EthernetInterfaces/" + ethernetID}), nil
}

func (s *Service) getEthernetInterface(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	if id := r.PathValue("eth"); id != ethernetID {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("EthernetInterface", id))
	}
	mac := boardMAC(s.cfg.Board.Inventory.ManagerUUID)
	return ethernetInterface{
		resHeader:             resHeader{ODataID: managerURI + "/EthernetInterfaces/" + ethernetID, ODataType: odataType("EthernetInterface"), ID: ethernetID, Name: "Manager Ethernet Interface"},
		EthernetInterfaceType: "Physical",
		InterfaceEnabled:      true,
		LinkStatus:            "LinkUp",
		MACAddress:            mac,
		PermanentMACAddress:   mac,
		SpeedMbps:             1000,
		FullDuplex:            true,
		MTUSize:               1500,
		// The simulated board serves on loopback; QEMU boards reach it
		// through forwarded loopback ports too.
		IPv4Addresses: []ethernetIPv4{{Address: "127.0.0.1", SubnetMask: "255.0.0.0", AddressOrigin: "Static"}},
		IPv6Addresses: []ethernetIPv6{},
		Status:        resStatus{State: "Enabled", Health: "OK"},
	}, nil
}

// boardMAC derives a stable, locally administered unicast MAC address from
// the manager's UUID.
func boardMAC(uuid string) string {
	h := sha256.Sum256([]byte("ironroot eth0 " + uuid))
	return fmt.Sprintf("02:%02x:%02x:%02x:%02x:%02x", h[0], h[1], h[2], h[3], h[4])
}
