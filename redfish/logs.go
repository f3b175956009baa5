package redfish

import (
	"fmt"
	"net/http"
	"strconv"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// The board keeps one event store. The host's LogServices show it twice:
// EventLog renders every event as a Redfish event (EntryType Event, MessageId
// from the registry), SEL renders the events that carry IPMI SEL fields the
// way the IPMI SEL shows them (EntryType SEL, MessageId = event data). Clearing
// either clears the store; the store then records LogCleared. The manager's
// LogServices collection is empty: the BMC has no log of its own besides this
// store, and showing the same entries under two owners would double them.

// logServiceKind says how a log service renders the store's events.
type logServiceKind struct {
	id        string // "EventLog", "SEL"
	name      string
	entryType string // LogService.LogEntryType and LogEntry.EntryType
	selOnly   bool   // lists only events with SEL fields
}

var (
	logEventLog = logServiceKind{id: "EventLog", name: "Event Log", entryType: "Event"}
	logSEL      = logServiceKind{id: "SEL", name: "IPMI System Event Log", entryType: "SEL", selOnly: true}
)

func systemLogServices() []logServiceKind { return []logServiceKind{logEventLog, logSEL} }

type logService struct {
	resHeader
	LogEntryType        string            `json:"LogEntryType"`
	OverWritePolicy     string            `json:"OverWritePolicy"`
	MaxNumberOfRecords  int               `json:"MaxNumberOfRecords"`
	Persistency         bool              `json:"Persistency"`
	ServiceEnabled      bool              `json:"ServiceEnabled"`
	DateTime            string            `json:"DateTime"`
	DateTimeLocalOffset string            `json:"DateTimeLocalOffset"`
	Status              resStatus         `json:"Status"`
	Entries             odataID           `json:"Entries"`
	Actions             logServiceActions `json:"Actions"`
}

type logServiceActions struct {
	ClearLog resActionTarget `json:"#LogService.ClearLog"`
}

type logEntry struct {
	resHeader
	EntryType    string        `json:"EntryType"`
	Created      string        `json:"Created"`
	Severity     string        `json:"Severity,omitempty"`
	MessageID    string        `json:"MessageId"`
	Message      string        `json:"Message,omitempty"`
	MessageArgs  []string      `json:"MessageArgs"`
	Resolution   string        `json:"Resolution,omitempty"`
	SensorType   string        `json:"SensorType,omitempty"`
	SensorNumber *int          `json:"SensorNumber,omitempty"`
	EntryCode    string        `json:"EntryCode,omitempty"`
	GeneratorID  string        `json:"GeneratorId,omitempty"`
	Links        logEntryLinks `json:"Links"`
}

type logEntryLinks struct {
	OriginOfCondition *odataID `json:"OriginOfCondition,omitempty"`
}

func (s *Service) registerLogRoutes() {
	s.route("GET /redfish/v1/Systems/{id}/LogServices", privLogin, s.getSystemLogServices)
	s.route("GET /redfish/v1/Systems/{id}/LogServices/{log}", privLogin, s.getLogService)
	s.route("GET /redfish/v1/Systems/{id}/LogServices/{log}/Entries", privLogin, s.getLogEntries)
	s.route("GET /redfish/v1/Systems/{id}/LogServices/{log}/Entries/{entry}", privLogin, s.getLogEntry)
	// Privilege registry: LogService under ComputerSystem, POST → ConfigureComponents.
	s.route("POST /redfish/v1/Systems/{id}/LogServices/{log}/Actions/LogService.ClearLog", privConfigureComponents, s.clearLog)
	s.route("GET /redfish/v1/Managers/{id}/LogServices", privLogin, s.getManagerLogServices)
}

// lookupLogService resolves {id} and {log} of a system log service URI.
func lookupLogService(r *request) (logServiceKind, string, error) {
	if err := checkSystem(r); err != nil {
		return logServiceKind{}, "", err
	}
	id := r.PathValue("log")
	for _, k := range systemLogServices() {
		if k.id == id {
			return k, systemURI + "/LogServices/" + k.id, nil
		}
	}
	return logServiceKind{}, "", errorf(http.StatusNotFound, base.ResourceNotFound("LogService", id))
}

func (s *Service) getSystemLogServices(r *request) (any, error) {
	if err := checkSystem(r); err != nil {
		return nil, err
	}
	var members []string
	for _, k := range systemLogServices() {
		members = append(members, systemURI+"/LogServices/"+k.id)
	}
	return newCollection(systemURI+"/LogServices", "LogServiceCollection", "Log Service Collection", members), nil
}

func (s *Service) getManagerLogServices(r *request) (any, error) {
	if err := checkManager(r); err != nil {
		return nil, err
	}
	return newCollection(managerURI+"/LogServices", "LogServiceCollection", "Log Service Collection", nil), nil
}

func (s *Service) getLogService(r *request) (any, error) {
	k, uri, err := lookupLogService(r)
	if err != nil {
		return nil, err
	}
	return logService{
		resHeader:           resHeader{ODataID: uri, ODataType: odataType("LogService"), ID: k.id, Name: k.name},
		LogEntryType:        k.entryType,
		OverWritePolicy:     "WrapsWhenFull",
		MaxNumberOfRecords:  s.cfg.Board.Events.MaxEvents(),
		Persistency:         true,
		ServiceEnabled:      true,
		DateTime:            boardTime(s.cfg.Board.Now()),
		DateTimeLocalOffset: "+00:00",
		Status:              resStatus{State: "Enabled", Health: "OK"},
		Entries:             odataID{ID: uri + "/Entries"},
		Actions: logServiceActions{ClearLog: resActionTarget{
			Target: uri + "/Actions/LogService.ClearLog",
		}},
	}, nil
}

// logEvents lists the events a log service shows, oldest first.
func (s *Service) logEvents(k logServiceKind) []event.Event {
	all := s.cfg.Board.Events.List()
	if !k.selOnly {
		return all
	}
	var out []event.Event
	for _, e := range all {
		if e.SEL != nil {
			out = append(out, e)
		}
	}
	return out
}

func (s *Service) getLogEntries(r *request) (any, error) {
	k, uri, err := lookupLogService(r)
	if err != nil {
		return nil, err
	}
	var members []string
	for _, e := range s.logEvents(k) {
		members = append(members, uri+"/Entries/"+itoa32(e.ID))
	}
	return newCollection(uri+"/Entries", "LogEntryCollection", k.name+" Entries", members), nil
}

func (s *Service) getLogEntry(r *request) (any, error) {
	k, uri, err := lookupLogService(r)
	if err != nil {
		return nil, err
	}
	id := r.PathValue("entry")
	n, perr := strconv.ParseUint(id, 10, 32)
	e, ok := s.cfg.Board.Events.Get(uint32(n))
	if perr != nil || !ok || (k.selOnly && e.SEL == nil) || itoa32(e.ID) != id {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("LogEntry", id))
	}
	return renderLogEntry(k, uri+"/Entries/"+id, e), nil
}

