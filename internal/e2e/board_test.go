package e2e

import (
	"bytes"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/rot/tpm/tpmtest"
)

// binDir holds bmcd, rotd, fwbundle and bmcctl, built once per test binary
// with CGO_ENABLED=0 as shipped.
var binDir string

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	dir, err := os.MkdirTemp("", "ironroot-e2e-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "e2e:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	cmd := exec.Command("go", "build", "-trimpath", "-o", dir+"/",
		"github.com/ironroot-bmc/ironroot/cmd/bmcd", "github.com/ironroot-bmc/ironroot/cmd/rotd",
		"github.com/ironroot-bmc/ironroot/cmd/fwbundle", "github.com/ironroot-bmc/ironroot/cmd/bmcctl")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "e2e: building the board's programs: %v\n%s", err, out)
		return 1
	}
	binDir = dir
	return m.Run()
}

func bin(name string) string { return filepath.Join(binDir, name) }

// defaultInterval is a test board's gate measurement interval unless boardOptions says.
const defaultInterval = 2 * time.Second

// boardOptions shape one test board.
type boardOptions struct {
	SVN, MinSVN uint64        // firmware SVN (default 1) and bmc-config's floor (default 1)
	Interval    time.Duration // gate measurement interval (default defaultInterval)
}

// board is one simulated board: keys, bundle, swtpm, provisioned rotd state.
type board struct {
	t       testing.TB
	dir     string
	id      string
	keys    string // rotd identity-root dir + vendor/
	bundle  string
	swtpm   *tpmtest.Swtpm
	rotLink string // 127.0.0.1:PORT of the RoT link
	rotd    *exec.Cmd
	rotdLog string
	ready   string
	bmcPIDs []int
}

