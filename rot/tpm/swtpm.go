package tpm

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
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

// SwtpmConfig is one start of Debian's swtpm in socket mode (`swtpm socket
// --tpm2`) on unix sockets.
type SwtpmConfig struct {
	// Bin is the swtpm binary (default: swtpm on PATH).
	Bin string
	// StateDir holds the TPM's persistent state (--tpmstate dir=).
	StateDir string
	// Ctrl is the control socket (--ctrl type=unixio,path=).
	Ctrl string
	// Data is the data socket (--server type=unixio,path=); empty: none,
	// commands come over the control channel (QEMU's tpm-emulator).
	Data string
	// Flags are swtpm's --flags (such as not-need-init); empty: none.
	Flags string
	// Output receives swtpm's output (nil: discarded).
	Output io.Writer
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL
	// (default 3 s).
	StopTimeout time.Duration
}

// Swtpm is a running swtpm, stopped by its PID.
type Swtpm struct {
	cfg  SwtpmConfig
	cmd  *exec.Cmd
	done chan struct{}
}

// StartSwtpm starts swtpm (its state directory and the sockets' directories
// are created if missing, stale sockets removed) and returns once every
// socket accepts a connection (at most 5 s). The process is not bound to
// ctx, which bounds the wait only; it dies with the caller (PDEATHSIG).
func StartSwtpm(ctx context.Context, cfg SwtpmConfig) (*Swtpm, error) {
	if cfg.Bin == "" {
		bin, err := exec.LookPath("swtpm")
		if err != nil {
			return nil, errors.New("swtpm not found: install the Debian packages swtpm and swtpm-tools (.ci/run does)")
		}
		cfg.Bin = bin
	}
	if cfg.StopTimeout == 0 {
		cfg.StopTimeout = 3 * time.Second
	}
	socks := []string{cfg.Ctrl}
	if cfg.Data != "" {
		socks = append(socks, cfg.Data)
	}
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("swtpm state: %w", err)
	}
	for _, sock := range socks {
		if err := os.MkdirAll(filepath.Dir(sock), 0o700); err != nil {
			return nil, fmt.Errorf("swtpm socket: %w", err)
		}
		os.Remove(sock)
	}
	args := []string{"socket", "--tpm2", "--tpmstate", "dir=" + cfg.StateDir, "--ctrl", "type=unixio,path=" + cfg.Ctrl}
	if cfg.Data != "" {
		args = append(args, "--server", "type=unixio,path="+cfg.Data)
	}
	if cfg.Flags != "" {
		args = append(args, "--flags", cfg.Flags)
	}
	s := &Swtpm{cfg: cfg, cmd: exec.Command(cfg.Bin, args...), done: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = cfg.Output, cfg.Output
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting swtpm: %w", err)
	}
	go func() {
		_ = s.cmd.Wait()
		close(s.done)
	}()
	deadline := time.Now().Add(5 * time.Second)
	for _, sock := range socks {
		for {
			c, err := net.Dial("unix", sock)
			if err == nil {
				c.Close()
				break
			}
			select {
			case <-s.done:
				return nil, errors.New("swtpm exited at start (see its output)")
			case <-ctx.Done():
				s.Stop()
				return nil, ctx.Err()
			case <-time.After(20 * time.Millisecond):
			}
			if time.Now().After(deadline) {
				s.Stop()
				return nil, fmt.Errorf("swtpm socket %s: %w", sock, err)
			}
		}
	}
	return s, nil
}

// Spec names this TPM for Open (and rotd's --tpm): swtpm:DATA,CTRL. Only a
// swtpm with a data socket has one.
func (s *Swtpm) Spec() string { return "swtpm:" + s.cfg.Data + "," + s.cfg.Ctrl }

// CtrlSocket is swtpm's control socket.
func (s *Swtpm) CtrlSocket() string { return s.cfg.Ctrl }

// PID is swtpm's process ID.
func (s *Swtpm) PID() int { return s.cmd.Process.Pid }

// Running reports whether swtpm is still running.
func (s *Swtpm) Running() bool {
	select {
	case <-s.done:
		return false
	default:
		return true
	}
}

// Stop ends swtpm by its PID: SIGTERM (it saves its state), then SIGKILL
// after the stop timeout. It returns once swtpm has exited; safe to call
// twice.
func (s *Swtpm) Stop() {
	select {
	case <-s.done:
		return
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.done:
	case <-time.After(s.cfg.StopTimeout):
		_ = s.cmd.Process.Kill()
		<-s.done
	}
}
