package qemu_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"math/big"
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
)

// The end-to-end test boots real QEMU VMs (one at a time, TCG): run it with
// `make qemu-test`, which sets IRONROOT_QEMU_TEST=1, -count=1 and a -timeout.
const e2eEnv = "IRONROOT_QEMU_TEST"

const testBoardID = "ironroot-qemu-q35-test"

type e2e struct {
	repo, build, kernel string
	keysDir             string
	keys                manifest.KeySet
}

func setupE2E(t *testing.T) *e2e {
	t.Helper()
	if os.Getenv(e2eEnv) == "" {
		t.Skipf("QEMU end-to-end test: run `make qemu-test` (sets %s=1)", e2eEnv)
	}
	if _, err := qemu.FindQEMU(); err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("swtpm"); err != nil {
		t.Fatal("swtpm not found: install the Debian packages swtpm and swtpm-tools (.ci/run does)")
	}
	repo, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	e := &e2e{repo: repo, build: filepath.Join(repo, "build")}
	e.kernel = filepath.Join(e.build, "kernel", "cloud-amd64")
	// fetch-kernel resolves the metapackage each run and unpacks only when it changed.
	if _, err := os.Stat(filepath.Join(e.kernel, "VERSION")); err != nil {
		out, err := exec.Command(filepath.Join(repo, "scripts", "fetch-kernel"), "amd64", "linux-image-cloud-amd64", e.kernel).CombinedOutput()
		if err != nil {
			t.Fatalf("scripts/fetch-kernel: %v\n%s", err, out)
		}
	}
	e.keysDir = t.TempDir()
	if _, err := images.GenerateVendorKeys(e.keysDir); err != nil {
		t.Fatal(err)
	}
	if e.keys, err = images.LoadVendorKeySet(e.keysDir); err != nil {
		t.Fatal(err)
	}
	return e
}

// bundle builds (cached) img and signs kernel + initramfs + modules into a bundle.
func (e *e2e) bundle(t *testing.T, ctx context.Context, img uroot.Image, bmcConfig string) string {
	t.Helper()
	b := uroot.Builder{RepoDir: e.repo, BuildDir: e.build}
	start := time.Now()
	initramfs, err := b.Initramfs(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	mods, err := b.Modules(e.kernel, uroot.Q35Modules())
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), img.Name+".bundle")
	err = qemu.BuildBundle(out, qemu.BundleSpec{
		Meta:   images.Meta{BoardID: testBoardID, FirmwareVersion: "e2e-" + img.Name, SVN: 1, BuildTime: time.Now()},
		Kernel: filepath.Join(e.kernel, "vmlinuz"), Initramfs: initramfs, Modules: mods, KeysDir: e.keysDir,
		BMCConfig: bmcConfig,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("image %s: initramfs %s, modules %s, bundle %s (built in %s)", img.Name,
		size(initramfs), size(mods), size(out), time.Since(start).Round(time.Millisecond))
	return out
}

// bmcConfig writes a bmc-config naming a test identity root and the test vendor keys.
func (e *e2e) bmcConfig(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "e2e identity root"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	cfg := manifest.BMCConfig{BoardID: testBoardID, IdentityRoots: []*x509.Certificate{root}, VendorKeys: e.keys,
		Gate: manifest.GatePolicy{MeasurementInterval: 30 * time.Second, HeartbeatPeriod: 10 * time.Second, MinSVN: 1}}
	data, err := cfg.Encode()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "bmc-config.cbor")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func size(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "?"
	}
	return fmt.Sprintf("%.2f MiB", float64(st.Size())/(1<<20))
}

// boot powers a board on and registers its teardown (every process by PID, also on
// failure; the console tail is logged when the test failed).
func (e *e2e) boot(t *testing.T, ctx context.Context, board *qemu.Board) (*qemu.VM, *qemu.Console) {
	t.Helper()
	vm, con, err := board.PowerOn(ctx)
	if err != nil {
		board.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		vm.Stop()
		board.Close()
		if t.Failed() {
			t.Logf("console of %s (tail):\n%s", board.ID, lastLines(con.Tail(), 60))
		}
	})
	return vm, con
}

func lastLines(s string, n int) string {
	l := strings.Split(s, "\n")
	if len(l) > n {
		l = l[len(l)-n:]
	}
	return strings.Join(l, "\n")
}

