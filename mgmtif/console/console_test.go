package console

import (
	"bytes"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/power"
)

type buf struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *buf) Write(p []byte) (int, error) { b.mu.Lock(); defer b.mu.Unlock(); return b.b.Write(p) }
func (b *buf) String() string              { b.mu.Lock(); defer b.mu.Unlock(); return b.b.String() }

func TestConsole(t *testing.T) {
	clk := clock.NewFake(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	st := power.Off
	h := New(clk, func() power.State { mu.Lock(); defer mu.Unlock(); return st }, "ironroot-sim")
	defer h.Stop()
	var out buf
	in, detach := h.Attach(&out)
	in.Write([]byte("ignored"))
	mu.Lock()
	st = power.On
	mu.Unlock()
	clk.Advance(PollInterval)
	in.Write([]byte("root\r"))
	s := out.String()
	for _, w := range []string{"Linux version", "ironroot-sim login: root\r\n", "ironroot-sim login: "} {
		if !strings.Contains(s, w) {
			t.Errorf("console output lacks %q:\n%q", w, s)
		}
	}
	if strings.Contains(s, "ignored") {
		t.Error("echoed while the host was off")
	}
	detach()
	in.Write([]byte("x"))
	if out.String() != s {
		t.Error("output after detach")
	}
}
