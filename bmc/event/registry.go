package event

import (
	"strconv"
	"strings"
	"sync"
)

// Severity is a Redfish message severity.
type Severity string

// Severities.
const (
	OK       Severity = "OK"
	Warning  Severity = "Warning"
	Critical Severity = "Critical"
)

// MessageDef is one message of a registry, in Redfish MessageRegistry terms.
type MessageDef struct {
	Message      string // text with %1..%n placeholders
	Severity     Severity
	NumberOfArgs int
	Resolution   string
	Description  string
}

// Registry is a Redfish message registry as data.
type Registry struct {
	Prefix      string // "IronrootEvent"
	Version     string // "1.0.0"
	Language    string
	Description string
	Messages    map[string]MessageDef // by key, e.g. "PowerStateChanged"
}

// Registry identity of the board's OEM registry.
const (
	RegistryPrefix  = "IronrootEvent"
	RegistryVersion = "1.0.0"
	messagePrefix   = RegistryPrefix + ".1.0."
)

// MessageIDs of BoardRegistry, as stored in Event.MessageID.
const (
	PowerStateChanged        = messagePrefix + "PowerStateChanged"
	ResetRequested           = messagePrefix + "ResetRequested"
	BootOverrideChanged      = messagePrefix + "BootOverrideChanged"
	LoginSucceeded           = messagePrefix + "LoginSucceeded"
	LoginFailed              = messagePrefix + "LoginFailed"
	AccountLockedOut         = messagePrefix + "AccountLockedOut"
	AccountUnlocked          = messagePrefix + "AccountUnlocked"
	AccountCreated           = messagePrefix + "AccountCreated"
	AccountModified          = messagePrefix + "AccountModified"
	AccountRemoved           = messagePrefix + "AccountRemoved"
	SensorThresholdCrossed   = messagePrefix + "SensorThresholdCrossed"
	SensorReturnedToNormal   = messagePrefix + "SensorReturnedToNormal"
	LogCleared               = messagePrefix + "LogCleared"
	ManagerStarted           = messagePrefix + "ManagerStarted"
	ManagerReset             = messagePrefix + "ManagerReset"
	ManagerResetToDefaults   = messagePrefix + "ManagerResetToDefaults"
	FirstBoot                = messagePrefix + "FirstBoot"
	DateTimeChanged          = messagePrefix + "DateTimeChanged"
	LocationIndicatorChanged = messagePrefix + "LocationIndicatorChanged"
	NetworkProtocolChanged   = messagePrefix + "NetworkProtocolChanged"
	GateStateChanged         = messagePrefix + "GateStateChanged"
	InternalError            = messagePrefix + "InternalError"
)

