package guest

import (
	"errors"
	"net/netip"
	"testing"
	"time"
)

func TestParseCmdline(t *testing.T) {
	p, err := ParseCmdline("console=ttyS0 panic=-1 quiet ironroot.board=ironroot-qemu-q35 ironroot.epoch=1795000000 " +
		"ironroot.ip=10.0.2.16/24 ironroot.gw=10.0.2.2 ironroot.nic=eth0 ironroot.state=vda ironroot.rotlink=ttyS1\n")
	if err != nil {
		t.Fatal(err)
	}
	want := Params{Board: "ironroot-qemu-q35", Epoch: time.Unix(1795000000, 0).UTC(),
		Prefix: netip.MustParsePrefix("10.0.2.16/24"), Gateway: netip.MustParseAddr("10.0.2.2"),
		NIC: "eth0", State: "vda", RoTLink: "ttyS1"}
	if p != want {
		t.Errorf("ParseCmdline = %+v, want %+v", p, want)
	}
}

func TestParseCmdlineDefaults(t *testing.T) {
	p, err := ParseCmdline("ironroot.board=b")
	if err != nil {
		t.Fatal(err)
	}
	if p.Prefix.String() != "10.0.2.15/24" || p.Gateway.String() != "10.0.2.2" || p.NIC != "eth0" ||
		p.State != "" || p.RoTLink != "" || !p.Epoch.IsZero() {
		t.Errorf("defaults: %+v", p)
	}
}

func TestParseCmdlineRefuses(t *testing.T) {
	if _, err := ParseCmdline("console=ttyS0 root=/dev/sda1"); !errors.Is(err, ErrNotGuest) {
		t.Errorf("host command line: %v, want ErrNotGuest", err)
	}
	for _, bad := range []string{
		"ironroot.board=",
		"ironroot.board=b ironroot.rotlink=../sda",
		"ironroot.board=b ironroot.state=/dev/vda",
		"ironroot.board=b ironroot.ip=10.0.2.15",
		"ironroot.board=b ironroot.ip=fd00::1/64",
		"ironroot.board=b ironroot.gw=nope",
	} {
		if _, err := ParseCmdline(bad); err == nil {
			t.Errorf("ParseCmdline(%q) accepted", bad)
		}
	}
}