// renderLogEntry renders one event as a LogEntry of log service k.
func renderLogEntry(k logServiceKind, uri string, e event.Event) logEntry {
	le := logEntry{
		resHeader:   resHeader{ODataID: uri, ODataType: odataType("LogEntry"), ID: itoa32(e.ID), Name: "Log Entry " + itoa32(e.ID)},
		EntryType:   k.entryType,
		Created:     boardTime(e.Time),
		Severity:    string(e.Severity),
		MessageID:   e.MessageID,
		MessageArgs: e.Args,
	}
	if le.MessageArgs == nil {
		le.MessageArgs = []string{}
	}
	if text, ok := event.RenderBoardMessage(e.MessageID, e.Args); ok {
		le.Message = text
	}
	if _, def, ok := event.LookupBoardMessage(e.MessageID); ok {
		le.Resolution = def.Resolution
	}
	if e.OriginURI != "" {
		le.Links.OriginOfCondition = &odataID{ID: e.OriginURI}
	}
	if k.entryType == "SEL" && e.SEL != nil {
		sel := e.SEL
		// MessageId of a SEL entry is "0xNNaabbcc": EventDir/EventType, then
		// Event Data 1..3 (bytes 13-16 of the SEL record).
		le.MessageID = fmt.Sprintf("0x%02X%02X%02X%02X", sel.EventType, sel.EventData[0], sel.EventData[1], sel.EventData[2])
		le.SensorType = ipmiSensorType(sel.SensorType)
		n := int(sel.SensorNumber)
		le.SensorNumber = &n
		le.EntryCode = ipmiEntryCode(sel.EventType, sel.EventData[0])
		le.GeneratorID = fmt.Sprintf("0x%04X", sel.GeneratorID)
	}
	return le
}

