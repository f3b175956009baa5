package redfish

import (
	"net/http"

	"github.com/ironroot-bmc/ironroot/bmc/sensor"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// ThermalSubsystem: one Fan per fan tachometer of the board (same Id as its
// sensor) and ThermalMetrics with every temperature sensor. Readings are
// excerpts whose DataSourceUri links the Sensor they copy.

const thermalURI = chassisURI + "/ThermalSubsystem"

type thermalSubsystem struct {
	resHeader
	Fans           odataID   `json:"Fans"`
	ThermalMetrics odataID   `json:"ThermalMetrics"`
	Status         resStatus `json:"Status"`
}

type fan struct {
	resHeader
	SpeedPercent  *sensorExcerpt `json:"SpeedPercent"`
	RatedSpeedRPM int            `json:"RatedSpeedRPM"`
	Status        resStatus      `json:"Status"`
	Links         fanLinks       `json:"Links"`
}

type fanLinks struct {
	CoolingChassis []odataID `json:"CoolingChassis"`
}

type thermalMetrics struct {
	resHeader
	TemperatureSummaryCelsius  thermalTemperatureSummary `json:"TemperatureSummaryCelsius"`
	TemperatureReadingsCelsius []sensorExcerpt           `json:"TemperatureReadingsCelsius"`
	TemperatureReadingsCount   int                       `json:"TemperatureReadingsCelsius@odata.count"`
}

type thermalTemperatureSummary struct {
	Intake   *sensorExcerpt `json:"Intake,omitempty"`
	Internal *sensorExcerpt `json:"Internal,omitempty"`
}

func (s *Service) getThermalSubsystem(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	var sts []sensor.Status
	for _, v := range append(s.sensorsOf("Rotational"), s.sensorsOf("Temperature")...) {
		sts = append(sts, v.status)
	}
	return thermalSubsystem{
		resHeader:      resHeader{ODataID: thermalURI, ODataType: odataType("ThermalSubsystem"), ID: "ThermalSubsystem", Name: "Thermal Subsystem"},
		Fans:           odataID{ID: thermalURI + "/Fans"},
		ThermalMetrics: odataID{ID: thermalURI + "/ThermalMetrics"},
		Status:         resStatus{State: "Enabled", Health: worstHealth(sts...)},
	}, nil
}

func (s *Service) getFanCollection(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	var members []string
	for _, v := range s.sensorsOf("Rotational") {
		members = append(members, thermalURI+"/Fans/"+v.ID)
	}
	return newCollection(thermalURI+"/Fans", "FanCollection", "Fan Collection", members), nil
}

func (s *Service) getFan(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	id := r.PathValue("fan")
	for _, v := range s.sensorsOf("Rotational") {
		if v.ID != id {
			continue
		}
		return fan{
			resHeader:     resHeader{ODataID: thermalURI + "/Fans/" + v.ID, ODataType: odataType("Fan"), ID: v.ID, Name: v.Name},
			SpeedPercent:  v.fanExcerpt(),
			RatedSpeedRPM: int(v.RangeMax),
			Status:        resStatus{State: "Enabled", Health: string(v.status)},
			Links:         fanLinks{CoolingChassis: []odataID{{ID: chassisURI}}},
		}, nil
	}
	return nil, errorf(http.StatusNotFound, base.ResourceNotFound("Fan", id))
}

func (s *Service) getThermalMetrics(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	m := thermalMetrics{
		resHeader:                  resHeader{ODataID: thermalURI + "/ThermalMetrics", ODataType: odataType("ThermalMetrics"), ID: "ThermalMetrics", Name: "Thermal Metrics"},
		TemperatureReadingsCelsius: []sensorExcerpt{},
	}
	for _, v := range s.sensorsOf("Temperature") {
		m.TemperatureReadingsCelsius = append(m.TemperatureReadingsCelsius, v.arrayExcerpt())
	}
	m.TemperatureReadingsCount = len(m.TemperatureReadingsCelsius)
	if v, ok := s.sensorWithContext("Temperature", "Intake"); ok {
		m.TemperatureSummaryCelsius.Intake = v.excerpt()
	}
	if v, ok := s.sensorWithContext("Temperature", "CPU"); ok {
		m.TemperatureSummaryCelsius.Internal = v.excerpt()
	}
	return m, nil
}
