package redfish

import (
	"errors"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/redfish/base"
)

const (
	accountServiceURI = "/redfish/v1/AccountService"
	accountsURI       = "/redfish/v1/AccountService/Accounts"
	rolesURI          = "/redfish/v1/AccountService/Roles"
)

func (s *Service) registerAccountRoutes() {
	s.route("GET /redfish/v1/AccountService", privLogin, s.getAccountService)
	s.route("PATCH /redfish/v1/AccountService", privConfigureUsers, s.patchAccountService)
	s.route("GET /redfish/v1/AccountService/Accounts", privLogin, s.getAccounts)
	s.route("POST /redfish/v1/AccountService/Accounts", privConfigureUsers, s.createAccount)
	s.routeOwn("GET /redfish/v1/AccountService/Accounts/{id}", ownAccount, s.getAccount, privConfigureManager, privConfigureUsers)
	// Password has a property override: ConfigureSelf may PATCH its own (patchAccount checks).
	s.routeOwn("PATCH /redfish/v1/AccountService/Accounts/{id}", ownAccount, s.patchAccount, privConfigureUsers)
	s.route("DELETE /redfish/v1/AccountService/Accounts/{id}", privConfigureUsers, s.deleteAccount)
}

// accountURI is the URI of the ManagerAccount with numeric ID id.
func accountURI(id int) string { return accountsURI + "/" + strconv.Itoa(id) }

// ownAccount: the {id} of the request names the requester's own account.
func ownAccount(r *request) bool {
	return r.PathValue("id") == strconv.Itoa(r.Account.ID)
}

type accountServiceBody struct {
	ODataID                           string  `json:"@odata.id"`
	ODataType                         string  `json:"@odata.type"`
	ID                                string  `json:"Id"`
	Name                              string  `json:"Name"`
	Description                       string  `json:"Description"`
	ServiceEnabled                    bool    `json:"ServiceEnabled"`
	Status                            status  `json:"Status"`
	LocalAccountAuth                  string  `json:"LocalAccountAuth"`
	HTTPBasicAuth                     string  `json:"HTTPBasicAuth"`
	MinPasswordLength                 int     `json:"MinPasswordLength"`
	MaxPasswordLength                 int     `json:"MaxPasswordLength"`
	AccountLockoutThreshold           int     `json:"AccountLockoutThreshold"`
	AccountLockoutDuration            int     `json:"AccountLockoutDuration"`
	AccountLockoutCounterResetAfter   int     `json:"AccountLockoutCounterResetAfter"`
	AccountLockoutCounterResetEnabled bool    `json:"AccountLockoutCounterResetEnabled"`
	AuthFailureLoggingThreshold       int     `json:"AuthFailureLoggingThreshold"`
	Accounts                          odataID `json:"Accounts"`
	Roles                             odataID `json:"Roles"`
}

func enabledState(on bool) string {
	if on {
		return "Enabled"
	}
	return "Disabled"
}

func (s *Service) getAccountService(*request) (any, error) {
	p := s.cfg.Board.Accounts.Policy()
	return accountServiceBody{
		ODataID:                           accountServiceURI,
		ODataType:                         odataType("AccountService"),
		ID:                                "AccountService",
		Name:                              "Account Service",
		Description:                       "Local user accounts, shared by Redfish and IPMI",
		ServiceEnabled:                    true,
		Status:                            statusOK,
		LocalAccountAuth:                  "Enabled",
		HTTPBasicAuth:                     enabledState(s.currentSettings().HTTPBasicAuth),
		MinPasswordLength:                 p.MinPasswordLength,
		MaxPasswordLength:                 p.MaxPasswordLength,
		AccountLockoutThreshold:           p.LockoutThreshold,
		AccountLockoutDuration:            int(p.LockoutDuration / time.Second),
		AccountLockoutCounterResetAfter:   int(p.LockoutCounterResetAfter / time.Second),
		AccountLockoutCounterResetEnabled: true,
		AuthFailureLoggingThreshold:       p.AuthFailureLoggingThreshold,
		Accounts:                          odataID{accountsURI},
		Roles:                             odataID{rolesURI},
	}, nil
}

// nonNegative is a field check for counts and durations.
func nonNegative(prop string) func(int) *base.Message {
	return func(v int) *base.Message {
		if v < 0 {
			m := base.PropertyValueOutOfRange(strconv.Itoa(v), prop)
			return &m
		}
		return nil
	}
}

