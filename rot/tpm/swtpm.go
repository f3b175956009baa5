package tpm

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// swtpm control channel commands (swtpm's tpm_ioctl.h; big-endian u32 on
// the control socket).
const (
	swtpmCmdInit = 0x00000002 // CMD_INIT: _TPM_Init, a TPM power-on reset
)

// dialTimeout bounds connecting to swtpm's sockets.
const dialTimeout = 10 * time.Second

// streamTPM is a transport over a byte stream (swtpm's data socket): it
// frames responses by the size field of the TPM response header instead of
// trusting one read to return a whole response.
type streamTPM struct {
	mu   sync.Mutex
	conn net.Conn
}

// Send implements transport.TPM.
func (s *streamTPM) Send(cmd []byte) ([]byte, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := s.conn.Write(cmd); err != nil {
		return nil, fmt.Errorf("writing TPM command: %w", err)
	}
	var hdr [10]byte // tag u16, size u32, response code u32
	if _, err := io.ReadFull(s.conn, hdr[:]); err != nil {
		return nil, fmt.Errorf("reading TPM response header: %w", err)
	}
	size := binary.BigEndian.Uint32(hdr[2:6])
	if size < 10 || size > 1<<16 {
		return nil, fmt.Errorf("TPM response size %d out of range", size)
	}
	rsp := make([]byte, size)
	copy(rsp, hdr[:])
	if _, err := io.ReadFull(s.conn, rsp[10:]); err != nil {
		return nil, fmt.Errorf("reading TPM response: %w", err)
	}
	return rsp, nil
}

// Close implements io.Closer.
func (s *streamTPM) Close() error { return s.conn.Close() }

func openSwtpm(ctx context.Context, data, ctrl string) (*TPM, error) {
	d := net.Dialer{Timeout: dialTimeout}
	conn, err := d.DialContext(ctx, "unix", data)
	if err != nil {
		return nil, fmt.Errorf("connecting to swtpm data socket: %w", err)
	}
	reset := func(ctx context.Context) error { return swtpmInit(ctx, ctrl) }
	return New(&streamTPM{conn: conn}, reset), nil
}

// swtpmInit sends CMD_INIT (flags 0: keep the TPM's NV state) on a fresh
// connection to the control socket and checks the returned TPM result.
func swtpmInit(ctx context.Context, ctrl string) error {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, "unix", ctrl)
	if err != nil {
		return fmt.Errorf("connecting to swtpm control socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	} else {
		_ = c.SetDeadline(time.Now().Add(dialTimeout))
	}
	var req [8]byte
	binary.BigEndian.PutUint32(req[0:4], swtpmCmdInit)
	binary.BigEndian.PutUint32(req[4:8], 0) // init flags
	if _, err := c.Write(req[:]); err != nil {
		return fmt.Errorf("sending CMD_INIT: %w", err)
	}
	var rsp [4]byte
	if _, err := io.ReadFull(c, rsp[:]); err != nil {
		return fmt.Errorf("reading CMD_INIT result: %w", err)
	}
	if rc := binary.BigEndian.Uint32(rsp[:]); rc != 0 {
		return fmt.Errorf("CMD_INIT: TPM result %#x", rc)
	}
	return nil
}
