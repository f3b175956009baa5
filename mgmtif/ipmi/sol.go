package ipmi

import (
	"encoding/binary"
	"io"
	"sync"
	"time"
)

// Console is the host serial console that SOL attaches to (e.g.
// *console.Host).
type Console interface {
	// Attach connects one client: host output is written to w until
	// detach is called (w must not block on the caller); what is written
	// to in is typed on the host.
	Attach(w io.Writer) (in io.Writer, detach func())
}

const (
	solPayloadInstance = 1
	solMaxChunk        = 200 // characters per SOL packet
	solRetryInterval   = 500 * time.Millisecond
	solRetries         = 4
	solBufferLimit     = 64 << 10

	// Activate Payload completion codes (IPMI 2.0 table 24-2).
	ccPayloadActive      = 0x80
	ccPayloadDisabled    = 0x81
	ccPayloadLimit       = 0x82
	ccPayloadNeedsCrypto = 0x84
)

// solLink is the one SOL attachment: a session, the console's input, and
// the host output waiting to be sent.
type solLink struct {
	ss     *session
	in     io.Writer
	detach func()

	mu      sync.Mutex
	pending []byte
	wake    chan struct{}
	acked   chan uint8
	stop    chan struct{}
	done    chan struct{}
	lastIn  uint8 // sequence number of the last console packet delivered
	outSeq  uint8
	stopped bool
}

// Write queues host output (the console calls it with its lock held).
func (l *solLink) Write(p []byte) (int, error) {
	l.mu.Lock()
	if len(l.pending)+len(p) <= solBufferLimit {
		l.pending = append(l.pending, p...)
	}
	l.mu.Unlock()
	select {
	case l.wake <- struct{}{}:
	default:
	}
	return len(p), nil
}

// activatePayload answers Activate Payload (§24.1) for SOL: one instance,
// encrypted and authenticated, for sessions operating at ADMIN.
func (s *Server) activatePayload(r *request) reply {
	if r.data[0]&0x3F != byte(payloadSOL) {
		return fail(ccPayloadDisabled)
	}
	if s.cfg.Console == nil {
		return fail(ccPayloadDisabled)
	}
	if r.data[1] != solPayloadInstance {
		return fail(ccPayloadLimit)
	}
	if r.ss.priv < privAdmin {
		return fail(ccPrivilege)
	}
	if r.data[2]&0xC0 != 0xC0 {
		return fail(ccPayloadNeedsCrypto)
	}
	if s.sol != nil {
		return fail(ccPayloadActive)
	}
	l := &solLink{ss: r.ss, wake: make(chan struct{}, 1), acked: make(chan uint8, 4),
		stop: make(chan struct{}), done: make(chan struct{})}
	s.sol = l
	port := s.port()
	s.log.Info("SOL activated", "user", r.ss.userName, "session", r.ss.id)
	return reply{
		data: []byte{0, 0, 0, 0, solMaxChunk + 4, 0, solMaxChunk + 4, 0, byte(port), byte(port >> 8), 0xFF, 0xFF},
		after: func() {
			// Attach once the activation response is on its way.
			l.in, l.detach = s.cfg.Console.Attach(l)
			go s.solSender(l)
		},
	}
}

func (s *Server) deactivatePayload(r *request) reply {
	if r.data[0]&0x3F != byte(payloadSOL) || r.data[1] != solPayloadInstance {
		return fail(ccInvalidData)
	}
	if s.sol == nil || s.sol.ss != r.ss {
		return fail(ccPayloadActive) // payload already deactivated
	}
	return reply{after: func() { s.solDetachLocked(r.ss) }}
}

func (s *Server) getPayloadActivation(r *request) reply {
	if r.data[0]&0x3F != byte(payloadSOL) {
		return ok(0, 0, 0)
	}
	var active uint8
	if s.sol != nil {
		active = 0x01
	}
	return ok(1, active, 0)
}

func (s *Server) getPayloadInstanceInfo(r *request) reply {
	if r.data[0]&0x3F != byte(payloadSOL) || r.data[1] != solPayloadInstance || s.sol == nil {
		return ok(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0)
	}
	return okData(binary.LittleEndian.AppendUint32(nil, s.sol.ss.id))
}

// solPacket handles a SOL payload from the console: an ACK of our last
// packet and/or characters to type, which are acknowledged.
func (s *Server) solPacket(ss *session, p []byte) ([][]byte, error) {
	l := s.sol
	if l == nil || l.ss != ss {
		return nil, malformed("SOL payload without an active SOL instance")
	}
	if len(p) < 4 {
		return nil, malformed("short SOL payload")
	}
	seq, ack, data := p[0]&0x0F, p[1]&0x0F, p[4:]
	if ack != 0 {
		select {
		case l.acked <- ack:
		default:
		}
	}
	if seq == 0 {
		return nil, nil
	}
	if seq != l.lastIn && len(data) > 0 && l.in != nil {
		_, _ = l.in.Write(data)
	}
	l.lastIn = seq
	pkt, err := ss.sealNext(payloadSOL, []byte{0, seq, byte(len(data)), 0})
	if err != nil {
		return nil, err
	}
	return one(pkt), nil
}

// solSender sends queued host output, one packet at a time, each retried
// until acknowledged.
func (s *Server) solSender(l *solLink) {
	defer close(l.done)
	for {
		select {
		case <-l.stop:
			return
		case <-l.wake:
		}
		for {
			l.mu.Lock()
			n := min(len(l.pending), solMaxChunk)
			chunk := append([]byte(nil), l.pending[:n]...)
			l.pending = l.pending[n:]
			l.mu.Unlock()
			if n == 0 {
				break
			}
			l.outSeq = l.outSeq%15 + 1
			if !s.solSend(l, chunk) {
				return
			}
		}
	}
}

// solSend sends one chunk and waits for its ACK; false when SOL stopped.
func (s *Server) solSend(l *solLink, chunk []byte) bool {
	payload := append([]byte{l.outSeq, 0, 0, 0}, chunk...)
	for range solRetries {
		s.mu.Lock()
		if s.sol != l || s.conn == nil {
			s.mu.Unlock()
			return false
		}
		pkt, err := l.ss.sealNext(payloadSOL, payload)
		conn, to := s.conn, l.ss.remote
		s.mu.Unlock()
		if err != nil {
			return false
		}
		if _, err := conn.WriteTo(pkt, udpAddr(to)); err != nil {
			s.log.Debug("SOL send", "err", err)
		}
		timeout := time.NewTimer(solRetryInterval)
	wait:
		for {
			select {
			case <-l.stop:
				timeout.Stop()
				return false
			case a := <-l.acked:
				if a == l.outSeq {
					timeout.Stop()
					return true
				}
			case <-timeout.C:
				break wait
			}
		}
	}
	return true // give up on this chunk, keep going
}

// solDetachLocked ends the SOL instance of ss, if it has it.
func (s *Server) solDetachLocked(ss *session) {
	l := s.sol
	if l == nil || l.ss != ss {
		return
	}
	s.sol = nil
	if l.detach != nil {
		l.detach()
	}
	l.mu.Lock()
	if !l.stopped {
		l.stopped = true
		close(l.stop)
	}
	l.mu.Unlock()
	s.log.Info("SOL deactivated", "user", ss.userName, "session", ss.id)
}
