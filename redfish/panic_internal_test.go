package redfish

import (
	"errors"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/ironroot-bmc/ironroot/redfish/base"
)

func TestHandlerPanicAnswersInternalError(t *testing.T) {
	s := &Service{log: slog.New(slog.NewTextHandler(io.Discard, nil))}
	rt := &route{pattern: "GET /redfish/v1/Broken", h: func(*request) (any, error) { panic("boom") }}
	_, err := s.call(rt, &request{})
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("a panicking handler returned %v; want a Redfish *Error", err)
	}
	if e.Status != http.StatusInternalServerError || len(e.Messages) != 1 || e.Messages[0].MessageID != base.InternalError().MessageID {
		t.Fatalf("a panicking handler answered %d %+v; want 500 with Base InternalError", e.Status, e.Messages)
	}
}
