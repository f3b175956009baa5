package redfish

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"strings"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// PATCH in two phases. A handler declares its writable properties as patchFields that
// VALIDATE a value and STAGE it in the handler's local variables, without side effects;
// r.patch runs them over the body and sorts every property into staged or bad; then the
// handler applies everything staged at once (one store call) and returns
// extended{Body: representation, Messages: bad}. So an error changes nothing, and:
//
//   - only @odata annotations (or {}) → 400 NoOperation
//   - only bad properties (read-only, unknown, invalid values) → 400 with a message each
//   - good and bad → the good ones are applied: 200, body + @Message.ExtendedInfo for the bad
//
// Sketch:
//
//	var patch power.BootOverride
//	bad, err := r.patch(map[string]patchField{
//		"LocationIndicatorActive": field("LocationIndicatorActive", &lia, nil),
//	}, "Id", "Name", "PowerState")
//	if err != nil { return nil, err }
//	... apply lia ...
//	return extended{Body: s.chassisBody(), Messages: bad}, nil

// patchField validates and stages one property's raw JSON value. It returns nil if the
// value is staged, or the message that reports why it is not (e.g. PropertyValueNotInList).
type patchField func(raw json.RawMessage) *base.Message

// patch sorts the body's properties as described above. bad holds the messages for the
// properties that were not staged; err is a 400 *Error when nothing was staged.
func (r *request) patch(fields map[string]patchField, readOnly ...string) (bad []base.Message, err error) {
	obj, err := parseObject(r.body)
	if err != nil {
		return nil, err
	}
	staged, bad := r.patchObject(obj, "", fields, readOnly)
	bad = append(bad, r.extra...)
	r.extra = nil
	switch {
	case staged == 0 && len(bad) == 0:
		return nil, errorf(http.StatusBadRequest, base.NoOperation())
	case staged == 0:
		return nil, errorf(http.StatusBadRequest, bad...)
	}
	return bad, nil
}

// patchObject runs fields over one JSON object; prefix is the property path of the
// object ("" at top level, "Boot/" inside Boot).
func (r *request) patchObject(obj map[string]json.RawMessage, prefix string, fields map[string]patchField, readOnly []string) (staged int, bad []base.Message) {
	for _, name := range slices.Sorted(maps.Keys(obj)) {
		raw := obj[name]
		switch f, writable := fields[name]; {
		case strings.HasPrefix(name, "@"):
			// annotations such as @odata.etag: no operation
		case writable:
			if m := f(raw); m != nil {
				bad = append(bad, *m)
			} else {
				staged++
			}
		case slices.Contains(readOnly, name):
			bad = append(bad, base.PropertyNotWritable(prefix+name))
		default:
			bad = append(bad, base.PropertyUnknown(prefix+name))
		}
	}
	return staged, bad
}

// nested returns a patchField for an object-valued property (e.g. "Boot") whose members
// are patched with fields. Messages about the members go into the PATCH response; the
// property counts as staged if at least one member is.
func (r *request) nested(prop string, fields map[string]patchField, readOnly ...string) patchField {
	return func(raw json.RawMessage) *base.Message {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(raw, &obj); err != nil || obj == nil {
			m := base.PropertyValueTypeError(messageValue(raw), prop)
			return &m
		}
		staged, bad := r.patchObject(obj, prop+"/", fields, readOnly)
		if staged == 0 && len(bad) == 0 {
			m := base.NoOperation()
			return &m
		}
		if staged == 0 {
			r.extra = append(r.extra, bad[1:]...)
			return &bad[0]
		}
		r.extra = append(r.extra, bad...)
		return nil
	}
}

// field returns a patchField that decodes a value of type T into *dst. A value of the
// wrong JSON type (or null) gets PropertyValueTypeError; check, if non-nil, validates the
// decoded value and returns a message to reject it.
func field[T any](prop string, dst **T, check func(v T) *base.Message) patchField {
	return func(raw json.RawMessage) *base.Message {
		var v T
		if string(raw) == "null" || json.Unmarshal(raw, &v) != nil {
			m := base.PropertyValueTypeError(redact(prop, messageValue(raw)), prop)
			return &m
		}
		if check != nil {
			if m := check(v); m != nil {
				return m
			}
		}
		*dst = &v
		return nil
	}
}

// oneOf is a check for field: the value must be one of allowed (PropertyValueNotInList).
func oneOf[T ~string](prop string, allowed ...T) func(v T) *base.Message {
	return func(v T) *base.Message {
		if slices.Contains(allowed, v) {
			return nil
		}
		m := base.PropertyValueNotInList(string(v), prop)
		return &m
	}
}
