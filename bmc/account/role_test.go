package account

import (
	"slices"
	"testing"
)

func TestRolePrivileges(t *testing.T) {
	all := []Privilege{PrivLogin, PrivConfigureManager, PrivConfigureUsers, PrivConfigureSelf, PrivConfigureComponents}
	tests := []struct {
		role Role
		want []Privilege
		ipmi uint8
	}{
		{Administrator, all, 4},
		{Operator, []Privilege{PrivLogin, PrivConfigureSelf, PrivConfigureComponents}, 3},
		{ReadOnly, []Privilege{PrivLogin, PrivConfigureSelf}, 2},
		{Role("Guest"), nil, 0x0F},
	}
	for _, tc := range tests {
		t.Run(string(tc.role), func(t *testing.T) {
			if got := tc.role.Privileges(); !slices.Equal(got, tc.want) {
				t.Errorf("Privileges() = %v, want %v", got, tc.want)
			}
			for _, p := range all {
				if got, want := tc.role.Has(p), slices.Contains(tc.want, p); got != want {
					t.Errorf("Has(%s) = %v, want %v", p, got, want)
				}
			}
			if got := tc.role.IPMIPrivilege(); got != tc.ipmi {
				t.Errorf("IPMIPrivilege() = %d, want %d", got, tc.ipmi)
			}
			if got, want := tc.role.Valid(), tc.want != nil; got != want {
				t.Errorf("Valid() = %v, want %v", got, want)
			}
		})
	}
	if got := Roles(); !slices.Equal(got, []Role{Administrator, Operator, ReadOnly}) {
		t.Errorf("Roles() = %v", got)
	}
	// The returned slice is the caller's: changing it changes nothing.
	p := Administrator.Privileges()
	p[0] = "Nothing"
	if !Administrator.Has(PrivLogin) {
		t.Error("mutating Privileges() result changed the role")
	}
}
