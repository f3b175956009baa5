package redfish

import (
	"fmt"
	"net/http"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

type chassis struct {
	resHeader
	ChassisType             string       `json:"ChassisType"`
	Manufacturer            string       `json:"Manufacturer"`
	Model                   string       `json:"Model"`
	SerialNumber            string       `json:"SerialNumber"`
	PartNumber              string       `json:"PartNumber"`
	SKU                     string       `json:"SKU"`
	PowerState              string       `json:"PowerState"`
	LocationIndicatorActive bool         `json:"LocationIndicatorActive"`
	Status                  resStatus    `json:"Status"`
	Sensors                 odataID      `json:"Sensors"`
	ThermalSubsystem        odataID      `json:"ThermalSubsystem"`
	PowerSubsystem          odataID      `json:"PowerSubsystem"`
	EnvironmentMetrics      odataID      `json:"EnvironmentMetrics"`
	TrustedComponents       odataID      `json:"TrustedComponents"`
	Links                   chassisLinks `json:"Links"`
}

type chassisLinks struct {
	ComputerSystems   []odataID `json:"ComputerSystems"`
	ManagedBy         []odataID `json:"ManagedBy"`
	ManagersInChassis []odataID `json:"ManagersInChassis"`
}

func (s *Service) registerChassisRoutes() {
	s.route("GET /redfish/v1/Chassis", privLogin, s.getChassisCollection)
	s.route("GET /redfish/v1/Chassis/{id}", privLogin, s.getChassis)
	s.route("PATCH /redfish/v1/Chassis/{id}", privConfigureComponents, s.patchChassis)
	s.route("GET /redfish/v1/Chassis/{id}/Sensors", privLogin, s.getSensorCollection)
	s.route("GET /redfish/v1/Chassis/{id}/Sensors/{sensor}", privLogin, s.getSensor)
	s.route("GET /redfish/v1/Chassis/{id}/ThermalSubsystem", privLogin, s.getThermalSubsystem)
	s.route("GET /redfish/v1/Chassis/{id}/ThermalSubsystem/Fans", privLogin, s.getFanCollection)
	s.route("GET /redfish/v1/Chassis/{id}/ThermalSubsystem/Fans/{fan}", privLogin, s.getFan)
	s.route("GET /redfish/v1/Chassis/{id}/ThermalSubsystem/ThermalMetrics", privLogin, s.getThermalMetrics)
	s.route("GET /redfish/v1/Chassis/{id}/PowerSubsystem", privLogin, s.getPowerSubsystem)
	s.route("GET /redfish/v1/Chassis/{id}/PowerSubsystem/PowerSupplies", privLogin, s.getPowerSupplyCollection)
	s.route("GET /redfish/v1/Chassis/{id}/PowerSubsystem/PowerSupplies/{psu}", privLogin, s.getPowerSupply)
	s.route("GET /redfish/v1/Chassis/{id}/PowerSubsystem/PowerSupplies/{psu}/Metrics", privLogin, s.getPowerSupplyMetrics)
	s.route("GET /redfish/v1/Chassis/{id}/EnvironmentMetrics", privLogin, s.getEnvironmentMetrics)
}

// checkChassis reports a 404 for any chassis but the board's one.
func checkChassis(r *request) error {
	if id := r.PathValue("id"); id != chassisID {
		return errorf(http.StatusNotFound, base.ResourceNotFound("Chassis", id))
	}
	return nil
}

func (s *Service) getChassisCollection(*request) (any, error) {
	return newCollection("/redfish/v1/Chassis", "ChassisCollection", "Chassis Collection", []string{chassisURI}), nil
}

func (s *Service) getChassis(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	return s.chassis(), nil
}

func (s *Service) chassis() chassis {
	b := s.cfg.Board
	inv := b.Inventory
	return chassis{
		resHeader:               resHeader{ODataID: chassisURI, ODataType: odataType("Chassis"), ID: chassisID, Name: "Chassis"},
		ChassisType:             "RackMount",
		Manufacturer:            inv.Manufacturer,
		Model:                   inv.Model,
		SerialNumber:            inv.ChassisSerial,
		PartNumber:              inv.PartNumber,
		SKU:                     inv.SKU,
		PowerState:              string(b.Power.State()),
		LocationIndicatorActive: b.LocationIndicatorActive(),
		Status:                  resStatus{State: "Enabled", Health: s.boardHealth()},
		Sensors:                 odataID{ID: chassisURI + "/Sensors"},
		ThermalSubsystem:        odataID{ID: chassisURI + "/ThermalSubsystem"},
		PowerSubsystem:          odataID{ID: chassisURI + "/PowerSubsystem"},
		EnvironmentMetrics:      odataID{ID: chassisURI + "/EnvironmentMetrics"},
		TrustedComponents:       odataID{ID: trustedComponentsURI},
		Links: chassisLinks{
			ComputerSystems:   []odataID{{ID: systemURI}},
			ManagedBy:         []odataID{{ID: managerURI}},
			ManagersInChassis: []odataID{{ID: managerURI}},
		},
	}
}

// patchChassis writes LocationIndicatorActive.
func (s *Service) patchChassis(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	var lia *bool
	bad, err := r.patch(map[string]patchField{
		"LocationIndicatorActive": field("LocationIndicatorActive", &lia, nil),
	}, "Id", "Name", "ChassisType", "Manufacturer", "Model", "SerialNumber", "PartNumber", "SKU",
		"PowerState", "Status", "Sensors", "ThermalSubsystem", "PowerSubsystem", "EnvironmentMetrics", "TrustedComponents", "Links")
	if err != nil {
		return nil, err
	}
	if lia != nil {
		if err := s.cfg.Board.SetLocationIndicatorActive(*lia); err != nil {
			return nil, fmt.Errorf("chassis %s: set location indicator: %w", chassisID, err)
		}
	}
	return extended{Body: s.chassis(), Messages: bad}, nil
}
