// Package session owns Redfish sessions: creating them with unguessable tokens, looking
// tokens up on every request, idle expiry on the board clock, and revoking them (one, all
// of an account, or all at once when the management gate locks).
//
// It knows accounts only by numeric ID and user name, and nothing of HTTP: the redfish
// package authenticates the user and renders sessions as Session resources.
package session

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

// Timeout bounds (SessionService.SessionTimeout, seconds 30..86400) and the default.
const (
	MinTimeout     = 30 * time.Second
	MaxTimeout     = 86400 * time.Second
	DefaultTimeout = 1800 * time.Second
	// DefaultMaxSessions bounds concurrently open sessions.
	DefaultMaxSessions = 64
)

// Errors returned by the store.
var (
	ErrLimit   = errors.New("session limit reached")
	ErrTimeout = errors.New("session timeout out of range")
)

// Session is one open session. Token is the secret X-Auth-Token value; it is set only in
// the value returned by Create.
type Session struct {
	ID         string
	Token      string
	AccountID  int
	UserName   string
	RemoteAddr string
	Context    string
	Created    time.Time
	LastUsed   time.Time
}

// Config configures a Store. Zero Timeout means DefaultTimeout, zero MaxSessions means
// DefaultMaxSessions. OnEnd, if non-nil, is called (without locks held) for every session
// that ends, with the reason: "logout", "expired", "account removed", or a RevokeAll reason.
type Config struct {
	Clock       clock.Clock
	Timeout     time.Duration
	MaxSessions int
	OnEnd       func(s Session, reason string)
}

// Store holds the open sessions. It is safe for concurrent use.
type Store struct {
	clk   clock.Clock
	max   int
	onEnd func(Session, string)

	mu      sync.Mutex
	timeout time.Duration
	byKey   map[[sha256.Size]byte]*Session // by SHA-256 of the token: lookups do not compare secrets byte by byte
	byID    map[string]*Session
}

// New returns an empty store.
func New(cfg Config) *Store {
	s := &Store{
		clk:     cfg.Clock,
		max:     cfg.MaxSessions,
		onEnd:   cfg.OnEnd,
		timeout: cfg.Timeout,
		byKey:   make(map[[sha256.Size]byte]*Session),
		byID:    make(map[string]*Session),
	}
	if s.clk == nil {
		s.clk = clock.Real()
	}
	if s.max <= 0 {
		s.max = DefaultMaxSessions
	}
	if s.timeout == 0 {
		s.timeout = DefaultTimeout
	}
	return s
}

// randomHex returns n random bytes, hex-encoded.
func randomHex(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("read random: %w", err)
	}
	return hex.EncodeToString(b), nil
}

// Create opens a session for an already authenticated account. The returned Session
// carries the token (hex of 32 random bytes); the ID is hex of 16 random bytes.
func (s *Store) Create(accountID int, userName, remoteAddr, context string) (Session, error) {
	token, err := randomHex(32)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	id, err := randomHex(16)
	if err != nil {
		return Session{}, fmt.Errorf("create session: %w", err)
	}
	now := s.clk.Now()
	sess := &Session{ID: id, AccountID: accountID, UserName: userName, RemoteAddr: remoteAddr,
		Context: context, Created: now, LastUsed: now}
	s.mu.Lock()
	expired := s.pruneLocked(now)
	if len(s.byID) >= s.max {
		s.mu.Unlock()
		s.ended(expired, "expired")
		return Session{}, ErrLimit
	}
	s.byKey[sha256.Sum256([]byte(token))] = sess
	s.byID[id] = sess
	s.mu.Unlock()
	s.ended(expired, "expired")
	out := *sess
	out.Token = token
	return out, nil
}

// Validate looks a token up and, if it names a live session, marks it used now and
// returns it (without the token). An idle session past the timeout is removed.
func (s *Store) Validate(token string) (Session, bool) {
	if token == "" {
		return Session{}, false
	}
	key := sha256.Sum256([]byte(token))
	now := s.clk.Now()
	s.mu.Lock()
	sess, ok := s.byKey[key]
	if !ok {
		s.mu.Unlock()
		return Session{}, false
	}
	if now.Sub(sess.LastUsed) > s.timeout {
		s.removeLocked(sess)
		s.mu.Unlock()
		s.ended([]Session{*sess}, "expired")
		return Session{}, false
	}
	sess.LastUsed = now
	out := *sess
	s.mu.Unlock()
	return out, true
}

// Get returns a live session by ID.
func (s *Store) Get(id string) (Session, bool) {
	for _, sess := range s.List() {
		if sess.ID == id {
			return sess, true
		}
	}
	return Session{}, false
}

// List returns the live sessions, oldest first, dropping expired ones.
func (s *Store) List() []Session {
	s.mu.Lock()
	expired := s.pruneLocked(s.clk.Now())
	out := make([]Session, 0, len(s.byID))
	for _, sess := range s.byID {
		out = append(out, *sess)
	}
	s.mu.Unlock()
	s.ended(expired, "expired")
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.Before(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// Delete ends one session (logout). It reports whether the session existed.
func (s *Store) Delete(id string) bool {
	s.mu.Lock()
	sess, ok := s.byID[id]
	if ok {
		s.removeLocked(sess)
	}
	s.mu.Unlock()
	if ok {
		s.ended([]Session{*sess}, "logout")
	}
	return ok
}

// DeleteAccount ends every session of an account and returns how many there were.
func (s *Store) DeleteAccount(accountID int, reason string) int {
	return s.revoke(func(sess *Session) bool { return sess.AccountID == accountID }, reason)
}

// RevokeAll ends every session (the gate locking, a manager reset) and returns how many.
func (s *Store) RevokeAll(reason string) int {
	return s.revoke(func(*Session) bool { return true }, reason)
}

func (s *Store) revoke(match func(*Session) bool, reason string) int {
	var gone []Session
	s.mu.Lock()
	for _, sess := range s.byID {
		if match(sess) {
			s.removeLocked(sess)
			gone = append(gone, *sess)
		}
	}
	s.mu.Unlock()
	s.ended(gone, reason)
	return len(gone)
}

// Timeout returns the idle timeout.
func (s *Store) Timeout() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.timeout
}

// SetTimeout changes the idle timeout; it must be whole seconds within MinTimeout..MaxTimeout.
func (s *Store) SetTimeout(d time.Duration) error {
	if d < MinTimeout || d > MaxTimeout || d%time.Second != 0 {
		return fmt.Errorf("set session timeout %v: %w", d, ErrTimeout)
	}
	s.mu.Lock()
	s.timeout = d
	s.mu.Unlock()
	return nil
}

// pruneLocked removes sessions idle longer than the timeout and returns them.
func (s *Store) pruneLocked(now time.Time) []Session {
	var gone []Session
	for _, sess := range s.byID {
		if now.Sub(sess.LastUsed) > s.timeout {
			s.removeLocked(sess)
			gone = append(gone, *sess)
		}
	}
	return gone
}

func (s *Store) removeLocked(sess *Session) {
	delete(s.byID, sess.ID)
	for k, v := range s.byKey {
		if v == sess {
			delete(s.byKey, k)
			break
		}
	}
}

func (s *Store) ended(gone []Session, reason string) {
	if s.onEnd == nil {
		return
	}
	for _, sess := range gone {
		s.onEnd(sess, reason)
	}
}