func (s *Service) patchAccountService(r *request) (any, error) {
	var minLen, maxLen, threshold, duration, resetAfter, logThreshold *int
	var basic *string
	bad, err := r.patch(map[string]patchField{
		"MinPasswordLength":               field("MinPasswordLength", &minLen, nonNegative("MinPasswordLength")),
		"MaxPasswordLength":               field("MaxPasswordLength", &maxLen, nonNegative("MaxPasswordLength")),
		"AccountLockoutThreshold":         field("AccountLockoutThreshold", &threshold, nonNegative("AccountLockoutThreshold")),
		"AccountLockoutDuration":          field("AccountLockoutDuration", &duration, nonNegative("AccountLockoutDuration")),
		"AccountLockoutCounterResetAfter": field("AccountLockoutCounterResetAfter", &resetAfter, nonNegative("AccountLockoutCounterResetAfter")),
		"AuthFailureLoggingThreshold":     field("AuthFailureLoggingThreshold", &logThreshold, nonNegative("AuthFailureLoggingThreshold")),
		"HTTPBasicAuth":                   field("HTTPBasicAuth", &basic, oneOf("HTTPBasicAuth", "Enabled", "Disabled")),
	}, "Id", "Name", "Description", "ServiceEnabled", "Status", "LocalAccountAuth", "Accounts", "Roles",
		"AccountLockoutCounterResetEnabled")
	if err != nil {
		return nil, err
	}
	p := s.cfg.Board.Accounts.Policy()
	values := map[string]string{}
	set := func(dst *int, v *int, prop string) {
		if v != nil {
			*dst = *v
			values[prop] = strconv.Itoa(*v)
		}
	}
	setDuration := func(dst *time.Duration, v *int, prop string) {
		if v != nil {
			*dst = secondsDuration(*v)
			values[prop] = strconv.Itoa(*v)
		}
	}
	set(&p.MinPasswordLength, minLen, "MinPasswordLength")
	set(&p.MaxPasswordLength, maxLen, "MaxPasswordLength")
	set(&p.LockoutThreshold, threshold, "AccountLockoutThreshold")
	setDuration(&p.LockoutDuration, duration, "AccountLockoutDuration")
	setDuration(&p.LockoutCounterResetAfter, resetAfter, "AccountLockoutCounterResetAfter")
	set(&p.AuthFailureLoggingThreshold, logThreshold, "AuthFailureLoggingThreshold")
	if len(values) > 0 {
		if err := s.cfg.Board.Accounts.SetPolicy(p); err != nil {
			return nil, policyError(err, values)
		}
	}
	if basic != nil {
		if err := s.updateSettings(func(st *settings) { st.HTTPBasicAuth = *basic == "Enabled" }); err != nil {
			return nil, err
		}
	}
	body, _ := s.getAccountService(r)
	return extended{Body: body, Messages: bad}, nil
}

// policyError maps an account store error to a 4xx *Error. values holds the submitted
// value of each property (never a password).
func policyError(err error, values map[string]string) error {
	var pe *account.PolicyError
	switch {
	case errors.As(err, &pe):
		prop := pe.Field
		if prop == "Role" {
			prop = "RoleId"
		}
		if prop == "Password" {
			return errorf(http.StatusBadRequest, base.PasswordComplexityNotMet())
		}
		if v, ok := values[prop]; ok {
			return errorf(http.StatusBadRequest, base.PropertyValueIncorrect(prop, v))
		}
		return errorf(http.StatusBadRequest, base.PropertyValueError(prop))
	case errors.Is(err, account.ErrExists):
		return errorf(http.StatusConflict, base.ResourceAlreadyExists("ManagerAccount", "UserName", values["UserName"]))
	case errors.Is(err, account.ErrNoFreeID):
		return errorf(http.StatusConflict, base.CreateLimitReachedForResource())
	case errors.Is(err, account.ErrLastAdministrator):
		return errorf(http.StatusConflict, base.ResourceInUse())
	case errors.Is(err, account.ErrNotFound):
		return errorf(http.StatusNotFound, base.ResourceNotFound("ManagerAccount", values["Id"]))
	case errors.Is(err, account.ErrInvalid):
		return errorf(http.StatusBadRequest, base.GeneralError())
	case errors.Is(err, account.ErrNoSealingKey):
		// The moment between the gate opening and bmcd taking the RoT's sealing key.
		return serviceUnavailable()
	}
	return err
}

// getAccounts lists the accounts the requester may read: all with ConfigureUsers or
// ConfigureManager, otherwise only its own.
func (s *Service) getAccounts(r *request) (any, error) {
	all := r.has(privConfigureUsers) || r.has(privConfigureManager)
	var uris []string
	for _, a := range s.cfg.Board.Accounts.List() {
		if all || a.ID == r.Account.ID {
			uris = append(uris, accountURI(a.ID))
		}
	}
	return newCollection(accountsURI, "ManagerAccountCollection", "Accounts Collection", uris), nil
}

