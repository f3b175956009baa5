package redfish

import (
	"net/http"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

// authRealm is the HTTP Basic realm announced in WWW-Authenticate.
const authRealm = `Basic realm="ironroot"`

// unauthorized is the 401 answer to a request without valid credentials.
func unauthorized() *Error {
	return errorf(http.StatusUnauthorized, base.NoValidSession()).withHeader("WWW-Authenticate", authRealm)
}

// authenticate identifies the account behind a request: an X-Auth-Token session, or
// HTTP Basic credentials while AccountService.HTTPBasicAuth is Enabled. Cookies are never
// looked at. The account is re-read on every request so a role change, disabling or
// deletion takes effect at once. Only accounts with the Redfish account type may use
// Redfish.
func (s *Service) authenticate(r *request) error {
	if token := r.Header.Get("X-Auth-Token"); token != "" {
		sess, ok := s.sessions.Validate(token)
		if !ok {
			return unauthorized()
		}
		acct, err := s.cfg.Board.Accounts.Get(sess.AccountID)
		if err != nil || !acct.Enabled || !acct.HasType(account.TypeRedfish) {
			s.sessions.Delete(sess.ID)
			return unauthorized()
		}
		r.Account, r.SessionID = acct, sess.ID
		return nil
	}
	user, password, ok := r.BasicAuth()
	if !ok || !s.currentSettings().HTTPBasicAuth {
		return unauthorized()
	}
	acct, err := s.cfg.Board.Accounts.Authenticate(user, password)
	if err != nil || !acct.HasType(account.TypeRedfish) {
		return unauthorized()
	}
	r.Account = acct
	return nil
}
