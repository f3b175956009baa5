// Package control owns rotd's local control socket: a unix socket (mode
// 0600, in rotd's state directory) carrying one JSON request line per
// connection — "status", "health" (the running BMC reports healthy) or
// "install" followed by the bundle's bytes — and one JSON response line.
// It is the recovery path that never needs the BMC; the gate issue moves
// health reports onto the SPDM link, and this socket stays for recovery.
//
// It owns the wire format and the client; what the operations do belongs
// to the Handler (package rot).
package control

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"time"
)

// MaxBundleSize bounds an install over the socket.
const MaxBundleSize = 1 << 30

// maxLine bounds a request or response line.
const maxLine = 64 << 10

// Request is the first line of a connection.
type Request struct {
	Op string `json:"op"` // "status", "health", "install"
	// Size of the bundle that follows the line (install).
	Size int64 `json:"size,omitempty"`
}

// Response is the reply line.
type Response struct {
	OK      bool    `json:"ok"`
	Error   string  `json:"error,omitempty"`
	Message string  `json:"message,omitempty"`
	Status  *Status `json:"status,omitempty"`
}

// Status is what `rotd status` shows.
type Status struct {
	// State is "provisioned", "booting", "running", "recovery" or
	// "stopped".
	State    string `json:"state"`
	BoardID  string `json:"board_id"`
	SVNFloor uint64 `json:"svn_floor"`
	// Slot is the slot running (or last tried).
	Slot      string       `json:"slot,omitempty"`
	Slots     []SlotStatus `json:"slots"`
	BMCPID    int          `json:"bmc_pid,omitempty"`
	Recovery  string       `json:"recovery_reason,omitempty"`
	Probation string       `json:"probation,omitempty"`
	// Measurements are the measurement blocks of the running boot.
	Measurements []Measurement `json:"measurements,omitempty"`
	// PCRs are hex PCR values by bank and index.
	PCRs  map[string]map[string]string `json:"pcrs,omitempty"`
	Alias string                       `json:"alias_cert,omitempty"`
}

// SlotStatus is one slot in Status.
type SlotStatus struct {
	Name            string `json:"name"`
	State           string `json:"state"`
	Active          bool   `json:"active"`
	Committed       bool   `json:"committed"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	SVN             uint64 `json:"svn"`
	Boots           int    `json:"boots"`
	ManifestDigest  string `json:"manifest_digest,omitempty"`
	Reason          string `json:"reason,omitempty"`
}

// Measurement is one measurement block in Status.
type Measurement struct {
	Index uint8  `json:"index"`
	Type  uint8  `json:"dmtf_type"`
	Name  string `json:"name"`
	Value string `json:"value"` // hex: SHA-384 digest or raw value (the manifest's digest for 0xFD)
}

// Handler carries out the operations.
type Handler interface {
	Status() Status
	Health(ctx context.Context) (string, error)
	Install(ctx context.Context, bundle io.Reader, size int64) (string, error)
}

// Server serves the control socket.
type Server struct {
	ln  net.Listener
	h   Handler
	log *slog.Logger
}

// Listen creates the socket at path (mode 0600; a stale socket file from a
// crashed rotd is replaced — rotd's state lock guarantees there is no live
// one).
func Listen(path string, h Handler, log *slog.Logger) (*Server, error) {
	_ = os.Remove(path)
	ln, err := net.Listen("unix", path)
	if err != nil {
		return nil, fmt.Errorf("control socket: %w", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		ln.Close()
		return nil, fmt.Errorf("control socket: %w", err)
	}
	return &Server{ln: ln, h: h, log: log}, nil
}

// Serve answers connections until ctx ends.
func (s *Server) Serve(ctx context.Context) {
	go func() {
		<-ctx.Done()
		s.ln.Close()
	}()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			if ctx.Err() == nil {
				s.log.Error("control socket accept", "err", err)
			}
			return
		}
		go s.serve(ctx, c)
	}
}

func (s *Server) serve(ctx context.Context, c net.Conn) {
	defer c.Close()
	br := bufio.NewReaderSize(c, maxLine)
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, err := br.ReadSlice('\n')
	if err != nil {
		return
	}
	var req Request
	resp := Response{}
	if err := json.Unmarshal(line, &req); err != nil {
		resp.Error = "malformed request: " + err.Error()
		writeResponse(c, resp)
		return
	}
	s.log.Info("control request", "op", req.Op)
	switch req.Op {
	case "status":
		st := s.h.Status()
		resp.OK, resp.Status = true, &st
	case "health":
		resp.Message, err = s.h.Health(ctx)
	case "install":
		if req.Size <= 0 || req.Size > MaxBundleSize {
			err = fmt.Errorf("bundle size %d out of range", req.Size)
			break
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Minute))
		resp.Message, err = s.h.Install(ctx, io.LimitReader(br, req.Size), req.Size)
	default:
		err = fmt.Errorf("unknown op %q", req.Op)
	}
	if req.Op != "status" {
		resp.OK = err == nil
		if err != nil {
			resp.Error = err.Error()
		}
	}
	writeResponse(c, resp)
}

func writeResponse(w io.Writer, r Response) {
	b, _ := json.Marshal(r)
	_, _ = w.Write(append(b, '\n'))
}

// Call sends one request (with body, for install) and reads the response.
func Call(ctx context.Context, path string, req Request, body io.Reader) (Response, error) {
	var d net.Dialer
	c, err := d.DialContext(ctx, "unix", path)
	if err != nil {
		return Response{}, fmt.Errorf("connecting to rotd's control socket: %w", err)
	}
	defer c.Close()
	if dl, ok := ctx.Deadline(); ok {
		_ = c.SetDeadline(dl)
	}
	b, _ := json.Marshal(req)
	if _, err := c.Write(append(b, '\n')); err != nil {
		return Response{}, fmt.Errorf("sending %s request: %w", req.Op, err)
	}
	if body != nil {
		if _, err := io.CopyN(c, body, req.Size); err != nil {
			return Response{}, fmt.Errorf("sending bundle: %w", err)
		}
	}
	line, err := bufio.NewReaderSize(c, 1<<20).ReadBytes('\n')
	if err != nil {
		return Response{}, fmt.Errorf("reading %s response: %w", req.Op, err)
	}
	var resp Response
	if err := json.Unmarshal(line, &resp); err != nil {
		return Response{}, fmt.Errorf("reading %s response: %w", req.Op, err)
	}
	if !resp.OK {
		return resp, errors.New(resp.Error)
	}
	return resp, nil
}
