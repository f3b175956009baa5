package qemu

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestParseUsernet(t *testing.T) {
	out := `Hub -1 (n0):
  Protocol[State]    FD  Source Address  Port   Dest. Address  Port RecvQ SendQ
  TCP[HOST_FORWARD]  13       127.0.0.1 35423       10.0.2.15   443     0     0
  UDP[HOST_FORWARD]  14       127.0.0.1 41233       10.0.2.15   623     0     0
  TCP[ESTABLISHED]   20       127.0.0.1 50000       10.0.2.15   443     0     0
`
	got := ParseUsernet(out)
	if len(got) != 2 || got["tcp/443"] != 35423 || got["udp/623"] != 41233 {
		t.Errorf("ParseUsernet = %v", got)
	}
}

func TestArgs(t *testing.T) {
	a := Args(Config{BoardID: "b1", RunDir: "/r", StateDisk: "/s/disk.img", RedfishPort: 0, IPMIPort: 16230,
		TPMSocket: "/r/tpm.sock", RoTLink: "/rot/rotlink.sock", Now: func() time.Time { return time.Unix(1795000000, 0) }})
	line := strings.Join(a, " ")
	for _, want := range []string{
		"-M q35", "-accel tcg", "-no-reboot", "-kernel /proc/self/fd/3", "-initrd /proc/self/fd/4",
		"hostfwd=tcp:127.0.0.1:0-10.0.2.15:443", "hostfwd=udp:127.0.0.1:16230-10.0.2.15:623",
		"virtio-net-pci,netdev=n0,romfile=", "virtio-blk-pci,drive=state0", "tpm-tis,tpmdev=tpm0",
		"socket,id=rot0,path=/rot/rotlink.sock,reconnect=1", "-monitor unix:/r/monitor.sock,server=on,wait=off",
	} {
		if !strings.Contains(line, want) {
			t.Errorf("QEMU command line lacks %q:\n%s", want, line)
		}
	}
	i := slices.Index(a, "-append")
	if i < 0 {
		t.Fatal("no -append")
	}
	for _, want := range []string{"console=ttyS0", "panic=-1", "ironroot.board=b1", "ironroot.epoch=1795000000",
		"ironroot.state=vda", "ironroot.rotlink=ttyS1"} {
		if !slices.Contains(strings.Fields(a[i+1]), want) {
			t.Errorf("kernel command line %q lacks %q", a[i+1], want)
		}
	}
	// Every forward is on loopback; the serial order is console (COM1), RoT link (COM2).
	if strings.Contains(line, "hostfwd=tcp::") || strings.Contains(line, "hostfwd=udp::") {
		t.Errorf("a forward is not bound to 127.0.0.1: %s", line)
	}
	if s := strings.Index(line, "chardev:con0"); s < 0 || s > strings.Index(line, "chardev:rot0") {
		t.Errorf("serial order: %s", line)
	}
}

// On the ast2600-evb the first -serial is UART5 (the console, ttyS4) and the second
// UART1 (the RoT link the patched dtb enables, ttyS0).
func TestArgsAST2600(t *testing.T) {
	a := Args(Config{Machine: MachineAST2600, BoardID: "b2", RunDir: "/r", RedfishPort: 0, IPMIPort: 0,
		RoTLink: "/rot/rotlink.sock", Now: func() time.Time { return time.Unix(1795000000, 0) }})
	line := strings.Join(a, " ")
	for _, want := range []string{"-M ast2600-evb", "-dtb /proc/self/fd/5", "model=ftgmac100",
		"-serial chardev:con0 -monitor", "socket,id=rot0,path=/rot/rotlink.sock,reconnect=1 -serial chardev:rot0"} {
		if !strings.Contains(line, want) {
			t.Errorf("QEMU command line lacks %q:\n%s", want, line)
		}
	}
	if s := strings.Index(line, "chardev:con0"); s < 0 || s > strings.Index(line, "chardev:rot0") {
		t.Errorf("serial order (UART5 first, then UART1): %s", line)
	}
	i := slices.Index(a, "-append")
	for _, want := range []string{"console=ttyS4,115200n8", "ironroot.rotlink=ttyS0", "panic=-1"} {
		if i < 0 || !slices.Contains(strings.Fields(a[i+1]), want) {
			t.Errorf("kernel command line lacks %q: %v", want, a)
		}
	}
}

// ExitStatus: bmcd's last exit line, or none (a crash or the watchdog).
func TestConsoleExitStatus(t *testing.T) {
	c := NewConsole(nil)
	if _, ok := c.ExitStatus(); ok {
		t.Fatal("exit status before any line")
	}
	c.Write([]byte("ironroot: bmcd exited with status 1; resetting the BMC\nironroot: bmcd exited with status 3; resetting the BMC\n"))
	if code, ok := c.ExitStatus(); !ok || code != 3 {
		t.Errorf("ExitStatus = %d %v, want 3", code, ok)
	}
}

func TestConsoleCredentials(t *testing.T) {
	var out strings.Builder
	c := NewConsole(&out)
	for _, chunk := range []string{"[ 1.0] boot\nfirst boot: created account \"adm", "in\" with password Ab-12_x~Y\nredfish: up\n"} {
		if _, err := c.Write([]byte(chunk)); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case <-c.FirstBoot():
	default:
		t.Fatal("FirstBoot not closed")
	}
	if u, p := c.Credentials(); u != "admin" || p != "Ab-12_x~Y" {
		t.Errorf("Credentials = %q %q", u, p)
	}
	if !strings.Contains(out.String(), "redfish: up") || !strings.Contains(c.Tail(), "redfish: up") {
		t.Error("console output not passed through")
	}
	p := filepath.Join(t.TempDir(), PasswordFile)
	if err := c.SaveCredentials(p); err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(p); err != nil || st.Mode().Perm() != 0o600 {
		t.Errorf("%s: %v %v, want mode 0600", p, st.Mode(), err)
	}
}
