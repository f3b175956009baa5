// Package console owns the simulated host's serial console: what a real
// host would print on its UART (a boot log when it powers on, a login
// prompt) and the echo of what is typed. One client at a time attaches to
// it (Serial over LAN in mgmtif/ipmi). It knows nothing of IPMI; it reads
// the host power state from the board.
package console

import (
	"io"
	"sync"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

// PollInterval is how often the console looks at the host power state.
const PollInterval = 500 * time.Millisecond

// bootLog is what the simulated host prints while it boots.
var bootLog = []string{
	"",
	"Ironroot IR-1 BIOS IR1.1.0.0",
	"Press <DEL> to enter setup",
	"Booting from Hard Disk...",
	"[    0.000000] Linux version 6.12.0-ironroot (sim)",
	"[    0.000000] Command line: console=ttyS0,115200n8",
	"[    1.204311] systemd[1]: Detected architecture x86-64.",
	"[  OK  ] Reached target Multi-User System.",
	"",
}

// Host is the simulated host's serial console. It is safe for concurrent use.
type Host struct {
	clk      clock.Clock
	state    func() power.State
	hostname string

	mu      sync.Mutex
	last    power.State
	out     io.Writer // the attached client, or nil
	timer   clock.Timer
	stopped bool
}

// New starts a console that follows state (e.g. board.Power.State).
func New(clk clock.Clock, state func() power.State, hostname string) *Host {
	h := &Host{clk: clk, state: state, hostname: hostname, last: state()}
	h.mu.Lock()
	h.scheduleLocked()
	h.mu.Unlock()
	return h
}

func (h *Host) scheduleLocked() {
	if !h.stopped {
		h.timer = h.clk.AfterFunc(PollInterval, h.poll)
	}
}

// poll notices power transitions and prints what the host would.
func (h *Host) poll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.stopped {
		return
	}
	now := h.state()
	if now != h.last {
		switch {
		case now == power.On:
			for _, l := range bootLog {
				h.writeLocked(l + "\r\n")
			}
			h.writeLocked(h.prompt())
		case now == power.Off:
			h.writeLocked("\r\n[  OK  ] Reached target Power-Off.\r\n")
		}
		h.last = now
	}
	h.scheduleLocked()
}

func (h *Host) prompt() string { return "\r\n" + h.hostname + " login: " }

func (h *Host) writeLocked(s string) {
	if h.out != nil {
		_, _ = io.WriteString(h.out, s)
	}
}

// Attach connects w as the console's client, replacing any earlier one:
// host output goes to w until detach is called; what is written to in is
// typed on the host. w must not call back into the Host.
func (h *Host) Attach(w io.Writer) (in io.Writer, detach func()) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.out = w
	if h.state() == power.On {
		h.writeLocked(h.prompt())
	}
	var once sync.Once
	return input{h}, func() {
		once.Do(func() {
			h.mu.Lock()
			if h.out == w {
				h.out = nil
			}
			h.mu.Unlock()
		})
	}
}

// input is the keyboard side: echo while the host runs, a new prompt on
// Enter.
type input struct{ h *Host }

func (in input) Write(p []byte) (int, error) {
	h := in.h
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.state() != power.On {
		return len(p), nil
	}
	for _, c := range p {
		switch c {
		case '\r', '\n':
			h.writeLocked(h.prompt())
		default:
			h.writeLocked(string(c))
		}
	}
	return len(p), nil
}

// Stop stops following the power state and detaches the client.
func (h *Host) Stop() {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.stopped, h.out = true, nil
	if h.timer != nil {
		h.timer.Stop()
	}
}
