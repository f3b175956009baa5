package account

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

const (
	// cacheSize bounds the verification cache.
	cacheSize = 32
	// cacheTTL is how long a successful verification is remembered.
	cacheTTL = 60 * time.Second
	// invalidUserName replaces, in LoginFailed, a user name that is not a
	// valid one (it may be a password typed into the wrong field).
	invalidUserName = "(invalid user name)"
)

// cacheKey is HMAC-SHA256(cacheSecret, len(name)‖name‖password).
type cacheKey [sha256.Size]byte

type cacheEntry struct {
	id      int
	expires time.Time
}

// Authenticate checks name and password for a Redfish login (or any
// password login; see AuthenticateVia) and returns the account.
//
// Errors: ErrBadCredentials for an unknown user AND for a wrong password
// (same cost: an unknown user is verified against a dummy hash);
// ErrLockedOut while the account is locked out, whatever the password;
// ErrDisabled for the right password of a disabled account (or one whose
// AccountTypes lack Redfish). A wrong password counts toward lockout. A
// PasswordChangeRequired account authenticates; the caller restricts it.
func (s *Store) Authenticate(name, password string) (Account, error) {
	return s.AuthenticateVia(TypeRedfish, name, password)
}

// AuthenticateVia is Authenticate for interface via: the account must have
// via in its AccountTypes, and via names the interface in LoginFailed.
// The slow hash runs without the store's lock held.
func (s *Store) AuthenticateVia(via AccountType, name, password string) (Account, error) {
	key := s.cacheKey(name, password)

	s.mu.Lock()
	if a, ok := s.cachedLocked(key, name, via); ok {
		acct, err := s.loginSucceededLocked(a)
		s.unlock()
		return acct, err
	}
	h, id := s.dummy, 0
	if a := s.byNameLocked(name); a != nil {
		h, id = a.Password, a.ID // a's slices are never modified in place
	}
	s.mu.Unlock()

	ok := h.verify(password)
	s.slowVerifications.Add(1)

	s.mu.Lock()
	acct, err := s.finishAuthLocked(via, name, id, h, ok, key)
	s.unlock()
	if err == nil && (h.Alg != hashAlg || h.Iterations < s.iterations) {
		s.rehash(id, h, password)
	}
	return acct, err
}

// finishAuthLocked decides a login once the password has been verified
// (ok) against h, the hash of account id (0: unknown user, dummy hash).
func (s *Store) finishAuthLocked(via AccountType, name string, id int, h passwordHash, ok bool, key cacheKey) (Account, error) {
	if id == 0 {
		s.unknownUserFailedLocked(name, via)
		return Account{}, fmt.Errorf("authenticate %q: %w", name, ErrBadCredentials)
	}
	a := s.byIDLocked(id)
	if a == nil || a.UserName != name || !sameHash(a.Password, h) {
		// Deleted, renamed or given a new password while we hashed.
		return Account{}, fmt.Errorf("authenticate %q: %w", name, ErrBadCredentials)
	}
	now := s.clock.Now()
	if s.lockedLocked(a, now) {
		return Account{}, fmt.Errorf("authenticate %q: %w", name, ErrLockedOut)
	}
	if !ok {
		bad := fmt.Errorf("authenticate %q: %w", name, ErrBadCredentials)
		if err := s.loginFailedLocked(id, via, now); err != nil {
			return Account{}, errors.Join(bad, err)
		}
		return Account{}, bad
	}
	if !a.Enabled || !a.Role.Valid() || !a.hasType(via) {
		return Account{}, fmt.Errorf("authenticate %q: %w", name, ErrDisabled)
	}
	acct, err := s.loginSucceededLocked(a)
	if err != nil {
		return Account{}, fmt.Errorf("authenticate %q: %w", name, err)
	}
	s.cacheLocked(key, id, now)
	return acct, nil
}

func (a *accountRecord) hasType(t AccountType) bool { return slices.Contains(a.AccountTypes, t) }

// RecordLoginFailure counts a failed login that another layer verified
// (IPMI RAKP checks the key itself), exactly as a failed Authenticate would:
// it may lock the account and emits LoginFailed (via IPMI) and
// AccountLockedOut. A locked account's failures are not counted.
func (s *Store) RecordLoginFailure(id int) error {
	s.mu.Lock()
	defer s.unlock()
	a := s.byIDLocked(id)
	if a == nil {
		return fmt.Errorf("record login failure of account %d: %w", id, ErrNotFound)
	}
	now := s.clock.Now()
	if s.lockedLocked(a, now) {
		return nil
	}
	return s.loginFailedLocked(id, TypeIPMI, now)
}

// RecordLoginSuccess resets the failure count after a login that another
// layer verified (IPMI RAKP). The caller checks Locked and Enabled first.
func (s *Store) RecordLoginSuccess(id int) error {
	s.mu.Lock()
	defer s.unlock()
	a := s.byIDLocked(id)
	if a == nil {
		return fmt.Errorf("record login success of account %d: %w", id, ErrNotFound)
	}
	_, err := s.loginSucceededLocked(a)
	return err
}

