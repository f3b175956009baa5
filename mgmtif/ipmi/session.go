package ipmi

import (
	"crypto/rand"
	"encoding/binary"
	"net/netip"
	"time"
)

// sessionState is where a session is in its life:
//
//	awaitRAKP1 --RAKP1--> awaitRAKP3 --RAKP3 ok--> active --Close/idle/revoke--> (gone)
//	any handshake failure or timeout removes the session.
type sessionState uint8

const (
	stateAwaitRAKP1 sessionState = iota
	stateAwaitRAKP3
	stateActive
)

// session is one RMCP+ session.
type session struct {
	id         uint32 // managed system (BMC) session ID: what the console sends
	consoleID  uint32 // remote console session ID: what we send
	handle     uint8
	suite      CipherSuite
	state      sessionState
	remote     netip.AddrPort
	created    time.Time
	lastActive time.Time

	// RAKP.
	rc, rm    [16]byte
	role      uint8 // the whole RAKP1 role byte
	userName  string
	accountID int    // 0: unknown or unusable user (fake key)
	kuid      []byte // 20 bytes
	denied    uint8  // RMCP+ status to return at RAKP4 once the key is proven (0: none)
	deniedWhy string

	// Active.
	maxPriv uint8 // the privilege limit of the session
	priv    uint8 // current privilege
	keys    keys
	window  replayWindow
	outSeq  uint32
}

// sealNext seals payload with the next outbound sequence number.
func (ss *session) sealNext(pt payloadType, payload []byte) ([]byte, error) {
	ss.outSeq++
	return ss.keys.seal(pt, ss.consoleID, ss.outSeq, payload)
}

// wipe forgets the session's secrets.
func (ss *session) wipe() {
	for _, b := range [][]byte{ss.kuid, ss.keys.k1, ss.keys.k2} {
		clear(b)
	}
}

// replayWindow accepts each inbound sequence number at most once: a 32-bit
// bitmap of the highest number seen and the 31 below it. The window only
// moves forward; anything below it, a duplicate in it, or 0 is refused.
type replayWindow struct {
	top  uint32
	mask uint32 // bit i: top-i was seen
}

func (w *replayWindow) accept(seq uint32) bool {
	if seq == 0 {
		return false
	}
	if seq > w.top {
		if d := seq - w.top; d >= 32 {
			w.mask = 1
		} else {
			w.mask = w.mask<<d | 1
		}
		w.top = seq
		return true
	}
	d := w.top - seq
	if d >= 32 || w.mask&(1<<d) != 0 {
		return false
	}
	w.mask |= 1 << d
	return true
}

// bucket is one source's token bucket for session opens.
type bucket struct {
	tokens float64
	last   time.Time
}

// allowOpenLocked takes a token for a session open from src.
func (s *Server) allowOpenLocked(src netip.Addr, now time.Time) bool {
	r := s.cfg.OpenRate
	b := s.rate[src]
	if b == nil {
		if len(s.rate) >= maxRateSources {
			for a, o := range s.rate { // drop full buckets first, else any
				if refill(o, r, now) >= float64(r.Burst) {
					delete(s.rate, a)
				}
			}
			if len(s.rate) >= maxRateSources {
				for a := range s.rate {
					delete(s.rate, a)
					break
				}
			}
		}
		b = &bucket{tokens: float64(r.Burst), last: now}
		s.rate[src] = b
	}
	b.tokens, b.last = refill(b, r, now), now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func refill(b *bucket, r RateLimit, now time.Time) float64 {
	t := b.tokens + float64(now.Sub(b.last))/float64(r.Every)
	return min(t, float64(r.Burst))
}

// handshakeTimeout is how long a session may stay before RAKP3.
func (s *Server) handshakeTimeout() time.Duration {
	return min(s.cfg.IdleTimeout, maxHandshakeTime)
}

func (s *Server) expiredLocked(ss *session, now time.Time) bool {
	if ss.state == stateActive {
		return now.Sub(ss.lastActive) >= s.cfg.IdleTimeout
	}
	return now.Sub(ss.created) >= s.handshakeTimeout()
}

// sweepLocked removes expired sessions.
func (s *Server) sweepLocked(now time.Time) {
	for _, ss := range s.sessions {
		if s.expiredLocked(ss, now) {
			reason := "idle timeout"
			if ss.state != stateActive {
				reason = "handshake abandoned"
			}
			s.closeLocked(ss, reason)
		}
	}
}

// makeRoomLocked frees a slot if the table is full: first the oldest
// session that never completed RAKP3, then the least recently active one.
func (s *Server) makeRoomLocked() {
	if len(s.sessions) < s.cfg.SessionLimit {
		return
	}
	var victim *session
	for _, ss := range s.sessions {
		if ss.state != stateActive && (victim == nil || ss.created.Before(victim.created) ||
			ss.created.Equal(victim.created) && ss.id < victim.id) {
			victim = ss
		}
	}
	reason := "evicted: handshake not completed"
	if victim == nil {
		reason = "evicted: least recently active"
		for _, ss := range s.sessions {
			if victim == nil || ss.lastActive.Before(victim.lastActive) {
				victim = ss
			}
		}
	}
	s.closeLocked(victim, reason)
}

// newSessionIDLocked returns a random, unused, non-zero session ID.
func (s *Server) newSessionIDLocked() (uint32, error) {
	var b [4]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			return 0, err
		}
		id := binary.LittleEndian.Uint32(b[:])
		if id != 0 && s.sessions[id] == nil {
			return id, nil
		}
	}
}

// newHandleLocked returns an unused session handle (1..0xFE).
func (s *Server) newHandleLocked() uint8 {
	for {
		s.nextHndl++
		if s.nextHndl == 0 || s.nextHndl == 0xFF {
			s.nextHndl = 1
		}
		used := false
		for _, ss := range s.sessions {
			used = used || ss.handle == s.nextHndl
		}
		if !used {
			return s.nextHndl
		}
	}
}

// closeLocked removes a session.
func (s *Server) closeLocked(ss *session, reason string) {
	if s.sessions[ss.id] != ss {
		return
	}
	delete(s.sessions, ss.id)
	s.dropLocked(ss, reason)
}

// dropLocked logs and wipes a session already out of the table.
func (s *Server) dropLocked(ss *session, reason string) {
	if ss.state == stateActive {
		s.log.Info("IPMI session closed", "session", ss.id, "user", ss.userName, "from", ss.remote, "reason", reason)
	} else if ss.state == stateAwaitRAKP3 {
		s.log.Warn("IPMI handshake not completed", "session", ss.id, "user", ss.userName, "from", ss.remote, "reason", reason)
	}
	s.solDetachLocked(ss)
	ss.wipe()
}
