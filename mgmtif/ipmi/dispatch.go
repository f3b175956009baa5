package ipmi

import "fmt"

// Network functions (IPMI 2.0 table 5-1).
const (
	netFnChassis   = 0x00
	netFnSensor    = 0x04
	netFnApp       = 0x06
	netFnStorage   = 0x0A
	netFnTransport = 0x0C
	netFnGroup     = 0x2C
)

// Completion codes (IPMI 2.0 table 5-2).
const (
	ccOK                 = 0x00
	ccParamNotSupported  = 0x80
	ccNodeBusy           = 0xC0
	ccInvalidCommand     = 0xC1
	ccReservationInvalid = 0xC5
	ccRequestDataLength  = 0xC7
	ccFieldExceeded      = 0xC8
	ccOutOfRange         = 0xC9
	ccNotPresent         = 0xCB
	ccInvalidData        = 0xCC
	ccIllegalForSensor   = 0xCD
	ccPrivilege          = 0xD4
	ccNotInThisState     = 0xD5
	ccUnspecified        = 0xFF
)

// Commands (NetFn App).
const (
	cmdGetDeviceID            = 0x01
	cmdGetSelfTestResults     = 0x04
	cmdGetDeviceGUID          = 0x08
	cmdGetSystemGUID          = 0x37
	cmdGetChannelAuthCaps     = 0x38
	cmdSetSessionPrivilege    = 0x3B
	cmdCloseSession           = 0x3C
	cmdGetSessionInfo         = 0x3D
	cmdGetChannelAccess       = 0x41
	cmdGetChannelInfo         = 0x42
	cmdSetUserAccess          = 0x43
	cmdGetUserAccess          = 0x44
	cmdSetUserName            = 0x45
	cmdGetUserName            = 0x46
	cmdSetUserPassword        = 0x47
	cmdActivatePayload        = 0x48
	cmdDeactivatePayload      = 0x49
	cmdGetPayloadActivation   = 0x4A
	cmdGetPayloadInstanceInfo = 0x4B
	cmdGetChannelCipherSuites = 0x54
	cmdGetSystemInfoParams    = 0x59
)

// request is one in-session command.
type request struct {
	ss   *session
	msg  message
	data []byte
}

// reply is a command's completion code and response data; after, if set,
// runs once the response is sealed (Close Session).
type reply struct {
	cc    uint8
	data  []byte
	after func()
}

func ok(data ...byte) reply { return reply{data: data} }
func fail(cc uint8) reply   { return reply{cc: cc} }
func okData(b []byte) reply { return reply{data: b} }

// command is one entry of the command table: the privilege it needs and
// its handler.
type command struct {
	name    string
	priv    uint8
	minData int
	handler func(*Server, *request) reply
}

func key(netFn, cmd uint8) uint16 { return uint16(netFn)<<8 | uint16(cmd) }