type accountBody struct {
	ODataID                string       `json:"@odata.id"`
	ODataType              string       `json:"@odata.type"`
	ID                     string       `json:"Id"`
	Name                   string       `json:"Name"`
	Description            string       `json:"Description"`
	UserName               string       `json:"UserName"`
	Password               *string      `json:"Password"` // write-only: always null
	RoleID                 string       `json:"RoleId"`
	Enabled                bool         `json:"Enabled"`
	Locked                 bool         `json:"Locked"`
	PasswordChangeRequired bool         `json:"PasswordChangeRequired"`
	PasswordExpiration     *string      `json:"PasswordExpiration"`
	AccountTypes           []string     `json:"AccountTypes"`
	Links                  accountLinks `json:"Links"`
}

type accountLinks struct {
	Role odataID `json:"Role"`
}

func accountRepresentation(a account.Account) accountBody {
	types := make([]string, 0, len(a.AccountTypes))
	for _, t := range a.AccountTypes {
		types = append(types, string(t))
	}
	var expiry *string
	if a.PasswordExpiration != nil {
		e := a.PasswordExpiration.UTC().Format(time.RFC3339)
		expiry = &e
	}
	return accountBody{
		ODataID:                accountURI(a.ID),
		ODataType:              odataType("ManagerAccount"),
		ID:                     strconv.Itoa(a.ID),
		Name:                   "User Account",
		Description:            "User account " + a.UserName,
		UserName:               a.UserName,
		RoleID:                 string(a.Role),
		Enabled:                a.Enabled,
		Locked:                 a.Locked,
		PasswordChangeRequired: a.PasswordChangeRequired,
		PasswordExpiration:     expiry,
		AccountTypes:           types,
		Links:                  accountLinks{Role: odataID{rolesURI + "/" + string(a.Role)}},
	}
}

// lookupAccount returns the account named by the {id} path value, or 404.
func (s *Service) lookupAccount(r *request) (account.Account, error) {
	idText := r.PathValue("id")
	id, err := strconv.Atoi(idText)
	if err != nil || strconv.Itoa(id) != idText {
		return account.Account{}, errorf(http.StatusNotFound, base.ResourceNotFound("ManagerAccount", idText))
	}
	a, err := s.cfg.Board.Accounts.Get(id)
	if err != nil {
		return account.Account{}, errorf(http.StatusNotFound, base.ResourceNotFound("ManagerAccount", idText))
	}
	return a, nil
}

func (s *Service) getAccount(r *request) (any, error) {
	a, err := s.lookupAccount(r)
	if err != nil {
		return nil, err
	}
	return accountRepresentation(a), nil
}

// validRole checks a RoleId.
func validRole(v string) *base.Message {
	if account.Role(v).Valid() {
		return nil
	}
	m := base.PropertyValueNotInList(v, "RoleId")
	return &m
}

// validAccountTypes checks AccountTypes against the supported types.
func validAccountTypes(v []string) *base.Message {
	for _, t := range v {
		if !slices.Contains(account.AccountTypes(), account.AccountType(t)) {
			m := base.PropertyValueNotInList(t, "AccountTypes")
			return &m
		}
	}
	return nil
}

func accountTypes(v []string) []account.AccountType {
	out := make([]account.AccountType, 0, len(v))
	for _, t := range v {
		out = append(out, account.AccountType(t))
	}
	return out
}

// createAccount is POST Accounts: UserName, Password and RoleId are required.
func (s *Service) createAccount(r *request) (any, error) {
	var req struct {
		UserName               *string
		Password               *string
		RoleID                 *string `json:"RoleId"`
		Enabled                *bool
		AccountTypes           *[]string
		PasswordChangeRequired *bool
	}
	if err := r.decode(&req); err != nil {
		return nil, err
	}
	var msgs []base.Message
	for prop, missing := range map[string]bool{"UserName": req.UserName == nil, "Password": req.Password == nil, "RoleId": req.RoleID == nil} {
		if missing {
			msgs = append(msgs, base.PropertyMissing(prop))
		}
	}
	if req.RoleID != nil {
		if m := validRole(*req.RoleID); m != nil {
			msgs = append(msgs, *m)
		}
	}
	types := []account.AccountType{account.TypeRedfish}
	if req.AccountTypes != nil {
		if m := validAccountTypes(*req.AccountTypes); m != nil {
			msgs = append(msgs, *m)
		}
		types = accountTypes(*req.AccountTypes)
	}
	if req.Password != nil {
		if m := s.passwordLength(*req.Password); m != nil {
			msgs = append(msgs, *m)
		}
	}
	if len(msgs) > 0 {
		// sort.Slice, not slices.SortFunc: no generic sort copy per element type in bmcd.
		sort.Slice(msgs, func(i, j int) bool { return msgs[i].Message < msgs[j].Message })
		return nil, errorf(http.StatusBadRequest, msgs...)
	}
	pcr := req.PasswordChangeRequired != nil && *req.PasswordChangeRequired
	a, err := s.cfg.Board.Accounts.Create(*req.UserName, *req.Password, account.Role(*req.RoleID), types, pcr)
	if err != nil {
		return nil, policyError(err, map[string]string{"UserName": *req.UserName, "RoleId": *req.RoleID})
	}
	if req.Enabled != nil && !*req.Enabled {
		if a, err = s.cfg.Board.Accounts.Update(a.ID, account.Patch{Enabled: req.Enabled}); err != nil {
			return nil, err
		}
	}
	s.log.Info("redfish account created", "id", a.ID, "user", a.UserName, "by", r.Account.UserName)
	return created{Location: accountURI(a.ID), Body: accountRepresentation(a)}, nil
}

