package account

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestValidateUserName(t *testing.T) {
	good := []string{"admin", "a", "Operator1", "j.doe", "ro_user", "x-y", "abcdefghijklmnop"}
	bad := []string{"", "1admin", ".admin", "_x", "-x", "abcdefghijklmnopq", "ad min", "adm:n", "root\x00", "ädmin", "admin/1", "a\n"}
	for _, n := range good {
		if err := ValidateUserName(n); err != nil {
			t.Errorf("ValidateUserName(%q) = %v, want nil", n, err)
		}
	}
	for _, n := range bad {
		err := ValidateUserName(n)
		var pe *PolicyError
		if !errors.As(err, &pe) || pe.Field != "UserName" || !errors.Is(err, ErrInvalid) {
			t.Errorf("ValidateUserName(%q) = %v, want *PolicyError{UserName} matching ErrInvalid", n, err)
		}
	}
}

func TestValidatePassword(t *testing.T) {
	p := DefaultPolicy()
	if p.MinPasswordLength != 8 || p.MaxPasswordLength != 20 || p.LockoutThreshold != 5 ||
		p.LockoutDuration != 5*time.Minute || p.LockoutCounterResetAfter != 5*time.Minute {
		t.Fatalf("DefaultPolicy() = %+v", p)
	}
	tests := []struct {
		user, pw string
		ok       bool
	}{
		{"admin", "correct-horse", true},
		{"admin", "12345678", true},
		{"admin", strings.Repeat("x", 20), true},
		{"admin", "", false},
		{"admin", "1234567", false},
		{"admin", strings.Repeat("x", 21), false},
		{"longusername", "longusername", false},
		{"longusername", "LongUserName", false},
		{"admin", "abc\x00defgh", false},
		{"admin", "abc\xffdefgh", false},
	}
	for _, tc := range tests {
		err := p.ValidatePassword(tc.user, tc.pw)
		if tc.ok != (err == nil) {
			t.Errorf("ValidatePassword(%q, %q) = %v, want ok=%v", tc.user, tc.pw, err, tc.ok)
		}
		var pe *PolicyError
		if err != nil && (!errors.As(err, &pe) || pe.Field != "Password" || pe.Reason == "") {
			t.Errorf("ValidatePassword(%q, %q) = %v, want *PolicyError{Password}", tc.user, tc.pw, err)
		}
	}
}

func TestPolicyValidate(t *testing.T) {
	bad := []func(*Policy){
		func(p *Policy) { p.MinPasswordLength = 0 },
		func(p *Policy) { p.MaxPasswordLength = 7 },
		func(p *Policy) { p.MaxPasswordLength = 1000 },
		func(p *Policy) { p.LockoutThreshold = -1 },
		func(p *Policy) { p.LockoutDuration = -time.Second },
		func(p *Policy) { p.LockoutCounterResetAfter = -time.Second },
		func(p *Policy) { p.AuthFailureLoggingThreshold = -1 },
	}
	for i, f := range bad {
		p := DefaultPolicy()
		f(&p)
		if err := p.validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("case %d: validate(%+v) = %v, want ErrInvalid", i, p, err)
		}
	}
	if err := DefaultPolicy().validate(); err != nil {
		t.Errorf("DefaultPolicy().validate() = %v", err)
	}
}

func FuzzValidateUserName(f *testing.F) {
	for _, s := range []string{"admin", "", "1a", "a.b_c-d", "abcdefghijklmnopq", "ä", "a\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidateUserName(name)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not match ErrInvalid", err)
			}
			return
		}
		// Accepted names are IPMI-safe: 1..16 bytes of printable ASCII
		// without spaces, starting with a letter.
		if len(name) < 1 || len(name) > MaxUserNameLength {
			t.Fatalf("accepted %q of %d bytes", name, len(name))
		}
		if !isLetter(name[0]) {
			t.Fatalf("accepted %q not starting with a letter", name)
		}
		for i := 0; i < len(name); i++ {
			if name[i] <= ' ' || name[i] >= 0x7f || strings.ContainsRune(":/@\\\"'", rune(name[i])) {
				t.Fatalf("accepted %q with byte %#x", name, name[i])
			}
		}
	})
}
