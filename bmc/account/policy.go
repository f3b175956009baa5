package account

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"
)

// Errors returned by the store, wrapped with context; test with errors.Is.
var (
	ErrNotFound          = errors.New("account not found")
	ErrExists            = errors.New("account user name already exists")
	ErrNoFreeID          = errors.New("no free account ID (at most 14 accounts)")
	ErrBadCredentials    = errors.New("bad credentials")
	ErrLockedOut         = errors.New("account locked out")
	ErrDisabled          = errors.New("account disabled")
	ErrLastAdministrator = errors.New("last enabled Administrator")
	ErrInvalid           = errors.New("invalid account data")
	ErrNoIPMIKey         = errors.New("account has no IPMI key")
	ErrNoSealingKey      = errors.New("no sealing key yet (it comes from the root of trust once the gate is open)")
)

// Limits of the account model.
const (
	// MinID and MaxID bound account IDs; they are also IPMI user IDs.
	// ID 1 is IPMI's reserved (anonymous) user and never used.
	MinID = 2
	MaxID = 15
	// MaxAccounts is how many accounts can exist.
	MaxAccounts = MaxID - MinID + 1
	// MaxUserNameLength is the IPMI user name limit, in bytes.
	MaxUserNameLength = 16
	// MaxIPMIKeyLength is the IPMI 2.0 password (key) limit, in bytes.
	MaxIPMIKeyLength = 20
	// maxPasswordLengthLimit bounds Policy.MaxPasswordLength.
	maxPasswordLengthLimit = 128
)

// PolicyError says which property of a request broke which rule. It
// matches ErrInvalid with errors.Is. Field is the Redfish property name
// ("UserName", "Password", "RoleId", "AccountTypes", "Locked", or an
// AccountService policy property such as "MinPasswordLength").
type PolicyError struct {
	Field  string
	Reason string
}

func (e *PolicyError) Error() string { return fmt.Sprintf("invalid %s: %s", e.Field, e.Reason) }

// Is makes errors.Is(err, ErrInvalid) true for a *PolicyError.
func (e *PolicyError) Is(target error) bool { return target == ErrInvalid }

// Policy is the AccountService policy: password rules and lockout.
type Policy struct {
	// MinPasswordLength and MaxPasswordLength bound a password, in bytes.
	// The default maximum, 20, is the IPMI key limit; above it a password
	// cannot serve as IPMI key.
	MinPasswordLength int
	MaxPasswordLength int
	// LockoutThreshold failed logins lock the account; 0 disables lockout.
	LockoutThreshold int
	// LockoutDuration is how long a lock lasts; 0 = until unlocked by an
	// administrator.
	LockoutDuration time.Duration
	// LockoutCounterResetAfter: a failure more than this after the previous
	// one starts counting from 1 again.
	LockoutCounterResetAfter time.Duration
	// AuthFailureLoggingThreshold: LoginFailed is logged when an account's
	// consecutive failure count is a multiple of it (every failure if ≤ 1).
	AuthFailureLoggingThreshold int
}

// DefaultPolicy returns the policy of a new store.
func DefaultPolicy() Policy {
	return Policy{
		MinPasswordLength:           8,
		MaxPasswordLength:           MaxIPMIKeyLength,
		LockoutThreshold:            5,
		LockoutDuration:             5 * time.Minute,
		LockoutCounterResetAfter:    5 * time.Minute,
		AuthFailureLoggingThreshold: 3,
	}
}

// validate checks the policy's own consistency.
func (p Policy) validate() error {
	switch {
	case p.MinPasswordLength < 1:
		return &PolicyError{"MinPasswordLength", "must be at least 1"}
	case p.MaxPasswordLength < p.MinPasswordLength:
		return &PolicyError{"MaxPasswordLength", "must not be less than MinPasswordLength"}
	case p.MaxPasswordLength > maxPasswordLengthLimit:
		return &PolicyError{"MaxPasswordLength", fmt.Sprintf("must be at most %d", maxPasswordLengthLimit)}
	case p.LockoutThreshold < 0:
		return &PolicyError{"AccountLockoutThreshold", "must not be negative"}
	case p.LockoutDuration < 0:
		return &PolicyError{"AccountLockoutDuration", "must not be negative"}
	case p.LockoutCounterResetAfter < 0:
		return &PolicyError{"AccountLockoutCounterResetAfter", "must not be negative"}
	case p.AuthFailureLoggingThreshold < 0:
		return &PolicyError{"AuthFailureLoggingThreshold", "must not be negative"}
	}
	return nil
}

// ValidateUserName checks a user name: 1..16 bytes of [A-Za-z0-9._-],
// starting with a letter.
func ValidateUserName(name string) error {
	if name == "" {
		return &PolicyError{"UserName", "must not be empty"}
	}
	if len(name) > MaxUserNameLength {
		return &PolicyError{"UserName", fmt.Sprintf("must be at most %d bytes", MaxUserNameLength)}
	}
	if !isLetter(name[0]) {
		return &PolicyError{"UserName", "must start with a letter"}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !isLetter(c) && !(c >= '0' && c <= '9') && c != '.' && c != '_' && c != '-' {
			return &PolicyError{"UserName", "may contain only letters, digits, '.', '_' and '-'"}
		}
	}
	return nil
}

func isLetter(c byte) bool { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }

// ValidatePassword checks a password for user name against the policy:
// not empty, MinPasswordLength..MaxPasswordLength bytes, valid UTF-8
// without NUL (IPMI pads keys with NUL), not equal to the user name (case
// ignored).
func (p Policy) ValidatePassword(userName, password string) error {
	switch {
	case password == "":
		return &PolicyError{"Password", "must not be empty"}
	case len(password) < p.MinPasswordLength:
		return &PolicyError{"Password", fmt.Sprintf("must be at least %d bytes", p.MinPasswordLength)}
	case len(password) > p.MaxPasswordLength:
		return &PolicyError{"Password", fmt.Sprintf("must be at most %d bytes", p.MaxPasswordLength)}
	case !utf8.ValidString(password):
		return &PolicyError{"Password", "must be valid UTF-8"}
	case strings.IndexByte(password, 0) >= 0:
		return &PolicyError{"Password", "must not contain NUL"}
	case strings.EqualFold(password, userName):
		return &PolicyError{"Password", "must not equal the user name"}
	}
	return nil
}

// normalizeTypes validates account types and returns them deduplicated in
// canonical order (Redfish, IPMI). nil means the default, Redfish only.
func normalizeTypes(types []AccountType) ([]AccountType, error) {
	if types == nil {
		return []AccountType{TypeRedfish}, nil
	}
	var redfish, ipmi bool
	for _, t := range types {
		switch t {
		case TypeRedfish:
			redfish = true
		case TypeIPMI:
			ipmi = true
		default:
			return nil, &PolicyError{"AccountTypes", fmt.Sprintf("unsupported account type %q", t)}
		}
	}
	out := make([]AccountType, 0, 2)
	if redfish {
		out = append(out, TypeRedfish)
	}
	if ipmi {
		out = append(out, TypeIPMI)
	}
	if len(out) == 0 {
		return nil, &PolicyError{"AccountTypes", "must not be empty"}
	}
	return out, nil
}
