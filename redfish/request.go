package redfish

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strconv"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// maxBodySize bounds request bodies; larger ones get 413 PayloadTooLarge.
const maxBodySize = 64 << 10

// request is what a handler gets: the HTTP request, who made it, and its parsed parts.
type request struct {
	*http.Request
	// Account is the authenticated account, current as of this request (zero for the
	// unauthenticated routes).
	Account account.Account
	// SessionID is the session the request came in on; "" for HTTP Basic or no auth.
	SessionID string

	svc    *Service
	header http.Header // the response's headers
	body   []byte      // POST/PATCH/PUT body, read in full by the framework
	query  query
	after  []func()
	// extra collects PATCH messages from nested objects (see nested).
	extra []base.Message
}

// has reports whether the requesting account has privilege p.
func (r *request) has(p account.Privilege) bool {
	return r.svc.roleHas(r.Account.Role, p)
}

// responseHeader returns the response headers, for handlers that add their own
// (X-Auth-Token).
func (r *request) responseHeader() http.Header { return r.header }

// afterResponse registers f to run after the response has been written and flushed to
// the client (Manager.Reset: the client gets its 204 before bmcd exits). Functions run in
// registration order on the request's goroutine.
func (r *request) afterResponse(f func()) { r.after = append(r.after, f) }

// decode decodes the JSON body into v strictly. An empty body decodes as {}. Errors are
// *Error: 400 MalformedJSON for syntax errors or a non-object body, PropertyUnknown for a
// field v does not have, PropertyValueTypeError for a value of the wrong JSON type.
// Properties starting with "@" (annotations such as @odata.type) are ignored.
func (r *request) decode(v any) error {
	return decodeBody(r.body, v, func(field string) base.Message { return base.PropertyUnknown(field) },
		func(value, field string) base.Message { return base.PropertyValueTypeError(value, field) })
}

// decodeAction is decode for the body of an action: errors are ActionParameterUnknown and
// ActionParameterValueTypeError naming action (e.g. "ComputerSystem.Reset").
func (r *request) decodeAction(action string, v any) error {
	return decodeBody(r.body, v, func(field string) base.Message { return base.ActionParameterUnknown(action, field) },
		func(value, field string) base.Message {
			return base.ActionParameterValueTypeError(value, field, action)
		})
}

// decodeBody is the body decoder behind decode and decodeAction (FuzzDecodeBody).
func decodeBody(body []byte, v any, unknown func(field string) base.Message, badType func(value, field string) base.Message) error {
	obj, err := parseObject(body)
	if err != nil {
		return err
	}
	for k := range obj {
		if strings.HasPrefix(k, "@") {
			delete(obj, k)
		}
	}
	clean, err := json.Marshal(obj)
	if err != nil {
		return errorf(http.StatusBadRequest, base.MalformedJSON())
	}
	dec := json.NewDecoder(bytes.NewReader(clean))
	dec.DisallowUnknownFields()
	err = dec.Decode(v)
	if err == nil {
		return nil
	}
	var typeErr *json.UnmarshalTypeError
	switch {
	case errors.As(err, &typeErr):
		field := typeErr.Field
		if field == "" {
			return errorf(http.StatusBadRequest, base.MalformedJSON())
		}
		return errorf(http.StatusBadRequest, badType(redact(field, rawValue(obj, field)), strings.ReplaceAll(field, ".", "/")))
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return errorf(http.StatusBadRequest, unknown(field))
	default:
		return errorf(http.StatusBadRequest, base.MalformedJSON())
	}
}

// parseObject parses a body that must be one JSON object (empty body: empty object).
// Anything else, including trailing data after the object, is MalformedJSON.
func parseObject(body []byte) (map[string]json.RawMessage, error) {
	if len(bytes.TrimSpace(body)) == 0 {
		return map[string]json.RawMessage{}, nil
	}
	var obj map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errorf(http.StatusBadRequest, base.MalformedJSON())
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errorf(http.StatusBadRequest, base.MalformedJSON())
	}
	return obj, nil
}

// rawValue returns the JSON text of a top-level or dotted field for messages, shortened.
func rawValue(obj map[string]json.RawMessage, field string) string {
	name, rest, nested := strings.Cut(field, ".")
	raw, ok := obj[name]
	if !ok {
		return ""
	}
	if nested {
		var inner map[string]json.RawMessage
		if json.Unmarshal(raw, &inner) == nil {
			return rawValue(inner, rest)
		}
	}
	return messageValue(raw)
}

// redact hides the value of secret properties (passwords) in messages.
func redact(prop, value string) string {
	if strings.Contains(prop, "Password") {
		return "(redacted)"
	}
	return value
}

// messageValue renders a raw JSON value as a message argument: strings unquoted, other
// values as JSON text, at most 64 bytes.
func messageValue(raw json.RawMessage) string {
	var s string
	v := string(raw)
	if json.Unmarshal(raw, &s) == nil {
		v = s
	}
	if len(v) > 64 {
		v = v[:64]
	}
	return v
}
