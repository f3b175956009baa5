package qemu_test

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stmcginnis/gofish"
	"github.com/stmcginnis/gofish/schemas"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
	"github.com/ironroot-bmc/ironroot/images/uroot"
	"github.com/ironroot-bmc/ironroot/qemu"
	"github.com/ironroot-bmc/ironroot/rot/identity"
	"github.com/ironroot-bmc/ironroot/rot/supervise"
)

// The end-to-end tests boot real QEMU VMs behind a real rotd and RoT TPM (one VM at a
// time, TCG): run them with `make qemu-test` / `make qemu-ast2600-test`, which set
// IRONROOT_QEMU_TEST=1, -count=1 and a -timeout.
const e2eEnv = "IRONROOT_QEMU_TEST"

// e2e is one test's keys, binaries and kernel.
type e2e struct {
	repo, build, kernel string
	machine, dtb        string
	bin                 string // rotd, bmcctl
	keys                string // vendor/ and the identity root
	vendorKeys          manifest.KeySet
	root                *identity.Root
}

func setupE2E(t *testing.T, machine string) *e2e {
	t.Helper()
	if os.Getenv(e2eEnv) == "" {
		t.Skipf("QEMU end-to-end test: run `make qemu-test` or `make qemu-ast2600-test` (they set %s=1)", e2eEnv)
	}
	if _, err := qemu.FindQEMUFor(machine); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatal("swtpm not found: install the Debian packages swtpm and swtpm-tools (.ci/run does)")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{repo: repo, build: filepath.Join(repo, "build"), machine: machine, bin: t.TempDir(), keys: t.TempDir()}
	arch, pkg := "amd64", "linux-image-cloud-amd64"
	e.kernel = filepath.Join(e.build, "kernel", "cloud-amd64")
	if machine == qemu.MachineAST2600 {
		arch, pkg = "armhf", "linux-image-armmp"
		e.kernel = filepath.Join(e.build, "kernel", "armmp")
	}
	if _, err := os.Stat(filepath.Join(e.kernel, "VERSION")); err != nil {
		out, err := exec.Command(filepath.Join(repo, "scripts", "fetch-kernel"), arch, pkg, e.kernel).CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/fetch-kernel: %v\n%s", err, out)
		}
	}
	if machine == qemu.MachineAST2600 {
		abi, err := uroot.KernelRelease(e.kernel)
		if err != nil {
			t.Fatal(err)
		}
		stock := filepath.Join(e.kernel, "root", "usr", "lib", "linux-image-"+abi, "aspeed-ast2600-evb.dtb")
		e.dtb = filepath.Join(t.TempDir(), "aspeed-ast2600-evb-uart1.dtb")
		if out, err := exec.Command(filepath.Join(repo, "scripts", "patch-ast2600-dtb"), stock, e.dtb).CombinedOutput(); err != nil {
			t.Fatalf("scripts/patch-ast2600-dtb: %v\n%s", err, out)
		}
	}
	for _, cmd := range []string{"rotd", "bmcctl"} {
		build := exec.Command("go", "build", "-o", filepath.Join(e.bin, cmd), "./cmd/"+cmd)
		build.Dir = repo
		out, err := build.CombinedOutput()
		if err != nil {
			t.Fatalf("go build ./cmd/%s: %v\n%s", cmd, err, out)
		}
	}
	if _, err := images.GenerateVendorKeys(filepath.Join(e.keys, "vendor")); err != nil {
		t.Fatal(err)
	}
	if e.vendorKeys, err = images.LoadVendorKeySet(filepath.Join(e.keys, "vendor")); err != nil {
		t.Fatal(err)
	}
	if e.root, _, err = identity.EnsureDevRoot(e.keys, time.Now()); err != nil {
		t.Fatal(err)
	}
	return e
}

