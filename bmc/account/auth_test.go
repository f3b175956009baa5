package account

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

func TestAuthenticate(t *testing.T) {
	f := newFixture(t)
	s := f.store
	admin := mustCreate(t, s, "admin", "admin-pass1", Administrator)
	ro := mustCreate(t, s, "viewer", "viewer-pass", ReadOnly)
	f.events.take()

	a, err := s.Authenticate("admin", "admin-pass1")
	if err != nil || a.ID != admin.ID || a.Role != Administrator {
		t.Fatalf("Authenticate(admin) = %+v, %v", a, err)
	}
	for _, tc := range []struct{ name, pw string }{
		{"admin", "wrong-pass"},
		{"admin", ""},
		{"admin", "wrong-again"},
		{"Admin", "admin-pass1"},
		{"nobody", "admin-pass1"},
		{"", ""},
		{"p@ss w0rd!", "x"},
	} {
		a, err := s.Authenticate(tc.name, tc.pw)
		if !errors.Is(err, ErrBadCredentials) || a.ID != 0 {
			t.Errorf("Authenticate(%q, %q) = %+v, %v; want ErrBadCredentials", tc.name, tc.pw, a, err)
		}
	}
	// Default AuthFailureLoggingThreshold is 3: the third consecutive
	// failure of admin is logged; unknown users are throttled the same way
	// and a name that is not a valid user name is not echoed.
	ev := f.events.take()
	if !slices.Contains(ev, "LoginFailed(admin,Redfish)") || slices.ContainsFunc(ev, func(e string) bool { return bytes.Contains([]byte(e), []byte("p@ss")) }) {
		t.Errorf("events = %v", ev)
	}
	if len(ev) != 2 || ev[1] != "LoginFailed((invalid user name),Redfish)" {
		t.Errorf("events = %v", ev)
	}

	// Disabled: the right password gives ErrDisabled, a wrong one still
	// ErrBadCredentials.
	if _, err := s.Update(ro.ID, Patch{Enabled: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("viewer", "viewer-pass"); !errors.Is(err, ErrDisabled) {
		t.Errorf("disabled, right password: %v", err)
	}
	if _, err := s.Authenticate("viewer", "wrong-pass"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("disabled, wrong password: %v", err)
	}
	// An IPMI-only account cannot log in to Redfish, but via IPMI.
	if _, err := s.Update(ro.ID, Patch{Enabled: ptr(true), AccountTypes: &[]AccountType{TypeIPMI}}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("viewer", "viewer-pass"); !errors.Is(err, ErrDisabled) {
		t.Errorf("IPMI-only account via Redfish: %v", err)
	}
	if _, err := s.AuthenticateVia(TypeIPMI, "viewer", "viewer-pass"); err != nil {
		t.Errorf("IPMI-only account via IPMI: %v", err)
	}
}

// TestUnknownUserCostsAHash checks the timing equalisation is in place
// (not the timing itself): an unknown user runs one full PBKDF2
// verification against a dummy hash with the real parameters, exactly
// like a known user with a wrong password.
func TestUnknownUserCostsAHash(t *testing.T) {
	f := newFixture(t)
	s := f.store
	mustCreate(t, s, "admin", "admin-pass1", Administrator)
	if err := s.dummy.check(); err != nil || s.dummy.Iterations != s.iterations {
		t.Fatalf("dummy hash %+v: %v", s.dummy, err)
	}
	for _, name := range []string{"admin", "nobody", "bad name!", ""} {
		before := s.slowVerifications.Load()
		if _, err := s.Authenticate(name, "wrong-password"); !errors.Is(err, ErrBadCredentials) {
			t.Fatalf("Authenticate(%q) = %v", name, err)
		}
		if n := s.slowVerifications.Load() - before; n != 1 {
			t.Errorf("Authenticate(%q) ran %d slow verifications, want 1", name, n)
		}
	}
}

func TestDefaultIterations(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(Config{Dir: dir, SealingKey: make([]byte, 32), Clock: clock.NewFake(testStart)})
	if err != nil {
		t.Fatal(err)
	}
	if s.iterations != defaultIterations || defaultIterations < 100_000 {
		t.Fatalf("iterations = %d", s.iterations)
	}
	if _, err := s.Create("admin", "admin-pass1", Administrator, nil, false); err != nil {
		t.Fatal(err)
	}
	if got := s.accounts[0].Password; got.Iterations != defaultIterations || got.Alg != hashAlg || len(got.Salt) != 16 || len(got.Hash) != 32 {
		t.Errorf("stored hash params %s/%d salt %d hash %d", got.Alg, got.Iterations, len(got.Salt), len(got.Hash))
	}
	if _, err := s.Authenticate("admin", "admin-pass1"); err != nil {
		t.Error(err)
	}
}

// TestRehashOnLogin: a hash stored with a lower iteration count is
// upgraded at the next successful login.
func TestRehashOnLogin(t *testing.T) {
	f := newFixture(t)
	mustCreate(t, f.store, "admin", "admin-pass1", Administrator)
	s, err := Open(Config{Dir: f.dir, SealingKey: f.key, Clock: f.clock, iterations: 2 * testIterations})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Authenticate("admin", "admin-pass1"); err != nil {
		t.Fatal(err)
	}
	for _, st := range []*Store{s, f.open(t)} {
		if got := st.accounts[0].Password.Iterations; got != 2*testIterations {
			t.Errorf("iterations after login = %d, want %d", got, 2*testIterations)
		}
	}
	if _, err := f.open(t).Authenticate("admin", "admin-pass1"); err != nil {
		t.Error(err)
	}
}

func TestLockout(t *testing.T) {
	f := newFixture(t)
	s := f.store
	p := DefaultPolicy()
	p.LockoutThreshold = 3
	p.LockoutDuration = 10 * time.Minute
	p.LockoutCounterResetAfter = time.Minute
	p.AuthFailureLoggingThreshold = 1
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, s, "alice", "alice-pass1", Operator)
	mustCreate(t, s, "admin", "admin-pass1", Administrator)
	f.events.take()

	// Failures spaced wider than the reset window never lock.
	for range 5 {
		if _, err := s.Authenticate("alice", "bad-password"); !errors.Is(err, ErrBadCredentials) {
			t.Fatal(err)
		}
		f.clock.Advance(61 * time.Second)
	}
	if a, _ := s.Get(u.ID); a.Locked {
		t.Fatal("locked by failures outside the reset window")
	}
	// A success resets the count.
	s.Authenticate("alice", "bad-password")
	s.Authenticate("alice", "bad-password")
	if _, err := s.Authenticate("alice", "alice-pass1"); err != nil {
		t.Fatal(err)
	}
	s.Authenticate("alice", "bad-password")
	s.Authenticate("alice", "bad-password")
	if a, _ := s.Get(u.ID); a.Locked {
		t.Fatal("locked although a success reset the count")
	}
	f.events.take()
	// The third failure in a row locks.
	if _, err := s.Authenticate("alice", "bad-password"); !errors.Is(err, ErrBadCredentials) {
		t.Fatal(err)
	}
	if a, _ := s.Get(u.ID); !a.Locked {
		t.Fatal("not locked after 3 failures")
	}
	if ev := f.events.take(); !slices.Equal(ev, []string{"LoginFailed(alice,Redfish)", "AccountLockedOut(alice)"}) {
		t.Errorf("events = %v", ev)
	}
	// Locked: even the right password is refused, and further failures
	// are neither counted nor logged.
	if _, err := s.Authenticate("alice", "alice-pass1"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("right password while locked: %v", err)
	}
	if _, err := s.Authenticate("alice", "bad-password"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("wrong password while locked: %v", err)
	}
	if ev := f.events.take(); len(ev) != 0 {
		t.Errorf("events while locked = %v", ev)
	}

	// A restart does not unlock.
	f.clock.Advance(5 * time.Minute)
	s2 := f.open(t)
	if a, _ := s2.Get(u.ID); !a.Locked {
		t.Fatal("restart unlocked the account")
	}
	if _, err := s2.Authenticate("alice", "alice-pass1"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("after restart: %v", err)
	}
	// The lock expires after LockoutDuration.
	f.clock.Advance(5 * time.Minute)
	if a, _ := s2.Get(u.ID); a.Locked {
		t.Fatal("still locked after LockoutDuration")
	}
	if _, err := s2.Authenticate("alice", "alice-pass1"); err != nil {
		t.Errorf("after expiry: %v", err)
	}

	// Lock again, then an administrator unlocks.
	for range 3 {
		s2.Authenticate("alice", "bad-password")
	}
	if a, _ := s2.Get(u.ID); !a.Locked {
		t.Fatal("not locked again")
	}
	f.events.take()
	a, err := s2.Update(u.ID, Patch{Locked: ptr(false)})
	if err != nil || a.Locked {
		t.Fatalf("unlock: %+v, %v", a, err)
	}
	if ev := f.events.take(); !slices.Equal(ev, []string{"AccountUnlocked(alice)"}) {
		t.Errorf("unlock events = %v", ev)
	}
	if _, err := s2.Authenticate("alice", "alice-pass1"); err != nil {
		t.Errorf("after unlock: %v", err)
	}
	if a, _ := f.open(t).Get(u.ID); a.Locked {
		t.Error("unlock not persisted")
	}
}

func TestLockoutPermanentAndDisabled(t *testing.T) {
	f := newFixture(t)
	s := f.store
	p := DefaultPolicy()
	p.LockoutThreshold = 2
	p.LockoutDuration = 0 // until unlocked
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	u := mustCreate(t, s, "alice", "alice-pass1", Operator)
	s.Authenticate("alice", "x-password")
	s.Authenticate("alice", "x-password")
	f.clock.Advance(1000 * time.Hour)
	if _, err := s.Authenticate("alice", "alice-pass1"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("permanent lock: %v", err)
	}
	if _, err := s.Update(u.ID, Patch{Locked: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	// Threshold 0 disables lockout.
	p.LockoutThreshold = 0
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	for range 20 {
		s.Authenticate("alice", "x-password")
	}
	if _, err := s.Authenticate("alice", "alice-pass1"); err != nil {
		t.Errorf("threshold 0: %v", err)
	}
}

// TestExternalLoginReports is how IPMI (which verifies RAKP itself) feeds
// the same lockout.
func TestExternalLoginReports(t *testing.T) {
	f := newFixture(t)
	s := f.store
	u := mustCreate(t, s, "alice", "alice-pass1", Operator, TypeRedfish, TypeIPMI)
	f.events.take()
	for range DefaultPolicy().LockoutThreshold {
		if err := s.RecordLoginFailure(u.ID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Authenticate("alice", "alice-pass1"); !errors.Is(err, ErrLockedOut) {
		t.Errorf("after IPMI failures: %v", err)
	}
	if ev := f.events.take(); !slices.Equal(ev, []string{"LoginFailed(alice,IPMI)", "AccountLockedOut(alice)"}) {
		t.Errorf("events = %v", ev)
	}
	if err := s.RecordLoginFailure(99); !errors.Is(err, ErrNotFound) {
		t.Errorf("RecordLoginFailure(99) = %v", err)
	}
	if _, err := s.Update(u.ID, Patch{Locked: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	s.RecordLoginFailure(u.ID)
	if err := s.RecordLoginSuccess(u.ID); err != nil {
		t.Fatal(err)
	}
	if s.accounts[0].FailedLogins != 0 {
		t.Errorf("FailedLogins = %d after success", s.accounts[0].FailedLogins)
	}
}

func TestVerificationCache(t *testing.T) {
	f := newFixture(t)
	s := f.store
	u := mustCreate(t, s, "alice", "alice-pass1", Operator)
	mustCreate(t, s, "admin", "admin-pass1", Administrator)
	slow := func() uint64 { return s.slowVerifications.Load() }

	auth := func(pw string) error { _, err := s.Authenticate("alice", pw); return err }
	if err := auth("alice-pass1"); err != nil {
		t.Fatal(err)
	}
	n := slow()
	for range 10 {
		if err := auth("alice-pass1"); err != nil {
			t.Fatal(err)
		}
	}
	if slow() != n {
		t.Errorf("cached logins ran %d slow verifications", slow()-n)
	}
	// Failures are never cached.
	for range 2 {
		auth("wrong-pass1")
	}
	if slow() != n+2 {
		t.Errorf("failures ran %d slow verifications, want 2", slow()-n)
	}
	// The TTL is on the store's clock.
	f.clock.Advance(cacheTTL)
	auth("alice-pass1")
	if slow() != n+3 {
		t.Error("expired entry was used")
	}
	// Any change to the account drops its entries.
	for _, p := range []Patch{{Role: ptr(ReadOnly)}, {Enabled: ptr(false)}} {
		n = slow()
		auth("alice-pass1")
		if _, err := s.Update(u.ID, p); err != nil {
			t.Fatal(err)
		}
		auth("alice-pass1")
		if slow() <= n {
			t.Errorf("Update(%+v) kept the cache entry", p)
		}
	}
	if _, err := s.Update(u.ID, Patch{Enabled: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	auth("alice-pass1")
	if _, err := s.Update(u.ID, Patch{Password: ptr("alice-pass2")}); err != nil {
		t.Fatal(err)
	}
	if err := auth("alice-pass1"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("old password after change: %v", err)
	}
	if err := s.Delete(u.ID); err != nil {
		t.Fatal(err)
	}
	if err := auth("alice-pass2"); !errors.Is(err, ErrBadCredentials) {
		t.Errorf("deleted account: %v", err)
	}
	// Bounded.
	for i := range 3 * cacheSize {
		s.cacheLocked(cacheKey{byte(i), byte(i >> 8)}, 2, f.clock.Now())
	}
	if len(s.cache) > cacheSize {
		t.Errorf("cache holds %d entries, bound %d", len(s.cache), cacheSize)
	}
}

func TestIPMIKey(t *testing.T) {
	f := newFixture(t)
	s := f.store
	const pw = "Ipmi-Secret-20bytes!"
	mustCreate(t, s, "admin", "admin-pass1", Administrator)
	u := mustCreate(t, s, "ipmiuser", pw, Operator, TypeRedfish, TypeIPMI)
	k, err := s.IPMIKey(u.ID)
	if err != nil || string(k) != pw {
		t.Fatalf("IPMIKey = %q, %v", k, err)
	}
	// Neither the password nor the key is anywhere on disk in plaintext.
	raw, err := os.ReadFile(filepath.Join(f.dir, recordFile))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(raw, []byte(pw)) || bytes.Contains(raw, []byte("admin-pass1")) {
		t.Fatalf("password in plaintext in %s", raw)
	}
	if !bytes.Contains(raw, []byte(`"ipmi_key"`)) {
		t.Fatalf("no sealed key in %s", raw)
	}
	// Sealed keys are padded: their size does not tell the password length.
	for _, a := range f.open(t).accounts {
		if a.IPMIKey == nil || len(a.IPMIKey.Sealed) != MaxIPMIKeyLength+16 {
			t.Errorf("account %d: sealed key %+v, want %d bytes", a.ID, a.IPMIKey, MaxIPMIKeyLength+16)
		}
	}
	// A Redfish-only account does not hand out its key; the key captured
	// at its password set makes enabling IPMI work without the password.
	r := mustCreate(t, s, "redfish", "redfish-pw1", ReadOnly)
	if _, err := s.IPMIKey(r.ID); !errors.Is(err, ErrNoIPMIKey) {
		t.Errorf("IPMIKey of a Redfish-only account: %v", err)
	}
	if _, err := s.Update(r.ID, Patch{AccountTypes: &[]AccountType{TypeRedfish, TypeIPMI}}); err != nil {
		t.Fatal(err)
	}
	if k, err := s.IPMIKey(r.ID); err != nil || string(k) != "redfish-pw1" {
		t.Errorf("IPMIKey after enabling IPMI = %q, %v", k, err)
	}
	// Every password set captures the new key.
	if _, err := s.Update(u.ID, Patch{Password: ptr("new-ipmi-pw")}); err != nil {
		t.Fatal(err)
	}
	if k, err := f.open(t).IPMIKey(u.ID); err != nil || string(k) != "new-ipmi-pw" {
		t.Errorf("IPMIKey after change and reopen = %q, %v", k, err)
	}
	if _, err := s.IPMIKey(42); !errors.Is(err, ErrNotFound) {
		t.Errorf("IPMIKey(42) = %v", err)
	}

	// A different sealing key cannot open it.
	other, err := Open(Config{Dir: f.dir, SealingKey: bytes.Repeat([]byte{7}, 32), Clock: f.clock, iterations: testIterations})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := other.IPMIKey(u.ID); err == nil {
		t.Error("IPMIKey opened with the wrong sealing key")
	}
	// A sealed key moved to another account does not open (ID is bound).
	sealed, err := s.sealer.seal(u.ID, []byte("moved"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.sealer.open(r.ID, sealed); err == nil {
		t.Error("sealed key opened for another account ID")
	}
}

func TestIPMIPasswordTooLong(t *testing.T) {
	f := newFixture(t)
	s := f.store
	p := DefaultPolicy()
	p.MaxPasswordLength = 64
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	long := "a-very-long-password-of-32-bytes"
	if _, err := s.Create("ipmi", long, Operator, []AccountType{TypeRedfish, TypeIPMI}, false); !isPolicyError(err, "AccountTypes") {
		t.Errorf("IPMI account with 32-byte password: %v", err)
	}
	u := mustCreate(t, s, "user", long, Operator)
	if _, err := s.Update(u.ID, Patch{AccountTypes: &[]AccountType{TypeIPMI, TypeRedfish}}); !isPolicyError(err, "AccountTypes") {
		t.Errorf("enabling IPMI with a long password: %v", err)
	}
	if _, err := s.Update(u.ID, Patch{AccountTypes: &[]AccountType{TypeIPMI, TypeRedfish}, Password: ptr("short-enough")}); err != nil {
		t.Errorf("enabling IPMI with a new short password: %v", err)
	}
	if _, err := s.Update(u.ID, Patch{Password: ptr(long)}); !isPolicyError(err, "Password") {
		t.Errorf("long password on an IPMI account: %v", err)
	}
}

// TestConcurrentAuthenticate runs logins, failures and updates in
// parallel (meaningful under -race) and checks the slow hash does not
// hold the lock: List stays responsive meanwhile.
func TestConcurrentAuthenticate(t *testing.T) {
	f := newFixture(t)
	s := f.store
	p := DefaultPolicy()
	p.LockoutThreshold = 0
	if err := s.SetPolicy(p); err != nil {
		t.Fatal(err)
	}
	mustCreate(t, s, "admin", "admin-pass1", Administrator)
	var ids []int
	for i := range 4 {
		ids = append(ids, mustCreate(t, s, fmt.Sprintf("user%d", i), fmt.Sprintf("password-%d", i), Operator).ID)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	for g := range 8 {
		wg.Go(func() {
			i := g % 4
			name, pw := fmt.Sprintf("user%d", i), fmt.Sprintf("password-%d", i)
			for range 20 {
				if _, err := s.Authenticate(name, pw); err != nil {
					errs <- fmt.Errorf("%s: %w", name, err)
					return
				}
				if _, err := s.Authenticate(name, "wrong-one"); !errors.Is(err, ErrBadCredentials) {
					errs <- fmt.Errorf("%s wrong: %v", name, err)
					return
				}
				s.Authenticate("ghost", pw)
			}
		})
	}
	wg.Go(func() {
		for j := range 20 {
			if _, err := s.Update(ids[j%4], Patch{PasswordChangeRequired: ptr(j%2 == 0)}); err != nil {
				errs <- err
				return
			}
			s.List()
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

func BenchmarkVerifyPassword(b *testing.B) {
	h, err := newPasswordHash("benchmark-pw", defaultIterations)
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if !h.verify("benchmark-pw") {
			b.Fatal("verify failed")
		}
	}
	b.ReportMetric(defaultIterations, "iterations")
}
