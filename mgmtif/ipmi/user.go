package ipmi

import (
	"bytes"
	"crypto/subtle"
	"errors"
	"slices"

	"github.com/ironroot-bmc/ironroot/bmc/account"
)

const userNameLen = 16

// userAccessByte is the channel access byte of Get User Access: IPMI
// messaging and the privilege limit, or NO ACCESS.
func userAccessByte(a account.Account) uint8 {
	if !a.HasType(account.TypeIPMI) {
		return 0x0F
	}
	return 0x10 | a.Role.IPMIPrivilege()
}

// getUserAccess answers Get User Access (§22.27). User 1 (anonymous) is
// reserved and always disabled with no access.
func (s *Server) getUserAccess(r *request) reply {
	if !channelOK(r.data[0]) {
		return fail(ccInvalidData)
	}
	id := int(r.data[1] & 0x3F)
	if id == 0 || id > account.MaxID {
		return fail(ccInvalidData)
	}
	accts := s.accounts.List()
	enabled := 0
	for _, a := range accts {
		if a.Enabled {
			enabled++
		}
	}
	out := []byte{account.MaxID, byte(enabled), 0x01 /* user 1 has a fixed (null) name */, 0x0F}
	for _, a := range accts {
		if a.ID == id {
			if a.Enabled {
				out[1] |= 0x40
			} else {
				out[1] |= 0x80
			}
			out[3] = userAccessByte(a)
		}
	}
	if id == 1 {
		out[1] |= 0x80
	}
	return okData(out)
}

func (s *Server) getUserName(r *request) reply {
	id := int(r.data[0] & 0x3F)
	if id == 0 || id > account.MaxID {
		return fail(ccInvalidData)
	}
	name := make([]byte, userNameLen)
	if a, err := s.accounts.Get(id); err == nil {
		copy(name, a.UserName)
	}
	return okData(name)
}

// accountError maps an account store error to a completion code.
func accountError(err error) uint8 {
	switch {
	case errors.Is(err, account.ErrNotFound):
		return ccNotPresent
	case errors.Is(err, account.ErrLastAdministrator):
		return ccNotInThisState
	case errors.Is(err, account.ErrInvalid), errors.Is(err, account.ErrExists):
		return ccInvalidData
	}
	return ccUnspecified
}

func (s *Server) update(r *request, id int, p account.Patch, what string) reply {
	if _, err := s.accounts.Update(id, p); err != nil {
		s.log.Info("IPMI account change refused", "by", r.ss.userName, "account", id, "change", what, "err", err)
		return fail(accountError(err))
	}
	s.log.Info("IPMI account changed", "by", r.ss.userName, "account", id, "change", what)
	return ok()
}

// setUserName renames an existing account (§22.28); IPMI cannot create
// accounts here (use Redfish).
func (s *Server) setUserName(r *request) reply {
	id := int(r.data[0] & 0x3F)
	name := string(bytes.TrimRight(r.data[1:17], "\x00"))
	if _, err := s.accounts.Get(id); err != nil {
		return fail(ccInvalidData)
	}
	return s.update(r, id, account.Patch{UserName: &name}, "user name")
}

// setUserPassword answers Set User Password (§22.30): disable, enable, set
// or test, with 16- or 20-byte passwords.
func (s *Server) setUserPassword(r *request) reply {
	id := int(r.data[0] & 0x3F)
	size := 16
	if r.data[0]&0x80 != 0 {
		size = 20
	}
	if _, err := s.accounts.Get(id); err != nil {
		return fail(ccInvalidData)
	}
	op := r.data[1] & 0x03
	var pw []byte
	if op == 0x02 || op == 0x03 {
		if len(r.data) < 2+size {
			return fail(ccRequestDataLength)
		}
		pw = r.data[2 : 2+size]
	}
	switch op {
	case 0x00:
		f := false
		return s.update(r, id, account.Patch{Enabled: &f}, "disable")
	case 0x01:
		t := true
		return s.update(r, id, account.Patch{Enabled: &t}, "enable")
	case 0x02:
		p := string(bytes.TrimRight(pw, "\x00"))
		return s.update(r, id, account.Patch{Password: &p}, "password")
	}
	key, err := s.accounts.IPMIKey(id)
	if err != nil {
		return fail(0x80)
	}
	defer clear(key)
	want := make([]byte, size)
	copy(want, key)
	if len(key) > size {
		return fail(0x81) // wrong password size
	}
	if subtle.ConstantTimeCompare(want, pw) != 1 {
		return fail(0x80) // password test failed
	}
	return ok()
}

// setUserAccess answers Set User Access (§22.26): the privilege limit maps
// to the account's role (ADMIN↔Administrator, OPERATOR↔Operator,
// USER↔ReadOnly); NO ACCESS, or IPMI messaging off, removes IPMI from the
// account's AccountTypes.
func (s *Server) setUserAccess(r *request) reply {
	if !channelOK(r.data[0]) {
		return fail(ccInvalidData)
	}
	id := int(r.data[1] & 0x3F)
	a, err := s.accounts.Get(id)
	if err != nil {
		return fail(ccInvalidData)
	}
	var p account.Patch
	ipmi := a.HasType(account.TypeIPMI)
	if r.data[0]&0x80 != 0 {
		ipmi = r.data[0]&0x10 != 0
	}
	switch r.data[2] & 0x0F {
	case privUser:
		role := account.ReadOnly
		p.Role = &role
	case privOperator:
		role := account.Operator
		p.Role = &role
	case privAdmin:
		role := account.Administrator
		p.Role = &role
	case 0x0F:
		ipmi = false
	default:
		return fail(ccInvalidData)
	}
	if ipmi != a.HasType(account.TypeIPMI) {
		types := slices.DeleteFunc(slices.Clone(a.AccountTypes), func(t account.AccountType) bool { return t == account.TypeIPMI })
		if ipmi {
			types = append(types, account.TypeIPMI)
		}
		p.AccountTypes = &types
	}
	return s.update(r, id, p, "access")
}