// bundle builds and signs the board's firmware: version, SVN, and the identity root the
// bmc-config names (nil: the test's own).
func (e *e2e) bundle(t *testing.T, ctx context.Context, boardID, version string, svn uint64, root *x509.Certificate) string {
	t.Helper()
	if root == nil {
		root = e.root.Cert
	}
	out := filepath.Join(t.TempDir(), version+".bundle")
	start := time.Now()
	b := qemu.Build{
		RepoDir: e.repo, BuildDir: e.build, KernelDir: e.kernel, Machine: e.machine, DTB: e.dtb,
		KeysDir: filepath.Join(e.keys, "vendor"), IdentityRoots: []*x509.Certificate{root}, VendorKeys: e.vendorKeys,
		Meta: images.Meta{BoardID: boardID, FirmwareVersion: version, SVN: svn, BuildTime: time.Now()},
		Gate: manifest.GatePolicy{MeasurementInterval: 30 * time.Second, HeartbeatPeriod: 10 * time.Second, MinSVN: 1},
	}
	if err := b.Bundle(ctx, out); err != nil {
		t.Fatal(err)
	}
	t.Logf("bundle %s: %s (built in %s)", version, size(out), time.Since(start).Round(time.Millisecond))
	return out
}

// host starts the board's RoT TPM and rotd (which boots the VM); every process is
// stopped by PID when the test ends, and rotd's log and the console are kept for failures.
func (e *e2e) host(t *testing.T, ctx context.Context, boardID, bundle string, tune func(*qemu.Host)) (*qemu.Host, *qemu.Console) {
	t.Helper()
	out := qemu.NewConsole(nil) // rotd's log and the BMC console; keeps the last 64 KiB
	h := &qemu.Host{
		Rotd: filepath.Join(e.bin, "rotd"), Dir: t.TempDir(), Machine: e.machine, BoardID: boardID,
		VendorKeys: filepath.Join(e.keys, "vendor"), IdentityRoot: e.keys, Bundle: bundle,
		Output: out, CPU: os.Getenv("IRONROOT_QEMU_CPU"),
	}
	if tune != nil {
		tune(h)
	}
	if err := h.Start(ctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		h.Stop()
		if t.Failed() {
			t.Logf("rotd log and BMC console (tail):\n%s", lastLines(out.Tail(), 120))
		}
	})
	return h, out
}

func size(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f MiB", float64(st.Size())/(1<<20))
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// insecureClient trusts the board's self-signed first-boot certificate blindly; it is
// used only to fetch that certificate and to poll for readiness.
func insecureClient(timeout time.Duration) *http.Client {
	return &http.Client{Timeout: timeout, Transport: &http.Transport{
		DisableKeepAlives: true,
		TLSClientConfig:   &tls.Config{InsecureSkipVerify: true},
	}}
}

// waitHTTP polls url with a fresh short connection every 50 ms (slirp retries a SYN to a
// guest that is not listening yet on its own slow timer) until want answers; it returns
// the time since since.
func waitHTTP(ctx context.Context, url string, want int, since time.Time, down <-chan struct{}) (time.Duration, error) {
	var last error
	for {
		resp, err := insecureClient(500 * time.Millisecond).Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return time.Since(since), nil
			}
			last = fmt.Errorf("status %d", resp.StatusCode)
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s: no %d answer: %w (last: %v)", url, want, ctx.Err(), last)
		case <-down:
			return 0, fmt.Errorf("%s: the board stopped before answering", url)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// boardCert fetches the certificate the BMC serves and writes it as PEM: the trust a
// client pins on first use.
func boardCert(t *testing.T, redfish string) (string, *x509.CertPool) {
	t.Helper()
	conn, err := tls.Dial("tcp", strings.TrimPrefix(redfish, "https://"), &tls.Config{InsecureSkipVerify: true})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	cert := conn.ConnectionState().PeerCertificates[0]
	p := filepath.Join(t.TempDir(), "bmc-cert.pem")
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	return p, pool
}

// rf is a Redfish client of the board that verifies its certificate.
type rf struct {
	base   string
	client *http.Client
}

func newRF(redfish string, pool *x509.CertPool) *rf {
	return &rf{base: redfish, client: &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}}
}

// do sends one request with HTTP Basic auth and decodes the JSON answer.
func (c *rf) do(method, path, user, pw string, body any) (int, map[string]any, error) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, c.base+path, rd)
	if err != nil {
		return 0, nil, err
	}
	req.SetBasicAuth(user, pw)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	var m map[string]any
	data, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(data, &m)
	return resp.StatusCode, m, nil
}

