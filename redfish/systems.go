package redfish

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/bmc/power"
	"github.com/ironroot-bmc/ironroot/bmc/sensor"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// The board's single host, chassis and manager. Their Ids are fixed: a board
// has exactly one of each.
const (
	systemID   = "1"
	chassisID  = "1"
	managerID  = "bmc"
	systemURI  = "/redfish/v1/Systems/" + systemID
	chassisURI = "/redfish/v1/Chassis/" + chassisID
	managerURI = "/redfish/v1/Managers/" + managerID
)

// redfishTime is the date-time layout of the board's resources: RFC 3339
// with a numeric UTC offset ("+00:00" rather than "Z"), so DateTime and
// DateTimeLocalOffset read alike.
const redfishTime = "2006-01-02T15:04:05-07:00"

// boardTime formats a board timestamp (clock + DateTime offset) for Redfish.
func boardTime(t time.Time) string { return t.UTC().Format(redfishTime) }

// Shapes shared by the board's resource files (systems, chassis*, managers,
// logs); links and collections are odata.go's odataID and collection.

// resHeader is the identity every resource carries.
type resHeader struct {
	ODataID   string `json:"@odata.id"`
	ODataType string `json:"@odata.type"`
	ID        string `json:"Id"`
	Name      string `json:"Name"`
}

// resStatus is Resource.Status (Resource.State and Resource.Health enums).
type resStatus struct {
	State  string `json:"State"`
	Health string `json:"Health,omitempty"`
}

// resActionTarget is an entry of a resource's Actions object. The schemas ask
// for ResetType@Redfish.AllowableValues even where ActionInfo exists.
type resActionTarget struct {
	Target                   string   `json:"target"`
	ActionInfo               string   `json:"@Redfish.ActionInfo,omitempty"`
	ResetTypeAllowableValues []string `json:"ResetType@Redfish.AllowableValues,omitempty"`
}

// resActionInfo is an ActionInfo resource describing one action's parameters.
type resActionInfo struct {
	resHeader
	Parameters []resActionParam `json:"Parameters"`
}

type resActionParam struct {
	Name            string   `json:"Name"`
	Required        bool     `json:"Required"`
	DataType        string   `json:"DataType"`
	AllowableValues []string `json:"AllowableValues,omitempty"`
}

// newResetTypeActionInfo describes an action whose one parameter is a
// required ResetType string.
func newResetTypeActionInfo(uri, id, name string, allowed []string) resActionInfo {
	return resActionInfo{
		resHeader: resHeader{ODataID: uri, ODataType: odataType("ActionInfo"), ID: id, Name: name},
		Parameters: []resActionParam{{
			Name: "ResetType", Required: true, DataType: "String", AllowableValues: allowed,
		}},
	}
}

// resetTypeParams is the body of the Reset and ResetToDefaults actions.
type resetTypeParams struct {
	ResetType *string
}

// decodeResetType decodes the body of action and returns its required
// ResetType, which must be one of allowed.
func decodeResetType(r *request, action string, allowed []string) (string, error) {
	var p resetTypeParams
	if err := r.decodeAction(action, &p); err != nil {
		return "", err
	}
	if p.ResetType == nil {
		return "", errorf(http.StatusBadRequest, base.ActionParameterMissing(action, "ResetType"))
	}
	if !slices.Contains(allowed, *p.ResetType) {
		return "", errorf(http.StatusBadRequest, base.ActionParameterValueNotInList(*p.ResetType, "ResetType", action))
	}
	return *p.ResetType, nil
}

// worstHealth folds sensor statuses into a Resource.Health value.
func worstHealth(statuses ...sensor.Status) string { return string(sensor.Worst(statuses...)) }

// boardHealth is the worst status of all the board's sensors.
func (s *Service) boardHealth() string { return string(s.cfg.Board.Sensors.Health()) }

// itoa32 renders an event record ID as a Redfish Id.
func itoa32(v uint32) string { return strconv.FormatUint(uint64(v), 10) }

// ComputerSystem

type computerSystem struct {
	resHeader
	SystemType       string                 `json:"SystemType"`
	Manufacturer     string                 `json:"Manufacturer"`
	Model            string                 `json:"Model"`
	SKU              string                 `json:"SKU"`
	SerialNumber     string                 `json:"SerialNumber"`
	PartNumber       string                 `json:"PartNumber"`
	UUID             string                 `json:"UUID,omitempty"`
	BiosVersion      string                 `json:"BiosVersion"`
	PowerState       string                 `json:"PowerState"`
	Status           resStatus              `json:"Status"`
	Boot             systemBoot             `json:"Boot"`
	ProcessorSummary systemProcessorSummary `json:"ProcessorSummary"`
	MemorySummary    systemMemorySummary    `json:"MemorySummary"`
	LogServices      odataID                `json:"LogServices"`
	Links            systemLinks            `json:"Links"`
	Actions          systemActions          `json:"Actions"`
}

