package account

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/record"
)

// Account is the protocol-neutral view of one account. It is a copy:
// changing it changes nothing in the store.
type Account struct {
	ID                     int    // 2..15 (1 reserved, disabled) = IPMI user ID; Redfish Id is strconv.Itoa(ID)
	UserName               string // ≤16 bytes, [A-Za-z0-9._-], starts with a letter, unique ignoring case
	Role                   Role
	Enabled                bool
	Locked                 bool // locked out by failed logins (see Policy)
	PasswordChangeRequired bool
	AccountTypes           []AccountType // canonical order: Redfish, IPMI
	PasswordExpiration     *time.Time    // optional; nil = never
}

// Config configures a Store.
type Config struct {
	Dir string // state directory; the record is <Dir>/accounts.json
	// SealingKey (32 bytes) seals the IPMI keys. It may be nil: the key is
	// not known yet (it comes from the root of trust, see SetSealingKey).
	SealingKey []byte
	Clock      clock.Clock
	// Events receives registry messages (see the package comment); may be
	// nil. It is called without the store's lock held.
	Events func(messageID string, args ...string)

	// iterations overrides the PBKDF2 count of new hashes (tests only).
	iterations int
}

// Patch is a partial update; nil fields are left alone.
type Patch struct {
	UserName               *string
	Password               *string
	Role                   *Role
	Enabled                *bool
	Locked                 *bool // only false is allowed: unlock
	AccountTypes           *[]AccountType
	PasswordChangeRequired *bool
}

// Store is the account store. It is safe for concurrent use.
type Store struct {
	path        string
	clock       clock.Clock
	events      func(messageID string, args ...string)
	iterations  int
	dummy       passwordHash // verified for unknown users
	cacheSecret []byte       // keys the verification cache; memory only
	// slowVerifications counts PBKDF2 verifications by Authenticate, so
	// tests can see that unknown users pay the same as known ones.
	slowVerifications atomic.Uint64

	mu              sync.Mutex
	sealer          *sealer // nil until there is a sealing key
	policy          Policy
	accounts        []accountRecord // sorted by ID; replaced, never edited in place
	cache           map[cacheKey]cacheEntry
	unknownFailures int            // consecutive failures for unknown users (log throttling)
	pending         []pendingEvent // emitted by unlock, after the lock is released
}

// Open loads the store from cfg.Dir (creating the directory if needed; a
// missing record is an empty store with DefaultPolicy).
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, errors.New("open accounts: no state directory")
	}
	var sl *sealer
	if cfg.SealingKey != nil {
		var err error
		if sl, err = newSealer(cfg.SealingKey); err != nil {
			return nil, fmt.Errorf("open accounts: %w", err)
		}
	}
	clk := cfg.Clock
	if clk == nil {
		clk = clock.Real()
	}
	iterations := cfg.iterations
	if iterations <= 0 {
		iterations = defaultIterations
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("open accounts: %w", err)
	}
	s := &Store{
		path:       filepath.Join(cfg.Dir, recordFile),
		clock:      clk,
		events:     cfg.Events,
		sealer:     sl,
		iterations: iterations,
		policy:     DefaultPolicy(),
		cache:      make(map[cacheKey]cacheEntry),
	}
	var raw json.RawMessage
	_, err := record.Load(s.path, &raw)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return nil, fmt.Errorf("open accounts: %w", err)
	default:
		rec, err := decodeRecord(raw)
		if err != nil {
			return nil, fmt.Errorf("open accounts %s: %w", s.path, err)
		}
		if rec.Policy != nil {
			s.policy = rec.Policy.policy()
		}
		s.accounts = rec.Accounts
		// sort.Slice, not slices.SortFunc: no generic sort copy per element type in bmcd.
		sort.Slice(s.accounts, func(i, j int) bool { return s.accounts[i].ID < s.accounts[j].ID })
	}
	s.cacheSecret = make([]byte, 32)
	if _, err := rand.Read(s.cacheSecret); err != nil {
		return nil, fmt.Errorf("open accounts: %w", err)
	}
	if s.dummy, err = unmatchableHash(iterations); err != nil {
		return nil, fmt.Errorf("open accounts: %w", err)
	}
	return s, nil
}

// List returns all accounts ordered by ID.
func (s *Store) List() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.clock.Now()
	out := make([]Account, 0, len(s.accounts))
	for i := range s.accounts {
		out = append(out, s.viewLocked(&s.accounts[i], now))
	}
	return out
}

