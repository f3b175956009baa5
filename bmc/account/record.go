package account

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"
)

// recordVersion is the schema version this code writes. Readers accept any
// version: changes are additive (see the package comment).
const recordVersion = 1

// recordFile is the name of the accounts record in Config.Dir.
const recordFile = "accounts.json"

// storeRecord is the on-disk form of the whole store.
type storeRecord struct {
	Policy   *policyRecord   `json:"policy,omitempty"`
	Accounts []accountRecord `json:"accounts"`
}

// policyRecord is Policy on disk (durations in nanoseconds).
type policyRecord struct {
	MinPasswordLength           int   `json:"min_password_length"`
	MaxPasswordLength           int   `json:"max_password_length"`
	LockoutThreshold            int   `json:"lockout_threshold"`
	LockoutDurationNS           int64 `json:"lockout_duration_ns"`
	LockoutCounterResetAfterNS  int64 `json:"lockout_counter_reset_after_ns"`
	AuthFailureLoggingThreshold int   `json:"auth_failure_logging_threshold"`
}

func policyToRecord(p Policy) *policyRecord {
	return &policyRecord{
		MinPasswordLength:           p.MinPasswordLength,
		MaxPasswordLength:           p.MaxPasswordLength,
		LockoutThreshold:            p.LockoutThreshold,
		LockoutDurationNS:           int64(p.LockoutDuration),
		LockoutCounterResetAfterNS:  int64(p.LockoutCounterResetAfter),
		AuthFailureLoggingThreshold: p.AuthFailureLoggingThreshold,
	}
}

func (r policyRecord) policy() Policy {
	return Policy{
		MinPasswordLength:           r.MinPasswordLength,
		MaxPasswordLength:           r.MaxPasswordLength,
		LockoutThreshold:            r.LockoutThreshold,
		LockoutDuration:             time.Duration(r.LockoutDurationNS),
		LockoutCounterResetAfter:    time.Duration(r.LockoutCounterResetAfterNS),
		AuthFailureLoggingThreshold: r.AuthFailureLoggingThreshold,
	}
}

// accountRecord is one account on disk. Field meanings never change; new
// fields are added with safe zero values.
type accountRecord struct {
	ID                     int           `json:"id"`
	UserName               string        `json:"user_name"`
	Role                   Role          `json:"role"`
	Enabled                bool          `json:"enabled"`
	PasswordChangeRequired bool          `json:"password_change_required"`
	AccountTypes           []AccountType `json:"account_types"`
	Password               passwordHash  `json:"password"`
	IPMIKey                *sealedKey    `json:"ipmi_key,omitempty"`
	FailedLogins           int           `json:"failed_logins,omitempty"`
	LastFailure            *time.Time    `json:"last_failure,omitempty"`
	LockedAt               *time.Time    `json:"locked_at,omitempty"`
	PasswordExpiration     *time.Time    `json:"password_expiration,omitempty"`
}

// clone returns a deep copy (slices and pointers not shared).
func (a accountRecord) clone() accountRecord {
	c := a
	c.AccountTypes = append([]AccountType(nil), a.AccountTypes...)
	c.Password.Salt = append([]byte(nil), a.Password.Salt...)
	c.Password.Hash = append([]byte(nil), a.Password.Hash...)
	if a.IPMIKey != nil {
		k := *a.IPMIKey
		k.KeyID = append([]byte(nil), k.KeyID...)
		k.Nonce = append([]byte(nil), k.Nonce...)
		k.Sealed = append([]byte(nil), k.Sealed...)
		c.IPMIKey = &k
	}
	c.LastFailure = cloneTime(a.LastFailure)
	c.LockedAt = cloneTime(a.LockedAt)
	c.PasswordExpiration = cloneTime(a.PasswordExpiration)
	return c
}

func cloneTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// decodeRecord parses and validates the data part of an accounts record of
// any version. It is what Open trusts, so it rejects anything the store
// could not work with (IDs out of range or repeated, names invalid or
// repeated, unknown roles, unusable password hashes).
func decodeRecord(data []byte) (storeRecord, error) {
	var r storeRecord
	if err := json.Unmarshal(data, &r); err != nil {
		return storeRecord{}, fmt.Errorf("decode accounts: %w", err)
	}
	if err := r.validate(); err != nil {
		return storeRecord{}, fmt.Errorf("decode accounts: %w", err)
	}
	return r, nil
}

func (r *storeRecord) validate() error {
	if r.Policy != nil {
		if err := r.Policy.policy().validate(); err != nil {
			return fmt.Errorf("policy: %w", err)
		}
	}
	if len(r.Accounts) > MaxAccounts {
		return fmt.Errorf("%d accounts, at most %d", len(r.Accounts), MaxAccounts)
	}
	ids := make(map[int]bool)
	names := make(map[string]bool)
	for i := range r.Accounts {
		a := &r.Accounts[i]
		if a.ID < MinID || a.ID > MaxID {
			return fmt.Errorf("account ID %d out of range %d..%d", a.ID, MinID, MaxID)
		}
		if ids[a.ID] {
			return fmt.Errorf("account ID %d repeated", a.ID)
		}
		ids[a.ID] = true
		if err := ValidateUserName(a.UserName); err != nil {
			return fmt.Errorf("account %d: %w", a.ID, err)
		}
		folded := strings.ToLower(a.UserName)
		if names[folded] {
			return fmt.Errorf("account %d: user name %q repeated", a.ID, a.UserName)
		}
		names[folded] = true
		// Role, account types and password parameters a newer bmcd may
		// extend: an unknown role keeps no privileges and cannot log in, an
		// unknown account type is kept but unused, an unknown hash never
		// verifies. The account survives a rewrite either way.
		a.AccountTypes = knownTypes(a.AccountTypes)
		if a.FailedLogins < 0 {
			a.FailedLogins = 0
		}
	}
	return nil
}

// knownTypes returns the supported types among types, in canonical order,
// and keeps nil as nil (an N-1 record may lack the field: Redfish only).
func knownTypes(types []AccountType) []AccountType {
	if types == nil {
		return []AccountType{TypeRedfish}
	}
	out := make([]AccountType, 0, 2)
	for _, t := range AccountTypes() {
		if slices.Contains(types, t) {
			out = append(out, t)
		}
	}
	return out
}
