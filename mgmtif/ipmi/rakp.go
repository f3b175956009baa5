package ipmi

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/binary"
	"errors"
	"net/netip"

	ipmicrypto "github.com/bougou/go-ipmi/pkg/crypto"
	"github.com/bougou/go-ipmi/pkg/rmcpplus"
	"github.com/bougou/go-ipmi/pkg/types"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/event"
)

// RMCP+ status codes (IPMI 2.0 table 13-15).
const (
	rmcpOK                    = 0x00
	rmcpNoResources           = 0x01
	rmcpInvalidSessionID      = 0x02
	rmcpInvalidRole           = 0x09
	rmcpUnauthorizedRole      = 0x0A
	rmcpInvalidNameLength     = 0x0C
	rmcpUnauthorizedName      = 0x0D
	rmcpInvalidIntegrityCheck = 0x0F
	rmcpNoCipherSuiteMatch    = 0x11
)

// Privilege levels (IPMI 2.0 table 6-1).
const (
	privCallback = 0x01
	privUser     = 0x02
	privOperator = 0x03
	privAdmin    = 0x04
)

// openSession answers an RMCP+ Open Session Request (IPMI 2.0 §13.17).
func (s *Server) openSession(p []byte, from netip.AddrPort) []byte {
	var req rmcpplus.OpenSessionRequest
	if len(p) < rmcpplus.OpenSessionRequestSize || req.Unpack(p) != nil {
		return nil
	}
	resp := rmcpplus.OpenSessionResponse{MessageTag: req.MessageTag, RemoteConsoleSessionID: req.RemoteConsoleSessionID}
	reply := func(status uint8) []byte {
		resp.RmcpStatusCode = types.RmcpStatusCode(status)
		return encodePlain(payloadOpenSessResp, 0, resp.Pack())
	}
	now := s.clk.Now()
	if !s.allowOpenLocked(from.Addr(), now) {
		s.log.Warn("IPMI session open rate-limited", "from", from)
		return reply(rmcpNoResources)
	}
	suite, ok := s.matchSuite(req)
	if !ok {
		s.log.Info("IPMI session refused: no matching cipher suite", "from", from,
			"auth", req.AuthAlg, "integrity", req.IntegrityAlg, "confidentiality", req.CryptAlg)
		return reply(rmcpNoCipherSuiteMatch)
	}
	maxPriv := uint8(req.RequestedMaximumPrivilegeLevel)
	switch {
	case maxPriv == 0:
		maxPriv = privAdmin // "highest level matching the proposed algorithms"
	case maxPriv > privAdmin:
		return reply(rmcpInvalidRole)
	}
	s.sweepLocked(now)
	s.makeRoomLocked()
	id, err := s.newSessionIDLocked()
	if err != nil {
		return reply(rmcpNoResources)
	}
	ss := &session{id: id, consoleID: req.RemoteConsoleSessionID, handle: s.newHandleLocked(), suite: suite,
		state: stateAwaitRAKP1, remote: from, created: now, lastActive: now, maxPriv: maxPriv}
	s.sessions[id] = ss
	resp.MaximumPrivilegeLevel = maxPriv
	resp.ManagedSystemSessionID = id
	auth, integ, conf := suite.algorithms()
	resp.AuthenticationPayload, resp.IntegrityPayload, resp.ConfidentialityPayload =
		rmcpplus.NewAlgorithmPayloads(types.AuthAlg(auth), types.IntegrityAlg(integ), types.CryptAlg(conf))
	return reply(rmcpOK)
}

// matchSuite returns the enabled suite the request's algorithms name.
func (s *Server) matchSuite(req rmcpplus.OpenSessionRequest) (CipherSuite, bool) {
	if req.AuthenticationPayload.PayloadType != 0 || req.IntegrityPayload.PayloadType != 1 ||
		req.ConfidentialityPayload.PayloadType != 2 {
		return 0, false
	}
	for _, c := range s.cfg.CipherSuites {
		a, i, k := c.algorithms()
		if req.AuthAlg&0x3F == a && req.IntegrityAlg&0x3F == i && req.CryptAlg&0x3F == k {
			return c, true
		}
	}
	return 0, false
}

func authAlg(c CipherSuite) types.AuthAlg {
	a, _, _ := c.algorithms()
	return types.AuthAlg(a)
}

