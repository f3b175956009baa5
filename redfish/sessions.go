package redfish

import (
	"errors"
	"net"
	"net/http"
	"strconv"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/event"
	"github.com/ironroot-bmc/ironroot/redfish/base"
	"github.com/ironroot-bmc/ironroot/redfish/session"
)

const (
	sessionServiceURI = "/redfish/v1/SessionService"
	sessionsURI       = "/redfish/v1/SessionService/Sessions"
)

func (s *Service) registerSessionRoutes() {
	s.route("GET /redfish/v1/SessionService", privLogin, s.getSessionService)
	s.route("PATCH /redfish/v1/SessionService", privConfigureManager, s.patchSessionService)
	s.route("GET /redfish/v1/SessionService/Sessions", privLogin, s.getSessions)
	s.route("POST /redfish/v1/SessionService/Sessions", noAuth, s.createSession)
	s.routeOwn("GET /redfish/v1/SessionService/Sessions/{id}", ownSession, s.getSession, privConfigureManager)
	s.routeOwn("DELETE /redfish/v1/SessionService/Sessions/{id}", ownSession, s.deleteSession, privConfigureManager)
}

// ownSession: the {id} of the request names the session the request came in on.
func ownSession(r *request) bool {
	return r.SessionID != "" && r.PathValue("id") == r.SessionID
}

func secondsDuration(n int) time.Duration { return time.Duration(n) * time.Second }

type sessionServiceBody struct {
	ODataID        string  `json:"@odata.id"`
	ODataType      string  `json:"@odata.type"`
	ID             string  `json:"Id"`
	Name           string  `json:"Name"`
	Description    string  `json:"Description"`
	ServiceEnabled bool    `json:"ServiceEnabled"`
	SessionTimeout int     `json:"SessionTimeout"`
	Status         status  `json:"Status"`
	Sessions       odataID `json:"Sessions"`
}

// status is Resource.Status for a healthy, enabled resource.
type status struct {
	State  string `json:"State"`
	Health string `json:"Health"`
}

var statusOK = status{State: "Enabled", Health: "OK"}

func (s *Service) getSessionService(*request) (any, error) {
	return sessionServiceBody{
		ODataID:        sessionServiceURI,
		ODataType:      odataType("SessionService"),
		ID:             "SessionService",
		Name:           "Session Service",
		Description:    "Redfish sessions",
		ServiceEnabled: true,
		SessionTimeout: int(s.sessions.Timeout() / time.Second),
		Status:         statusOK,
		Sessions:       odataID{sessionsURI},
	}, nil
}

func (s *Service) patchSessionService(r *request) (any, error) {
	var timeout *int
	bad, err := r.patch(map[string]patchField{
		"SessionTimeout": field("SessionTimeout", &timeout, func(v int) *base.Message {
			if d := secondsDuration(v); d < session.MinTimeout || d > session.MaxTimeout {
				m := base.PropertyValueOutOfRange(strconv.Itoa(v), "SessionTimeout")
				return &m
			}
			return nil
		}),
	}, "Id", "Name", "Description", "ServiceEnabled", "Status", "Sessions")
	if err != nil {
		return nil, err
	}
	if timeout != nil {
		if err := s.updateSettings(func(st *settings) { st.SessionTimeout = *timeout }); err != nil {
			return nil, err
		}
		if err := s.sessions.SetTimeout(secondsDuration(*timeout)); err != nil {
			return nil, err
		}
	}
	body, _ := s.getSessionService(r)
	return extended{Body: body, Messages: bad}, nil
}

// getSessions lists the sessions the requester may read: all with ConfigureManager,
// otherwise only its own (privilege registry: Session GET needs ConfigureManager or
// ConfigureSelf).
func (s *Service) getSessions(r *request) (any, error) {
	var uris []string
	for _, sess := range s.sessions.List() {
		if r.has(privConfigureManager) || sess.ID == r.SessionID {
			uris = append(uris, sessionsURI+"/"+sess.ID)
		}
	}
	return newCollection(sessionsURI, "SessionCollection", "Session Collection", uris), nil
}