// ipmiSensorType names an IPMI sensor type code (IPMI 2.0 table 42-3) with
// the LogEntry.SensorType enum.
func ipmiSensorType(code uint8) string {
	names := map[uint8]string{
		0x01: "Temperature", 0x02: "Voltage", 0x03: "Current", 0x04: "Fan",
		0x05: "Physical Chassis Security", 0x06: "Platform Security Violation Attempt",
		0x07: "Processor", 0x08: "Power Supply / Converter", 0x09: "PowerUnit",
		0x0A: "CoolingDevice", 0x0B: "Other Units-based Sensor", 0x0C: "Memory",
		0x0D: "Drive Slot/Bay", 0x0E: "POST Memory Resize", 0x0F: "System Firmware Progress",
		0x10: "Event Logging Disabled", 0x11: "Watchdog", 0x12: "System Event",
		0x13: "Critical Interrupt", 0x14: "Button/Switch", 0x15: "Module/Board",
		0x16: "Microcontroller/Coprocessor", 0x17: "Add-in Card", 0x18: "Chassis",
		0x19: "ChipSet", 0x1A: "Other FRU", 0x1B: "Cable/Interconnect", 0x1C: "Terminator",
		0x1D: "SystemBoot/Restart", 0x1E: "Boot Error", 0x1F: "BaseOSBoot/InstallationStatus",
		0x20: "OS Stop/Shutdown", 0x21: "Slot/Connector", 0x22: "System ACPI PowerState",
		0x23: "Watchdog", 0x24: "Platform Alert", 0x25: "Entity Presence",
		0x26: "Monitor ASIC/IC", 0x27: "LAN", 0x28: "Management Subsystem Health",
		0x29: "Battery", 0x2A: "Session Audit", 0x2B: "Version Change", 0x2C: "FRUState",
	}
	if n, ok := names[code]; ok {
		return n
	}
	return "OEM"
}

// ipmiEntryCode names the event offset of a SEL record with the
// LogEntry.EntryCode enum (IPMI 2.0 tables 42-1 and 42-2): threshold offsets
// by name, other event types as Assert/Deassert.
func ipmiEntryCode(eventType, data1 uint8) string {
	deassert := eventType&event.SELDeassertion != 0
	if eventType&^event.SELDeassertion == event.SELEventThreshold {
		thresholds := []string{
			"Lower Non-critical - going low", "Lower Non-critical - going high",
			"Lower Critical - going low", "Lower Critical - going high",
			"Lower Non-recoverable - going low", "Lower Non-recoverable - going high",
			"Upper Non-critical - going low", "Upper Non-critical - going high",
			"Upper Critical - going low", "Upper Critical - going high",
			"Upper Non-recoverable - going low", "Upper Non-recoverable - going high",
		}
		if off := int(data1 & 0x0F); off < len(thresholds) && !deassert {
			return thresholds[off]
		}
	}
	if deassert {
		return "Deassert"
	}
	return "Assert"
}

func (s *Service) clearLog(r *request) (any, error) {
	if _, _, err := lookupLogService(r); err != nil {
		return nil, err
	}
	var p struct{ LogEntriesETag *string }
	if err := r.decodeAction("LogService.ClearLog", &p); err != nil {
		return nil, err
	}
	if p.LogEntriesETag != nil {
		// The optional ETag check is not implemented; refuse rather than
		// clear a log the client did not see.
		return nil, errorf(http.StatusBadRequest, base.ActionParameterNotSupported("LogEntriesETag", "LogService.ClearLog"))
	}
	if err := s.cfg.Board.Events.Clear(); err != nil {
		return nil, fmt.Errorf("clear log: %w", err)
	}
	s.log.Info("event log cleared", "user", r.Account.UserName)
	return nil, nil
}
