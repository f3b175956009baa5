package base

import (
	"encoding/json"
	"strings"
	"testing"
)

// TestConstructors builds every message: each constructor names a key in the table and
// passes the table's argument count (build panics otherwise).
func TestConstructors(t *testing.T) {
	msgs := []Message{
		AccountModified(), AccountNotModified(), AccountRemoved(), ActionNotSupported("a"),
		ActionParameterDuplicate("a", "p"), ActionParameterMissing("a", "p"), ActionParameterNotSupported("p", "a"),
		ActionParameterUnknown("a", "p"), ActionParameterValueError("p", "a"), ActionParameterValueFormatError("v", "p", "a"),
		ActionParameterValueNotInList("v", "p", "a"), ActionParameterValueOutOfRange("v", "p", "a"),
		ActionParameterValueTypeError("v", "p", "a"), Created(), CreateLimitReachedForResource(), EmptyJSON(),
		GeneralError(), HeaderInvalid("h"), HeaderMissing("h"), InsufficientPrivilege(), InternalError(), MalformedJSON(),
		NoOperation(), NoValidSession(), OperationFailed(), OperationNotAllowed(), PasswordChangeRequired("/u"),
		PasswordComplexityNotMet(), PasswordIncorrectLength(), PayloadTooLarge(), PreconditionFailed(),
		PropertyDuplicate("p"), PropertyMissing("p"), PropertyNotWritable("p"), PropertyUnknown("p"),
		PropertyValueConflict("p", "q"), PropertyValueError("p"), PropertyValueFormatError("v", "p"),
		PropertyValueIncorrect("p", "v"), PropertyValueModified("p", "v"), PropertyValueNotInList("v", "p"),
		PropertyValueOutOfRange("v", "p"), PropertyValueTypeError("v", "p"), QueryCombinationInvalid(), QueryNotSupported(),
		QueryNotSupportedOnOperation(), QueryNotSupportedOnResource(), QueryParameterUnsupported("q"),
		QueryParameterValueError("q"), QueryParameterValueFormatError("v", "q"), QueryParameterValueTypeError("v", "q"),
		ResetRequired("/a", "r"), ResourceAlreadyExists("t", "p", "v"), ResourceCannotBeDeleted(), ResourceExhaustion("/u"),
		ResourceInStandby(), ResourceInUse(), ResourceNotFound("t", "i"), ServiceShuttingDown(),
		ServiceTemporarilyUnavailable("5"), SessionLimitExceeded(), SessionTerminated(), Success(), UnrecognizedRequestBody(),
	}
	seen := map[string]bool{}
	for _, m := range msgs {
		if !strings.HasPrefix(m.MessageID, "Base.1.22.") || strings.Contains(m.Message, "%") || m.MessageArgs == nil {
			t.Errorf("%+v", m)
		}
		if m.Severity != m.MessageSeverity || m.Resolution == "" || m.ODataType != MessageODataType {
			t.Errorf("%s: severity/resolution/type: %+v", m.MessageID, m)
		}
		seen[m.Key()] = true
	}
	for key := range messages {
		if !seen[key] {
			t.Errorf("no constructor test for %s", key)
		}
	}
}

func TestMessageRendering(t *testing.T) {
	m := PropertyValueNotInList("Bogus", "Boot/BootSourceOverrideTarget")
	if m.Message != "The value 'Bogus' for the property Boot/BootSourceOverrideTarget is not in the list of acceptable values." {
		t.Errorf("Message = %q", m.Message)
	}
	if len(m.RelatedProperties) != 1 || m.RelatedProperties[0] != "#/Boot/BootSourceOverrideTarget" {
		t.Errorf("RelatedProperties = %v", m.RelatedProperties)
	}
	b, err := json.Marshal(NoOperation())
	if err != nil || !strings.Contains(string(b), `"MessageArgs":[]`) || strings.Contains(string(b), "RelatedProperties") {
		t.Errorf("NoOperation JSON = %s", b)
	}
}

func TestRegistry(t *testing.T) {
	r := Registry()
	if r.Prefix != "Base" || r.Version != "1.22.1" || len(r.Messages) != len(messages) {
		t.Fatalf("Registry() = %s %s with %d messages", r.Prefix, r.Version, len(r.Messages))
	}
	delete(r.Messages, "Success") // the caller's copy
	if _, ok := messages["Success"]; !ok {
		t.Fatal("Registry() shares the table")
	}
	text, ok := Registry().Render("Base.1.22.ResourceNotFound", []string{"Session", "x"})
	if !ok || text != "The requested resource of type Session named 'x' was not found." {
		t.Errorf("Render = %q, %v", text, ok)
	}
}

func TestBuildPanicsOnMisuse(t *testing.T) {
	for _, f := range []func(){func() { build("NoSuchMessage") }, func() { build("PropertyUnknown") }} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic")
				}
			}()
			f()
		}()
	}
}