// commands is the in-session command table, one line per command with its
// privilege (IPMI 2.0 appendix G).
func commands() map[uint16]command {
	return map[uint16]command{
		key(netFnApp, cmdGetDeviceID):            {"Get Device ID", privUser, 0, (*Server).getDeviceID},
		key(netFnApp, cmdGetSelfTestResults):     {"Get Self Test Results", privUser, 0, (*Server).getSelfTest},
		key(netFnApp, cmdGetDeviceGUID):          {"Get Device GUID", privUser, 0, (*Server).getDeviceGUID},
		key(netFnApp, cmdGetSystemGUID):          {"Get System GUID", privUser, 0, (*Server).getSystemGUID},
		key(netFnApp, cmdGetChannelAuthCaps):     {"Get Channel Authentication Capabilities", privCallback, 2, (*Server).authCapsInSession},
		key(netFnApp, cmdSetSessionPrivilege):    {"Set Session Privilege Level", privCallback, 1, (*Server).setSessionPrivilege},
		key(netFnApp, cmdCloseSession):           {"Close Session", privCallback, 4, (*Server).closeSession},
		key(netFnApp, cmdGetSessionInfo):         {"Get Session Info", privUser, 1, (*Server).getSessionInfo},
		key(netFnApp, cmdGetChannelAccess):       {"Get Channel Access", privUser, 2, (*Server).getChannelAccess},
		key(netFnApp, cmdGetChannelInfo):         {"Get Channel Info", privUser, 1, (*Server).getChannelInfo},
		key(netFnApp, cmdSetUserAccess):          {"Set User Access", privAdmin, 3, (*Server).setUserAccess},
		key(netFnApp, cmdGetUserAccess):          {"Get User Access", privOperator, 2, (*Server).getUserAccess},
		key(netFnApp, cmdSetUserName):            {"Set User Name", privAdmin, 17, (*Server).setUserName},
		key(netFnApp, cmdGetUserName):            {"Get User Name", privOperator, 1, (*Server).getUserName},
		key(netFnApp, cmdSetUserPassword):        {"Set User Password", privAdmin, 2, (*Server).setUserPassword},
		key(netFnApp, cmdActivatePayload):        {"Activate Payload", privUser, 6, (*Server).activatePayload},
		key(netFnApp, cmdDeactivatePayload):      {"Deactivate Payload", privUser, 6, (*Server).deactivatePayload},
		key(netFnApp, cmdGetPayloadActivation):   {"Get Payload Activation Status", privUser, 1, (*Server).getPayloadActivation},
		key(netFnApp, cmdGetPayloadInstanceInfo): {"Get Payload Instance Info", privUser, 2, (*Server).getPayloadInstanceInfo},
		key(netFnApp, cmdGetChannelCipherSuites): {"Get Channel Cipher Suites", privUser, 3, (*Server).cipherSuitesInSession},
		key(netFnApp, cmdGetSystemInfoParams):    {"Get System Info Parameters", privUser, 4, (*Server).getSystemInfoParams},

		key(netFnChassis, cmdGetChassisCaps):        {"Get Chassis Capabilities", privUser, 0, (*Server).getChassisCaps},
		key(netFnChassis, cmdGetChassisStatus):      {"Get Chassis Status", privUser, 0, (*Server).getChassisStatus},
		key(netFnChassis, cmdChassisControl):        {"Chassis Control", privOperator, 1, (*Server).chassisControl},
		key(netFnChassis, cmdChassisIdentify):       {"Chassis Identify", privOperator, 0, (*Server).chassisIdentify},
		key(netFnChassis, cmdSetSystemBootOpts):     {"Set System Boot Options", privOperator, 1, (*Server).setBootOptions},
		key(netFnChassis, cmdGetSystemBootOpts):     {"Get System Boot Options", privOperator, 3, (*Server).getBootOptions},
		key(netFnChassis, cmdGetPOHCounter):         {"Get POH Counter", privUser, 0, (*Server).getPOHCounter},
		key(netFnChassis, cmdGetSystemRestartCause): {"Get System Restart Cause", privUser, 0, (*Server).getRestartCause},

		key(netFnSensor, cmdGetSensorReading):     {"Get Sensor Reading", privUser, 1, (*Server).getSensorReading},
		key(netFnSensor, cmdGetSensorThresholds):  {"Get Sensor Thresholds", privUser, 1, (*Server).getSensorThresholds},
		key(netFnSensor, cmdGetSensorHysteresis):  {"Get Sensor Hysteresis", privUser, 2, (*Server).getSensorHysteresis},
		key(netFnSensor, cmdGetSensorEventEnable): {"Get Sensor Event Enable", privUser, 1, (*Server).getSensorEventEnable},

		key(netFnStorage, cmdGetFRUInfo):      {"Get FRU Inventory Area Info", privUser, 1, (*Server).getFRUInfo},
		key(netFnStorage, cmdReadFRU):         {"Read FRU Data", privUser, 4, (*Server).readFRU},
		key(netFnStorage, cmdGetSDRRepoInfo):  {"Get SDR Repository Info", privUser, 0, (*Server).getSDRRepoInfo},
		key(netFnStorage, cmdGetSDRAllocInfo): {"Get SDR Repository Allocation Info", privUser, 0, (*Server).getSDRAllocInfo},
		key(netFnStorage, cmdReserveSDR):      {"Reserve SDR Repository", privUser, 0, (*Server).reserveSDR},
		key(netFnStorage, cmdGetSDR):          {"Get SDR", privUser, 6, (*Server).getSDR},
		key(netFnStorage, cmdGetSELInfo):      {"Get SEL Info", privUser, 0, (*Server).getSELInfo},
		key(netFnStorage, cmdGetSELAllocInfo): {"Get SEL Allocation Info", privUser, 0, (*Server).getSELAllocInfo},
		key(netFnStorage, cmdReserveSEL):      {"Reserve SEL", privUser, 0, (*Server).reserveSEL},
		key(netFnStorage, cmdGetSELEntry):     {"Get SEL Entry", privUser, 6, (*Server).getSELEntry},
		key(netFnStorage, cmdClearSEL):        {"Clear SEL", privOperator, 6, (*Server).clearSEL},
		key(netFnStorage, cmdGetSELTime):      {"Get SEL Time", privUser, 0, (*Server).getSELTime},

		key(netFnTransport, cmdGetLANConfig): {"Get LAN Configuration Parameters", privOperator, 4, (*Server).getLANConfig},
		key(netFnTransport, cmdGetSOLConfig): {"Get SOL Configuration Parameters", privUser, 4, (*Server).getSOLConfig},
	}
}

// dispatch runs one in-session command and returns the response message.
func (s *Server) dispatch(ss *session, m message) ([]byte, func()) {
	if m.netFn&1 != 0 {
		return m.response(ccInvalidCommand, nil), nil
	}
	if m.netFn == netFnGroup { // PICMG, VITA, HPM probes: not a PICMG platform
		return m.response(ccInvalidCommand, nil), nil
	}
	c, found := s.table[key(m.netFn, m.cmd)]
	if !found {
		s.log.Debug("unsupported IPMI command", "netfn", fmt.Sprintf("%#02x", m.netFn), "cmd", fmt.Sprintf("%#02x", m.cmd))
		return m.response(ccInvalidCommand, nil), nil
	}
	if ss.priv < c.priv {
		s.log.Info("IPMI command refused: privilege", "command", c.name, "user", ss.userName,
			"session_privilege", ss.priv, "required", c.priv)
		return m.response(ccPrivilege, nil), nil
	}
	if len(m.data) < c.minData {
		return m.response(ccRequestDataLength, nil), nil
	}
	r := c.handler(s, &request{ss: ss, msg: m, data: m.data})
	if r.cc != ccOK {
		r.data = nil
	}
	return m.response(r.cc, r.data), r.after
}
