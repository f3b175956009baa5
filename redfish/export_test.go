package redfish

import (
	"net/http"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc/account"
)

// RouteInfo describes one registered route for tests in package redfish_test.
type RouteInfo struct {
	Method    string
	Pattern   string // the path pattern, e.g. "/redfish/v1/Systems/{id}"
	Privilege account.Privilege
	AnyOf     []account.Privilege
	Own       bool // ConfigureSelf also suffices on the caller's own account/session
}

// RouteTable lists every route in registration order, with a HEAD entry after each GET.
func RouteTable(s *Service) []RouteInfo {
	var out []RouteInfo
	for _, rt := range s.routes {
		_, path, _ := strings.Cut(rt.pattern, " ")
		info := RouteInfo{Method: rt.method, Pattern: path, Privilege: rt.access.anyOf[0],
			AnyOf: rt.access.anyOf, Own: rt.access.own != nil}
		out = append(out, info)
		if rt.method == http.MethodGet {
			info.Method = http.MethodHead
			out = append(out, info)
		}
	}
	return out
}
