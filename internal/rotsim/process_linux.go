package rotsim

import (
	"context"
	"net"
	"os"
	"testing"

	"golang.org/x/sys/unix"
)

// ListenTCP serves the simulated RoT's responder on 127.0.0.1:0, for a bmcd process
// started by a test with -rot-addr; it returns the bound address. The listener and every
// connection end with the test.
func (r *RoT) ListenTCP(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("rotsim: listen: %v", err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			r.mu.Lock()
			if r.down {
				r.mu.Unlock()
				c.Close()
				continue
			}
			r.conns[c] = struct{}{}
			r.mu.Unlock()
			go func() {
				_, _ = r.rsp.ServeConn(context.Background(), c)
				c.Close()
				r.mu.Lock()
				delete(r.conns, c)
				r.mu.Unlock()
			}()
		}
	}()
	return ln.Addr().String()
}

// BMCConfigMemfd returns the bmc-config as rotd hands it to bmcd: a sealed memfd, to be
// passed to a bmcd process as an inherited descriptor (-bmc-config-fd). Closed with the test.
func (r *RoT) BMCConfigMemfd(t testing.TB) *os.File {
	t.Helper()
	fd, err := unix.MemfdCreate("bmc-config", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		t.Fatalf("rotsim: memfd_create: %v", err)
	}
	f := os.NewFile(uintptr(fd), "bmc-config")
	t.Cleanup(func() { f.Close() })
	if _, err := f.Write(r.BMCConfigBytes); err != nil {
		t.Fatalf("rotsim: write bmc-config memfd: %v", err)
	}
	seals := unix.F_SEAL_WRITE | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_SEAL
	if _, err := unix.FcntlInt(f.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		t.Fatalf("rotsim: seal bmc-config memfd: %v", err)
	}
	return f
}