// waitHTTP polls url with a fresh short connection every 50 ms (slirp retries a SYN to
// a guest that is not listening yet on its own slow timer) until want answers.
func waitHTTP(ctx context.Context, vm *qemu.VM, url string, want int) (time.Duration, error) {
	for {
		c := &http.Client{Timeout: 500 * time.Millisecond, Transport: &http.Transport{
			DisableKeepAlives: true,
			TLSClientConfig:   &tls.Config{InsecureSkipVerify: true}, // the board's self-signed first-boot cert
		}}
		resp, err := c.Get(url)
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == want {
				return time.Since(vm.Started()), nil
			}
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("%s: no %d answer: %w (last: %v)", url, want, ctx.Err(), err)
		case <-vm.Done():
			return 0, fmt.Errorf("%s: QEMU exited before answering: %v", url, vm.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

func TestQEMUBoardRedfish(t *testing.T) {
	e := setupE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 6*time.Minute)
	defer cancel()
	bmcBundle := e.bundle(t, ctx, uroot.BMC("amd64", false), e.bmcConfig(t))
	minBundle := e.bundle(t, ctx, uroot.Minimal("amd64"), "")

	// Baseline: the same kernel booting a u-root image that only answers HTTP.
	var baseline time.Duration
	{
		board := &qemu.Board{ID: testBoardID, StateDir: t.TempDir(), Bundle: minBundle, Keys: e.keys,
			Policy: manifest.Policy{BoardID: testBoardID}, IPMIPort: -1, NoStateDisk: true, NoRoTLink: true,
			CPU: os.Getenv("IRONROOT_QEMU_CPU")}
		vm, _ := e.boot(t, ctx, board)
		port, _, err := vm.Forwards(ctx)
		if err != nil || port == 0 {
			t.Fatalf("minimal board: Redfish forward not found (port %d): %v", port, err)
		}
		bctx, bcancel := context.WithTimeout(ctx, 60*time.Second)
		baseline, err = waitHTTP(bctx, vm, fmt.Sprintf("http://127.0.0.1:%d/", port), 200)
		bcancel()
		if err != nil {
			t.Fatalf("minimal image: %v", err)
		}
		vm.Stop()
		board.Close()
	}

	// The BMC image: bmcd as uinit, state disk, BMC TPM, RoT link on COM2.
	board := &qemu.Board{ID: testBoardID, StateDir: t.TempDir(), Bundle: bmcBundle, Keys: e.keys,
		Policy: manifest.Policy{BoardID: testBoardID}, BMCTPM: true, CPU: os.Getenv("IRONROOT_QEMU_CPU")}
	vm, con := e.boot(t, ctx, board)
	t.Logf("QEMU pid %d, BMC TPM swtpm pid %d", vm.PID(), board.TPMPID())
	port, ipmiPort, err := vm.Forwards(ctx)
	if err != nil || port == 0 || ipmiPort == 0 {
		t.Fatalf("BMC board forwards: redfish %d ipmi %d: %v", port, ipmiPort, err)
	}
	base := fmt.Sprintf("https://127.0.0.1:%d", port)
	rctx, rcancel := context.WithTimeout(ctx, 120*time.Second)
	ready, err := waitHTTP(rctx, vm, base+"/redfish/v1", 200)
	rcancel()
	if err != nil {
		t.Fatalf("BMC image: Redfish never ready: %v", err)
	}
	ratio := float64(ready) / float64(baseline)
	t.Logf("power-on to Redfish ready: %s; minimal u-root image to first HTTP: %s; ratio %.2f (goal ≤ 1.5, not asserted)",
		ready.Round(time.Millisecond), baseline.Round(time.Millisecond), ratio)
	fmt.Printf("qemu-test: power-on→Redfish %s, baseline %s, ratio %.2f\n",
		ready.Round(time.Millisecond), baseline.Round(time.Millisecond), ratio)

	select {
	case <-con.FirstBoot():
	case <-time.After(10 * time.Second):
		t.Fatal("no first-boot credentials on the BMC console")
	}
	user, pw := con.Credentials()
	if p, err := con.SaveCredentials(board.StateDir); err != nil {
		t.Fatal(err)
	} else if st, _ := os.Stat(p); st.Mode().Perm() != 0o600 {
		t.Errorf("%s: mode %v, want 0600", p, st.Mode().Perm())
	}

	// gofish reads the service root through the forward (a discovery URI: served while
	// the gate is Locked).
	httpc := &http.Client{Timeout: 60 * time.Second, Transport: &http.Transport{
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}} // the board's self-signed first-boot certificate
	c, err := gofish.Connect(gofish.ClientConfig{Endpoint: base, HTTPClient: httpc})
	if err != nil {
		t.Fatalf("gofish: service root through the forward: %v", err)
	}
	t.Logf("gofish: service root %q, Redfish %s, UUID %s", c.Service.ID, c.Service.RedfishVersion, c.Service.UUID)

	// No rotd answers SPDM on COM2 yet, so the gate must stay Locked and refuse the login
	// fail-closed (503 + the gate's message). When rotd starts QEMU children and serves the
	// RoT link, this becomes: forced password change, Systems, ComponentIntegrity.
	_, err = gofish.Connect(gofish.ClientConfig{Endpoint: base, Username: user, Password: pw, HTTPClient: httpc})
	var rerr *schemas.Error
	if !errors.As(err, &rerr) || rerr.HTTPReturnedStatusCode != http.StatusServiceUnavailable ||
		!strings.Contains(err.Error(), "IronrootGate") {
		t.Fatalf("login with no root of trust on the RoT link: %v; want 503 with an IronrootGate message (gate Locked)", err)
	}
	if bytes.Contains([]byte(con.Tail()), []byte("Kernel panic")) {
		t.Errorf("kernel panic on the BMC console")
	}
	if strings.Contains(con.Tail(), "no verified bmc-config") {
		t.Errorf("bmcd did not get the bundle's bmc-config (guest.Config.BMCConfigFD → -bmc-config-fd)")
	}

	// Power cycle (QEMU ended by PID = the board loses power): the next power-on
	// re-verifies the bundle, and the state disk keeps the accounts (no second first boot).
	vm.Stop()
	vm2, con2 := e.boot(t, ctx, board)
	port, _, err = vm2.Forwards(ctx)
	if err != nil || port == 0 {
		t.Fatalf("second power-on: forward: %d, %v", port, err)
	}
	rctx, rcancel = context.WithTimeout(ctx, 120*time.Second)
	ready2, err := waitHTTP(rctx, vm2, fmt.Sprintf("https://127.0.0.1:%d/redfish/v1", port), 200)
	rcancel()
	if err != nil {
		t.Fatalf("second power-on: Redfish never ready: %v", err)
	}
	fmt.Printf("qemu-test: second power-on (state exists)→Redfish %s, ratio %.2f to the baseline\n",
		ready2.Round(time.Millisecond), float64(ready2)/float64(baseline))
	select {
	case <-con2.FirstBoot():
		t.Error("second power-on printed first-boot credentials again: the state disk did not keep the accounts")
	default:
	}
}
