package redfish

import (
	"net/http"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// PowerSubsystem: the board has one AC power supply, PSU1, whose input power
// is the board's power sensor in the PowerSupply context. EnvironmentMetrics
// summarises the chassis: input power, intake temperature, fan speeds.

const (
	powerSubsystemURI            = chassisURI + "/PowerSubsystem"
	powerSupplyID                = "PSU1"
	powerSupplyURI               = powerSubsystemURI + "/PowerSupplies/" + powerSupplyID
	powerSupplyCapacityWatts     = 800
	powerSupplyContext           = "PowerSupply"
	environmentMetricsURI        = chassisURI + "/EnvironmentMetrics"
	environmentTemperatureSource = "Intake"
)

type powerSubsystem struct {
	resHeader
	CapacityWatts float64   `json:"CapacityWatts"`
	PowerSupplies odataID   `json:"PowerSupplies"`
	Status        resStatus `json:"Status"`
}

type powerSupply struct {
	resHeader
	PowerSupplyType    string    `json:"PowerSupplyType"`
	PowerCapacityWatts float64   `json:"PowerCapacityWatts"`
	Manufacturer       string    `json:"Manufacturer"`
	Model              string    `json:"Model"`
	LineInputStatus    string    `json:"LineInputStatus"`
	HotPluggable       bool      `json:"HotPluggable"`
	Replaceable        bool      `json:"Replaceable"`
	Metrics            odataID   `json:"Metrics"`
	Status             resStatus `json:"Status"`
}

type powerSupplyMetrics struct {
	resHeader
	InputPowerWatts *sensorExcerpt `json:"InputPowerWatts,omitempty"`
	Status          resStatus      `json:"Status"`
}

type environmentMetrics struct {
	resHeader
	PowerWatts          *sensorExcerpt  `json:"PowerWatts,omitempty"`
	TemperatureCelsius  *sensorExcerpt  `json:"TemperatureCelsius,omitempty"`
	FanSpeedsPercent    []sensorExcerpt `json:"FanSpeedsPercent"`
	FanSpeedsPercentCnt int             `json:"FanSpeedsPercent@odata.count"`
}

// psuHealth is the health of PSU1: the status of its input power sensor.
func (s *Service) psuHealth() string {
	if v, ok := s.sensorWithContext("Power", powerSupplyContext); ok {
		return string(v.status)
	}
	return "OK"
}

func (s *Service) getPowerSubsystem(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	return powerSubsystem{
		resHeader:     resHeader{ODataID: powerSubsystemURI, ODataType: odataType("PowerSubsystem"), ID: "PowerSubsystem", Name: "Power Subsystem"},
		CapacityWatts: powerSupplyCapacityWatts,
		PowerSupplies: odataID{ID: powerSubsystemURI + "/PowerSupplies"},
		Status:        resStatus{State: "Enabled", Health: s.psuHealth()},
	}, nil
}

func (s *Service) getPowerSupplyCollection(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	return newCollection(powerSubsystemURI+"/PowerSupplies", "PowerSupplyCollection", "Power Supply Collection", []string{powerSupplyURI}), nil
}

func checkPowerSupply(r *request) error {
	if err := checkChassis(r); err != nil {
		return err
	}
	if id := r.PathValue("psu"); id != powerSupplyID {
		return errorf(http.StatusNotFound, base.ResourceNotFound("PowerSupply", id))
	}
	return nil
}

func (s *Service) getPowerSupply(r *request) (any, error) {
	if err := checkPowerSupply(r); err != nil {
		return nil, err
	}
	return powerSupply{
		resHeader:          resHeader{ODataID: powerSupplyURI, ODataType: odataType("PowerSupply"), ID: powerSupplyID, Name: "Power Supply 1"},
		PowerSupplyType:    "AC",
		PowerCapacityWatts: powerSupplyCapacityWatts,
		Manufacturer:       s.cfg.Board.Inventory.Manufacturer,
		Model:              "Simulated 800 W AC PSU",
		LineInputStatus:    "Normal",
		HotPluggable:       true,
		Replaceable:        true,
		Metrics:            odataID{ID: powerSupplyURI + "/Metrics"},
		Status:             resStatus{State: "Enabled", Health: s.psuHealth()},
	}, nil
}

func (s *Service) getPowerSupplyMetrics(r *request) (any, error) {
	if err := checkPowerSupply(r); err != nil {
		return nil, err
	}
	m := powerSupplyMetrics{
		resHeader: resHeader{ODataID: powerSupplyURI + "/Metrics", ODataType: odataType("PowerSupplyMetrics"), ID: "Metrics", Name: "Power Supply 1 Metrics"},
		Status:    resStatus{State: "Enabled", Health: s.psuHealth()},
	}
	if v, ok := s.sensorWithContext("Power", powerSupplyContext); ok {
		m.InputPowerWatts = v.excerpt()
	}
	return m, nil
}

func (s *Service) getEnvironmentMetrics(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	m := environmentMetrics{
		resHeader:        resHeader{ODataID: environmentMetricsURI, ODataType: odataType("EnvironmentMetrics"), ID: "EnvironmentMetrics", Name: "Chassis Environment Metrics"},
		FanSpeedsPercent: []sensorExcerpt{},
	}
	if v, ok := s.sensorWithContext("Power", powerSupplyContext); ok {
		m.PowerWatts = v.excerpt()
	}
	if v, ok := s.sensorWithContext("Temperature", environmentTemperatureSource); ok {
		m.TemperatureCelsius = v.excerpt()
	}
	for _, v := range s.sensorsOf("Rotational") {
		m.FanSpeedsPercent = append(m.FanSpeedsPercent, v.fanArrayExcerpt())
	}
	m.FanSpeedsPercentCnt = len(m.FanSpeedsPercent)
	return m, nil
}