// Get returns the account with the given ID.
func (s *Store) Get(id int) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.byIDLocked(id)
	if a == nil {
		return Account{}, fmt.Errorf("account %d: %w", id, ErrNotFound)
	}
	return s.viewLocked(a, s.clock.Now()), nil
}

// ByName returns the account with exactly this user name.
func (s *Store) ByName(name string) (Account, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a := s.byNameLocked(name)
	if a == nil {
		return Account{}, fmt.Errorf("account %q: %w", name, ErrNotFound)
	}
	return s.viewLocked(a, s.clock.Now()), nil
}

// Create adds an account with the lowest free ID. types nil means Redfish
// only. The record is on disk before Create returns.
func (s *Store) Create(name, password string, role Role, types []AccountType, passwordChangeRequired bool) (Account, error) {
	fail := func(err error) (Account, error) { return Account{}, fmt.Errorf("create account %q: %w", name, err) }
	if err := ValidateUserName(name); err != nil {
		return fail(err)
	}
	if !role.Valid() {
		return fail(&PolicyError{"RoleId", fmt.Sprintf("unknown role %q", role)})
	}
	types, err := normalizeTypes(types)
	if err != nil {
		return fail(err)
	}
	if slices.Contains(types, TypeIPMI) && len(password) > MaxIPMIKeyLength {
		return fail(&PolicyError{"AccountTypes", fmt.Sprintf("IPMI needs a password of at most %d bytes", MaxIPMIKeyLength)})
	}
	// Cheap checks first, so a doomed request does not pay for the hash.
	s.mu.Lock()
	err = s.checkCreateLocked(name, password)
	s.mu.Unlock()
	if err != nil {
		return fail(err)
	}
	hash, err := newPasswordHash(password, s.iterations)
	if err != nil {
		return fail(err)
	}

	s.mu.Lock()
	defer s.unlock()
	if err := s.checkCreateLocked(name, password); err != nil { // state may have moved on
		return fail(err)
	}
	id := s.freeIDLocked()
	a := accountRecord{
		ID:                     id,
		UserName:               name,
		Role:                   role,
		Enabled:                true,
		PasswordChangeRequired: passwordChangeRequired,
		AccountTypes:           types,
		Password:               hash,
	}
	if err := s.captureIPMIKey(&a, password, passwordChangeRequired); err != nil {
		return fail(err)
	}
	next := append(s.cloneAccountsLocked(), a)
	// sort.Slice, not slices.SortFunc: no generic sort copy per element type in bmcd.
	sort.Slice(next, func(i, j int) bool { return next[i].ID < next[j].ID })
	if err := s.commitLocked(s.policy, next); err != nil {
		return fail(err)
	}
	s.emitLocked(msgAccountCreated, name)
	return s.viewLocked(s.byIDLocked(id), s.clock.Now()), nil
}

func (s *Store) checkCreateLocked(name, password string) error {
	if s.nameTakenLocked(name, 0) {
		return ErrExists
	}
	if len(s.accounts) >= MaxAccounts {
		return ErrNoFreeID
	}
	return s.policy.ValidatePassword(name, password)
}