// rakp1 answers RAKP Message 1 with RAKP Message 2 (IPMI 2.0 §13.20-13.21).
// A name that is unknown, unusable for IPMI, disabled or locked gets the
// same answer as a usable one, keyed with a random key, so RAKP2 neither
// reveals whether the user exists nor hands out a crackable hash of a
// locked account.
func (s *Server) rakp1(p []byte, from netip.AddrPort) []byte {
	// Check the name length before go-ipmi's Unpack, which computes
	// 28+length in uint8.
	if len(p) < 28 || p[27] > rmcpplus.MaxUserNameLength || len(p) < 28+int(p[27]) {
		if len(p) >= 8 {
			ss := s.sessions[binary.LittleEndian.Uint32(p[4:8])]
			if ss != nil && ss.state == stateAwaitRAKP1 {
				s.closeLocked(ss, "bad RAKP1")
				return s.rakp2Error(p[0], ss.consoleID, rmcpInvalidNameLength)
			}
		}
		return nil
	}
	var req rmcpplus.RAKPMessage1
	if req.Unpack(p) != nil {
		return nil
	}
	ss := s.sessions[req.ManagedSystemSessionID]
	if ss == nil || ss.state != stateAwaitRAKP1 {
		return nil
	}
	ss.remote = from
	ss.role = p[24] // including the name-only lookup bit: it is hashed
	reqPriv := ss.role & 0x0F
	if ss.role&0xE0 != 0 || reqPriv < privCallback || reqPriv > privAdmin {
		s.closeLocked(ss, "invalid role in RAKP1")
		return s.rakp2Error(req.MessageTag, ss.consoleID, rmcpInvalidRole)
	}
	name := string(req.Username)
	if name == "" {
		s.log.Warn("IPMI null user name refused", "from", from)
		s.closeLocked(ss, "null user name")
		return s.rakp2Error(req.MessageTag, ss.consoleID, rmcpUnauthorizedName)
	}
	ss.userName, ss.rc = name, req.RemoteConsoleRandomNumber
	if _, err := rand.Read(ss.rm[:]); err != nil {
		s.closeLocked(ss, "no randomness")
		return s.rakp2Error(req.MessageTag, ss.consoleID, rmcpNoResources)
	}
	ss.kuid, ss.accountID = s.userKey(ss, name, reqPriv)
	s.log.Info("IPMI RAKP1", "from", from, "session", ss.id, "user", name, "privilege", reqPriv)
	guid := s.systemGUID()
	code, err := ipmicrypto.RAKP2AuthCode(authAlg(ss.suite), ss.consoleID, ss.id, ss.rc[:], ss.rm[:], guid[:],
		ss.role, name, ss.kuid)
	if err != nil {
		s.closeLocked(ss, "RAKP2: "+err.Error())
		return s.rakp2Error(req.MessageTag, ss.consoleID, rmcpNoResources)
	}
	ss.state = stateAwaitRAKP3
	resp := rmcpplus.RAKPMessage2{MessageTag: req.MessageTag, RemoteConsoleSessionID: ss.consoleID,
		ManagedSystemRandomNumber: ss.rm, ManagedSystemGUID: guid, KeyExchangeAuthenticationCode: code}
	return encodePlain(payloadRAKP2, 0, resp.Pack())
}

func (s *Server) rakp2Error(tag uint8, consoleID uint32, status uint8) []byte {
	resp := rmcpplus.RAKPMessage2{MessageTag: tag, RmcpStatusCode: types.RmcpStatusCode(status), RemoteConsoleSessionID: consoleID}
	return encodePlain(payloadRAKP2, 0, resp.Pack())
}

// userKey returns K_UID for name and the account ID (0 with a random key
// when the name cannot log in over IPMI). Refusals that the client may
// learn only after proving the password are recorded in ss.denied.
func (s *Server) userKey(ss *session, name string, reqPriv uint8) ([]byte, int) {
	fake := func(why string) ([]byte, int) {
		ss.deniedWhy = why
		k := make([]byte, 20)
		_, _ = rand.Read(k)
		return k, 0
	}
	a, err := s.accounts.ByName(name)
	if err != nil || a.UserName != name {
		return fake("unknown user")
	}
	switch {
	case !a.HasType(account.TypeIPMI):
		return fake("account not enabled for IPMI")
	case !a.Enabled:
		return fake("account disabled")
	case a.Locked:
		return fake("account locked out")
	}
	key, err := s.accounts.IPMIKey(a.ID)
	if err != nil {
		return fake("no IPMI key")
	}
	kuid := ipmicrypto.PadPassword20(key)
	clear(key)
	switch {
	case a.PasswordChangeRequired:
		ss.denied, ss.deniedWhy = rmcpUnauthorizedName, "password change required"
	case reqPriv > a.Role.IPMIPrivilege():
		ss.denied, ss.deniedWhy = rmcpUnauthorizedRole, "requested privilege above the account's role"
	}
	ss.maxPriv = min(ss.maxPriv, reqPriv, a.Role.IPMIPrivilege())
	return kuid, a.ID
}

