package supervise

import (
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func image(t *testing.T, script string) *Image {
	t.Helper()
	img, err := Seal("bmcd", strings.NewReader("#!/bin/sh\n"+script+"\n"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { img.Close() })
	return img
}

func TestSealedImageCannotChange(t *testing.T) {
	img := image(t, "exit 0")
	if _, err := img.File().WriteAt([]byte("x"), 0); err == nil {
		t.Fatal("wrote to a sealed image")
	}
	rw, err := os.OpenFile(filepath.Join("/proc/self/fd", strconv.Itoa(int(img.File().Fd()))), os.O_RDWR, 0)
	if err == nil {
		defer rw.Close()
		if _, err := rw.Write([]byte("x")); err == nil {
			t.Fatal("wrote to a sealed image through /proc")
		}
	}
	seals, err := unix.FcntlInt(img.File().Fd(), unix.F_GET_SEALS, 0)
	if err != nil || seals&unix.F_SEAL_WRITE == 0 {
		t.Fatalf("seals %#x, %v", seals, err)
	}
}

func TestStartRunsTheImageAndReportsExit(t *testing.T) {
	out := filepath.Join(t.TempDir(), "out")
	c, err := Start(Config{Image: image(t, `echo "$0 $1" > `+out+`; exit 3`), Args: []string{"--flag"}})
	if err != nil {
		t.Fatal(err)
	}
	code, err := c.Wait(context.Background())
	if err != nil || code != 3 {
		t.Fatalf("exit = %d, %v", code, err)
	}
	b, _ := os.ReadFile(out)
	if !strings.Contains(string(b), "--flag") {
		t.Fatalf("child saw %q", b)
	}
}

func TestEndStaleEndsAnEarlierBMC(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "bmc.pid")
	c, err := Start(Config{Image: image(t, "exec sleep 600")})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Stop()
	if err := WritePIDFile(pidfile, c.PID()); err != nil {
		t.Fatal(err)
	}
	// A restarted rotd finds the pidfile and ends the process.
	if err := EndStale(pidfile, 5*time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-c.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the earlier BMC still runs")
	}
	if _, err := os.Stat(pidfile); !os.IsNotExist(err) {
		t.Fatal("pidfile left behind")
	}
	// A pidfile naming a reused PID (other start time) is not acted on.
	if err := os.WriteFile(pidfile, []byte(strconv.Itoa(os.Getpid())+" 1\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := EndStale(pidfile, time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(os.Getpid(), 0); err != nil {
		t.Fatal(err)
	}
}

// A BMC that has exited but is not reaped yet (its parent, an earlier rotd, was killed
// and nothing reaped it) counts as ended: EndStale neither waits for it nor fails.
func TestEndStaleTakesAZombieAsEnded(t *testing.T) {
	pidfile := filepath.Join(t.TempDir(), "bmc.pid")
	cmd := exec.Command("true")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Wait()
	pid := cmd.Process.Pid
	if err := WritePIDFile(pidfile, pid); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, zombie, err := procStat(pid); err == nil && zombie {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the child did not exit within 5 s")
		}
	}
	if err := EndStale(pidfile, time.Second, slog.New(slog.DiscardHandler)); err != nil {
		t.Fatalf("EndStale on a zombie: %v", err)
	}
}
