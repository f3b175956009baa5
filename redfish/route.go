package redfish

import (
	"errors"
	"net/http"
	"runtime/debug"
	"slices"
	"strings"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// handler serves one method of one URI. For GET it returns the representation (a struct
// or map with @odata.id and @odata.type); the framework adds the protocol headers. Other
// results: created (201 + Location), extended (body + @Message.ExtendedInfo), nil (204).
// A returned *Error is rendered as the DSP0266 error body; any other error is a 500.
type handler func(r *request) (any, error)

// noAuth is the pseudo-privilege of the privilege registry ("NoAuth") for the URIs that
// need no authentication.
const noAuth account.Privilege = "NoAuth"

// access is who may call a route: anyone holding one of anyOf, or, when own is set,
// an account holding ConfigureSelf for whom own(r) is true (its own account or session).
type access struct {
	anyOf []account.Privilege
	own   func(r *request) bool
}

// route is one registered method of one resource.
type route struct {
	method  string
	pattern string
	access  access
	h       handler
}

// resource is every method registered for one path pattern.
type resource struct {
	pattern string
	methods map[string]*route
	allow   []string // the Allow header value, e.g. "GET, HEAD, PATCH"
}

// route registers h for pattern ("GET /redfish/v1/Systems/{id}") with the privilege the
// DMTF privilege registry requires for that entity and operation. Each GET route also
// serves HEAD. Each POST route on a collection (a path without "/Actions/") also serves
// POST on <path>/Members. Registering a method twice for one path panics.
func (s *Service) route(pattern string, priv account.Privilege, h handler) {
	s.addRoute(pattern, access{anyOf: []account.Privilege{priv}}, h)
}

// routeOwn registers h for pattern for accounts holding one of anyOf, and for accounts
// holding ConfigureSelf when own(r) says the target is their own (the privilege
// registry's ConfigureSelf on ManagerAccount and Session).
func (s *Service) routeOwn(pattern string, own func(r *request) bool, h handler, anyOf ...account.Privilege) {
	s.addRoute(pattern, access{anyOf: anyOf, own: own}, h)
}

func (s *Service) addRoute(pattern string, a access, h handler) {
	method, path, ok := strings.Cut(pattern, " ")
	if !ok || method == "" || !strings.HasPrefix(path, "/redfish") {
		panic("redfish: bad route pattern " + pattern)
	}
	s.addMethod(path, &route{method: method, pattern: pattern, access: a, h: h})
	if method == http.MethodPost && !strings.Contains(path, "/Actions/") {
		s.addMethod(path+"/Members", &route{method: method, pattern: method + " " + path + "/Members", access: a, h: h})
	}
}

func (s *Service) addMethod(path string, rt *route) {
	res, ok := s.resources[path]
	if !ok {
		res = &resource{pattern: path, methods: make(map[string]*route)}
		s.resources[path] = res
		s.mux.Handle(path, s.dispatcher(res))
	}
	if _, dup := res.methods[rt.method]; dup {
		panic("redfish: duplicate route " + rt.pattern)
	}
	res.methods[rt.method] = rt
	s.routes = append(s.routes, rt)
	var allow []string
	for _, m := range []string{http.MethodGet, http.MethodHead, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete} {
		if _, ok := res.methods[m]; ok || (m == http.MethodHead && res.methods[http.MethodGet] != nil) {
			allow = append(allow, m)
		}
	}
	res.allow = []string{strings.Join(allow, ", ")}
}

// dispatcher serves every method of one resource, in DSP0266 order: authentication
// first, then the method, the OData-Version header, the PasswordChangeRequired
// restriction, privileges, query parameters, preconditions and the body.
func (s *Service) dispatcher(res *resource) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, hr *http.Request) {
		method := hr.Method
		rt := res.methods[method]
		if method == http.MethodHead {
			rt = res.methods[http.MethodGet]
		}
		req := &request{Request: hr, svc: s, header: w.Header()}
		public := rt != nil && slices.Contains(rt.access.anyOf, noAuth)
		if !public {
			if err := s.authenticate(req); err != nil {
				s.fail(w, req, err)
				return
			}
		}
		if rt == nil {
			s.fail(w, req, errorf(http.StatusMethodNotAllowed, base.OperationNotAllowed()).withHeader("Allow", res.allow[0]))
			return
		}
		if v := hr.Header.Get("OData-Version"); v != "" && v != "4.0" {
			s.fail(w, req, errorf(http.StatusPreconditionFailed, base.HeaderInvalid("OData-Version")))
			return
		}
		if !public {
			if err := s.authorize(req, rt); err != nil {
				s.fail(w, req, err)
				return
			}
		}
		if hr.URL.RawQuery != "" {
			q, err := parseQuery(hr.URL.RawQuery)
			if err != nil {
				s.fail(w, req, err)
				return
			}
			req.query = q
		}
		switch method {
		case http.MethodGet, http.MethodHead:
			s.serveGet(w, req, res, rt)
			return
		case http.MethodPost, http.MethodPatch, http.MethodPut:
			if err := req.readBody(); err != nil {
				s.fail(w, req, err)
				return
			}
		}
		if err := s.checkIfMatch(req, res); err != nil {
			s.fail(w, req, err)
			return
		}
		result, err := s.call(rt, req)
		if err != nil {
			s.fail(w, req, err)
			return
		}
		s.writeResult(w, req, res, result)
	})
}

