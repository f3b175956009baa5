package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/rotsim"
	"github.com/ironroot-bmc/ironroot/internal/testboard"
)

// cli runs bmcctl in-process and returns its exit status and output.
func cli(t *testing.T, args ...string) (int, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	code := run(context.Background(), args, &out, &errOut)
	return code, out.String() + errOut.String()
}

// boardFiles writes what an operator holds for the test board: the identity
// root, the BMC's TLS certificate; the vendor keys are the simulated vendor's
// *.pub directory.
func boardFiles(t *testing.T, tb *testboard.TB) (root, cacert, keys string) {
	t.Helper()
	dir := t.TempDir()
	root = filepath.Join(dir, "mfg-ca.pem")
	if err := os.WriteFile(root, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: tb.RoT.Vendor.Root.Cert.Raw}), 0o644); err != nil {
		t.Fatal(err)
	}
	cacert = filepath.Join(dir, "bmc.pem")
	if err := os.WriteFile(cacert, tb.CertPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	return root, cacert, tb.RoT.Vendor.Dir
}

func TestAttestTestBoard(t *testing.T) {
	tb := testboard.Start(t)
	root, cacert, keys := boardFiles(t, tb)
	common := []string{"--url", tb.URL, "--cacert", cacert, "--user", tb.AdminUser, "--password", tb.AdminPassword,
		"--identity-root", root, "--vendor-keys", keys}

	code, out := cli(t, append([]string{"attest", "--serial", rotsim.Board}, common...)...)
	if code != 0 || !strings.Contains(out, "attested: board") || !strings.Contains(out, "ok    DeviceID serial") {
		t.Fatalf("good board: exit %d\n%s", code, out)
	}
	t.Logf("bmcctl attest:\n%s", out)

	code, out = cli(t, append([]string{"attest", "--serial", "some-other-board"}, common...)...)
	if code != 1 || !strings.Contains(out, "FAIL  DeviceID serial") || !strings.Contains(out, "attestation FAILED") {
		t.Errorf("another board's serial: exit %d\n%s", code, out)
	}

	// Credentials from the environment.
	t.Setenv("BMCCTL_USER", tb.AdminUser)
	t.Setenv("BMCCTL_PASSWORD", tb.AdminPassword)
	code, out = cli(t, "attest", "--url", tb.URL, "--cacert", cacert, "--identity-root", root, "--vendor-keys", keys)
	if code != 0 {
		t.Errorf("credentials from the environment: exit %d\n%s", code, out)
	}

	// A wrong identity root: the chain fails.
	other := rotsim.New(t, rotsim.Options{})
	otherRoot := filepath.Join(t.TempDir(), "other.pem")
	_ = os.WriteFile(otherRoot, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: other.Vendor.Root.Cert.Raw}), 0o644)
	code, out = cli(t, "attest", "--url", tb.URL, "--cacert", cacert, "--identity-root", otherRoot, "--vendor-keys", keys)
	if code != 1 || !strings.Contains(out, "FAIL  certificate chain") {
		t.Errorf("another identity root: exit %d\n%s", code, out)
	}

	code, out = cli(t, "attest", "--url", tb.URL)
	if code != 2 {
		t.Errorf("missing flags: exit %d\n%s", code, out)
	}
}

// TestAttestTamperedEvidence puts a proxy between bmcctl and the board that
// flips one byte of SignedMeasurements: bmcctl must refuse it.
func TestAttestTamperedEvidence(t *testing.T) {
	tb := testboard.Start(t)
	root, _, keys := boardFiles(t, tb)
	target, _ := url.Parse(tb.URL)
	rp := httputil.NewSingleHostReverseProxy(target)
	rp.Transport = &http.Transport{TLSClientConfig: &tls.Config{RootCAs: tb.Client.Transport.(*http.Transport).TLSClientConfig.RootCAs}}
	for _, at := range []string{"middle", "signature"} {
		t.Run(at, func(t *testing.T) {
			tampered := false
			rp.ModifyResponse = func(r *http.Response) error {
				if !strings.HasSuffix(r.Request.URL.Path, "SPDMGetSignedMeasurements") || r.StatusCode != http.StatusOK {
					return nil
				}
				body, err := io.ReadAll(r.Body)
				r.Body.Close()
				if err != nil {
					return err
				}
				var m map[string]any
				if err := json.Unmarshal(body, &m); err != nil {
					return err
				}
				blob, err := base64.StdEncoding.DecodeString(m["SignedMeasurements"].(string))
				if err != nil {
					return err
				}
				i := len(blob) / 2
				if at == "signature" {
					i = len(blob) - 10
				}
				blob[i] ^= 0x01
				tampered = true
				m["SignedMeasurements"] = base64.StdEncoding.EncodeToString(blob)
				body, _ = json.Marshal(m)
				r.Body = io.NopCloser(bytes.NewReader(body))
				r.ContentLength = int64(len(body))
				r.Header.Set("Content-Length", strconv.Itoa(len(body)))
				return nil
			}
			proxy := httptest.NewTLSServer(rp)
			defer proxy.Close()
			cacert := filepath.Join(t.TempDir(), "proxy.pem")
			_ = os.WriteFile(cacert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: proxy.Certificate().Raw}), 0o644)
			code, out := cli(t, "attest", "--url", proxy.URL, "--cacert", cacert, "--user", tb.AdminUser, "--password", tb.AdminPassword,
				"--identity-root", root, "--vendor-keys", keys, "--serial", rotsim.Board)
			if !tampered {
				t.Fatalf("the proxy saw no SPDMGetSignedMeasurements answer:\n%s", out)
			}
			if code != 1 || !strings.Contains(out, "FAIL") || strings.Contains(out, "attested: board") {
				t.Errorf("tampered evidence: exit %d\n%s", code, out)
			}
			t.Logf("%s", out)
		})
	}
}

func TestPowerSensorsAccounts(t *testing.T) {
	tb := testboard.Start(t)
	_, cacert, _ := boardFiles(t, tb)
	common := []string{"--url", tb.URL, "--cacert", cacert, "--user", tb.AdminUser, "--password", tb.AdminPassword}

	code, out := cli(t, append([]string{"power", "status"}, common...)...)
	if code != 0 || !strings.Contains(out, "1: ") {
		t.Fatalf("power status: exit %d\n%s", code, out)
	}
	before := out
	op := "on"
	if strings.Contains(before, "On") {
		op = "off"
	}
	if code, out := cli(t, append([]string{"power", op, "--force"}, common...)...); code != 0 {
		t.Fatalf("power %s: exit %d\n%s", op, code, out)
	}
	code, out = cli(t, append([]string{"sensors"}, common...)...)
	if code != 0 || len(strings.Split(strings.TrimSpace(out), "\n")) < 2 {
		t.Errorf("sensors: exit %d\n%s", code, out)
	}
	code, out = cli(t, append([]string{"accounts"}, common...)...)
	if code != 0 || !strings.Contains(out, tb.AdminUser) || !strings.Contains(out, "Administrator") {
		t.Errorf("accounts: exit %d\n%s", code, out)
	}
	if code, out := cli(t, append([]string{"power", "sideways"}, common...)...); code != 2 {
		t.Errorf("power sideways: exit %d\n%s", code, out)
	}
	if code, out := cli(t, "power", "status", "--url", tb.URL, "--cacert", cacert, "--user", tb.AdminUser, "--password", "wrong"); code != 1 {
		t.Errorf("wrong password: exit %d\n%s", code, out)
	}
}