// Update applies p atomically: everything is validated first, then the
// change is written to disk, then it takes effect. Setting a password
// clears PasswordChangeRequired unless p.PasswordChangeRequired is set.
func (s *Store) Update(id int, p Patch) (Account, error) {
	fail := func(err error) (Account, error) { return Account{}, fmt.Errorf("update account %d: %w", id, err) }
	if err := p.validate(); err != nil {
		return fail(err)
	}
	var hash passwordHash
	if p.Password != nil {
		// Check the policy before paying for the hash.
		s.mu.Lock()
		cur := s.byIDLocked(id)
		var err error
		if cur == nil {
			err = ErrNotFound
		} else {
			err = s.policy.ValidatePassword(patchedName(p, cur.UserName), *p.Password)
		}
		s.mu.Unlock()
		if err != nil {
			return fail(err)
		}
		if hash, err = newPasswordHash(*p.Password, s.iterations); err != nil {
			return fail(err)
		}
	}

	s.mu.Lock()
	defer s.unlock()
	cur := s.byIDLocked(id)
	if cur == nil {
		return fail(ErrNotFound)
	}
	next := s.cloneAccountsLocked()
	a := &next[slices.IndexFunc(next, func(r accountRecord) bool { return r.ID == id })]
	oldName := a.UserName
	changed, cleared, unlocked := false, false, false
	if p.UserName != nil && *p.UserName != a.UserName {
		if s.nameTakenLocked(*p.UserName, id) {
			return fail(ErrExists)
		}
		a.UserName, changed = *p.UserName, true
	}
	if p.Role != nil && *p.Role != a.Role {
		a.Role, changed = *p.Role, true
	}
	if p.Enabled != nil && *p.Enabled != a.Enabled {
		a.Enabled, changed = *p.Enabled, true
	}
	if p.AccountTypes != nil {
		types, _ := normalizeTypes(*p.AccountTypes) // validated above
		if !slices.Equal(types, a.AccountTypes) {
			a.AccountTypes, changed = types, true
		}
	}
	if p.Locked != nil && (a.LockedAt != nil || a.FailedLogins > 0) {
		unlocked = a.LockedAt != nil && s.lockedLocked(a, s.clock.Now())
		a.LockedAt, a.LastFailure, a.FailedLogins = nil, nil, 0
		cleared = true
	}
	if p.Password != nil {
		if err := s.policy.ValidatePassword(a.UserName, *p.Password); err != nil {
			return fail(err)
		}
		a.Password = hash
		mustChange := p.PasswordChangeRequired != nil && *p.PasswordChangeRequired
		if err := s.captureIPMIKey(a, *p.Password, mustChange); err != nil {
			return fail(err)
		}
		a.PasswordChangeRequired, changed = false, true
	}
	if p.PasswordChangeRequired != nil && *p.PasswordChangeRequired != a.PasswordChangeRequired {
		a.PasswordChangeRequired, changed = *p.PasswordChangeRequired, true
	}
	if slices.Contains(a.AccountTypes, TypeIPMI) {
		switch {
		case p.Password != nil && len(*p.Password) > MaxIPMIKeyLength:
			return fail(&PolicyError{"Password", fmt.Sprintf("an IPMI account's password must be at most %d bytes", MaxIPMIKeyLength)})
		case p.Password == nil && p.AccountTypes != nil && a.IPMIKey == nil:
			// The password was set too long for IPMI, or as one to be
			// changed before the sealing key was there (the first boot's).
			return fail(&PolicyError{"AccountTypes", fmt.Sprintf("IPMI needs the password set again (at most %d bytes)", MaxIPMIKeyLength)})
		}
	}
	if lastAdminLost(s.accounts, next) {
		return fail(ErrLastAdministrator)
	}
	if !changed && !cleared {
		return s.viewLocked(cur, s.clock.Now()), nil
	}
	if err := s.commitLocked(s.policy, next); err != nil {
		return fail(err)
	}
	s.invalidateLocked(id)
	if unlocked {
		s.emitLocked(msgAccountUnlocked, a.UserName)
	}
	if changed {
		name := a.UserName
		if name != oldName {
			name = oldName + " (now " + a.UserName + ")"
		}
		s.emitLocked(msgAccountModified, name)
	}
	return s.viewLocked(s.byIDLocked(id), s.clock.Now()), nil
}

// validate checks the fields of a patch on their own.
func (p Patch) validate() error {
	if p.UserName != nil {
		if err := ValidateUserName(*p.UserName); err != nil {
			return err
		}
	}
	if p.Role != nil && !p.Role.Valid() {
		return &PolicyError{"RoleId", fmt.Sprintf("unknown role %q", *p.Role)}
	}
	if p.Locked != nil && *p.Locked {
		return &PolicyError{"Locked", "can only be set to false (unlock)"}
	}
	if p.AccountTypes != nil {
		if _, err := normalizeTypes(*p.AccountTypes); err != nil {
			return err
		}
		if *p.AccountTypes == nil {
			return &PolicyError{"AccountTypes", "must not be empty"}
		}
	}
	return nil
}

func patchedName(p Patch, current string) string {
	if p.UserName != nil {
		return *p.UserName
	}
	return current
}

// Delete removes an account. The last enabled Administrator cannot be
// deleted.
func (s *Store) Delete(id int) error {
	s.mu.Lock()
	defer s.unlock()
	cur := s.byIDLocked(id)
	if cur == nil {
		return fmt.Errorf("delete account %d: %w", id, ErrNotFound)
	}
	next := slices.DeleteFunc(s.cloneAccountsLocked(), func(r accountRecord) bool { return r.ID == id })
	if lastAdminLost(s.accounts, next) {
		return fmt.Errorf("delete account %d: %w", id, ErrLastAdministrator)
	}
	name := cur.UserName
	if err := s.commitLocked(s.policy, next); err != nil {
		return fmt.Errorf("delete account %d: %w", id, err)
	}
	s.invalidateLocked(id)
	s.emitLocked(msgAccountRemoved, name)
	return nil
}

