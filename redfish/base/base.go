// Package base builds Redfish messages of the DMTF Base message registry by name.
//
// It owns the Base registry subset that the service emits (table.go, as data, so the
// repository never needs the DMTF bundle at build or test time) and one constructor per
// message, named as the registry's message key and taking the registry's arguments in
// the registry's order: base.PropertyValueNotInList(value, "ResetType"). It knows nothing
// of HTTP or of the resources that use the messages.
package base

import (
	"maps"
	"strconv"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc/event"
)

// Registry identity: the Base registry release these messages are taken from.
const (
	Prefix  = "Base"
	Version = "1.22.1"
	// idPrefix is RegistryName.MajorVersion.MinorVersion. of DSP0266's MessageId format.
	idPrefix = "Base.1.22."
)

// Message is one Redfish Message (Message.v1_3_0) as it appears in @Message.ExtendedInfo.
type Message struct {
	ODataType         string   `json:"@odata.type"`
	MessageID         string   `json:"MessageId"`
	Message           string   `json:"Message"`
	MessageArgs       []string `json:"MessageArgs"`
	Severity          string   `json:"Severity"`
	MessageSeverity   string   `json:"MessageSeverity"`
	Resolution        string   `json:"Resolution"`
	RelatedProperties []string `json:"RelatedProperties,omitempty"`
}

// MessageODataType is the @odata.type of every Message built here.
const MessageODataType = "#Message.v1_3_0.Message"

// Key returns the registry key of m's MessageId ("PropertyUnknown" for
// "Base.1.22.PropertyUnknown").
func (m Message) Key() string {
	return m.MessageID[strings.LastIndexByte(m.MessageID, '.')+1:]
}

// Registry returns the Base registry subset as data (published under
// /redfish/v1/Registries). The caller may modify the returned value.
func Registry() event.Registry {
	return event.Registry{
		Prefix:      Prefix,
		Version:     Version,
		Language:    "en",
		Description: "This registry defines the base messages for Redfish.",
		Messages:    maps.Clone(messages),
	}
}

// build renders the message key with args. It panics if the key is not in the
// table or the argument count is wrong: both are programming errors caught by tests.
func build(key string, args ...string) Message {
	def, ok := messages[key]
	if !ok {
		panic("base: unknown message " + key)
	}
	if len(args) != def.NumberOfArgs {
		panic("base: " + key + " takes " + strconv.Itoa(def.NumberOfArgs) + " arguments")
	}
	text := def.Message
	for i := len(args); i >= 1; i-- {
		text = strings.ReplaceAll(text, "%"+strconv.Itoa(i), args[i-1])
	}
	if args == nil {
		args = []string{}
	}
	return Message{
		ODataType:       MessageODataType,
		MessageID:       idPrefix + key,
		Message:         text,
		MessageArgs:     args,
		Severity:        string(def.Severity),
		MessageSeverity: string(def.Severity),
		Resolution:      def.Resolution,
	}
}

// related marks the JSON pointers ("#/Boot/BootSourceOverrideTarget") of the
// properties a message is about. prop uses "/" between nested names.
func related(m Message, prop string) Message {
	if prop != "" {
		m.RelatedProperties = []string{"#/" + prop}
	}
	return m
}

// Constructors, one per message, alphabetical. Property names use "/" between nested
// names (Boot/BootSourceOverrideTarget) and become RelatedProperties.

func AccountModified() Message    { return build("AccountModified") }
func AccountNotModified() Message { return build("AccountNotModified") }
func AccountRemoved() Message     { return build("AccountRemoved") }
func ActionNotSupported(action string) Message {
	return build("ActionNotSupported", action)
}
func ActionParameterDuplicate(action, param string) Message {
	return build("ActionParameterDuplicate", action, param)
}
func ActionParameterMissing(action, param string) Message {
	return build("ActionParameterMissing", action, param)
}
func ActionParameterNotSupported(param, action string) Message {
	return build("ActionParameterNotSupported", param, action)
}
func ActionParameterUnknown(action, param string) Message {
	return build("ActionParameterUnknown", action, param)
}
func ActionParameterValueError(param, action string) Message {
	return build("ActionParameterValueError", param, action)
}
func ActionParameterValueFormatError(value, param, action string) Message {
	return build("ActionParameterValueFormatError", value, param, action)
}
func ActionParameterValueNotInList(value, param, action string) Message {
	return build("ActionParameterValueNotInList", value, param, action)
}
func ActionParameterValueOutOfRange(value, param, action string) Message {
	return build("ActionParameterValueOutOfRange", value, param, action)
}
func ActionParameterValueTypeError(value, param, action string) Message {
	return build("ActionParameterValueTypeError", value, param, action)
}
func Created() Message                       { return build("Created") }
func CreateLimitReachedForResource() Message { return build("CreateLimitReachedForResource") }
func EmptyJSON() Message                     { return build("EmptyJSON") }
func GeneralError() Message                  { return build("GeneralError") }
func HeaderInvalid(header string) Message    { return build("HeaderInvalid", header) }
func HeaderMissing(header string) Message    { return build("HeaderMissing", header) }
func InsufficientPrivilege() Message         { return build("InsufficientPrivilege") }
func InternalError() Message                 { return build("InternalError") }
func MalformedJSON() Message                 { return build("MalformedJSON") }
func NoOperation() Message                   { return build("NoOperation") }
func NoValidSession() Message                { return build("NoValidSession") }
func OperationFailed() Message               { return build("OperationFailed") }
func OperationNotAllowed() Message           { return build("OperationNotAllowed") }

