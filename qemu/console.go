package qemu

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"sync"

	"github.com/ironroot-bmc/ironroot/rot/record"
)

var (
	firstBootRE = regexp.MustCompile(`first boot: created account "([^"]+)" with password (\S+)`)
	exitRE      = regexp.MustCompile(`ironroot: bmcd exited with status (\d+)`)
)

// Console watches the guest's serial console: it passes every byte on and picks out the
// first-boot credentials and bmcd's exit line.
type Console struct {
	out io.Writer

	mu        sync.Mutex
	line      []byte
	tail      bytes.Buffer // last 64 KiB, for failure messages
	user, pw  string
	exit      int
	exited    bool
	firstBoot chan struct{}
}

// NewConsole returns a console watcher writing through to out (nil: discard).
func NewConsole(out io.Writer) *Console {
	if out == nil {
		out = io.Discard
	}
	return &Console{out: out, firstBoot: make(chan struct{})}
}

// Write implements io.Writer.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	for _, ch := range p {
		if ch != '\n' {
			if len(c.line) < 4096 {
				c.line = append(c.line, ch)
			}
			continue
		}
		c.scan(string(c.line))
		c.line = c.line[:0]
	}
	c.tail.Write(p)
	if c.tail.Len() > 128<<10 {
		keep := bytes.Clone(c.tail.Bytes()[c.tail.Len()-64<<10:])
		c.tail.Reset()
		c.tail.Write(keep)
	}
	c.mu.Unlock()
	_, _ = c.out.Write(p)
	return len(p), nil
}

func (c *Console) scan(line string) {
	if m := firstBootRE.FindStringSubmatch(line); m != nil && c.pw == "" {
		c.user, c.pw = m[1], m[2]
		close(c.firstBoot)
	}
	if m := exitRE.FindStringSubmatch(line); m != nil {
		if n, err := strconv.Atoi(m[1]); err == nil {
			c.exit, c.exited = n, true
		}
	}
}

// FirstBoot is closed once the first-boot credentials were printed.
func (c *Console) FirstBoot() <-chan struct{} { return c.firstBoot }

// Credentials are the first-boot account and password ("" before FirstBoot).
func (c *Console) Credentials() (user, password string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.user, c.pw
}

// ExitStatus is the status of bmcd's last "bmcd exited with status N" line; ok is false
// if none was printed (a crash, the watchdog, or a power-off from outside).
func (c *Console) ExitStatus() (code int, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exit, c.exited
}

// Tail is the last part of the console output.
func (c *Console) Tail() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.tail.String()
}

// SaveCredentials writes the first-boot password to path (0600, crash-safe).
func (c *Console) SaveCredentials(path string) error {
	_, pw := c.Credentials()
	if pw == "" {
		return errors.New("no first-boot password seen on the console")
	}
	if err := record.WriteFile(path, []byte(pw+"\n"), 0o600); err != nil {
		return fmt.Errorf("saving the first-boot password: %w", err)
	}
	return nil
}
