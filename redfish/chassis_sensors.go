package redfish

import (
	"net/http"

	"github.com/ironroot-bmc/ironroot/bmc/sensor"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// sensorView is a board sensor as Redfish shows it. Fan tachometers, which
// the board reads in RPM, appear as a percentage of their rated speed
// (ReadingType Percent, the RPM in SpeedRPM): the Sensor schema asks fan
// sensors to be Percent, and Fan.SpeedPercent must link to a Percent sensor.
// Every other sensor keeps the board's units.
type sensorView struct {
	sensor.Sensor
	uri     string
	ok      bool          // a reading exists
	reading float64       // in Redfish units
	rpm     float64       // fans: the raw reading
	status  sensor.Status // threshold status
}

// isFan reports whether the sensor is a fan tachometer.
func isFan(sn sensor.Sensor) bool { return sn.Kind == "Rotational" }

// fanScale converts RPM to percent of the rated (maximum) speed.
func fanScale(sn sensor.Sensor) float64 {
	if sn.RangeMax <= 0 {
		return 1
	}
	return 100 / sn.RangeMax
}

// scale converts a board value of sn into its Redfish units.
func (v sensorView) scale(x float64) float64 {
	if isFan(v.Sensor) {
		return x * fanScale(v.Sensor)
	}
	return x
}

func (s *Service) viewSensor(sn sensor.Sensor) sensorView {
	v := sensorView{Sensor: sn, uri: chassisURI + "/Sensors/" + sn.ID, status: "OK"}
	if rd, st, ok := s.cfg.Board.Sensors.Read(sn.ID); ok {
		v.ok, v.status, v.rpm = true, st, rd.Value
		v.reading = v.scale(rd.Value)
	}
	return v
}

// sensorsOf lists the board's sensors of one kind, in board order.
func (s *Service) sensorsOf(kind sensor.Kind) []sensorView {
	var out []sensorView
	for _, sn := range s.cfg.Board.Sensors.List() {
		if sn.Kind == kind {
			out = append(out, s.viewSensor(sn))
		}
	}
	return out
}

// sensorWithContext finds the first sensor of kind in physical context ctx.
func (s *Service) sensorWithContext(kind sensor.Kind, ctx string) (sensorView, bool) {
	for _, v := range s.sensorsOf(kind) {
		if v.PhysicalContext == ctx {
			return v, true
		}
	}
	return sensorView{}, false
}

// readingType and readingUnits follow the Sensor schema's ReadingType enum
// and its UCUM units.
func (v sensorView) readingType() string {
	switch v.Kind {
	case "Rotational":
		return "Percent"
	default: // Temperature, Power, Voltage: same names in the enum
		return string(v.Kind)
	}
}

func (v sensorView) readingUnits() string {
	if isFan(v.Sensor) {
		return "%"
	}
	return v.Units
}

func (v sensorView) readingPtr() *float64 {
	if !v.ok {
		return nil
	}
	r := v.reading
	return &r
}

type sensorResource struct {
	resHeader
	ReadingType     string           `json:"ReadingType"`
	ReadingUnits    string           `json:"ReadingUnits"`
	Reading         *float64         `json:"Reading"`
	ReadingRangeMin float64          `json:"ReadingRangeMin"`
	ReadingRangeMax float64          `json:"ReadingRangeMax"`
	SpeedRPM        *float64         `json:"SpeedRPM,omitempty"`
	Thresholds      sensorThresholds `json:"Thresholds"`
	PhysicalContext string           `json:"PhysicalContext,omitempty"`
	Implementation  string           `json:"Implementation"`
	Status          resStatus        `json:"Status"`
}

type sensorThresholds struct {
	LowerCritical *sensorThreshold `json:"LowerCritical,omitempty"`
	LowerCaution  *sensorThreshold `json:"LowerCaution,omitempty"`
	UpperCaution  *sensorThreshold `json:"UpperCaution,omitempty"`
	UpperCritical *sensorThreshold `json:"UpperCritical,omitempty"`
}

type sensorThreshold struct {
	Reading float64 `json:"Reading"`
}

func (v sensorView) threshold(x *float64) *sensorThreshold {
	if x == nil {
		return nil
	}
	return &sensorThreshold{Reading: v.scale(*x)}
}

func (v sensorView) resource() sensorResource {
	res := sensorResource{
		resHeader:       resHeader{ODataID: v.uri, ODataType: odataType("Sensor"), ID: v.ID, Name: v.Name},
		ReadingType:     v.readingType(),
		ReadingUnits:    v.readingUnits(),
		Reading:         v.readingPtr(),
		ReadingRangeMin: v.scale(v.RangeMin),
		ReadingRangeMax: v.scale(v.RangeMax),
		Thresholds: sensorThresholds{
			LowerCritical: v.threshold(v.Thresholds.LowerCritical),
			LowerCaution:  v.threshold(v.Thresholds.LowerCaution),
			UpperCaution:  v.threshold(v.Thresholds.UpperCaution),
			UpperCritical: v.threshold(v.Thresholds.UpperCritical),
		},
		PhysicalContext: v.PhysicalContext,
		Implementation:  "PhysicalSensor",
		Status:          resStatus{State: "Enabled", Health: string(v.status)},
	}
	if isFan(v.Sensor) && v.ok {
		rpm := v.rpm
		res.SpeedRPM = &rpm
	}
	return res
}

// Excerpts of a sensor copied into other resources (Sensor.v1_12_0
// SensorExcerpt, SensorFanExcerpt, SensorPowerExcerpt, SensorArrayExcerpt,
// SensorFanArrayExcerpt): one struct, fields omitted where the excerpt has none.
type sensorExcerpt struct {
	DataSourceURI   string   `json:"DataSourceUri"`
	Reading         *float64 `json:"Reading"`
	SpeedRPM        *float64 `json:"SpeedRPM,omitempty"`        // fan excerpts
	DeviceName      string   `json:"DeviceName,omitempty"`      // array excerpts
	PhysicalContext string   `json:"PhysicalContext,omitempty"` // array excerpts
}

func (v sensorView) excerpt() *sensorExcerpt {
	return &sensorExcerpt{DataSourceURI: v.uri, Reading: v.readingPtr()}
}

func (v sensorView) fanExcerpt() *sensorExcerpt {
	e := v.excerpt()
	if v.ok {
		rpm := v.rpm
		e.SpeedRPM = &rpm
	}
	return e
}

func (v sensorView) arrayExcerpt() sensorExcerpt {
	e := v.excerpt()
	e.DeviceName, e.PhysicalContext = v.Name, v.PhysicalContext
	return *e
}

func (v sensorView) fanArrayExcerpt() sensorExcerpt {
	e := v.fanExcerpt()
	e.DeviceName, e.PhysicalContext = v.Name, v.PhysicalContext
	return *e
}

func (s *Service) getSensorCollection(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	var members []string
	for _, sn := range s.cfg.Board.Sensors.List() {
		members = append(members, chassisURI+"/Sensors/"+sn.ID)
	}
	return newCollection(chassisURI+"/Sensors", "SensorCollection", "Sensor Collection", members), nil
}

func (s *Service) getSensor(r *request) (any, error) {
	if err := checkChassis(r); err != nil {
		return nil, err
	}
	id := r.PathValue("sensor")
	sn, ok := s.cfg.Board.Sensors.Get(id)
	if !ok {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("Sensor", id))
	}
	return s.viewSensor(sn).resource(), nil
}
