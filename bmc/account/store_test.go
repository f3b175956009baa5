package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/record"
)

// testIterations keeps PBKDF2 cheap in tests; BenchmarkVerifyPassword and
// TestDefaultIterations use the real count.
const testIterations = 1000

var testStart = time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)

// eventLog records Events calls.
type eventLog struct {
	mu  sync.Mutex
	evs []string
}

func (l *eventLog) add(id string, args ...string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.evs = append(l.evs, strings.TrimPrefix(id, "IronrootEvent.1.0.")+"("+strings.Join(args, ",")+")")
}

func (l *eventLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	evs := l.evs
	l.evs = nil
	return evs
}

type fixture struct {
	dir    string
	key    []byte
	clock  *clock.Fake
	events *eventLog
	store  *Store
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	dir := t.TempDir()
	key, err := LoadOrCreateSealingKey(filepath.Join(dir, "sealing.key"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{dir: filepath.Join(dir, "accounts"), key: key, clock: clock.NewFake(testStart), events: &eventLog{}}
	f.store = f.open(t)
	return f
}

// open opens another Store on the fixture's directory, as a restarted
// bmcd would.
func (f *fixture) open(t *testing.T) *Store {
	t.Helper()
	s, err := Open(Config{Dir: f.dir, SealingKey: f.key, Clock: f.clock, Events: f.events.add, iterations: testIterations})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func mustCreate(t *testing.T, s *Store, name, pw string, role Role, types ...AccountType) Account {
	t.Helper()
	a, err := s.Create(name, pw, role, types, false)
	if err != nil {
		t.Fatalf("Create(%q): %v", name, err)
	}
	return a
}

func ptr[T any](v T) *T { return &v }

func TestCreateGetListDelete(t *testing.T) {
	f := newFixture(t)
	s := f.store
	if got := s.List(); len(got) != 0 {
		t.Fatalf("new store lists %v", got)
	}
	admin, err := s.Create("admin", "Adm1n-pass", Administrator, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	want := Account{ID: 2, UserName: "admin", Role: Administrator, Enabled: true, PasswordChangeRequired: true, AccountTypes: []AccountType{TypeRedfish}}
	if !equalAccount(admin, want) {
		t.Fatalf("Create = %+v, want %+v", admin, want)
	}
	op := mustCreate(t, s, "op", "operator-pw", Operator, TypeIPMI, TypeRedfish, TypeIPMI)
	if op.ID != 3 || !slices.Equal(op.AccountTypes, []AccountType{TypeRedfish, TypeIPMI}) {
		t.Fatalf("second account = %+v", op)
	}
	if got, err := s.Get(3); err != nil || !equalAccount(got, op) {
		t.Fatalf("Get(3) = %+v, %v", got, err)
	}
	if got, err := s.ByName("admin"); err != nil || got.ID != 2 {
		t.Fatalf("ByName(admin) = %+v, %v", got, err)
	}
	if _, err := s.ByName("ADMIN"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("ByName is exact, got %v", err)
	}
	for _, id := range []int{0, 1, 4, 16, -1} {
		if _, err := s.Get(id); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get(%d) = %v, want ErrNotFound", id, err)
		}
	}
	// Duplicate names, ignoring case.
	for _, n := range []string{"admin", "Admin", "OP"} {
		if _, err := s.Create(n, "whatever-pw", ReadOnly, nil, false); !errors.Is(err, ErrExists) {
			t.Errorf("Create(%q) = %v, want ErrExists", n, err)
		}
	}
	// Invalid input.
	if _, err := s.Create("ro", "whatever-pw", Role("Root"), nil, false); !isPolicyError(err, "RoleId") {
		t.Errorf("Create with bad role = %v", err)
	}
	if _, err := s.Create("ro", "whatever-pw", ReadOnly, []AccountType{"SNMP"}, false); !isPolicyError(err, "AccountTypes") {
		t.Errorf("Create with bad type = %v", err)
	}
	if _, err := s.Create("ro", "whatever-pw", ReadOnly, []AccountType{}, false); !isPolicyError(err, "AccountTypes") {
		t.Errorf("Create with empty types = %v", err)
	}
	if _, err := s.Create("ro", "short", ReadOnly, nil, false); !isPolicyError(err, "Password") {
		t.Errorf("Create with short password = %v", err)
	}
	if _, err := s.Create("9ro", "whatever-pw", ReadOnly, nil, false); !isPolicyError(err, "UserName") {
		t.Errorf("Create with bad name = %v", err)
	}
	if got := f.events.take(); !slices.Equal(got, []string{"AccountCreated(admin)", "AccountCreated(op)"}) {
		t.Errorf("events = %v", got)
	}

	if err := s.Delete(3); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(3); !errors.Is(err, ErrNotFound) {
		t.Errorf("second Delete = %v", err)
	}
	if _, err := s.Get(3); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get after Delete = %v", err)
	}
	if got := f.events.take(); !slices.Equal(got, []string{"AccountRemoved(op)"}) {
		t.Errorf("events = %v", got)
	}
	// Everything acknowledged is on disk: a second store sees it.
	if got := f.open(t).List(); len(got) != 1 || !equalAccount(got[0], admin) {
		t.Errorf("reopened List = %+v", got)
	}
}

func equalAccount(a, b Account) bool {
	return a.ID == b.ID && a.UserName == b.UserName && a.Role == b.Role && a.Enabled == b.Enabled &&
		a.Locked == b.Locked && a.PasswordChangeRequired == b.PasswordChangeRequired &&
		slices.Equal(a.AccountTypes, b.AccountTypes)
}

func isPolicyError(err error, field string) bool {
	var pe *PolicyError
	return errors.As(err, &pe) && pe.Field == field && errors.Is(err, ErrInvalid)
}

func TestIDAllocation(t *testing.T) {
	f := newFixture(t)
	s := f.store
	for i := range MaxAccounts {
		a := mustCreate(t, s, fmt.Sprintf("user%d", i), "password-123", ReadOnly)
		if a.ID != MinID+i {
			t.Fatalf("account %d got ID %d, want %d", i, a.ID, MinID+i)
		}
	}
	if _, err := s.Create("onemore", "password-123", ReadOnly, nil, false); !errors.Is(err, ErrNoFreeID) {
		t.Fatalf("15th Create = %v, want ErrNoFreeID", err)
	}
	// The lowest free ID is reused; ID 1 never.
	for _, id := range []int{9, 4} {
		if err := s.Delete(id); err != nil {
			t.Fatal(err)
		}
	}
	if a := mustCreate(t, s, "again", "password-123", ReadOnly); a.ID != 4 {
		t.Errorf("reused ID %d, want 4", a.ID)
	}
	if a := mustCreate(t, s, "again2", "password-123", ReadOnly); a.ID != 9 {
		t.Errorf("reused ID %d, want 9", a.ID)
	}
	ids := []int{}
	for _, a := range s.List() {
		ids = append(ids, a.ID)
	}
	want := []int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15}
	if !slices.Equal(ids, want) {
		t.Errorf("List IDs = %v, want %v", ids, want)
	}
}

func TestUpdate(t *testing.T) {
	f := newFixture(t)
	s := f.store
	mustCreate(t, s, "admin", "admin-pass1", Administrator)
	u := mustCreate(t, s, "alice", "alice-pass1", ReadOnly)
	f.events.take()

	got, err := s.Update(u.ID, Patch{UserName: ptr("bob"), Role: ptr(Operator), AccountTypes: &[]AccountType{TypeIPMI, TypeRedfish}})
	if err != nil {
		t.Fatal(err)
	}
	if got.UserName != "bob" || got.Role != Operator || !slices.Equal(got.AccountTypes, []AccountType{TypeRedfish, TypeIPMI}) {
		t.Fatalf("Update = %+v", got)
	}
	if ev := f.events.take(); !slices.Equal(ev, []string{"AccountModified(alice (now bob))"}) {
		t.Errorf("events = %v", ev)
	}
	// A no-op patch changes nothing and logs nothing.
	if _, err := s.Update(u.ID, Patch{Role: ptr(Operator)}); err != nil {
		t.Fatal(err)
	}
	if ev := f.events.take(); len(ev) != 0 {
		t.Errorf("no-op events = %v", ev)
	}

	// Validation happens before anything is applied.
	bad := []struct {
		p     Patch
		field string
		is    error
	}{
		{Patch{UserName: ptr("bad name"), Role: ptr(Administrator)}, "UserName", nil},
		{Patch{Role: ptr(Role("x")), Enabled: ptr(false)}, "RoleId", nil},
		{Patch{Locked: ptr(true)}, "Locked", nil},
		{Patch{AccountTypes: &[]AccountType{}}, "AccountTypes", nil},
		{Patch{AccountTypes: &[]AccountType{"OEM"}}, "AccountTypes", nil},
		{Patch{Password: ptr("short"), Enabled: ptr(false)}, "Password", nil},
		{Patch{Password: ptr("bob"), Enabled: ptr(false)}, "Password", nil},
		{Patch{UserName: ptr("secret-pw"), Password: ptr("secret-pw")}, "Password", nil},
		{Patch{UserName: ptr("ADMIN"), Enabled: ptr(false)}, "", ErrExists},
	}
	for i, tc := range bad {
		_, err := s.Update(u.ID, tc.p)
		if tc.is != nil && !errors.Is(err, tc.is) || tc.is == nil && !isPolicyError(err, tc.field) {
			t.Errorf("case %d: Update = %v, want %v %s", i, err, tc.is, tc.field)
		}
	}
	if got, _ := s.Get(u.ID); got.UserName != "bob" || !got.Enabled {
		t.Errorf("failed updates changed the account: %+v", got)
	}
	if _, err := s.Update(42, Patch{Enabled: ptr(false)}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(42) = %v", err)
	}
	if _, err := s.Update(1, Patch{Password: ptr("some-password")}); !errors.Is(err, ErrNotFound) {
		t.Errorf("Update(1) = %v", err)
	}

	// Password change: old password stops working, new works.
	if _, err := s.Update(u.ID, Patch{Password: ptr("new-password")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("bob", "alice-pass1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password: %v", err)
	}
	if _, err := s.Authenticate("bob", "new-password"); err != nil {
		t.Errorf("new password: %v", err)
	}
	// Persisted.
	if got, err := f.open(t).Get(u.ID); err != nil || got.UserName != "bob" || got.Role != Operator {
		t.Errorf("reopened: %+v, %v", got, err)
	}
}

func TestPasswordChangeRequired(t *testing.T) {
	f := newFixture(t)
	s := f.store
	a, err := s.Create("admin", "first-pass", Administrator, nil, true)
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.Authenticate("admin", "first-pass")
	if err != nil || !got.PasswordChangeRequired {
		t.Fatalf("Authenticate = %+v, %v; want success with PasswordChangeRequired", got, err)
	}
	got, err = s.Update(a.ID, Patch{Password: ptr("second-pass")})
	if err != nil || got.PasswordChangeRequired {
		t.Fatalf("password change: %+v, %v; want flag cleared", got, err)
	}
	// An admin resetting a password can keep the flag set.
	got, err = s.Update(a.ID, Patch{Password: ptr("third-pass"), PasswordChangeRequired: ptr(true)})
	if err != nil || !got.PasswordChangeRequired {
		t.Fatalf("password reset: %+v, %v; want flag kept", got, err)
	}
	if got, _ := f.open(t).Get(a.ID); !got.PasswordChangeRequired {
		t.Error("flag not persisted")
	}
}

func TestLastAdministrator(t *testing.T) {
	f := newFixture(t)
	s := f.store
	admin := mustCreate(t, s, "admin", "admin-pass1", Administrator)
	op := mustCreate(t, s, "op", "op-pass123", Operator)
	for _, p := range []Patch{
		{Role: ptr(Operator)},
		{Role: ptr(ReadOnly)},
		{Enabled: ptr(false)},
		{AccountTypes: &[]AccountType{TypeIPMI}},
	} {
		if _, err := s.Update(admin.ID, p); !errors.Is(err, ErrLastAdministrator) {
			t.Errorf("Update(%+v) = %v, want ErrLastAdministrator", p, err)
		}
	}
	if err := s.Delete(admin.ID); !errors.Is(err, ErrLastAdministrator) {
		t.Errorf("Delete = %v, want ErrLastAdministrator", err)
	}
	// Other accounts are unaffected.
	if _, err := s.Update(op.ID, Patch{Enabled: ptr(false)}); err != nil {
		t.Errorf("disable operator: %v", err)
	}
	// With a second enabled admin, the first may go.
	if _, err := s.Update(op.ID, Patch{Role: ptr(Administrator)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(admin.ID); !errors.Is(err, ErrLastAdministrator) {
		t.Errorf("second admin is disabled: Delete = %v, want ErrLastAdministrator", err)
	}
	if _, err := s.Update(op.ID, Patch{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(admin.ID); err != nil {
		t.Errorf("Delete with another admin: %v", err)
	}
	if _, err := s.Update(op.ID, Patch{Role: ptr(Operator)}); !errors.Is(err, ErrLastAdministrator) {
		t.Errorf("demote new last admin = %v", err)
	}
}

func TestPolicyPersisted(t *testing.T) {
	f := newFixture(t)
	p := DefaultPolicy()
	p.MinPasswordLength = 12
	p.LockoutThreshold = 3
	p.LockoutDuration = time.Hour
	if err := f.store.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	if got := f.open(t).Policy(); got != p {
		t.Errorf("reopened Policy = %+v, want %+v", got, p)
	}
	if _, err := f.store.Create("user", "eleven-char", ReadOnly, nil, false); !isPolicyError(err, "Password") {
		t.Errorf("Create with 11-byte password under min 12: %v", err)
	}
	bad := p
	bad.MaxPasswordLength = 4
	if err := f.store.SetPolicy(bad); !isPolicyError(err, "MaxPasswordLength") {
		t.Errorf("SetPolicy(bad) = %v", err)
	}
	if got := f.store.Policy(); got != p {
		t.Errorf("bad SetPolicy changed policy to %+v", got)
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(Config{Dir: dir, SealingKey: make([]byte, 16)}); err == nil {
		t.Error("Open with a 16-byte sealing key succeeded")
	}
	if _, err := Open(Config{SealingKey: make([]byte, 32)}); err == nil {
		t.Error("Open without Dir succeeded")
	}
	if err := os.WriteFile(filepath.Join(dir, recordFile), []byte(`{"version":1,"data":{"accounts":[{"id":1}]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(Config{Dir: dir, SealingKey: make([]byte, 32)}); err == nil {
		t.Error("Open of a record with account ID 1 succeeded")
	}
}

// TestRecordForwardCompatible: a record written by a newer bmcd (a higher
// version with fields this one does not know) loads, and an older record
// without the policy loads with the default policy.
func TestRecordForwardCompatible(t *testing.T) {
	f := newFixture(t)
	mustCreate(t, f.store, "admin", "admin-pass1", Administrator, TypeRedfish, TypeIPMI)
	path := filepath.Join(f.dir, recordFile)
	var env record.Envelope
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatal(err)
	}
	var data map[string]any
	if err := json.Unmarshal(env.Data, &data); err != nil {
		t.Fatal(err)
	}
	data["future_store_field"] = map[string]any{"x": 1}
	acct := data["accounts"].([]any)[0].(map[string]any)
	acct["future_account_field"] = "mfa"
	acct["account_types"] = []any{"Redfish", "IPMI", "KVMIP"}
	delete(data, "policy")
	if err := record.Save(path, recordVersion+1, data); err != nil {
		t.Fatal(err)
	}
	s := f.open(t)
	a, err := s.ByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(a.AccountTypes, []AccountType{TypeRedfish, TypeIPMI}) {
		t.Errorf("AccountTypes = %v", a.AccountTypes)
	}
	if s.Policy() != DefaultPolicy() {
		t.Errorf("Policy = %+v, want default", s.Policy())
	}
	if _, err := s.Authenticate("admin", "admin-pass1"); err != nil {
		t.Errorf("Authenticate after load: %v", err)
	}
	if k, err := s.IPMIKey(a.ID); err != nil || string(k) != "admin-pass1" {
		t.Errorf("IPMIKey = %q, %v", k, err)
	}
}

func TestSealingKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state", "sealing.key")
	k1, err := LoadOrCreateSealingKey(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(k1) != SealingKeySize || bytes.Equal(k1, make([]byte, SealingKeySize)) {
		t.Fatalf("key = %x", k1)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", fi.Mode().Perm())
	}
	k2, err := LoadOrCreateSealingKey(path)
	if err != nil || !bytes.Equal(k1, k2) {
		t.Errorf("second load = %x, %v; want the same key", k2, err)
	}
	if err := os.WriteFile(path, []byte("short"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreateSealingKey(path); err == nil {
		t.Error("a 5-byte key file loaded")
	}
}

func FuzzDecodeRecord(f *testing.F) {
	f.Add([]byte(`{"accounts":[]}`))
	f.Add([]byte(`{"policy":{"min_password_length":8,"max_password_length":20},"accounts":[{"id":2,"user_name":"admin","role":"Administrator","enabled":true,"account_types":["Redfish"],"password":{"alg":"pbkdf2-sha256","iterations":1000,"salt":"AAAAAAAAAAAAAAAAAAAAAA==","hash":"AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="}}]}`))
	f.Add([]byte(`{"accounts":[{"id":2,"user_name":"a"},{"id":2,"user_name":"b"}]}`))
	f.Add([]byte(`{"accounts":[{"id":16,"user_name":"a"}]}`))
	f.Add([]byte(`{"accounts":[{"id":3,"user_name":"A"},{"id":4,"user_name":"a"}]}`))
	f.Add([]byte(`null`))
	f.Add([]byte(`{"accounts":[{"id":3,"user_name":"x","failed_logins":-5,"locked_at":"2026-01-01T00:00:00Z"}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := decodeRecord(data)
		if err != nil {
			return
		}
		// Whatever is accepted satisfies the store's invariants.
		if len(r.Accounts) > MaxAccounts {
			t.Fatalf("%d accounts accepted", len(r.Accounts))
		}
		seen := map[string]bool{}
		for _, a := range r.Accounts {
			if a.ID < MinID || a.ID > MaxID {
				t.Fatalf("ID %d accepted", a.ID)
			}
			if ValidateUserName(a.UserName) != nil || seen[strings.ToLower(a.UserName)] {
				t.Fatalf("user name %q accepted", a.UserName)
			}
			seen[strings.ToLower(a.UserName)] = true
			if a.FailedLogins < 0 {
				t.Fatalf("negative failure count accepted")
			}
			for _, ty := range a.AccountTypes {
				if ty != TypeRedfish && ty != TypeIPMI {
					t.Fatalf("account type %q kept", ty)
				}
			}
		}
		if r.Policy != nil && r.Policy.policy().validate() != nil {
			t.Fatalf("invalid policy accepted")
		}
	})
}