type systemBoot struct {
	Target         string   `json:"BootSourceOverrideTarget"`
	TargetAllowed  []string `json:"BootSourceOverrideTarget@Redfish.AllowableValues"`
	Enabled        string   `json:"BootSourceOverrideEnabled"`
	EnabledAllowed []string `json:"BootSourceOverrideEnabled@Redfish.AllowableValues"`
	Mode           string   `json:"BootSourceOverrideMode"`
	ModeAllowed    []string `json:"BootSourceOverrideMode@Redfish.AllowableValues"`
}

// systemProcessorSummary and systemMemorySummary leave out Status: it is
// deprecated there since ComputerSystem v1_16_0 (in favour of the Processor
// and Memory resources).
type systemProcessorSummary struct {
	Count int    `json:"Count"`
	Model string `json:"Model,omitempty"`
}

type systemMemorySummary struct {
	TotalSystemMemoryGiB float64 `json:"TotalSystemMemoryGiB"`
}

type systemLinks struct {
	Chassis   []odataID `json:"Chassis"`
	ManagedBy []odataID `json:"ManagedBy"`
}

type systemActions struct {
	Reset resActionTarget `json:"#ComputerSystem.Reset"`
}

const systemResetAction = "ComputerSystem.Reset"

func (s *Service) registerSystemRoutes() {
	s.route("GET /redfish/v1/Systems", privLogin, s.getSystemCollection)
	s.route("GET /redfish/v1/Systems/{id}", privLogin, s.getSystem)
	s.route("PATCH /redfish/v1/Systems/{id}", privConfigureComponents, s.patchSystem)
	s.route("POST /redfish/v1/Systems/{id}/Actions/ComputerSystem.Reset", privConfigureComponents, s.resetSystem)
	s.route("GET /redfish/v1/Systems/{id}/ResetActionInfo", privLogin, s.getSystemResetActionInfo)
}

// checkSystem reports a 404 for any system but the board's one.
func checkSystem(r *request) error {
	if id := r.PathValue("id"); id != systemID {
		return errorf(http.StatusNotFound, base.ResourceNotFound("ComputerSystem", id))
	}
	return nil
}

func (s *Service) getSystemCollection(*request) (any, error) {
	return newCollection("/redfish/v1/Systems", "ComputerSystemCollection", "Computer System Collection", []string{systemURI}), nil
}

func (s *Service) getSystem(r *request) (any, error) {
	if err := checkSystem(r); err != nil {
		return nil, err
	}
	return s.system(), nil
}

func (s *Service) system() computerSystem {
	b := s.cfg.Board
	inv := b.Inventory
	state := b.Power.State()
	o := b.Power.BootOverride()
	return computerSystem{
		resHeader:    resHeader{ODataID: systemURI, ODataType: odataType("ComputerSystem"), ID: systemID, Name: "Host"},
		SystemType:   "Physical",
		Manufacturer: inv.Manufacturer,
		Model:        inv.Model,
		SKU:          inv.SKU,
		SerialNumber: inv.SerialNumber,
		PartNumber:   inv.PartNumber,
		UUID:         inv.UUID,
		BiosVersion:  inv.BiosVersion,
		PowerState:   string(state),
		Status:       resStatus{State: systemState(state), Health: s.boardHealth()},
		Boot: systemBoot{
			Target: string(o.Target), TargetAllowed: bootSourceValues,
			Enabled: string(o.Enabled), EnabledAllowed: bootEnabledValues,
			Mode: o.Mode, ModeAllowed: bootModeValues,
		},
		ProcessorSummary: systemProcessorSummary{Count: inv.ProcessorCount, Model: inv.ProcessorModel},
		MemorySummary:    systemMemorySummary{TotalSystemMemoryGiB: float64(inv.MemoryGiB)},
		LogServices:      odataID{ID: systemURI + "/LogServices"},
		Links: systemLinks{
			Chassis:   []odataID{{ID: chassisURI}},
			ManagedBy: []odataID{{ID: managerURI}},
		},
		Actions: systemActions{Reset: resActionTarget{
			Target:                   systemURI + "/Actions/ComputerSystem.Reset",
			ActionInfo:               systemURI + "/ResetActionInfo",
			ResetTypeAllowableValues: systemResetValues,
		}},
	}
}

// The allowable values rendered into every ComputerSystem, computed once; never modified.
var (
	bootSourceValues  = stringsOf(power.BootSources())
	bootEnabledValues = stringsOf(power.BootEnabledValues())
	bootModeValues    = []string{power.BootModeUEFI, power.BootModeLegacy}
	systemResetValues = stringsOf(power.ResetTypes())
)

