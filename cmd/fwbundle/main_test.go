package main

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/images"
	"github.com/ironroot-bmc/ironroot/images/manifest"
)

func runOK(t *testing.T, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if rc := run(args, &out, &errOut); rc != 0 {
		t.Fatalf("fwbundle %s: exit %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), rc, out.String(), errOut.String())
	}
	return out.String()
}

func runFail(t *testing.T, wantRC int, args ...string) (string, string) {
	t.Helper()
	var out, errOut bytes.Buffer
	if rc := run(args, &out, &errOut); rc != wantRC {
		t.Fatalf("fwbundle %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), rc, wantRC, out.String(), errOut.String())
	}
	return out.String(), errOut.String()
}

func writeFile(t *testing.T, path string, data []byte) string {
	t.Helper()
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return path
}

func testRootPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test identity root"},
		NotBefore: time.Unix(0, 0), NotAfter: time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

func TestEndToEnd(t *testing.T) {
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	out := runOK(t, "keygen", "--out", keys)
	if !strings.Contains(out, "ES384") || !strings.Contains(out, "ML-DSA-87") || !strings.Contains(out, "key set hash") {
		t.Errorf("keygen output:\n%s", out)
	}
	hash := strings.TrimSpace(runOK(t, "key-set-hash", "--pub", keys))
	if !strings.Contains(out, hash) {
		t.Errorf("key-set-hash %s not in keygen output", hash)
	}
	runFail(t, 1, "keygen", "--out", keys) // refuses to overwrite

	kernel := writeFile(t, filepath.Join(dir, "kernel"), bytes.Repeat([]byte("k"), 3<<20+5))
	bmcd := writeFile(t, filepath.Join(dir, "bmcd@x"), []byte("bmcd binary"))
	root := writeFile(t, filepath.Join(dir, "root.pem"), testRootPEM(t))
	cfg := filepath.Join(dir, "bmc-config.cbor")
	runOK(t, "bmc-config", "--pub", keys, "--identity-root", root, "--board", "b1", "--interval", "15s", "-o", cfg)
	cfgBytes, _ := os.ReadFile(cfg)
	parsed, err := manifest.ParseBMCConfig(cfgBytes)
	if err != nil || parsed.Gate.MeasurementInterval != 15*time.Second || parsed.VendorKeys.Len() != 2 {
		t.Fatalf("bmc-config: %v %+v", err, parsed)
	}

	bundle := filepath.Join(dir, "fw.bundle")
	out = runOK(t, "build", "--keys", keys, "--board", "b1", "--version", "1.0.0", "--svn", "5", "--build-time", "1790000000",
		"--component", "bmc-kernel="+kernel+"@6.12",
		"--component", "bmcd="+bmcd+"@", // a path with '@' needs an explicit (here empty) version
		"--component", "bmc-config="+cfg,
		"-o", bundle)
	if !strings.Contains(out, "bmc-kernel") {
		t.Errorf("build output:\n%s", out)
	}

	out = runOK(t, "verify", "--pub", keys, "--board", "b1", "--min-svn", "5", "--key-set-hash", hash, bundle)
	for _, want := range []string{"ok    key set", "ok    envelope", "ML-DSA-87 kid", "ES384 kid", "ok    board", "ok    svn", "ok    component  bmc-config", "VERIFIED"} {
		if !strings.Contains(out, want) {
			t.Errorf("verify output lacks %q:\n%s", want, out)
		}
	}
	out, _ = runFail(t, 1, "verify", "--pub", keys, "--board", "b2", bundle)
	if !strings.Contains(out, "FAIL") || !strings.Contains(out, "wrong board") {
		t.Errorf("wrong board output:\n%s", out)
	}
	out, _ = runFail(t, 1, "verify", "--pub", keys, "--board", "b1", "--min-svn", "6", bundle)
	if !strings.Contains(out, "SVN below floor") {
		t.Errorf("old SVN output:\n%s", out)
	}

	// Another vendor's keys do not verify it.
	other := filepath.Join(dir, "other")
	runOK(t, "keygen", "--out", other)
	out, _ = runFail(t, 1, "verify", "--pub", other, bundle)
	if !strings.Contains(out, "unknown key ID") {
		t.Errorf("other keys output:\n%s", out)
	}

	// A flipped payload byte is caught.
	data, _ := os.ReadFile(bundle)
	data[len(data)-100] ^= 1
	bad := writeFile(t, filepath.Join(dir, "bad.bundle"), data)
	out, _ = runFail(t, 1, "verify", "--pub", keys, bad)
	if !strings.Contains(out, "digest mismatch") {
		t.Errorf("flipped payload output:\n%s", out)
	}

	out = runOK(t, "inspect", bundle)
	if !strings.Contains(out, "NOT verified") || !strings.Contains(out, "6.12") {
		t.Errorf("inspect output:\n%s", out)
	}
	var js inspectJSON
	if err := json.Unmarshal([]byte(runOK(t, "inspect", "--json", bundle)), &js); err != nil {
		t.Fatal(err)
	}
	if js.BoardID != "b1" || js.SVN != 5 || len(js.Components) != 3 || len(js.Signatures) != 2 || js.Components[1].Name != "bmcd" || js.BuildTime.Unix() != 1790000000 {
		t.Errorf("inspect --json: %+v", js)
	}

	// The bundle opens with the library and the bmc-config inside parses.
	f, _ := os.Open(bundle)
	defer f.Close()
	fi, _ := f.Stat()
	b, err := images.Open(f, fi.Size())
	if err != nil {
		t.Fatal(err)
	}
	ks, _ := images.LoadVendorKeySet(keys)
	ver, err := b.VerifyAndRead(ks, manifest.Policy{BoardID: "b1"})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := ver.Component(manifest.ComponentBMCConfig)
	if _, err := manifest.ParseBMCConfig(c.Data); err != nil {
		t.Errorf("bmc-config from the bundle: %v", err)
	}
}

func TestUsageErrors(t *testing.T) {
	runFail(t, 2)
	runFail(t, 2, "nope")
	runFail(t, 2, "build", "--keys", "x")
	runFail(t, 2, "build", "--component", "Bad=x")
	runFail(t, 2, "verify", "--pub", "x")
	runFail(t, 2, "inspect")
	_, stderr := runFail(t, 1, "inspect", filepath.Join(t.TempDir(), "missing"))
	if !strings.Contains(stderr, "no such file") {
		t.Errorf("stderr: %s", stderr)
	}
}