// loginFailedLocked counts one failure of account id at now, locks it at
// the threshold and persists. The count takes effect in memory even if
// the write fails, so lockout works on a broken disk.
func (s *Store) loginFailedLocked(id int, via AccountType, now time.Time) error {
	next := s.cloneAccountsLocked()
	var a *accountRecord
	for i := range next {
		if next[i].ID == id {
			a = &next[i]
		}
	}
	if a.LockedAt != nil { // an expired lock: start afresh
		a.LockedAt, a.FailedLogins = nil, 0
	}
	if reset := s.policy.LockoutCounterResetAfter; a.LastFailure != nil && reset > 0 && now.Sub(*a.LastFailure) >= reset {
		a.FailedLogins = 0
	}
	a.FailedLogins++
	a.LastFailure = &now
	if t := s.policy.AuthFailureLoggingThreshold; t <= 1 || a.FailedLogins%t == 0 {
		s.emitLocked(msgLoginFailed, a.UserName, string(via))
	}
	locked := false
	if t := s.policy.LockoutThreshold; t > 0 && a.FailedLogins >= t {
		a.LockedAt, locked = &now, true
		s.emitLocked(msgAccountLockedOut, a.UserName)
	}
	err := s.saveLocked(s.policy, next)
	s.accounts = next
	if locked {
		s.invalidateLocked(id)
	}
	if err != nil {
		return fmt.Errorf("record login failure: %w", err)
	}
	return nil
}

// unknownUserFailedLocked logs a failure for a user that does not exist,
// throttled like an account's failures.
func (s *Store) unknownUserFailedLocked(name string, via AccountType) {
	s.unknownFailures++
	if t := s.policy.AuthFailureLoggingThreshold; t > 1 && s.unknownFailures%t != 0 {
		return
	}
	if ValidateUserName(name) != nil {
		name = invalidUserName
	}
	s.emitLocked(msgLoginFailed, name, string(via))
}

// loginSucceededLocked clears failure state (persisting only if there was
// any) and returns the account's view.
func (s *Store) loginSucceededLocked(a *accountRecord) (Account, error) {
	id := a.ID
	if a.FailedLogins > 0 || a.LastFailure != nil || a.LockedAt != nil {
		next := s.cloneAccountsLocked()
		for i := range next {
			if next[i].ID == id {
				next[i].FailedLogins, next[i].LastFailure, next[i].LockedAt = 0, nil, nil
			}
		}
		if err := s.commitLocked(s.policy, next); err != nil {
			return Account{}, fmt.Errorf("record login success: %w", err)
		}
	}
	return s.viewLocked(s.byIDLocked(id), s.clock.Now()), nil
}

// rehash re-hashes a password stored with older parameters (after a
// successful login, without the lock); it gives up if the password changed
// meanwhile. A failure only means it is tried at the next login.
func (s *Store) rehash(id int, old passwordHash, password string) {
	h, err := newPasswordHash(password, s.iterations)
	if err != nil {
		return
	}
	s.mu.Lock()
	defer s.unlock()
	a := s.byIDLocked(id)
	if a == nil || !sameHash(a.Password, old) {
		return
	}
	next := s.cloneAccountsLocked()
	for i := range next {
		if next[i].ID == id {
			next[i].Password = h
		}
	}
	if s.commitLocked(s.policy, next) == nil {
		s.invalidateLocked(id)
	}
}

// cacheKey derives the cache key of a name and password.
func (s *Store) cacheKey(name, password string) cacheKey {
	m := hmac.New(sha256.New, s.cacheSecret)
	m.Write(binary.AppendUvarint(nil, uint64(len(name))))
	m.Write([]byte(name))
	m.Write([]byte(password))
	var k cacheKey
	m.Sum(k[:0])
	return k
}

// cachedLocked returns the account of a still valid cache entry for key,
// if the account is still usable by name on via.
func (s *Store) cachedLocked(key cacheKey, name string, via AccountType) (*accountRecord, bool) {
	e, ok := s.cache[key]
	if !ok {
		return nil, false
	}
	now := s.clock.Now()
	if !now.Before(e.expires) {
		delete(s.cache, key)
		return nil, false
	}
	a := s.byIDLocked(e.id)
	if a == nil || a.UserName != name || !a.Enabled || !a.Role.Valid() || !a.hasType(via) || s.lockedLocked(a, now) {
		delete(s.cache, key)
		return nil, false
	}
	return a, true
}

// cacheLocked remembers a successful verification, evicting expired
// entries and then the oldest when full.
func (s *Store) cacheLocked(key cacheKey, id int, now time.Time) {
	if len(s.cache) >= cacheSize {
		var oldest cacheKey
		var oldestExp time.Time
		for k, e := range s.cache {
			if !now.Before(e.expires) {
				delete(s.cache, k)
				continue
			}
			if oldestExp.IsZero() || e.expires.Before(oldestExp) {
				oldest, oldestExp = k, e.expires
			}
		}
		if len(s.cache) >= cacheSize {
			delete(s.cache, oldest)
		}
	}
	s.cache[key] = cacheEntry{id: id, expires: now.Add(cacheTTL)}
}

// invalidateLocked forgets every cached verification of account id.
func (s *Store) invalidateLocked(id int) {
	for k, e := range s.cache {
		if e.id == id {
			delete(s.cache, k)
		}
	}
}