// stringsOf converts a list of string-typed enum values.
func stringsOf[T ~string](vs []T) []string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = string(v)
	}
	return out
}

// systemState maps the host power state onto Resource.State.
func systemState(p power.State) string {
	switch p {
	case power.On:
		return "Enabled"
	case power.PoweringOn:
		return "Starting"
	default: // Off, PoweringOff: the BMC runs, the host waits for a power-on.
		return "StandbyOffline"
	}
}

func (s *Service) getSystemResetActionInfo(r *request) (any, error) {
	if err := checkSystem(r); err != nil {
		return nil, err
	}
	return newResetTypeActionInfo(systemURI+"/ResetActionInfo", "ResetActionInfo", "Reset Action Info",
		stringsOf(power.ResetTypes())), nil
}

// resetSystem is #ComputerSystem.Reset: 204 once the power machine accepted
// the request (the transition then runs on the board's clock); 409 when the
// current power state has no such transition.
func (s *Service) resetSystem(r *request) (any, error) {
	if err := checkSystem(r); err != nil {
		return nil, err
	}
	rt, err := decodeResetType(r, systemResetAction, stringsOf(power.ResetTypes()))
	if err != nil {
		return nil, err
	}
	m := s.cfg.Board.Power
	if err := m.Reset(power.ResetType(rt)); err != nil {
		if errors.Is(err, power.ErrNotAllowed) {
			return nil, errorf(http.StatusConflict, resetConflict(m.State()))
		}
		return nil, fmt.Errorf("reset host %s: %w", rt, err)
	}
	s.logEvent(event.ResetRequested, event.OK, systemURI, rt, "System")
	s.log.Info("host reset requested", "resetType", rt, "user", r.Account.UserName)
	return nil, nil
}

// resetConflict says why the host refused a reset: it is between states, or
// it is off (in standby) and the reset needs it running.
func resetConflict(st power.State) base.Message {
	if st == power.Off {
		return base.ResourceInStandby()
	}
	return base.ResourceInUse()
}

// patchSystem writes Boot: BootSourceOverrideTarget, BootSourceOverrideEnabled
// and BootSourceOverrideMode, merged into the current override and set at once.
func (s *Service) patchSystem(r *request) (any, error) {
	if err := checkSystem(r); err != nil {
		return nil, err
	}
	var target, enabled, mode *string
	bad, err := r.patch(map[string]patchField{
		"Boot": r.nested("Boot", map[string]patchField{
			"BootSourceOverrideTarget":  field("Boot/BootSourceOverrideTarget", &target, oneOf("Boot/BootSourceOverrideTarget", stringsOf(power.BootSources())...)),
			"BootSourceOverrideEnabled": field("Boot/BootSourceOverrideEnabled", &enabled, oneOf("Boot/BootSourceOverrideEnabled", stringsOf(power.BootEnabledValues())...)),
			"BootSourceOverrideMode":    field("Boot/BootSourceOverrideMode", &mode, oneOf("Boot/BootSourceOverrideMode", bootModeValues...)),
		}, "BootSourceOverrideTarget@Redfish.AllowableValues", "BootSourceOverrideEnabled@Redfish.AllowableValues",
			"BootSourceOverrideMode@Redfish.AllowableValues"),
	}, "Id", "Name", "SystemType", "Manufacturer", "Model", "SKU", "SerialNumber", "PartNumber",
		"UUID", "BiosVersion", "PowerState", "Status", "ProcessorSummary", "MemorySummary",
		"LogServices", "Links", "Actions")
	if err != nil {
		return nil, err
	}
	if target != nil || enabled != nil || mode != nil {
		m := s.cfg.Board.Power
		o := m.BootOverride()
		if target != nil {
			o.Target = power.BootSource(*target)
		}
		if enabled != nil {
			o.Enabled = power.BootEnabled(*enabled)
		}
		if mode != nil {
			o.Mode = *mode
		}
		if err := m.SetBootOverride(o); err != nil {
			if errors.Is(err, power.ErrInvalidBootOverride) {
				// The one combination the machine refuses: UefiShell in Legacy mode.
				return nil, errorf(http.StatusBadRequest, base.PropertyValueConflict("Boot/BootSourceOverrideTarget", "Boot/BootSourceOverrideMode"))
			}
			return nil, fmt.Errorf("set boot override: %w", err)
		}
		s.logEvent(event.BootOverrideChanged, event.OK, systemURI, string(o.Target), string(o.Enabled))
	}
	return extended{Body: s.system(), Messages: bad}, nil
}
