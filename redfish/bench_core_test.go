package redfish_test

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// BenchmarkHandlerTokenGET measures the framework's hot path without TLS: a GET with
// session-token authentication, served straight by the handler.
func BenchmarkHandlerTokenGET(b *testing.B) {
	tb := testboard.Start(b)
	token, _ := tb.Login(b, tb.AdminUser, tb.AdminPassword)
	h := tb.Service.Handler()
	for _, path := range []string{"/redfish/v1/AccountService", "/redfish/v1/Systems/1"} {
		b.Run(strings.ReplaceAll(strings.TrimPrefix(path, "/redfish/v1/"), "/", "_"), func(b *testing.B) {
			req := httptest.NewRequest(http.MethodGet, path, nil)
			req.Header.Set("X-Auth-Token", token)
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				h.ServeHTTP(w, req)
				if w.Code != http.StatusOK {
					b.Fatalf("status %d", w.Code)
				}
			}
		})
	}
}
