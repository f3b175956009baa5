package supervise

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/ironroot-bmc/ironroot/rot/record"
)

// Config is how to start the BMC.
type Config struct {
	// Image is the sealed executable; it becomes the child's fd 3 and is
	// executed as /proc/self/fd/3.
	Image *Image
	// Args are the arguments after argv[0] (argv[0] is the image's name).
	Args []string
	// ExtraFiles become the child's descriptors 4, 5, ... (sealed images
	// the BMC reads, such as the verified bmc-config).
	ExtraFiles []*os.File
	// Env is the child's environment (nil: rotd's).
	Env            []string
	Stdout, Stderr io.Writer
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout time.Duration
}

// Child is a running BMC.
type Child struct {
	cmd     *exec.Cmd
	cfg     Config
	done    chan struct{}
	waitErr error
}

// Start starts the BMC from its sealed image.
func Start(cfg Config) (*Child, error) {
	if cfg.Image == nil {
		return nil, errors.New("starting BMC: no image")
	}
	cmd := &exec.Cmd{
		Path:       "/proc/self/fd/3",
		Args:       append([]string{cfg.Image.Name}, cfg.Args...),
		Env:        cfg.Env,
		Stdout:     cfg.Stdout,
		Stderr:     cfg.Stderr,
		ExtraFiles: append([]*os.File{cfg.Image.File()}, cfg.ExtraFiles...),
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("starting BMC from sealed image %s: %w", cfg.Image.Name, err)
	}
	c := &Child{cmd: cmd, cfg: cfg, done: make(chan struct{})}
	go func() {
		c.waitErr = cmd.Wait()
		close(c.done)
	}()
	return c, nil
}

// WritePIDFile records the BMC's process (its PID and start time, so a
// reused PID is never mistaken for it) for EndStale. A process that already
// exited and was reaped has no /proc entry: there is nothing a later rotd
// would have to end, and nothing is written.
func WritePIDFile(path string, pid int) error {
	st, err := startTime(pid)
	if err != nil {
		return nil
	}
	if err := record.WriteFile(path, fmt.Appendf(nil, "%d %d\n", pid, st), 0o600); err != nil {
		return fmt.Errorf("writing BMC pidfile: %w", err)
	}
	return nil
}

// PID is the child's process ID.
func (c *Child) PID() int { return c.cmd.Process.Pid }

// Done is closed when the child has exited.
func (c *Child) Done() <-chan struct{} { return c.done }

// ExitCode is the child's exit status after Done (-1 if killed by a
// signal).
func (c *Child) ExitCode() int {
	<-c.done
	if c.cmd.ProcessState == nil {
		return -1
	}
	return c.cmd.ProcessState.ExitCode()
}

// Wait waits for the child to exit or ctx to end.
func (c *Child) Wait(ctx context.Context) (int, error) {
	select {
	case <-c.done:
		return c.ExitCode(), nil
	case <-ctx.Done():
		return 0, ctx.Err()
	}
}

// Stop ends the child: SIGTERM, then SIGKILL after the stop timeout.
func (c *Child) Stop() {
	timeout := c.cfg.StopTimeout
	if timeout == 0 {
		timeout = 10 * time.Second
	}
	select {
	case <-c.done:
	default:
		_ = c.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-c.done:
		case <-time.After(timeout):
			_ = c.cmd.Process.Kill()
			<-c.done
		}
	}
}

// startTime reads a process's start time (clock ticks since boot, field 22
// of /proc/PID/stat): with the PID it names one process, not a reused PID.
func startTime(pid int) (uint64, error) {
	st, _, err := procStat(pid)
	return st, err
}

// procStat reads a process's start time and whether it has exited but is
// not yet reaped (state Z, field 3 of /proc/PID/stat).
func procStat(pid int) (start uint64, zombie bool, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false, err
	}
	// The command name (field 2) may contain spaces; fields after it start
	// behind the last ')'.
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0, false, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, false, fmt.Errorf("parsing /proc/%d/stat", pid)
	}
	start, err = strconv.ParseUint(f[19], 10, 64)
	return start, f[0] == "Z", err
}

// EndStale ends a BMC that an earlier rotd started (its pidfile is still
// there): if the recorded process still runs with the recorded start time,
// it gets SIGTERM, then SIGKILL after timeout. One that has exited but is
// not reaped yet (a zombie) counts as ended. The pidfile is removed.
func EndStale(pidfile string, timeout time.Duration, log *slog.Logger) error {
	b, err := os.ReadFile(pidfile)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("reading BMC pidfile: %w", err)
	}
	defer os.Remove(pidfile)
	var pid int
	var st uint64
	if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &st); err != nil || pid <= 1 {
		log.Warn("ignoring a malformed BMC pidfile", "file", pidfile)
		return nil
	}
	alive := func() bool {
		cur, zombie, err := procStat(pid)
		return err == nil && cur == st && !zombie
	}
	if !alive() {
		return nil
	}
	log.Warn("ending the BMC left by an earlier rotd", "pid", pid)
	_ = syscall.Kill(pid, syscall.SIGTERM)
	deadline := time.Now().Add(timeout)
	for alive() && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	if alive() {
		_ = syscall.Kill(pid, syscall.SIGKILL)
		for range 100 {
			if !alive() {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	if alive() {
		return fmt.Errorf("ending the earlier BMC (pid %d): still running", pid)
	}
	return nil
}