// PasswordChangeRequired takes the URI of the account whose password must change.
func PasswordChangeRequired(uri string) Message { return build("PasswordChangeRequired", uri) }
func PasswordComplexityNotMet() Message {
	return related(build("PasswordComplexityNotMet"), "Password")
}
func PasswordIncorrectLength() Message {
	return related(build("PasswordIncorrectLength"), "Password")
}
func PayloadTooLarge() Message    { return build("PayloadTooLarge") }
func PreconditionFailed() Message { return build("PreconditionFailed") }
func PropertyDuplicate(prop string) Message {
	return related(build("PropertyDuplicate", prop), prop)
}
func PropertyMissing(prop string) Message {
	return related(build("PropertyMissing", prop), prop)
}
func PropertyNotWritable(prop string) Message {
	return related(build("PropertyNotWritable", prop), prop)
}
func PropertyUnknown(prop string) Message {
	return related(build("PropertyUnknown", prop), prop)
}

// PropertyValueConflict: prop could not be written because of conflicting.
func PropertyValueConflict(prop, conflicting string) Message {
	return related(build("PropertyValueConflict", prop, conflicting), prop)
}
func PropertyValueError(prop string) Message {
	return related(build("PropertyValueError", prop), prop)
}
func PropertyValueFormatError(value, prop string) Message {
	return related(build("PropertyValueFormatError", value, prop), prop)
}
func PropertyValueIncorrect(prop, value string) Message {
	return related(build("PropertyValueIncorrect", prop, value), prop)
}
func PropertyValueModified(prop, value string) Message {
	return related(build("PropertyValueModified", prop, value), prop)
}
func PropertyValueNotInList(value, prop string) Message {
	return related(build("PropertyValueNotInList", value, prop), prop)
}
func PropertyValueOutOfRange(value, prop string) Message {
	return related(build("PropertyValueOutOfRange", value, prop), prop)
}
func PropertyValueTypeError(value, prop string) Message {
	return related(build("PropertyValueTypeError", value, prop), prop)
}
func QueryCombinationInvalid() Message      { return build("QueryCombinationInvalid") }
func QueryNotSupported() Message            { return build("QueryNotSupported") }
func QueryNotSupportedOnOperation() Message { return build("QueryNotSupportedOnOperation") }
func QueryNotSupportedOnResource() Message  { return build("QueryNotSupportedOnResource") }
func QueryParameterUnsupported(param string) Message {
	return build("QueryParameterUnsupported", param)
}
func QueryParameterValueError(param string) Message {
	return build("QueryParameterValueError", param)
}
func QueryParameterValueFormatError(value, param string) Message {
	return build("QueryParameterValueFormatError", value, param)
}
func QueryParameterValueTypeError(value, param string) Message {
	return build("QueryParameterValueTypeError", value, param)
}

// ResetRequired names the reset action URI and the ResetType that applies a change.
func ResetRequired(actionURI, resetType string) Message {
	return build("ResetRequired", actionURI, resetType)
}
func ResourceAlreadyExists(typ, prop, value string) Message {
	return related(build("ResourceAlreadyExists", typ, prop, value), prop)
}
func ResourceCannotBeDeleted() Message { return build("ResourceCannotBeDeleted") }
func ResourceExhaustion(uri string) Message {
	return build("ResourceExhaustion", uri)
}
func ResourceInStandby() Message              { return build("ResourceInStandby") }
func ResourceInUse() Message                  { return build("ResourceInUse") }
func ResourceNotFound(typ, id string) Message { return build("ResourceNotFound", typ, id) }
func ServiceShuttingDown() Message            { return build("ServiceShuttingDown") }

// ServiceTemporarilyUnavailable takes the retry delay in seconds.
func ServiceTemporarilyUnavailable(retryAfter string) Message {
	return build("ServiceTemporarilyUnavailable", retryAfter)
}
func SessionLimitExceeded() Message    { return build("SessionLimitExceeded") }
func SessionTerminated() Message       { return build("SessionTerminated") }
func Success() Message                 { return build("Success") }
func UnrecognizedRequestBody() Message { return build("UnrecognizedRequestBody") }