// IPMIKey returns the account's IPMI key (its password, at most 20 bytes)
// if its AccountTypes contain IPMI; otherwise an error matching
// ErrNoIPMIKey. The caller should wipe the slice after use.
func (s *Store) IPMIKey(id int) ([]byte, error) {
	s.mu.Lock()
	a := s.byIDLocked(id)
	if a == nil {
		s.mu.Unlock()
		return nil, fmt.Errorf("IPMI key of account %d: %w", id, ErrNotFound)
	}
	sl := s.sealer
	switch {
	case !slices.Contains(a.AccountTypes, TypeIPMI):
		s.mu.Unlock()
		return nil, fmt.Errorf("IPMI key of account %d: %w", id, ErrNoIPMIKey)
	case sl == nil:
		s.mu.Unlock()
		return nil, fmt.Errorf("IPMI key of account %d: %w", id, ErrNoSealingKey)
	case a.IPMIKey == nil:
		s.mu.Unlock()
		return nil, fmt.Errorf("IPMI key of account %d: %w", id, ErrNoIPMIKey)
	}
	sealed := *a.IPMIKey // the record is never edited in place
	s.mu.Unlock()
	if !sl.sealedBy(sealed) {
		return nil, fmt.Errorf("IPMI key of account %d: sealed under sealing key %x, the store has %x", id, sealed.KeyID, sl.id)
	}
	return sl.open(id, sealed)
}