// BoardRegistry returns the OEM registry "IronrootEvent" 1.0.0 in which all
// board events are stored. Each call returns a fresh copy.
func BoardRegistry() Registry {
	return Registry{
		Prefix:      RegistryPrefix,
		Version:     RegistryVersion,
		Language:    "en",
		Description: "Events of the ironroot board: host power, sensors, accounts, the management controller and its gate.",
		Messages: map[string]MessageDef{
			"PowerStateChanged": {
				Message: "The host power state changed from %1 to %2 (cause: %3).", Severity: OK, NumberOfArgs: 3,
				Description: "The host power state machine completed or started a transition. Args: old state, new state, cause.",
				Resolution:  "None.",
			},
			"ResetRequested": {
				Message: "A %1 reset of %2 was requested.", Severity: OK, NumberOfArgs: 2,
				Description: "A reset action was accepted. Args: reset type, resource (e.g. System, Manager).",
				Resolution:  "None.",
			},
			"BootOverrideChanged": {
				Message: "The boot source override was set to %1 (%2).", Severity: OK, NumberOfArgs: 2,
				Description: "The boot source override target or enablement changed. Args: target, enabled.",
				Resolution:  "None.",
			},
			"LoginSucceeded": {
				Message: "User %1 logged in via %2.", Severity: OK, NumberOfArgs: 2,
				Description: "A user authenticated. Args: user name, interface (Redfish, IPMI).",
				Resolution:  "None.",
			},
			"LoginFailed": {
				Message: "Login failed for user %1 via %2.", Severity: Warning, NumberOfArgs: 2,
				Description: "An authentication attempt failed. Args: user name as given, interface (Redfish, IPMI).",
				Resolution:  "Check the credentials; repeated failures lock the account out.",
			},
			"AccountLockedOut": {
				Message: "Account %1 was locked out after repeated authentication failures.", Severity: Warning, NumberOfArgs: 1,
				Description: "The account lockout threshold was reached. Args: user name.",
				Resolution:  "Wait for the lockout duration to elapse or have an administrator unlock the account.",
			},
			"AccountUnlocked": {
				Message: "Account %1 was unlocked.", Severity: OK, NumberOfArgs: 1,
				Description: "A locked-out account was unlocked. Args: user name.",
				Resolution:  "None.",
			},
			"AccountCreated": {
				Message: "Account %1 was created.", Severity: OK, NumberOfArgs: 1,
				Description: "A user account was created. Args: user name.",
				Resolution:  "None.",
			},
			"AccountModified": {
				Message: "Account %1 was modified.", Severity: OK, NumberOfArgs: 1,
				Description: "A user account's properties or password changed. Args: user name.",
				Resolution:  "None.",
			},
			"AccountRemoved": {
				Message: "Account %1 was removed.", Severity: OK, NumberOfArgs: 1,
				Description: "A user account was deleted. Args: user name.",
				Resolution:  "None.",
			},
			"SensorThresholdCrossed": {
				Message: "Sensor %1 crossed its %2 threshold of %3: reading %4.", Severity: Warning, NumberOfArgs: 4,
				Description: "A sensor's status changed because a reading crossed a threshold. The event severity is the sensor's new status. " +
					"Args: sensor name, threshold (UpperCaution, UpperCritical, LowerCaution, LowerCritical), threshold value with units, reading with units.",
				Resolution: "Check the component and its cooling or power.",
			},
			"SensorReturnedToNormal": {
				Message: "Sensor %1 returned to the normal range: reading %2.", Severity: OK, NumberOfArgs: 2,
				Description: "A sensor's reading is back within its caution thresholds. Args: sensor name, reading with units.",
				Resolution:  "None.",
			},
			"LogCleared": {
				Message: "The event log was cleared.", Severity: OK, NumberOfArgs: 0,
				Description: "All earlier entries of the event log were removed.",
				Resolution:  "None.",
			},
			"ManagerStarted": {
				Message: "The management controller started with firmware %1.", Severity: OK, NumberOfArgs: 1,
				Description: "bmcd opened the board state. Args: firmware version.",
				Resolution:  "None.",
			},
			"ManagerReset": {
				Message: "The management controller is resetting (%1).", Severity: OK, NumberOfArgs: 1,
				Description: "A manager reset was requested. Args: reset type.",
				Resolution:  "None.",
			},
			"ManagerResetToDefaults": {
				Message: "The management controller state is being reset to defaults (%1).", Severity: Warning, NumberOfArgs: 1,
				Description: "All BMC state is being wiped; the root of trust is not affected. Args: reset type.",
				Resolution:  "Use the new initial administrator password printed at the next boot.",
			},
			"FirstBoot": {
				Message: "The management controller state was created; account %1 has a one-time password.", Severity: OK, NumberOfArgs: 1,
				Description: "First boot of this board state. Args: administrator user name.",
				Resolution:  "Log in with the initial password and change it.",
			},
			"DateTimeChanged": {
				Message: "The management controller date and time was set to %1 (offset %2 from the board clock).", Severity: OK, NumberOfArgs: 2,
				Description: "DateTime was written; only a per-board offset is stored. Args: new date and time (RFC 3339), offset.",
				Resolution:  "None.",
			},
			"LocationIndicatorChanged": {
				Message: "The location indicator was turned %1.", Severity: OK, NumberOfArgs: 1,
				Description: "LocationIndicatorActive changed. Args: on or off.",
				Resolution:  "None.",
			},
			"NetworkProtocolChanged": {
				Message: "Network protocol %1 was %2.", Severity: OK, NumberOfArgs: 2,
				Description: "A management protocol was enabled, disabled or reconfigured. Args: protocol, change (enabled, disabled, ...).",
				Resolution:  "None.",
			},
			"GateStateChanged": {
				Message: "The management interface gate changed from %1 to %2: %3.", Severity: Warning, NumberOfArgs: 3,
				Description: "The attestation gate changed state. Args: old state, new state, reason.",
				Resolution:  "If the gate is Locked, check the root of trust and the firmware it measured.",
			},
			"InternalError": {
				Message: "The management controller encountered an internal error: %1.", Severity: Critical, NumberOfArgs: 1,
				Description: "An unexpected error. Args: description.",
				Resolution:  "Reset the management controller; report the problem if it persists.",
			},
		},
	}
}

// boardRegistry is BoardRegistry built once, for the lookups of the event path (every
// event appended and every LogEntry rendered); it is never handed out, so its map stays
// unmodified.
var boardRegistry = sync.OnceValue(BoardRegistry)

// LookupBoardMessage is BoardRegistry().Lookup without building a copy of the registry.
func LookupBoardMessage(messageID string) (key string, def MessageDef, ok bool) {
	return boardRegistry().Lookup(messageID)
}

// RenderBoardMessage is BoardRegistry().Render without building a copy of the registry.
func RenderBoardMessage(messageID string, args []string) (text string, ok bool) {
	return boardRegistry().Render(messageID, args)
}

// Lookup finds the definition of a MessageId "Prefix.Major.Minor.Key" in r.
// The prefix and major version must match r; any minor version matches.
func (r Registry) Lookup(messageID string) (key string, def MessageDef, ok bool) {
	parts := strings.Split(messageID, ".")
	if len(parts) != 4 || parts[0] != r.Prefix {
		return "", MessageDef{}, false
	}
	major, _, _ := strings.Cut(r.Version, ".")
	if parts[1] != major {
		return "", MessageDef{}, false
	}
	def, ok = r.Messages[parts[3]]
	return parts[3], def, ok
}

// Render returns the text of messageID with %1..%n replaced by args. A
// placeholder without an argument renders empty.
func (r Registry) Render(messageID string, args []string) (text string, ok bool) {
	_, def, ok := r.Lookup(messageID)
	if !ok {
		return "", false
	}
	return substitute(def.Message, args), true
}

func substitute(msg string, args []string) string {
	var b strings.Builder
	for i := 0; i < len(msg); i++ {
		c := msg[i]
		if c != '%' || i+1 >= len(msg) || msg[i+1] < '1' || msg[i+1] > '9' {
			b.WriteByte(c)
			continue
		}
		j := i + 1
		for j < len(msg) && msg[j] >= '0' && msg[j] <= '9' {
			j++
		}
		n, err := strconv.Atoi(msg[i+1 : j])
		if err == nil && n >= 1 && n <= len(args) {
			b.WriteString(args[n-1])
		}
		i = j - 1
	}
	return b.String()
}