// call runs a route's handler. A handler that panics answers 500 InternalError (logged
// with its stack) instead of dropping the client's connection.
func (s *Service) call(rt *route, req *request) (result any, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.log.Error("redfish handler panicked", "route", rt.pattern, "panic", p, "stack", string(debug.Stack()))
			result, err = nil, errorf(http.StatusInternalServerError, base.InternalError())
		}
	}()
	return rt.h(req)
}

// authorize applies the route's privileges and the PasswordChangeRequired restriction.
func (s *Service) authorize(r *request, rt *route) error {
	if r.Account.PasswordChangeRequired && !passwordChangeAllows(r, rt) {
		return errorf(http.StatusForbidden, base.PasswordChangeRequired(accountURI(r.Account.ID)))
	}
	for _, p := range rt.access.anyOf {
		if r.has(p) {
			return nil
		}
	}
	if rt.access.own != nil && r.has(account.PrivConfigureSelf) && rt.access.own(r) {
		return nil
	}
	return errorf(http.StatusForbidden, base.InsufficientPrivilege())
}

// passwordChangeAllows is DSP0266's rule for an account whose password must change:
// only reading and patching its own account, ending its own session and reading the
// service root (which needs no authentication anyway).
func passwordChangeAllows(r *request, rt *route) bool {
	switch {
	case rt.pattern == "GET /redfish/v1/AccountService/Accounts/{id}",
		rt.pattern == "PATCH /redfish/v1/AccountService/Accounts/{id}":
		return ownAccount(r)
	case rt.pattern == "DELETE /redfish/v1/SessionService/Sessions/{id}":
		return ownSession(r)
	}
	return false
}

// fail writes err as an error response.
func (s *Service) fail(w http.ResponseWriter, r *request, err error) {
	var e *Error
	if !errors.As(err, &e) {
		s.log.Error("redfish request failed", "method", r.Method, "path", r.URL.Path, "err", err)
		e = errorf(http.StatusInternalServerError, base.InternalError())
	}
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	s.writeJSON(w, r, e.Status, e.body())
}

// The privileges of the DMTF privilege registry, as written beside each route.
const (
	privLogin               = account.PrivLogin
	privConfigureManager    = account.PrivConfigureManager
	privConfigureUsers      = account.PrivConfigureUsers
	privConfigureSelf       = account.PrivConfigureSelf
	privConfigureComponents = account.PrivConfigureComponents
)