// SetSealingKey makes key (32 bytes) the store's sealing key, the one
// from the root of trust. Every IPMI key sealed under another key is
// re-sealed under it if the store can open it (with the key it had so far;
// a key without a key ID is also tried with key itself, as an older bmcd
// that rewrote the record drops the IDs), and the record is on disk before
// SetSealingKey returns; password sets then seal under key. An IPMI key
// the store cannot open is left as it is: IPMIKey fails for it until the
// password is set again. Setting the key the store already has is a no-op.
func (s *Store) SetSealingKey(key []byte) error {
	next, err := newSealer(key)
	if err != nil {
		return fmt.Errorf("set sealing key: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	accounts := s.cloneAccountsLocked()
	changed := false
	for i := range accounts {
		a := &accounts[i]
		if a.IPMIKey == nil || bytes.Equal(a.IPMIKey.KeyID, next.id) {
			continue
		}
		k, err := reseal(s.sealer, next, a.ID, *a.IPMIKey)
		if err != nil {
			continue // unreadable under either key: left as it is
		}
		a.IPMIKey, changed = &k, true
	}
	if changed {
		if err := s.commitLocked(s.policy, accounts); err != nil {
			return fmt.Errorf("set sealing key: %w", err)
		}
	}
	s.sealer = next
	return nil
}

// reseal opens k with prev (which may be nil) or, when k has no key ID,
// with next, and seals it again with next.
func reseal(prev, next *sealer, id int, k sealedKey) (sealedKey, error) {
	var plain []byte
	err := ErrNoSealingKey
	if prev != nil && prev.sealedBy(k) {
		plain, err = prev.open(id, k)
	}
	if err != nil && k.KeyID == nil {
		plain, err = next.open(id, k)
	}
	if err != nil {
		return sealedKey{}, err
	}
	defer clear(plain)
	return next.seal(id, plain)
}

// Policy returns the current policy.
func (s *Store) Policy() Policy {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.policy
}

// SetPolicy validates and persists a new policy. It applies to passwords
// set from now on and to lockouts immediately (a shorter LockoutDuration
// shortens a running lock).
func (s *Store) SetPolicy(p Policy) error {
	if err := p.validate(); err != nil {
		return fmt.Errorf("set account policy: %w", err)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.commitLocked(p, s.accounts); err != nil {
		return fmt.Errorf("set account policy: %w", err)
	}
	return nil
}

// captureIPMIKey seals password as the account's IPMI key, or drops the
// key when the password is too long to be one. Without a sealing key it
// fails (ErrNoSealingKey), unless the password must be changed before use
// (mustChange: IPMI refuses it anyway, and the change captures the key),
// which is what the first boot sets before the root of trust hands the
// key over.
func (s *Store) captureIPMIKey(a *accountRecord, password string, mustChange bool) error {
	switch {
	case len(password) > MaxIPMIKeyLength || (s.sealer == nil && mustChange):
		a.IPMIKey = nil
		return nil
	case s.sealer == nil:
		return ErrNoSealingKey
	}
	k, err := s.sealer.seal(a.ID, []byte(password))
	if err != nil {
		return err
	}
	a.IPMIKey = &k
	return nil
}

// commitLocked writes the record and only then installs it in memory.
func (s *Store) commitLocked(p Policy, accounts []accountRecord) error {
	if err := s.saveLocked(p, accounts); err != nil {
		return err
	}
	s.policy, s.accounts = p, accounts
	return nil
}

func (s *Store) saveLocked(p Policy, accounts []accountRecord) error {
	rec := storeRecord{Policy: policyToRecord(p), Accounts: accounts}
	if rec.Accounts == nil {
		rec.Accounts = []accountRecord{}
	}
	if err := record.Save(s.path, recordVersion, rec); err != nil {
		return fmt.Errorf("save accounts: %w", err)
	}
	return nil
}

func (s *Store) cloneAccountsLocked() []accountRecord {
	out := make([]accountRecord, len(s.accounts), len(s.accounts)+1)
	for i := range s.accounts {
		out[i] = s.accounts[i].clone()
	}
	return out
}

func (s *Store) byIDLocked(id int) *accountRecord {
	for i := range s.accounts {
		if s.accounts[i].ID == id {
			return &s.accounts[i]
		}
	}
	return nil
}

func (s *Store) byNameLocked(name string) *accountRecord {
	for i := range s.accounts {
		if s.accounts[i].UserName == name {
			return &s.accounts[i]
		}
	}
	return nil
}

// nameTakenLocked reports whether another account (not except) has name,
// ignoring case: "Admin" and "admin" would be too easy to confuse.
func (s *Store) nameTakenLocked(name string, except int) bool {
	for i := range s.accounts {
		if s.accounts[i].ID != except && strings.EqualFold(s.accounts[i].UserName, name) {
			return true
		}
	}
	return false
}

func (s *Store) freeIDLocked() int {
	for id := MinID; id <= MaxID; id++ {
		if s.byIDLocked(id) == nil {
			return id
		}
	}
	return 0 // unreachable: checkCreateLocked bounds the count
}

func (s *Store) lockedLocked(a *accountRecord, now time.Time) bool {
	if a.LockedAt == nil {
		return false
	}
	d := s.policy.LockoutDuration
	return d == 0 || now.Before(a.LockedAt.Add(d))
}

func (s *Store) viewLocked(a *accountRecord, now time.Time) Account {
	return Account{
		ID:                     a.ID,
		UserName:               a.UserName,
		Role:                   a.Role,
		Enabled:                a.Enabled,
		Locked:                 s.lockedLocked(a, now),
		PasswordChangeRequired: a.PasswordChangeRequired,
		AccountTypes:           slices.Clone(a.AccountTypes),
		PasswordExpiration:     cloneTime(a.PasswordExpiration),
	}
}

// usableAdmins counts enabled Administrators that can use Redfish: the
// accounts that can repair the account configuration.
func usableAdmins(accounts []accountRecord) int {
	n := 0
	for i := range accounts {
		a := &accounts[i]
		if a.Role == Administrator && a.Enabled && slices.Contains(a.AccountTypes, TypeRedfish) {
			n++
		}
	}
	return n
}

// lastAdminLost reports whether going from before to after removes the
// last usable Administrator.
func lastAdminLost(before, after []accountRecord) bool {
	return usableAdmins(before) > 0 && usableAdmins(after) == 0
}

// sameHash reports whether two password hashes are the same stored value.
func sameHash(a, b passwordHash) bool {
	return a.Iterations == b.Iterations && bytes.Equal(a.Salt, b.Salt) && bytes.Equal(a.Hash, b.Hash)
}

// pendingEvent is a registry message waiting for the lock to be released.
type pendingEvent struct {
	messageID string
	args      []string
}

// Message IDs of the board's OEM registry (bmc/event.BoardRegistry).
const (
	msgLoginFailed      = "IronrootEvent.1.0.LoginFailed"
	msgAccountLockedOut = "IronrootEvent.1.0.AccountLockedOut"
	msgAccountUnlocked  = "IronrootEvent.1.0.AccountUnlocked"
	msgAccountCreated   = "IronrootEvent.1.0.AccountCreated"
	msgAccountModified  = "IronrootEvent.1.0.AccountModified"
	msgAccountRemoved   = "IronrootEvent.1.0.AccountRemoved"
)

// emitLocked queues an event; unlock delivers it.
func (s *Store) emitLocked(messageID string, args ...string) {
	if s.events != nil {
		s.pending = append(s.pending, pendingEvent{messageID, args})
	}
}

// unlock releases s.mu and then delivers queued events, so an Events hook
// may call back into the store.
func (s *Store) unlock() {
	evs := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, e := range evs {
		s.events(e.messageID, e.args...)
	}
}
