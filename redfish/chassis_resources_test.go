package redfish_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

func TestChassisResources(t *testing.T) {
	c := newResClient(t)
	if got := members(t, c.get("/redfish/v1/Chassis")); len(got) != 1 || got[0] != "/redfish/v1/Chassis/1" {
		t.Fatalf("Chassis members %v", got)
	}
	ch := c.get("/redfish/v1/Chassis/1")
	for k, want := range map[string]any{
		"@odata.type": "#Chassis.v1_28_0.Chassis", "ChassisType": "RackMount", "PowerState": "Off",
		"LocationIndicatorActive": false, "SerialNumber": c.tb.Board.Inventory.ChassisSerial,
	} {
		if ch[k] != want {
			t.Errorf("%s = %v, want %v", k, ch[k], want)
		}
	}
	for _, link := range []string{"Sensors", "ThermalSubsystem", "PowerSubsystem", "EnvironmentMetrics"} {
		c.get(path(ch, link, "@odata.id").(string))
	}
	if path(ch, "Links", "ComputerSystems").([]any)[0].(map[string]any)["@odata.id"] != "/redfish/v1/Systems/1" {
		t.Errorf("Links %v", ch["Links"])
	}
	resWant(t, c.do(http.MethodGet, "/redfish/v1/Chassis/2/Sensors", nil), http.StatusNotFound, "ResourceNotFound")
}

func TestChassisLocationIndicator(t *testing.T) {
	c := newResClient(t)
	r := c.do(http.MethodPatch, "/redfish/v1/Chassis/1", `{"LocationIndicatorActive":true}`)
	resWant(t, r, http.StatusOK, "")
	if !c.tb.Board.LocationIndicatorActive() || r.JSON(t)["LocationIndicatorActive"] != true {
		t.Fatalf("indicator not on: board %v, body %s", c.tb.Board.LocationIndicatorActive(), r.Body)
	}
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Chassis/1", `{"LocationIndicatorActive":"off"}`), http.StatusBadRequest, "PropertyValueTypeError")
	resWant(t, c.do(http.MethodPatch, "/redfish/v1/Chassis/1", `{"ChassisType":"Blade"}`), http.StatusBadRequest, "PropertyNotWritable")
	if !c.tb.Board.LocationIndicatorActive() {
		t.Fatal("bad PATCH turned the indicator off")
	}
	op := c.as("operator", account.Operator)
	resWant(t, op.do(http.MethodPatch, "/redfish/v1/Chassis/1", `{"LocationIndicatorActive":false}`), http.StatusOK, "")
	if c.tb.Board.LocationIndicatorActive() {
		t.Fatal("indicator still on")
	}
	ro := c.as("viewer", account.ReadOnly)
	resWant(t, ro.do(http.MethodPatch, "/redfish/v1/Chassis/1", `{"LocationIndicatorActive":true}`), http.StatusForbidden, "InsufficientPrivilege")
}

func TestChassisSensors(t *testing.T) {
	c := newResClient(t)
	if err := c.tb.Board.Power.Reset(power.ResetOn); err != nil {
		t.Fatal(err)
	}
	c.tb.Clock.Advance(time.Minute)
	ids := members(t, c.get("/redfish/v1/Chassis/1/Sensors"))
	if len(ids) != len(c.tb.Board.Sensors.List()) || len(ids) < 6 {
		t.Fatalf("sensor members %v", ids)
	}
	for _, sn := range c.tb.Board.Sensors.List() {
		s := c.get("/redfish/v1/Chassis/1/Sensors/" + sn.ID)
		if s["@odata.type"] != "#Sensor.v1_12_0.Sensor" || s["Id"] != sn.ID || path(s, "Status", "Health") == nil {
			t.Errorf("sensor %s: %v", sn.ID, s)
		}
		reading, ok := s["Reading"].(float64)
		if !ok {
			t.Errorf("sensor %s: no Reading: %v", sn.ID, s)
		}
		if sn.Kind == "Rotational" {
			rpm, _ := s["SpeedRPM"].(float64)
			if s["ReadingType"] != "Percent" || s["ReadingUnits"] != "%" || rpm <= 0 || s["ReadingRangeMax"] != 100.0 {
				t.Errorf("fan sensor %s: %v", sn.ID, s)
			}
			if want := rpm / sn.RangeMax * 100; reading < want-0.001 || reading > want+0.001 {
				t.Errorf("fan %s: Reading %v%%, SpeedRPM %v", sn.ID, reading, rpm)
			}
			continue
		}
		if s["ReadingType"] != string(sn.Kind) || s["ReadingUnits"] != sn.Units || s["PhysicalContext"] != sn.PhysicalContext {
			t.Errorf("sensor %s: %v", sn.ID, s)
		}
		if th := sn.Thresholds.UpperCritical; th != nil && path(s, "Thresholds", "UpperCritical", "Reading") != *th {
			t.Errorf("sensor %s thresholds %v", sn.ID, s["Thresholds"])
		}
	}
	resWant(t, c.do(http.MethodGet, "/redfish/v1/Chassis/1/Sensors/Nope", nil), http.StatusNotFound, "ResourceNotFound")
}