// rakp3 checks RAKP Message 3 and answers with RAKP Message 4 (IPMI 2.0
// §13.22-13.23); on success the session becomes active.
func (s *Server) rakp3(p []byte, from netip.AddrPort) []byte {
	if len(p) < 8 {
		return nil
	}
	ss := s.sessions[binary.LittleEndian.Uint32(p[4:8])]
	if ss == nil || ss.state != stateAwaitRAKP3 {
		return nil
	}
	tag := p[0]
	fail := func(status uint8, why string, countFailure bool) []byte {
		s.auditFailure(ss, from, why, countFailure)
		s.closeLocked(ss, why)
		resp := rmcpplus.RAKPMessage4{MessageTag: tag, RmcpStatusCode: types.RmcpStatusCode(status), MgmtConsoleSessionID: ss.consoleID}
		return encodePlain(payloadRAKP4, 0, resp.Pack())
	}
	if p[1] != rmcpOK { // the console gave up (e.g. RAKP2 did not verify)
		s.auditFailure(ss, from, "console aborted at RAKP3", false)
		s.closeLocked(ss, "console aborted")
		return nil
	}
	alg := authAlg(ss.suite)
	var req rmcpplus.RAKPMessage3
	if req.Unpack(p, alg) != nil {
		return fail(rmcpInvalidIntegrityCheck, "short RAKP3", false)
	}
	want, err := ipmicrypto.RAKP3AuthCode(alg, ss.rm[:], ss.consoleID, ss.role, ss.userName, ss.kuid)
	if err != nil || !hmac.Equal(want, req.KeyExchangeAuthenticationCode) {
		why := "wrong password"
		if ss.accountID == 0 {
			why = ss.deniedWhy
		}
		return fail(rmcpInvalidIntegrityCheck, why, true)
	}
	if ss.accountID == 0 { // cannot happen: a random key does not verify
		return fail(rmcpInvalidIntegrityCheck, ss.deniedWhy, false)
	}
	if ss.denied != 0 {
		return fail(ss.denied, ss.deniedWhy, false)
	}
	// Re-check the account: it may have changed since RAKP1.
	a, err := s.accounts.Get(ss.accountID)
	if err != nil || !a.Enabled || a.Locked || !a.HasType(account.TypeIPMI) || a.UserName != ss.userName {
		return fail(rmcpUnauthorizedName, "account changed during login", false)
	}
	if err := s.accounts.RecordLoginSuccess(a.ID); err != nil {
		s.log.Warn("record IPMI login success", "user", a.UserName, "err", err)
	}
	sik, k1, k2, err := ipmicrypto.DeriveSessionKeys(alg, ss.rc[:], ss.rm[:], ss.role, ss.userName, ss.kuid)
	if err != nil {
		return fail(rmcpNoResources, "key derivation: "+err.Error(), false)
	}
	guid := s.systemGUID()
	icv, err := ipmicrypto.RAKP4ICV(alg, ss.rc[:], ss.id, guid[:], sik)
	clear(sik)
	if err != nil {
		return fail(rmcpNoResources, "RAKP4: "+err.Error(), false)
	}
	now := s.clk.Now()
	ss.state, ss.lastActive = stateActive, now
	ss.keys = keys{suite: ss.suite, k1: k1, k2: k2}
	ss.priv = min(privUser, ss.maxPriv)
	s.log.Info("IPMI session opened", "session", ss.id, "user", ss.userName, "from", from,
		"privilege", ss.maxPriv, "cipher_suite", ss.suite)
	s.logEvent(event.Event{MessageID: event.LoginSucceeded, Args: []string{ss.userName, "IPMI"},
		OriginURI: sessionAuditURI, SEL: sessionAuditSEL(0x00, uint8(a.ID))})
	resp := rmcpplus.RAKPMessage4{MessageTag: tag, MgmtConsoleSessionID: ss.consoleID, IntegrityCheckValue: icv}
	return encodePlain(payloadRAKP4, 0, resp.Pack())
}

// auditFailure records a failed RAKP exchange: in the event log, and for a
// known account with a wrong key, toward its lockout.
func (s *Server) auditFailure(ss *session, from netip.AddrPort, why string, countFailure bool) {
	s.log.Warn("IPMI login failed", "user", ss.userName, "from", from, "session", ss.id, "reason", why)
	if countFailure && ss.accountID != 0 {
		if err := s.accounts.RecordLoginFailure(ss.accountID); err != nil {
			s.log.Warn("record IPMI login failure", "user", ss.userName, "err", err)
		}
		return // the account store logs LoginFailed
	}
	name := ss.userName
	if account.ValidateUserName(name) != nil {
		name = "(invalid user name)"
	}
	s.logEvent(event.Event{MessageID: event.LoginFailed, Args: []string{name, "IPMI"},
		OriginURI: sessionAuditURI, SEL: sessionAuditSEL(0x02, 0)})
}

// sessionAuditURI is the origin of session audit events.
const sessionAuditURI = "/redfish/v1/AccountService"

// sessionAuditSEL returns the SEL fields of a Session Audit event (sensor
// type 2Ah): offset 00h session activated, 01h deactivated, 02h invalid
// user name or password; event data 2 is the user ID, data 3 the channel.
func sessionAuditSEL(offset, userID uint8) *event.SEL {
	return &event.SEL{RecordType: event.SELSystemEvent, GeneratorID: event.SELGeneratorBMC, SensorType: 0x2A,
		SensorNumber: sessionAuditSensor, EventType: event.SELSensorSpecific,
		EventData: [3]byte{0xF0 | offset, userID & 0x3F, lanChannel}}
}

// logEvent appends e to the board's event log; a failure is only logged.
func (s *Server) logEvent(e event.Event) {
	if _, err := s.board.LogEvent(e); err != nil && !errors.Is(err, event.ErrClosed) {
		s.log.Error("log event", "message_id", e.MessageID, "err", err)
	}
}
