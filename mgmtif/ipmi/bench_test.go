package ipmi

import (
	"context"
	"net"
	"testing"

	refbmc "github.com/bougou/go-ipmi/pkg/bmc"
	refclock "github.com/bougou/go-ipmi/pkg/clock"
	"github.com/bougou/go-ipmi/pkg/hal/mock"
	refserver "github.com/bougou/go-ipmi/pkg/server"
	"github.com/bougou/go-ipmi/pkg/transport/udp"
	"github.com/bougou/go-ipmi/pkg/types"
)

// target is a server under benchmark: its address and credentials.
type target struct {
	addr       *net.UDPAddr
	user, pass string
}

// startReference starts go-ipmi's reference server (pkg/server) on
// 127.0.0.1:0 with suite 17 and one administrator.
func startReference(b *testing.B) target {
	b.Helper()
	info := refbmc.DeviceInfo{DeviceID: 32, DeviceRevision: 1, IPMIVersion: 0x02, AdditionalDeviceSupport: 0x39}
	var guid [16]byte
	copy(guid[:], "go-ipmi-bench")
	bm := refbmc.New(info, guid, mock.New(), refbmc.WithClock(refclock.Real))
	u, err := bm.Users.Add(2, "admin")
	if err != nil {
		b.Fatal(err)
	}
	u.SetPassword([]byte("Bench-Password-1"))
	u.Enabled = true
	u.ChannelAccess[1] = refbmc.UserChannelAccess{MaxPrivilege: refbmc.PrivilegeLevelAdministrator, Enabled: true}
	conn, err := udp.Listen("127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := refserver.NewServer(bm, conn, refserver.WithCipherSuites([]types.CipherSuiteID{17}))
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { _ = srv.Serve(ctx); close(done) }()
	b.Cleanup(func() { cancel(); srv.Close(); <-done })
	return target{addr: conn.LocalAddr().(*net.UDPAddr), user: "admin", pass: "Bench-Password-1"}
}

func startOurs(b *testing.B) target {
	h := startIPMI(b)
	return target{addr: h.addr, user: h.user, pass: h.pass}
}

// benchSessions: one full lanplus session per op — Open Session, RAKP 1-4,
// Set Session Privilege, Get Chassis Status, Close Session.
func benchSessions(b *testing.B, tg target) {
	c, err := dialTest(tg.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	b.ResetTimer()
	for b.Loop() {
		c.seq, c.rqSeq = 0, 0
		if err := c.login(tg.user, tg.pass, privAdmin); err != nil {
			b.Fatal(err)
		}
		if cc, _, err := c.cmd(netFnChassis, cmdGetChassisStatus); err != nil || cc != 0 {
			b.Fatalf("Get Chassis Status: cc %#x %v", cc, err)
		}
		if err := c.closeSession(); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "sessions/s")
}

// benchCommands: Get Chassis Status in one open session.
func benchCommands(b *testing.B, tg target) {
	c, err := dialTest(tg.addr)
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.login(tg.user, tg.pass, privAdmin); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		if cc, _, err := c.cmd(netFnChassis, cmdGetChassisStatus); err != nil || cc != 0 {
			b.Fatalf("Get Chassis Status: cc %#x %v", cc, err)
		}
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "commands/s")
}

func BenchmarkSessions(b *testing.B) {
	b.Run("ironroot", func(b *testing.B) { benchSessions(b, startOurs(b)) })
	b.Run("goipmi-reference", func(b *testing.B) { benchSessions(b, startReference(b)) })
}

func BenchmarkCommands(b *testing.B) {
	b.Run("ironroot", func(b *testing.B) { benchCommands(b, startOurs(b)) })
	b.Run("goipmi-reference", func(b *testing.B) { benchCommands(b, startReference(b)) })
}
