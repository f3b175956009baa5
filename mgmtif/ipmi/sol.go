package ipmi

import "io"

// Console is the host serial console that SOL attaches to.
type Console interface {
	// Attach connects one client: output from the host is written to w
	// until the returned detach func is called; input goes to the
	// returned writer.
	Attach(w io.Writer) (in io.Writer, detach func())
}

// solLink is the one SOL attachment.
type solLink struct {
	ss *session
}

func (s *Server) activatePayload(*request) reply      { return fail(ccInvalidCommand) }
func (s *Server) deactivatePayload(*request) reply    { return fail(ccInvalidCommand) }
func (s *Server) getPayloadActivation(*request) reply { return fail(ccInvalidCommand) }
func (s *Server) getPayloadInstanceInfo(*request) reply {
	return fail(ccInvalidCommand)
}

func (s *Server) solPacket(*session, []byte) ([][]byte, error) {
	return nil, malformed("SOL not active")
}

func (s *Server) solDetachLocked(ss *session) {
	if s.sol != nil && s.sol.ss == ss {
		s.sol = nil
	}
}
