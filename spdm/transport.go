// This file implements the transport used to carry SPDM: the socket
// platform framing of DMTF spdm-emu (12-byte header of three big-endian u32:
// command, transport type, payload size) with the MCTP binding of DSP0275
// (one MCTP message-type byte: 0x05 SPDM, 0x06 secured SPDM per DSP0276; no
// MCTP transport header). It works over TCP (TCP_NODELAY, one write per
// frame) and over any io.ReadWriter such as a serial line, where the reader
// resynchronises after garbage.

package spdm

import (
	"bufio"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"time"
)

// DefaultPort is spdm-emu's default TCP port.
const DefaultPort = 2323

// Command is the platform command of a frame.
type Command uint32

// Platform commands.
const (
	CommandNormal   Command = 0x0001
	CommandTest     Command = 0xDEAD
	CommandContinue Command = 0xFFFD
	CommandShutdown Command = 0xFFFE
)

// Transport types and MCTP message types.
const (
	TransportMCTP   uint32 = 1
	MCTPTypeSPDM    uint8  = 0x05
	MCTPTypeSecured uint8  = 0x06
)

const (
	frameHeaderSize = 12
	// MaxFramePayload bounds a frame's payload.
	MaxFramePayload = 1 << 18
)

// ServerHello is the payload answering a TEST frame.
var ServerHello = []byte("Server Hello!\x00")

// ClientHello is the payload of the TEST frame a client opens with.
var ClientHello = []byte("Client Hello!\x00")

// Errors of the framing layer.
var (
	ErrFrameTooLarge    = errors.New("spdm: frame payload too large")
	ErrTransportType    = errors.New("spdm: unsupported transport type")
	ErrUnknownCommand   = errors.New("spdm: unknown platform command")
	ErrShutdown         = errors.New("spdm: peer sent SHUTDOWN")
	errGarbageExhausted = errors.New("spdm: no frame found in garbage")
)

// Frame is one platform frame.
type Frame struct {
	Command       Command
	TransportType uint32
	Payload       []byte
}

func knownCommand(c Command) bool {
	switch c {
	case CommandNormal, CommandTest, CommandContinue, CommandShutdown:
		return true
	}
	return false
}

// FrameConn reads and writes frames on a byte stream. Writes are serialised
// and each frame goes out in one Write call.
type FrameConn struct {
	rw     io.ReadWriter
	br     *bufio.Reader
	wmu    sync.Mutex
	resync bool
	// maxGarbage bounds the bytes skipped while resynchronising.
	maxGarbage int
}

// NewFrameConn returns framing over a reliable stream (TCP, net.Pipe). A
// TCP connection gets TCP_NODELAY.
func NewFrameConn(rw io.ReadWriter) *FrameConn {
	if tc, ok := rw.(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true)
	}
	return &FrameConn{rw: rw, br: bufio.NewReaderSize(rw, 4096)}
}

// NewSerialFrameConn returns framing over a lossy byte stream such as a
// serial line: a header that is not plausible is skipped byte by byte until
// a valid one appears.
func NewSerialFrameConn(rw io.ReadWriter) *FrameConn {
	c := NewFrameConn(rw)
	c.resync = true
	c.maxGarbage = 1 << 20
	return c
}

// WriteFrame sends one frame in a single Write.
func (c *FrameConn) WriteFrame(f Frame) error {
	if len(f.Payload) > MaxFramePayload {
		return fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, len(f.Payload))
	}
	b := make([]byte, frameHeaderSize, frameHeaderSize+len(f.Payload))
	binary.BigEndian.PutUint32(b[0:], uint32(f.Command))
	binary.BigEndian.PutUint32(b[4:], f.TransportType)
	binary.BigEndian.PutUint32(b[8:], uint32(len(f.Payload)))
	b = append(b, f.Payload...)
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if _, err := c.rw.Write(b); err != nil {
		return fmt.Errorf("write frame: %w", err)
	}
	return nil
}

// ReadFrame reads one frame. A frame with another transport type is consumed
// and refused with ErrTransportType (on a serial line it is skipped as
// garbage); an oversized frame is refused with ErrFrameTooLarge.
func (c *FrameConn) ReadFrame() (Frame, error) {
	skipped := 0
	for {
		hdr, err := c.br.Peek(frameHeaderSize)
		if err != nil {
			if errors.Is(err, bufio.ErrBufferFull) {
				return Frame{}, err
			}
			if len(hdr) == 0 && errors.Is(err, io.EOF) {
				return Frame{}, io.EOF
			}
			return Frame{}, fmt.Errorf("read frame header: %w", err)
		}
		cmd := Command(binary.BigEndian.Uint32(hdr[0:]))
		tt := binary.BigEndian.Uint32(hdr[4:])
		size := binary.BigEndian.Uint32(hdr[8:])
		plausible := knownCommand(cmd) && tt <= 0xFF && size <= MaxFramePayload
		if c.resync {
			plausible = plausible && (tt == TransportMCTP || (tt == 0 && size == 0))
			if !plausible {
				if _, err := c.br.Discard(1); err != nil {
					return Frame{}, fmt.Errorf("resynchronise: %w", err)
				}
				skipped++
				if skipped > c.maxGarbage {
					return Frame{}, errGarbageExhausted
				}
				continue
			}
		} else if !plausible {
			if size > MaxFramePayload {
				return Frame{}, fmt.Errorf("%w: %d bytes", ErrFrameTooLarge, size)
			}
			if !knownCommand(cmd) {
				return Frame{}, fmt.Errorf("%w: 0x%x", ErrUnknownCommand, uint32(cmd))
			}
		}
		if _, err := c.br.Discard(frameHeaderSize); err != nil {
			return Frame{}, fmt.Errorf("read frame header: %w", err)
		}
		payload := make([]byte, size)
		if _, err := io.ReadFull(c.br, payload); err != nil {
			return Frame{}, fmt.Errorf("read frame payload: %w", err)
		}
		f := Frame{Command: cmd, TransportType: tt, Payload: payload}
		// SHUTDOWN/CONTINUE/TEST may carry transport type 0 in some peers.
		if cmd == CommandNormal && tt != TransportMCTP {
			return f, fmt.Errorf("%w: %d", ErrTransportType, tt)
		}
		return f, nil
	}
}

// bindContext makes blocking I/O on rw honour ctx when rw supports
// deadlines; the returned function undoes it.
func bindContext(ctx context.Context, rw any) func() {
	dl, ok := rw.(interface{ SetDeadline(time.Time) error })
	if !ok {
		return func() {}
	}
	if d, has := ctx.Deadline(); has {
		_ = dl.SetDeadline(d)
	}
	stop := context.AfterFunc(ctx, func() { _ = dl.SetDeadline(time.Unix(1, 0)) })
	return func() {
		stop()
		_ = dl.SetDeadline(time.Time{})
	}
}

// mctpPayload returns the frame payload for an SPDM message or secured record.
func mctpPayload(msgType uint8, body []byte) []byte {
	p := make([]byte, 0, 1+len(body))
	return append(append(p, msgType), body...)
}