// waitOpen waits (bounded) until the gate has attested rotd: GET of the own account
// (allowed even before the forced password change) stops answering 503.
func (c *rf) waitOpen(t *testing.T, user, pw string, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		st, body, err := c.do("GET", "/redfish/v1/AccountService/Accounts/2", user, pw, nil)
		if err == nil && st == http.StatusOK {
			return time.Since(start)
		}
		if err == nil && st != http.StatusServiceUnavailable {
			t.Fatalf("waiting for the gate: GET of the own account answered %d %v", st, body)
		}
		if time.Since(start) > within {
			t.Fatalf("the gate did not open within %v (last: %d %v %v)", within, st, body, err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// measurements are the ComponentIntegrity/RoT measurement digests by index.
func (c *rf) measurements(t *testing.T, user, pw string) (status string, m map[float64]string) {
	t.Helper()
	st, ci, err := c.do("GET", "/redfish/v1/ComponentIntegrity/RoT", user, pw, nil)
	if err != nil || st != 200 {
		t.Fatalf("GET ComponentIntegrity/RoT: %d %v", st, err)
	}
	spdm, _ := ci["SPDM"].(map[string]any)
	ia, _ := spdm["IdentityAuthentication"].(map[string]any)
	ra, _ := ia["ResponderAuthentication"].(map[string]any)
	status, _ = ra["VerificationStatus"].(string)
	m = map[float64]string{}
	if ms, ok := spdm["MeasurementSet"].(map[string]any); ok {
		list, _ := ms["Measurements"].([]any)
		for _, x := range list {
			e, _ := x.(map[string]any)
			idx, _ := e["MeasurementIndex"].(float64)
			v, _ := e["Measurement"].(string)
			m[idx] = v
		}
	}
	return status, m
}

func (c *rf) firmwareVersion(t *testing.T, user, pw string) string {
	t.Helper()
	st, m, err := c.do("GET", "/redfish/v1/Managers/bmc", user, pw, nil)
	if err != nil || st != 200 {
		t.Fatalf("GET Managers/bmc: %d %v", st, err)
	}
	v, _ := m["FirmwareVersion"].(string)
	return v
}

// bootBaseline boots the same kernel with a u-root image that only answers HTTP (no
// rotd: the baseline of the boot-time ratio) and returns the time to its first answer.
func (e *e2e) bootBaseline(t *testing.T, ctx context.Context) time.Duration {
	t.Helper()
	img := uroot.Minimal("amd64")
	b := uroot.Builder{RepoDir: e.repo, BuildDir: e.build}
	initramfs, err := b.Initramfs(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := b.Modules(e.kernel, uroot.Q35Modules()) // virtio-net is a module
	if err != nil {
		t.Fatal(err)
	}
	load := func(name string, paths ...string) *supervise.Image {
		var rs []io.Reader
		for _, p := range paths {
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			rs = append(rs, f)
		}
		i, err := supervise.Seal(name, io.MultiReader(rs...))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { i.Close() })
		return i
	}
	con := qemu.NewConsole(nil)
	vm, err := qemu.Start(ctx, qemu.Config{
		BoardID: "baseline", Kernel: load("kernel", filepath.Join(e.kernel, "vmlinuz")), Initrd: load("initrd", initramfs, mods),
		RunDir: t.TempDir(), RedfishPort: 0, IPMIPort: -1, Console: con, CPU: os.Getenv("IRONROOT_QEMU_CPU"),
	})
	if err != nil {
		t.Fatal(err)
	}
	defer vm.Stop()
	port, _, err := vm.Forwards(ctx)
	if err != nil || port == 0 {
		t.Fatalf("minimal image: forward not found (port %d): %v", port, err)
	}
	bctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	d, err := waitHTTP(bctx, fmt.Sprintf("http://127.0.0.1:%d/", port), 200, vm.Started(), vm.Done())
	if err != nil {
		t.Fatalf("minimal image: %v\nconsole:\n%s", err, lastLines(con.Tail(), 40))
	}
	return d
}

// TestQEMUBoard is the x86 board end to end: rotd verifies, measures and boots the VM;
// real clients use it; an update, a tampered bundle and an unhealthy bundle go through
// rotd's A/B lifecycle.
func TestQEMUBoard(t *testing.T) {
	e := setupE2E(t, qemu.MachineQ35)
	ctx, cancel := context.WithTimeout(context.Background(), 12*time.Minute)
	defer cancel()
	const boardID = "ironroot-qemu-q35-test"
	v1 := e.bundle(t, ctx, boardID, "e2e-1", 1, nil)
	baseline := e.bootBaseline(t, ctx)

	const probation = 45 * time.Second
	h, out := e.host(t, ctx, boardID, v1, func(h *qemu.Host) {
		h.Probation, h.RequireHealthReport = probation, true
	})
	rctx, rcancel := context.WithTimeout(ctx, 3*time.Minute)
	r, err := h.WaitReady(rctx, 0, false)
	if err != nil {
		rcancel()
		t.Fatal(err)
	}
	// Power-on = QEMU started by rotd after verification (the ready file says when).
	ready, err := waitHTTP(rctx, r.Redfish+"/redfish/v1", 200, r.PoweredOn, h.Done())
	rcancel()
	if err != nil {
		t.Fatalf("BMC image: Redfish never ready: %v", err)
	}
	fmt.Printf("qemu-test: power-on→Redfish %s, minimal u-root image→HTTP %s, ratio %.2f (goal ≤ 1.5, not asserted)\n",
		ready.Round(time.Millisecond), baseline.Round(time.Millisecond), float64(ready)/float64(baseline))

	// The first-boot password: printed once on the console, saved 0600 by rotd's platform.
	pctx, pcancel := context.WithTimeout(ctx, 30*time.Second)
	r, err = h.WaitReady(pctx, 0, true)
	pcancel()
	if err != nil {
		t.Fatalf("first-boot password: %v", err)
	}
	if st, err := os.Stat(r.PasswordFile); err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("%s: %v, want mode 0600", r.PasswordFile, err)
	}
	pwData, _ := os.ReadFile(r.PasswordFile)
	initialPW := strings.TrimSpace(string(pwData))
	if !strings.Contains(out.Tail(), initialPW) {
		t.Error("the first-boot password was not printed on the console")
	}
	certPEM, pool := boardCert(t, r.Redfish)
	c := newRF(r.Redfish, pool)

	// The gate attests rotd over COM2; until then everything but discovery is 503.
	opened := c.waitOpen(t, "admin", initialPW, 90*time.Second)
	t.Logf("gate Open %s after Redfish first answered", opened.Round(time.Millisecond))
	// The forced password change (the only thing the first-boot password may do).
	const pw = "e2e-Board-pass-7"
	if st, body, err := c.do("GET", "/redfish/v1/Systems/1", "admin", initialPW, nil); err != nil || st != http.StatusForbidden {
		t.Errorf("GET Systems/1 before the password change: %d %v %v, want 403", st, body, err)
	}
	if st, body, err := c.do("PATCH", "/redfish/v1/AccountService/Accounts/2", "admin", initialPW, map[string]any{"Password": pw}); err != nil || st/100 != 2 {
		t.Fatalf("password change: %d %v %v", st, body, err)
	}

	// gofish logs in with a session and powers the simulated host on and off.
	g, err := gofish.Connect(gofish.ClientConfig{Endpoint: r.Redfish, Username: "admin", Password: pw, HTTPClient: c.client})
	if err != nil {
		t.Fatalf("gofish login: %v", err)
	}
	systems, err := g.Service.Systems()
	if err != nil || len(systems) != 1 {
		t.Fatalf("gofish Systems: %d, %v", len(systems), err)
	}
	for _, step := range []struct {
		reset schemas.ResetType
		want  schemas.PowerState
	}{{schemas.OnResetType, schemas.OnPowerState}, {schemas.ForceOffResetType, schemas.OffPowerState}} {
		if _, err := systems[0].Reset(step.reset); err != nil {
			t.Fatalf("gofish Reset %s: %v", step.reset, err)
		}
		deadline := time.Now().Add(60 * time.Second)
		for {
			s, err := g.Service.Systems()
			if err == nil && len(s) == 1 && s[0].PowerState == step.want {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after Reset %s: PowerState never %s (%v)", step.reset, step.want, err)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	g.Logout()

	// ComponentIntegrity: the gate's SPDM appraisal of rotd succeeded.
	status, m1 := c.measurements(t, "admin", pw)
	if status != "Success" || len(m1) == 0 {
		t.Errorf("ComponentIntegrity/RoT: VerificationStatus %q, %d measurements; want Success and measurements", status, len(m1))
	}
	if v := c.firmwareVersion(t, "admin", pw); v != "e2e-1" {
		t.Errorf("Managers/bmc FirmwareVersion %q, want e2e-1 (the attested bundle's)", v)
	}

	// bmcctl verifies fresh signed measurements offline against the identity root and the
	// vendor keys.
	idRoot := filepath.Join(e.keys, identity.RootCertFile)
	att := exec.CommandContext(ctx, filepath.Join(e.bin, "bmcctl"), "attest", "--url", r.Redfish, "--user", "admin",
		"--cacert", certPEM, "--identity-root", idRoot, "--vendor-keys", filepath.Join(e.keys, "vendor"), "--serial", boardID)
	att.Env = append(os.Environ(), "BMCCTL_PASSWORD="+pw)
	if o, err := att.CombinedOutput(); err != nil {
		t.Errorf("bmcctl attest: %v\n%s", err, o)
	} else {
		t.Logf("bmcctl attest:\n%s", o)
	}

	// IPMI through the UDP forward (the image's first-boot defaults enable it for admin).
	ipmi := exec.CommandContext(ctx, "ipmitool", "-I", "lanplus", "-C", "17", "-H", "127.0.0.1",
		"-p", strings.TrimPrefix(r.IPMI, "127.0.0.1:"), "-U", "admin", "-E", "chassis", "status")
	ipmi.Env = append(os.Environ(), "IPMI_PASSWORD="+pw)
	if o, err := ipmi.CombinedOutput(); err != nil || !strings.Contains(string(o), "System Power") {
		t.Errorf("ipmitool -C 17 chassis status: %v\n%s", err, o)
	}

	// An update: a new version with a higher SVN goes into the inactive slot through
	// rotd's control socket; a Manager.Reset makes rotd re-verify and boot it.
	v2 := e.bundle(t, ctx, boardID, "e2e-2", 2, nil)
	if o, err := h.RotdCommand(ctx, "install", v2); err != nil {
		t.Fatal(err)
	} else {
		t.Logf("rotd install: %s", strings.TrimSpace(o))
	}
	old := r.QEMUPID
	if st, body, err := c.do("POST", "/redfish/v1/Managers/bmc/Actions/Manager.Reset", "admin", pw,
		map[string]any{"ResetType": "GracefulRestart"}); err != nil || st/100 != 2 {
		t.Fatalf("Manager.Reset: %d %v %v", st, body, err)
	}
	r, later := e.reboot(t, ctx, h, old, pw, c)
	fmt.Printf("qemu-test: later boot (state disk kept, after the update's reset) power-on→Redfish %s, ratio %.2f to the minimal image's %s\n",
		later.Round(time.Millisecond), float64(later)/float64(baseline), baseline.Round(time.Millisecond))
	if v := c.firmwareVersion(t, "admin", pw); v != "e2e-2" {
		t.Errorf("after the update: FirmwareVersion %q, want e2e-2", v)
	}
	status, m2 := c.measurements(t, "admin", pw)
	if status != "Success" || fmt.Sprint(m1) == fmt.Sprint(m2) {
		t.Errorf("after the update: VerificationStatus %q, measurements changed: %v", status, fmt.Sprint(m1) != fmt.Sprint(m2))
	}
	waitStatus(t, ctx, h, `committed firmware "e2e-2"`, "the e2e-2 slot committed after the gate reported healthy")

	// A tampered bundle is refused; the board keeps running the good one.
	v3 := e.bundle(t, ctx, boardID, "e2e-3", 3, nil)
	data, err := os.ReadFile(v3)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)-100] ^= 0x01
	tampered := filepath.Join(t.TempDir(), "tampered.bundle")
	if err := os.WriteFile(tampered, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := h.RotdCommand(ctx, "install", tampered); err == nil {
		t.Errorf("rotd install accepted a tampered bundle: %s", o)
	} else {
		t.Logf("tampered bundle refused: %v", err)
	}
	if v := c.firmwareVersion(t, "admin", pw); v != "e2e-2" {
		t.Errorf("after the tampered install: FirmwareVersion %q, want e2e-2", v)
	}

	// A bundle whose BMC never becomes healthy (its bmc-config trusts another identity
	// root, so the gate never opens and never reports healthy) is rolled back.
	other, _, err := identity.EnsureDevRoot(t.TempDir(), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	bad := e.bundle(t, ctx, boardID, "e2e-unhealthy", 3, other.Cert)
	if _, err := h.RotdCommand(ctx, "install", bad); err != nil {
		t.Fatal(err)
	}
	old = r.QEMUPID
	if st, body, err := c.do("POST", "/redfish/v1/Managers/bmc/Actions/Manager.Reset", "admin", pw,
		map[string]any{"ResetType": "GracefulRestart"}); err != nil || st/100 != 2 {
		t.Fatalf("Manager.Reset: %d %v %v", st, body, err)
	}
	// The unhealthy boot, then (after the probation) the committed slot again.
	uctx, ucancel := context.WithTimeout(ctx, 2*time.Minute)
	r, err = h.WaitReady(uctx, old, false)
	ucancel()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("unhealthy bundle booted (QEMU pid %d); waiting out the %v probation", r.QEMUPID, probation)
	r, _ = e.reboot(t, ctx, h, r.QEMUPID, pw, c)
	if v := c.firmwareVersion(t, "admin", pw); v != "e2e-2" {
		t.Errorf("after the rollback: FirmwareVersion %q, want e2e-2", v)
	}
	waitStatus(t, ctx, h, `rejected  firmware "e2e-unhealthy"`, "the unhealthy slot reverted")
	if s, _ := h.RotdCommand(ctx, "status"); s != "" {
		t.Logf("rotd status:\n%s", s)
	}
}

// reboot waits for rotd to power on a VM other than old, then for its Redfish and its
// gate (the password on the state disk survived) and re-pins the certificate. It returns
// the time from the VM's power-on until Redfish answered.
func (e *e2e) reboot(t *testing.T, ctx context.Context, h *qemu.Host, old int, pw string, c *rf) (qemu.Ready, time.Duration) {
	t.Helper()
	rctx, cancel := context.WithTimeout(ctx, 3*time.Minute)
	defer cancel()
	r, err := h.WaitReady(rctx, old, false)
	if err != nil {
		t.Fatal(err)
	}
	ready, err := waitHTTP(rctx, r.Redfish+"/redfish/v1", 200, r.PoweredOn, h.Done())
	if err != nil {
		t.Fatal(err)
	}
	_, pool := boardCert(t, r.Redfish)
	*c = *newRF(r.Redfish, pool)
	c.waitOpen(t, "admin", pw, 90*time.Second)
	return r, ready
}

// waitStatus polls `rotd status` (bounded) until it shows line (one slot's state).
func waitStatus(t *testing.T, ctx context.Context, h *qemu.Host, line, what string) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		s, err := h.RotdCommand(ctx, "status")
		if err == nil && strings.Contains(s, line) && !strings.Contains(s, "probation:") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rotd status never showed %s:\n%s %v", what, s, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