type sessionBody struct {
	ODataID               string  `json:"@odata.id"`
	ODataType             string  `json:"@odata.type"`
	ID                    string  `json:"Id"`
	Name                  string  `json:"Name"`
	Description           string  `json:"Description"`
	UserName              string  `json:"UserName"`
	Password              *string `json:"Password"` // write-only: always null
	SessionType           string  `json:"SessionType"`
	ClientOriginIPAddress string  `json:"ClientOriginIPAddress,omitempty"`
	Context               string  `json:"Context,omitempty"`
	CreatedTime           string  `json:"CreatedTime"`
}

func sessionRepresentation(sess session.Session) sessionBody {
	return sessionBody{
		ODataID:               sessionsURI + "/" + sess.ID,
		ODataType:             odataType("Session"),
		ID:                    sess.ID,
		Name:                  "User Session",
		Description:           "Session of " + sess.UserName,
		UserName:              sess.UserName,
		SessionType:           "Redfish",
		ClientOriginIPAddress: sess.RemoteAddr,
		Context:               sess.Context,
		CreatedTime:           sess.Created.UTC().Format(time.RFC3339),
	}
}

func (s *Service) getSession(r *request) (any, error) {
	id := r.PathValue("id")
	sess, ok := s.sessions.Get(id)
	if !ok {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("Session", id))
	}
	return sessionRepresentation(sess), nil
}

// createSession is the login: POST {UserName, Password} → 201, X-Auth-Token, Location,
// and the Session. An account whose password must change gets its session with the
// Base PasswordChangeRequired message naming the account URI.
func (s *Service) createSession(r *request) (any, error) {
	var login struct {
		UserName *string
		Password *string
		Context  *string
	}
	if err := r.decode(&login); err != nil {
		return nil, err
	}
	var missing []base.Message
	if login.UserName == nil {
		missing = append(missing, base.PropertyMissing("UserName"))
	}
	if login.Password == nil {
		missing = append(missing, base.PropertyMissing("Password"))
	}
	if len(missing) > 0 {
		return nil, errorf(http.StatusBadRequest, missing...)
	}
	acct, err := s.cfg.Board.Accounts.Authenticate(*login.UserName, *login.Password)
	if err != nil {
		// Unknown user, wrong password, locked out and disabled look the same.
		return nil, unauthorized()
	}
	remote := r.RemoteAddr
	if host, _, err := net.SplitHostPort(remote); err == nil {
		remote = host
	}
	ctxValue := ""
	if login.Context != nil {
		ctxValue = *login.Context
	}
	sess, err := s.sessions.Create(acct.ID, acct.UserName, remote, ctxValue)
	if errors.Is(err, session.ErrLimit) {
		return nil, errorf(http.StatusServiceUnavailable, base.SessionLimitExceeded())
	}
	if err != nil {
		return nil, err
	}
	s.log.Info("redfish session created", "session", sess.ID, "user", acct.UserName, "remote", remote)
	s.logEvent(event.LoginSucceeded, event.OK, sessionsURI+"/"+sess.ID, acct.UserName, "Redfish")
	r.responseHeader().Set("X-Auth-Token", sess.Token)
	body := any(sessionRepresentation(sess))
	if acct.PasswordChangeRequired {
		body = extended{Body: body, Messages: []base.Message{base.PasswordChangeRequired(accountURI(acct.ID))}}
	}
	return created{Location: sessionsURI + "/" + sess.ID, Body: body}, nil
}

func (s *Service) deleteSession(r *request) (any, error) {
	id := r.PathValue("id")
	sess, ok := s.sessions.Get(id)
	if !ok || !s.sessions.Delete(id) {
		return nil, errorf(http.StatusNotFound, base.ResourceNotFound("Session", id))
	}
	s.log.Info("redfish session deleted", "session", id, "user", sess.UserName, "by", r.Account.UserName)
	return nil, nil
}