// passwordLength checks a password against the policy's length bounds without ever
// echoing it.
func (s *Service) passwordLength(pw string) *base.Message {
	p := s.cfg.Board.Accounts.Policy()
	if len(pw) < p.MinPasswordLength || (p.MaxPasswordLength > 0 && len(pw) > p.MaxPasswordLength) {
		m := base.PasswordIncorrectLength()
		return &m
	}
	return nil
}

// patchAccount is PATCH Accounts/{id}. With ConfigureUsers any writable property; with
// only ConfigureSelf (own account) only Password, per the privilege registry's property
// override on ManagerAccount.
func (s *Service) patchAccount(r *request) (any, error) {
	a, err := s.lookupAccount(r)
	if err != nil {
		return nil, err
	}
	if !r.has(privConfigureUsers) {
		obj, err := parseObject(r.body)
		if err != nil {
			return nil, err
		}
		for k := range obj {
			if k != "Password" && (len(k) == 0 || k[0] != '@') {
				return nil, errorf(http.StatusForbidden, base.InsufficientPrivilege())
			}
		}
	}
	var (
		userName, password, role *string
		enabled, locked, pcr     *bool
		types                    *[]string
	)
	bad, err := r.patch(map[string]patchField{
		"UserName": field("UserName", &userName, nil),
		"Password": field("Password", &password, s.passwordLength),
		"RoleId":   field("RoleId", &role, validRole),
		"Enabled":  field("Enabled", &enabled, nil),
		"Locked": field("Locked", &locked, func(v bool) *base.Message {
			if v {
				m := base.PropertyValueIncorrect("Locked", "true")
				return &m
			}
			return nil
		}),
		"AccountTypes":           field("AccountTypes", &types, validAccountTypes),
		"PasswordChangeRequired": field("PasswordChangeRequired", &pcr, nil),
	}, "Id", "Name", "Description", "Links", "PasswordExpiration", "Certificates", "Keys", "HostBootstrapAccount", "SecretKeySet")
	if err != nil {
		return nil, err
	}
	p := account.Patch{UserName: userName, Password: password, Enabled: enabled, Locked: locked, PasswordChangeRequired: pcr}
	values := map[string]string{"Id": strconv.Itoa(a.ID)}
	if userName != nil {
		values["UserName"] = *userName
	}
	if role != nil {
		rl := account.Role(*role)
		p.Role = &rl
		values["RoleId"] = *role
	}
	if types != nil {
		t := accountTypes(*types)
		p.AccountTypes = &t
	}
	updated, err := s.cfg.Board.Accounts.Update(a.ID, p)
	if err != nil {
		return nil, policyError(err, values)
	}
	if !updated.Enabled || !updated.HasType(account.TypeRedfish) {
		s.sessions.DeleteAccount(updated.ID, "account disabled")
	}
	s.log.Info("redfish account modified", "id", a.ID, "user", updated.UserName, "by", r.Account.UserName)
	return extended{Body: accountRepresentation(updated), Messages: bad}, nil
}

func (s *Service) deleteAccount(r *request) (any, error) {
	a, err := s.lookupAccount(r)
	if err != nil {
		return nil, err
	}
	if err := s.cfg.Board.Accounts.Delete(a.ID); err != nil {
		if errors.Is(err, account.ErrLastAdministrator) {
			return nil, errorf(http.StatusConflict, base.ResourceCannotBeDeleted())
		}
		return nil, policyError(err, map[string]string{"Id": strconv.Itoa(a.ID)})
	}
	s.sessions.DeleteAccount(a.ID, "account removed")
	s.log.Info("redfish account removed", "id", a.ID, "user", a.UserName, "by", r.Account.UserName)
	return nil, nil
}