// wantExcerpt checks that an excerpt's DataSourceUri names a Sensor.
func (c *resClient) wantExcerpt(where string, ex any) {
	c.t.Helper()
	uri, _ := path(ex, "DataSourceUri").(string)
	if !strings.HasPrefix(uri, "/redfish/v1/Chassis/1/Sensors/") {
		c.t.Errorf("%s: excerpt %v", where, ex)
		return
	}
	s := c.get(uri)
	if _, ok := path(ex, "Reading").(float64); !ok || s["@odata.type"] != "#Sensor.v1_12_0.Sensor" {
		c.t.Errorf("%s: excerpt %v of %v", where, ex, s)
	}
}

func TestChassisThermalPowerEnvironment(t *testing.T) {
	c := newResClient(t)
	th := c.get("/redfish/v1/Chassis/1/ThermalSubsystem")
	fans := members(t, c.get(path(th, "Fans", "@odata.id").(string)))
	if len(fans) != 2 {
		t.Fatalf("fans %v", fans)
	}
	for _, f := range fans {
		fan := c.get(f)
		c.wantExcerpt(f, fan["SpeedPercent"])
		if fan["@odata.type"] != "#Fan.v1_6_0.Fan" {
			t.Errorf("fan type %v", fan["@odata.type"])
		}
	}
	tm := c.get(path(th, "ThermalMetrics", "@odata.id").(string))
	temps, _ := tm["TemperatureReadingsCelsius"].([]any)
	if len(temps) < 2 || tm["TemperatureReadingsCelsius@odata.count"] != float64(len(temps)) {
		t.Fatalf("ThermalMetrics temperatures %v", tm)
	}
	for _, ex := range temps {
		c.wantExcerpt("TemperatureReadingsCelsius", ex)
	}
	c.wantExcerpt("TemperatureSummaryCelsius/Intake", path(tm, "TemperatureSummaryCelsius", "Intake"))

	ps := c.get("/redfish/v1/Chassis/1/PowerSubsystem")
	psus := members(t, c.get(path(ps, "PowerSupplies", "@odata.id").(string)))
	if len(psus) != 1 {
		t.Fatalf("power supplies %v", psus)
	}
	psu := c.get(psus[0])
	if psu["PowerSupplyType"] != "AC" {
		t.Errorf("PSU %v", psu)
	}
	metrics := c.get(path(psu, "Metrics", "@odata.id").(string))
	c.wantExcerpt("InputPowerWatts", metrics["InputPowerWatts"])

	env := c.get("/redfish/v1/Chassis/1/EnvironmentMetrics")
	c.wantExcerpt("PowerWatts", env["PowerWatts"])
	c.wantExcerpt("TemperatureCelsius", env["TemperatureCelsius"])
	if fs, _ := env["FanSpeedsPercent"].([]any); len(fs) != 2 {
		t.Errorf("FanSpeedsPercent %v", env["FanSpeedsPercent"])
	}
}
