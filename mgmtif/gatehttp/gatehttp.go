// Package gatehttp puts the management-interface gate in front of the
// Redfish service: while the gate is not Open, only the unauthenticated
// discovery URIs (/redfish, /redfish/v1, /redfish/v1/odata,
// /redfish/v1/$metadata, with or without a trailing slash) reach the
// service; every other request — logins included — is answered here, before
// any authentication, with 503, Retry-After and a DSP0266 error body
// carrying Base.ServiceTemporarilyUnavailable and a message of the OEM
// registry IronrootGate.
//
// Disclosure: the caller is unauthenticated, so the body names only the
// gate's state (attesting, or attestation failed), never the reason; the
// reason is in the event log (GateStateChanged) and bmcd's log.
//
// It owns the IronrootGate registry (Registry) and nothing else: it knows
// nothing of the service's routes or sessions.
package gatehttp

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/mgmtif"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// Registry identity.
const (
	RegistryPrefix  = "IronrootGate"
	RegistryVersion = "1.0.0"
	idPrefix        = RegistryPrefix + ".1.0."
)

// Message keys of the registry.
const (
	KeyAttestationPending = "AttestationPending"
	KeyAttestationFailed  = "AttestationFailed"
)

// Registry returns the IronrootGate message registry (to be published
// under /redfish/v1/Registries). Each call returns a fresh copy.
func Registry() event.Registry {
	return event.Registry{
		Prefix:      RegistryPrefix,
		Version:     RegistryVersion,
		Language:    "en",
		Description: "Messages of the ironroot management-interface gate, which keeps every management interface closed until the root of trust is attested over SPDM.",
		Messages: map[string]event.MessageDef{
			KeyAttestationPending: {
				Message:      "The management interfaces are closed while the root of trust is being attested.",
				Severity:     event.Warning,
				NumberOfArgs: 0,
				Description:  "The gate is attesting the root of trust; the service opens when the evidence appraises good.",
				Resolution:   "Retry after the number of seconds in the Retry-After header.",
			},
			KeyAttestationFailed: {
				Message:      "The management interfaces are closed: the attestation of the root of trust failed.",
				Severity:     event.Critical,
				NumberOfArgs: 0,
				Description:  "The last attestation of the root of trust failed; the gate retries. The reason is recorded in the event log, not disclosed to unauthenticated clients.",
				Resolution:   "Retry later. If the condition persists, check the root of trust (rotd status) and the firmware it measured.",
			},
		},
	}
}

// message renders a registry message in the Redfish Message form.
func message(key string) base.Message {
	def := Registry().Messages[key]
	return base.Message{
		ODataType:       base.MessageODataType,
		MessageID:       idPrefix + key,
		Message:         def.Message,
		MessageArgs:     []string{},
		Severity:        string(def.Severity),
		MessageSeverity: string(def.Severity),
		Resolution:      def.Resolution,
	}
}

// StateSource is what the middleware asks (*mgmtif.Gate).
type StateSource interface {
	State() mgmtif.State
}

// Config configures the middleware.
type Config struct {
	Gate StateSource
	// RetryAfter is the Retry-After delay (default 5 s, whole seconds).
	RetryAfter time.Duration
}

// discovery reports whether path is an unauthenticated discovery URI.
func discovery(path string) bool {
	if len(path) > 1 {
		path = strings.TrimSuffix(path, "/")
	}
	switch path {
	case "/redfish", "/redfish/v1", "/redfish/v1/odata", "/redfish/v1/$metadata":
		return true
	}
	return false
}

// Handler returns next behind the gate.
func Handler(cfg Config, next http.Handler) http.Handler {
	secs := int((cfg.RetryAfter + time.Second - 1) / time.Second)
	if secs <= 0 {
		secs = 5
	}
	retry := strconv.Itoa(secs)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		st := cfg.Gate.State()
		if st == mgmtif.Open || discovery(r.URL.Path) {
			next.ServeHTTP(w, r)
			return
		}
		key := KeyAttestationFailed
		if st == mgmtif.Attesting {
			key = KeyAttestationPending
		}
		top := base.ServiceTemporarilyUnavailable(retry)
		body, _ := json.Marshal(errorBody{Error: errorDetail{
			Code: top.MessageID, Message: top.Message, ExtendedInfo: []base.Message{top, message(key)},
		}})
		h := w.Header()
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("OData-Version", "4.0")
		h.Set("Cache-Control", "no-store")
		h.Set("Retry-After", retry)
		w.WriteHeader(http.StatusServiceUnavailable)
		if r.Method != http.MethodHead {
			_, _ = w.Write(body)
		}
	})
}

// errorBody is the DSP0266 error response.
type errorBody struct {
	Error errorDetail `json:"error"`
}

type errorDetail struct {
	Code         string         `json:"code"`
	Message      string         `json:"message"`
	ExtendedInfo []base.Message `json:"@Message.ExtendedInfo"`
}
