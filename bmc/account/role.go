package account

import "slices"

// Role is a Redfish RoleId. Every account has exactly one.
type Role string

// The standard Redfish roles.
const (
	Administrator Role = "Administrator"
	Operator      Role = "Operator"
	ReadOnly      Role = "ReadOnly"
)

// Privilege is a privilege of the DMTF Redfish privilege registry.
type Privilege string

// The standard Redfish privileges.
const (
	PrivLogin               Privilege = "Login"
	PrivConfigureManager    Privilege = "ConfigureManager"
	PrivConfigureUsers      Privilege = "ConfigureUsers"
	PrivConfigureSelf       Privilege = "ConfigureSelf"
	PrivConfigureComponents Privilege = "ConfigureComponents"
)

// IPMI channel privilege levels (IPMI 2.0 table 6-1).
const (
	ipmiPrivUser     uint8 = 0x02
	ipmiPrivOperator uint8 = 0x03
	ipmiPrivAdmin    uint8 = 0x04
	ipmiPrivNoAccess uint8 = 0x0F
)

// Roles returns the roles an account can have, most privileged first.
func Roles() []Role { return []Role{Administrator, Operator, ReadOnly} }

// Valid reports whether r is one of Roles.
func (r Role) Valid() bool { return r == Administrator || r == Operator || r == ReadOnly }

// Privileges returns the role's AssignedPrivileges as defined by DMTF
// (DSP0266, the standard roles); nil for an unknown role. The result is
// a fresh slice the caller may keep.
func (r Role) Privileges() []Privilege {
	switch r {
	case Administrator:
		return []Privilege{PrivLogin, PrivConfigureManager, PrivConfigureUsers, PrivConfigureSelf, PrivConfigureComponents}
	case Operator:
		return []Privilege{PrivLogin, PrivConfigureSelf, PrivConfigureComponents}
	case ReadOnly:
		return []Privilege{PrivLogin, PrivConfigureSelf}
	}
	return nil
}

// Has reports whether the role carries privilege p.
func (r Role) Has(p Privilege) bool { return slices.Contains(r.Privileges(), p) }

// IPMIPrivilege returns the IPMI privilege level of the role:
// Administrator → ADMIN (4), Operator → OPERATOR (3), ReadOnly → USER (2),
// and NO ACCESS (0x0F) for an unknown role.
func (r Role) IPMIPrivilege() uint8 {
	switch r {
	case Administrator:
		return ipmiPrivAdmin
	case Operator:
		return ipmiPrivOperator
	case ReadOnly:
		return ipmiPrivUser
	}
	return ipmiPrivNoAccess
}

// AccountType is a Redfish ManagerAccount AccountTypes value: the interface
// an account may be used on.
type AccountType string

// The account types this BMC supports.
const (
	TypeRedfish AccountType = "Redfish"
	TypeIPMI    AccountType = "IPMI"
)

// AccountTypes returns the supported account types.
func AccountTypes() []AccountType { return []AccountType{TypeRedfish, TypeIPMI} }

// HasType reports whether the account may be used on interface t.
func (a Account) HasType(t AccountType) bool { return slices.Contains(a.AccountTypes, t) }

// Has reports whether the account's role carries privilege p.
func (a Account) Has(p Privilege) bool { return a.Role.Has(p) }