func mustRun(t testing.TB, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(bin(name), args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// newBoard assembles and provisions a board like scripts/sim-board does.
func newBoard(t testing.TB, o boardOptions) *board {
	t.Helper()
	if o.SVN == 0 {
		o.SVN = 1
	}
	if o.MinSVN == 0 {
		o.MinSVN = 1
	}
	if o.Interval == 0 {
		o.Interval = defaultInterval
	}
	dir := t.TempDir()
	b := &board{t: t, dir: dir, id: "e2e-" + strconv.Itoa(os.Getpid()), keys: filepath.Join(dir, "keys"),
		ready: filepath.Join(dir, "bmcd.ready.json")}
	mustRun(t, "rotd", "identity-root", "--dir", b.keys)
	mustRun(t, "fwbundle", "keygen", "--out", filepath.Join(b.keys, "vendor"))
	cfg := filepath.Join(dir, "bmc-config.cbor")
	mustRun(t, "fwbundle", "bmc-config", "--pub", filepath.Join(b.keys, "vendor"),
		"--identity-root", filepath.Join(b.keys, "identity-root.pem"), "--board", b.id,
		"--min-svn", strconv.FormatUint(o.MinSVN, 10), "--interval", o.Interval.String(), "--heartbeat", "1s", "-o", cfg)
	b.bundle = filepath.Join(dir, "board.bundle")
	mustRun(t, "fwbundle", "build", "--keys", filepath.Join(b.keys, "vendor"), "--board", b.id, "--version", "e2e-1",
		"--svn", strconv.FormatUint(o.SVN, 10), "--component", "bmcd="+bin("bmcd")+"@e2e-1",
		"--component", "bmc-config="+cfg+"@e2e-1", "-o", b.bundle)
	b.swtpm = tpmtest.Start(t, filepath.Join(dir, "swtpm"))
	mustRun(t, "rotd", "provision", "--state", filepath.Join(dir, "rot"), "--tpm", b.swtpm.Spec(), "--board-id", b.id,
		"--vendor-keys", filepath.Join(b.keys, "vendor"), "--identity-root", b.keys, "--bundle", b.bundle)
	b.rotLink = freePort(t)
	t.Cleanup(b.stop)
	return b
}

// freePort picks a loopback port for the RoT link: bmcd's -rot-addr must be
// known before rotd binds it (rotd writes the bound address to
// STATE/rotlink.addr, but bmcd's arguments are fixed when rotd starts).
func freePort(t testing.TB) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// start runs `rotd run`, which verifies the bundle and releases bmcd.
func (b *board) start() {
	t := b.t
	t.Helper()
	_ = os.Remove(b.ready)
	f, err := os.CreateTemp(b.dir, "rotd-*.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b.rotdLog = f.Name()
	b.rotd = exec.Command(bin("rotd"), "run", "--state", filepath.Join(b.dir, "rot"), "--tpm", b.swtpm.Spec(),
		"--spdm-addr", b.rotLink, "--bmc-config-fd", "--",
		"--state", filepath.Join(b.dir, "bmc"), "--redfish-addr", "127.0.0.1:0", "--ipmi-addr", "",
		"--rot-addr", b.rotLink, "--ready-file", b.ready)
	// Output to a file: a bmcd that outlives a killed rotd keeps the descriptors.
	b.rotd.Stdout, b.rotd.Stderr = f, f
	if err := b.rotd.Start(); err != nil {
		t.Fatal(err)
	}
}

// kill ends rotd with SIGKILL (its bmcd survives it).
func (b *board) kill() {
	if b.rotd == nil || b.rotd.ProcessState != nil {
		return
	}
	_ = b.rotd.Process.Signal(syscall.SIGKILL)
	_ = b.rotd.Wait()
}

// stop ends rotd (SIGCONT first: it may be stopped) and every bmcd it started, by PID.
func (b *board) stop() {
	if b.rotd != nil && b.rotd.ProcessState == nil {
		_ = b.rotd.Process.Signal(syscall.SIGCONT)
		_ = b.rotd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = b.rotd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			_ = b.rotd.Process.Kill()
			<-done
		}
	}
	for _, pid := range b.bmcPIDs {
		if alive(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	if b.t.Failed() {
		log, _ := os.ReadFile(b.rotdLog)
		b.t.Logf("rotd + bmcd log (%s):\n%s", b.rotdLog, log)
	}
}

func (b *board) log() string {
	out, _ := os.ReadFile(b.rotdLog)
	return string(out)
}

// bmcd is the running bmcd as its ready file describes it.
type bmcd struct {
	URL    string `json:"redfish"`
	PID    int    `json:"pid"`
	client *http.Client
}

// waitBMC waits (bounded) for a bmcd other than not to write its ready file.
func (b *board) waitBMC(not int) *bmcd {
	t := b.t
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		var r bmcd
		if data, err := os.ReadFile(b.ready); err == nil && json.Unmarshal(data, &r) == nil && r.PID != 0 && r.PID != not {
			b.bmcPIDs = append(b.bmcPIDs, r.PID)
			r.client = &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{
				// The BMC's self-signed certificate is made at first boot.
				TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, //nolint:gosec // test client, loopback only
			}}
			return &r
		}
		if b.rotd.ProcessState != nil {
			t.Fatalf("rotd exited (%v) before bmcd was ready", b.rotd.ProcessState)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("bmcd wrote no ready file %s within 30 s", b.ready)
	return nil
}

// response is one Redfish answer.
type response struct {
	status int
	header http.Header
	body   []byte
}

func (m *bmcd) do(t testing.TB, method, path, token string, body any) (response, error) {
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, m.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := m.client.Do(req)
	if err != nil {
		return response{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: data}, err
}

// gateState tells the gate's state from outside: a non-discovery URI without
// credentials is 503 while Locked and 401 while Open.
func (m *bmcd) gateState(t testing.TB) string {
	r, err := m.do(t, "GET", "/redfish/v1/Systems", "", nil)
	switch {
	case err != nil:
		return "unreachable"
	case r.status == http.StatusServiceUnavailable:
		return "Locked"
	case r.status == http.StatusUnauthorized:
		return "Open"
	}
	return fmt.Sprintf("HTTP %d", r.status)
}

// waitGate waits (bounded) for the gate to reach state and returns how long it took.
func (m *bmcd) waitGate(t testing.TB, b *board, state string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	got := ""
	for time.Since(start) < within {
		if got = m.gateState(t); got == state {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("gate not %s within %v (last seen: %s)", state, within, got)
	return 0
}

const adminPassword = "E2e-Test-Passw0rd!"

// login creates a Redfish session as admin, changing the first-boot
// password first if the board still has it.
func (m *bmcd) login(t testing.TB, b *board) string {
	t.Helper()
	r, err := m.do(t, "POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": adminPassword})
	if err == nil && r.status == http.StatusCreated {
		return r.header.Get("X-Auth-Token")
	}
	pw, err := os.ReadFile(filepath.Join(b.dir, "bmc", "initial-admin-password"))
	if err != nil {
		t.Fatalf("no first-boot password: %v", err)
	}
	r, err = m.do(t, "POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": strings.TrimSpace(string(pw))})
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("first login: %v %d %s", err, r.status, r.body)
	}
	tok := r.header.Get("X-Auth-Token")
	r, err = m.do(t, "PATCH", "/redfish/v1/AccountService/Accounts/2", tok, map[string]string{"Password": adminPassword})
	if err != nil || (r.status != http.StatusOK && r.status != http.StatusNoContent) {
		t.Fatalf("change the first-boot password: %v %d %s", err, r.status, r.body)
	}
	r, err = m.do(t, "POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": adminPassword})
	if err != nil || r.status != http.StatusCreated {
		t.Fatalf("login: %v %d %s", err, r.status, r.body)
	}
	return r.header.Get("X-Auth-Token")
}

func alive(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && !strings.HasPrefix(strings.TrimSpace(string(b[i+1:])), "Z")
}
