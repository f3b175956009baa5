package redfish

import (
	"encoding/json"
	"net/http"
	"strings"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// Error is a failed request: an HTTP status and the Base registry messages that explain
// it. Handlers return it; the framework renders it as the DSP0266 error body
// {"error":{"code","message","@Message.ExtendedInfo":[...]}}.
type Error struct {
	Status   int
	Messages []base.Message
	// Header holds extra response headers (Allow, Retry-After, WWW-Authenticate).
	Header http.Header
}

// errorf returns an *Error with status and messages (at least one).
func errorf(status int, msgs ...base.Message) *Error {
	return &Error{Status: status, Messages: msgs}
}

// Error implements error.
func (e *Error) Error() string {
	parts := make([]string, 0, len(e.Messages))
	for _, m := range e.Messages {
		parts = append(parts, m.MessageID)
	}
	return http.StatusText(e.Status) + ": " + strings.Join(parts, ", ")
}

// withHeader returns e with a response header added.
func (e *Error) withHeader(key, value string) *Error {
	if e.Header == nil {
		e.Header = make(http.Header)
	}
	e.Header.Add(key, value)
	return e
}

// retryAfterSeconds is the Retry-After of serviceUnavailable's 503.
const retryAfterSeconds = "5"

// serviceUnavailable is the 503 of a request that can succeed shortly (the gate is not
// Open yet, or bmcd has not taken the RoT's sealing key yet): Base
// ServiceTemporarilyUnavailable with a Retry-After of retryAfterSeconds.
func serviceUnavailable() *Error {
	return errorf(http.StatusServiceUnavailable, base.ServiceTemporarilyUnavailable(retryAfterSeconds)).
		withHeader("Retry-After", retryAfterSeconds)
}

// errorBody is the JSON error response of DSP0266 §"Error responses".
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code         string         `json:"code"`
	Message      string         `json:"message"`
	ExtendedInfo []base.Message `json:"@Message.ExtendedInfo"`
}

// body renders the error. With one message, code and message are that message's; with
// several, they are Base GeneralError's and the messages are all in ExtendedInfo.
func (e *Error) body() []byte {
	msgs := e.Messages
	if len(msgs) == 0 {
		msgs = []base.Message{base.GeneralError()}
	}
	top := msgs[0]
	if len(msgs) > 1 {
		top = base.GeneralError()
	}
	b, err := json.Marshal(errorBody{Error: errorDetail{Code: top.MessageID, Message: top.Message, ExtendedInfo: msgs}})
	if err != nil { // cannot happen: only strings
		return []byte(`{"error":{"code":"Base.1.22.InternalError","message":"internal error","@Message.ExtendedInfo":[]}}`)
	}
	return b
}
