package main

// Process-level tests of bmcd: the real binary, built once per test binary, started on
// 127.0.0.1:0 with a temporary state directory. Every process a test starts is killed by
// its PID and reaped in t.Cleanup, also when the test fails.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc"
	"github.com/ironroot-bmc/ironroot/bmc/account"
	"github.com/ironroot-bmc/ironroot/bmc/tlsidentity"
	"github.com/ironroot-bmc/ironroot/internal/rotsim"
)

// bmcdBin is the bmcd binary built by TestMain.
var bmcdBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "bmcd-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "bmcd test: temp dir:", err)
		os.Exit(1)
	}
	bmcdBin = filepath.Join(dir, "bmcd")
	if out, err := goBuild(bmcdBin, "."); err != nil {
		fmt.Fprintf(os.Stderr, "bmcd test: build bmcd: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// goBuild builds the package at pkg (relative to this directory) into out as bmcd ships
// (the Makefile's flags): static, no cgo resolver, no libc mapped.
func goBuild(out, pkg string) ([]byte, error) {
	goTool, err := exec.LookPath("go")
	if err != nil && os.Getenv("GOROOT") != "" {
		goTool, err = filepath.Join(os.Getenv("GOROOT"), "bin", "go"), nil
	}
	if err != nil {
		return nil, fmt.Errorf("the go command is needed: %w", err)
	}
	build := exec.Command(goTool, "build", "-trimpath", "-o", out, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	return build.CombinedOutput()
}

// syncBuffer collects a process's output for the test to read while it runs.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// proc is one running bmcd.
type proc struct {
	tb     testing.TB
	cmd    *exec.Cmd
	state  string
	stdout *syncBuffer
	stderr *syncBuffer
	done   chan struct{} // closed when the process has been reaped
	status *os.ProcessState
	url    string // "https://127.0.0.1:PORT"
	ipmi   string // "127.0.0.1:PORT" (UDP), from the ready file
	client *http.Client
}

// startBMCD starts bmcd on state behind a simulated root of trust (internal/rotsim: the
// real SPDM responder with a test identity, on 127.0.0.1:0) that hands bmcd its verified
// bmc-config as a sealed memfd, as rotd does. It waits (at most 60 s) until the ready file
// names the Redfish URL, the gate has opened and bmcd uses the RoT's sealing key. The
// process is killed and reaped in Cleanup.
func startBMCD(tb testing.TB, state string) *proc {
	tb.Helper()
	return startBMCDBehind(tb, state, rotsim.New(tb, rotsim.Options{}))
}

// startBMCDBehind is startBMCD behind a given simulated root of trust.
func startBMCDBehind(tb testing.TB, state string, rot *rotsim.RoT) *proc {
	tb.Helper()
	p := launchBMCD(tb, state, rot)
	p.waitGateOpen()
	p.waitSealingKey() // password sets need it
	return p
}

// launchBMCD starts bmcd and waits for its ready file. With a nil rot, bmcd gets no
// verified bmc-config and no RoT link.
func launchBMCD(tb testing.TB, state string, rot *rotsim.RoT) *proc {
	tb.Helper()
	readyFile := filepath.Join(tb.TempDir(), "ready.json")
	p := &proc{tb: tb, state: state, stdout: &syncBuffer{}, stderr: &syncBuffer{}, done: make(chan struct{})}
	args := []string{"--state", state, "--redfish-addr", "127.0.0.1:0", "--ipmi-addr", "127.0.0.1:0", "--ready-file", readyFile}
	p.cmd = exec.Command(bmcdBin)
	if rot != nil {
		p.cmd.ExtraFiles = []*os.File{rot.BMCConfigMemfd(tb)} // fd 3 in bmcd
		args = append(args, "--bmc-config-fd", "3", "--rot-addr", rot.ListenTCP(tb))
	}
	p.cmd.Args = append(p.cmd.Args, args...)
	p.cmd.Stdout, p.cmd.Stderr = p.stdout, p.stderr
	if err := p.cmd.Start(); err != nil {
		tb.Fatalf("start bmcd: %v", err)
	}
	go func() {
		p.cmd.Wait()
		p.status = p.cmd.ProcessState
		close(p.done)
	}()
	tb.Cleanup(p.kill)

	deadline := time.NewTimer(60 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for p.url == "" {
		select {
		case <-p.done:
			tb.Fatalf("bmcd exited before it was ready: %v\nstdout: %s\nstderr: %s", p.status, p.stdout, p.stderr)
		case <-deadline.C:
			tb.Fatalf("bmcd wrote no ready file within 60 s\nstdout: %s\nstderr: %s", p.stdout, p.stderr)
		case <-tick.C:
			data, err := os.ReadFile(readyFile)
			if err != nil {
				continue
			}
			var r ready
			if err := json.Unmarshal(data, &r); err != nil {
				tb.Fatalf("ready file is not the JSON {\"redfish\":URL}: %v: %q", err, data)
			}
			if !strings.HasPrefix(r.Redfish, "https://127.0.0.1:") {
				tb.Fatalf("ready file names %q, want https://127.0.0.1:PORT", r.Redfish)
			}
			p.url, p.ipmi = r.Redfish, r.IPMI
		}
	}
	p.client = poolClient(certFilePool(tb, filepath.Join(state, "tls", "cert.pem")))
	return p
}

// certFilePool returns a pool holding exactly the certificates in certFile (PEM).
func certFilePool(tb testing.TB, certFile string) *x509.CertPool {
	tb.Helper()
	pemBytes, err := os.ReadFile(certFile)
	if err != nil {
		tb.Fatalf("TLS certificate: %v", err)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemBytes) {
		tb.Fatalf("%s holds no PEM certificate", certFile)
	}
	return pool
}

// poolClient returns an HTTPS client that trusts exactly the certificates in pool.
func poolClient(pool *x509.CertPool) *http.Client {
	return &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
			MaxIdleConnsPerHost: 256,
		},
	}
}

// kill sends SIGKILL to the process by PID (if it still runs) and reaps it.
func (p *proc) kill() {
	select {
	case <-p.done:
		return
	default:
	}
	p.cmd.Process.Kill()
	<-p.done
	if p.client != nil {
		p.client.CloseIdleConnections()
	}
}

// wait waits at most d for the process to exit by itself and returns its exit status.
func (p *proc) wait(d time.Duration) int {
	p.tb.Helper()
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-p.done:
		return p.status.ExitCode()
	case <-t.C:
		p.tb.Fatalf("bmcd still running %v later\nstdout: %s\nstderr: %s", d, p.stdout, p.stderr)
		return -1
	}
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(tb testing.TB) map[string]any {
	tb.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		tb.Fatalf("%d body is not a JSON object: %v: %s", r.status, err, r.body)
	}
	return m
}

// do sends a request with an X-Auth-Token (if token != "") and a JSON body (if body != nil).
func (p *proc) do(method, path, token string, body any) response {
	p.tb.Helper()
	var rd io.Reader
	if body != nil {
		data, err := json.Marshal(body)
		if err != nil {
			p.tb.Fatal(err)
		}
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, p.url+path, rd)
	if err != nil {
		p.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		p.tb.Fatalf("%s %s: %v\nstderr: %s", method, path, err, p.stderr)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		p.tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	return response{status: resp.StatusCode, header: resp.Header, body: data}
}

// login creates a session and returns its token and the whole response.
func (p *proc) login(user, password string) (string, response) {
	p.tb.Helper()
	r := p.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": user, "Password": password})
	if r.status != http.StatusCreated {
		p.tb.Fatalf("login %s: %d %s", user, r.status, r.body)
	}
	tok := r.header.Get("X-Auth-Token")
	if tok == "" {
		p.tb.Fatalf("login %s: 201 without X-Auth-Token", user)
	}
	return tok, r
}

// initialPassword reads the first boot's admin password file and checks it is 0600.
func initialPassword(tb testing.TB, state string) string {
	tb.Helper()
	path := filepath.Join(state, "initial-admin-password")
	fi, err := os.Stat(path)
	if err != nil {
		tb.Fatalf("first boot wrote no password file: %v", err)
	}
	if fi.Mode().Perm() != 0o600 {
		tb.Errorf("%s mode %v, want 0600", path, fi.Mode().Perm())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	return strings.TrimSpace(string(data))
}

const adminPassword = "Bmcd-Test-Passw0rd"

// firstLogin logs in as the first-boot admin, changes the password as
// PasswordChangeRequired demands, and returns a token of a fresh session.
func firstLogin(tb testing.TB, p *proc) string {
	tb.Helper()
	pw := initialPassword(tb, p.state)
	tok, r := p.login("admin", pw)
	accountURI := ""
	for _, m := range extendedInfo(r.json(tb)) {
		if strings.HasSuffix(m.MessageID, ".PasswordChangeRequired") && len(m.MessageArgs) == 1 {
			accountURI = m.MessageArgs[0]
		}
	}
	if accountURI == "" {
		tb.Errorf("first login: no PasswordChangeRequired message naming the account URI in %s", r.body)
		accountURI = "/redfish/v1/AccountService/Accounts/2"
	}
	if r := p.do("PATCH", accountURI, tok, map[string]string{"Password": adminPassword}); r.status != 200 && r.status != 204 {
		tb.Fatalf("change the first-boot password: PATCH %s: %d %s", accountURI, r.status, r.body)
	}
	tok, _ = p.login("admin", adminPassword)
	return tok
}

type message struct {
	MessageID   string   `json:"MessageId"`
	MessageArgs []string `json:"MessageArgs"`
}

func extendedInfo(body map[string]any) []message {
	raw := body["@Message.ExtendedInfo"]
	if e, ok := body["error"].(map[string]any); ok {
		raw = e["@Message.ExtendedInfo"]
	}
	data, _ := json.Marshal(raw)
	var out []message
	json.Unmarshal(data, &out)
	return out
}

type logEntry struct {
	ID        string `json:"Id"`
	MessageID string `json:"MessageId"`
	Message   string `json:"Message"`
}

const entriesURI = "/redfish/v1/Systems/1/LogServices/EventLog/Entries"

// entries lists the event log: the collection (following nextLink) and then each
// member, bounded to 2000 entries.
func (p *proc) entries(token string) []logEntry {
	p.tb.Helper()
	var links []string
	next := entriesURI
	for i := 0; next != "" && i < 100; i++ {
		r := p.do("GET", next, token, nil)
		if r.status != 200 {
			p.tb.Fatalf("GET %s: %d %s", next, r.status, r.body)
		}
		var page struct {
			Members []struct {
				ID string `json:"@odata.id"`
			} `json:"Members"`
			NextLink string `json:"Members@odata.nextLink"`
		}
		if err := json.Unmarshal(r.body, &page); err != nil {
			p.tb.Fatalf("GET %s: %v", next, err)
		}
		for _, m := range page.Members {
			links = append(links, m.ID)
		}
		next = page.NextLink
	}
	if len(links) > 2000 {
		p.tb.Fatalf("event log lists %d entries, more than this test reads", len(links))
	}
	out := make([]logEntry, 0, len(links))
	for _, l := range links {
		r := p.do("GET", l, token, nil)
		if r.status != 200 {
			p.tb.Fatalf("GET %s: %d %s", l, r.status, r.body)
		}
		var e logEntry
		if err := json.Unmarshal(r.body, &e); err != nil {
			p.tb.Fatalf("GET %s: %v", l, err)
		}
		out = append(out, e)
	}
	return out
}

func TestFirstBootCredentialsAndCleanShutdown(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	p := startBMCD(t, state)
	pw := initialPassword(t, state)
	if len(pw) != 20 {
		t.Errorf("initial password has %d characters, want 20", len(pw))
	}
	out := p.stdout.String()
	if !strings.Contains(out, pw) || !strings.Contains(out, "admin") {
		t.Errorf("first boot did not print the admin user and password; stdout:\n%s", out)
	}
	if !strings.Contains(out, "redfish: listening on "+p.url) {
		t.Errorf("stdout lacks %q:\n%s", "redfish: listening on "+p.url, out)
	}

	// The certificate is a self-signed P-384 one, and it is what the server presents
	// (the client trusts only it).
	certPEM, err := os.ReadFile(filepath.Join(state, "tls", "cert.pem"))
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(certPEM)
	if blk == nil {
		t.Fatal("cert.pem holds no PEM block")
	}
	cert, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P384() {
		t.Errorf("certificate key %T, want ECDSA P-384", cert.PublicKey)
	}
	if err := cert.CheckSignature(cert.SignatureAlgorithm, cert.RawTBSCertificate, cert.Signature); err != nil ||
		!bytes.Equal(cert.RawIssuer, cert.RawSubject) {
		t.Errorf("certificate is not self-signed: %v", err)
	}

	// The printed credentials work, with the demand to change the password, and until
	// it is changed nothing but the own account is reachable.
	tok, r := p.login("admin", pw)
	found := false
	for _, m := range extendedInfo(r.json(t)) {
		found = found || strings.HasSuffix(m.MessageID, ".PasswordChangeRequired")
	}
	if !found {
		t.Errorf("first login lacks the PasswordChangeRequired message: %s", r.body)
	}
	if r := p.do("GET", "/redfish/v1/Systems/1", tok, nil); r.status != http.StatusForbidden {
		t.Errorf("GET Systems/1 before the password change: %d, want 403", r.status)
	}

	// SIGTERM: clean shutdown, status 0.
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := p.wait(20 * time.Second); code != 0 {
		t.Errorf("exit status after SIGTERM %d, want 0\nstderr: %s", code, p.stderr)
	}

	// Second boot: no new credentials; the same password still works; same certificate.
	p2 := startBMCD(t, state)
	if got := initialPassword(t, state); got != pw {
		t.Errorf("second boot rewrote the initial password file")
	}
	if out := p2.stdout.String(); strings.Contains(out, pw) || strings.Contains(out, "first boot") {
		t.Errorf("second boot printed credentials again:\n%s", out)
	}
	p2.login("admin", pw)
	if again, _ := os.ReadFile(filepath.Join(state, "tls", "cert.pem")); !bytes.Equal(again, certPEM) {
		t.Error("second boot made a new TLS certificate")
	}
}

func TestCrashSafetyAccountChanges(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	p := startBMCD(t, state)
	tok := firstLogin(t, p)

	// Create, and SIGKILL right after the 201.
	r := p.do("POST", "/redfish/v1/AccountService/Accounts", tok,
		map[string]any{"UserName": "crash1", "Password": "Crash-Passw0rd-1", "RoleId": "Operator"})
	if r.status != http.StatusCreated {
		t.Fatalf("create account: %d %s", r.status, r.body)
	}
	loc := r.header.Get("Location")
	p.kill()

	p = startBMCD(t, state)
	tok, _ = p.login("admin", adminPassword) // the changed password survived too
	if loc == "" {
		t.Fatal("201 without Location")
	}
	if u, err := urlPath(loc); err == nil {
		loc = u
	}
	got := p.do("GET", loc, tok, nil)
	if got.status != 200 {
		t.Fatalf("after kill -9: GET %s: %d %s", loc, got.status, got.body)
	}
	acct := got.json(t)
	if acct["UserName"] != "crash1" || acct["RoleId"] != "Operator" {
		t.Errorf("after kill -9 the account is %v / %v, want crash1 / Operator", acct["UserName"], acct["RoleId"])
	}
	p.login("crash1", "Crash-Passw0rd-1")

	// PATCH, and SIGKILL right after the 200.
	r = p.do("PATCH", loc, tok, map[string]any{"RoleId": "ReadOnly"})
	if r.status != 200 && r.status != 204 {
		t.Fatalf("PATCH RoleId: %d %s", r.status, r.body)
	}
	p.kill()
	p = startBMCD(t, state)
	tok, _ = p.login("admin", adminPassword)
	if got := p.do("GET", loc, tok, nil).json(t); got["RoleId"] != "ReadOnly" {
		t.Errorf("after kill -9 the PATCHed RoleId is %v, want ReadOnly", got["RoleId"])
	}

	// DELETE, and SIGKILL right after the answer.
	r = p.do("DELETE", loc, tok, nil)
	if r.status != 200 && r.status != 204 {
		t.Fatalf("DELETE account: %d %s", r.status, r.body)
	}
	p.kill()
	p = startBMCD(t, state)
	tok, _ = p.login("admin", adminPassword)
	if got := p.do("GET", loc, tok, nil); got.status != http.StatusNotFound {
		t.Errorf("after kill -9 the deleted account answers %d, want 404", got.status)
	}
}

func urlPath(loc string) (string, error) {
	if strings.HasPrefix(loc, "/") {
		return loc, nil
	}
	i := strings.Index(loc, "/redfish/")
	if i < 0 {
		return "", fmt.Errorf("location %q", loc)
	}
	return loc[i:], nil
}

func TestCrashSafetyEvents(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	p := startBMCD(t, state)
	tok := firstLogin(t, p)
	before := len(p.entries(tok))

	// LoginFailed is logged every AuthFailureLoggingThreshold failures (AccountService).
	as := p.do("GET", "/redfish/v1/AccountService", tok, nil).json(t)
	every, _ := as["AuthFailureLoggingThreshold"].(float64)
	lockout, _ := as["AccountLockoutThreshold"].(float64)
	if every < 1 {
		every = 1
	}
	if lockout > 0 && every >= lockout {
		t.Fatalf("AuthFailureLoggingThreshold %v ≥ AccountLockoutThreshold %v: the test would lock admin out", every, lockout)
	}
	// Failed logins are answered with 401; kill -9 right after the last one.
	var r response
	for i := 0; i < int(every); i++ {
		r = p.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": "Not-The-Passw0rd"})
		if r.status != http.StatusUnauthorized {
			t.Fatalf("login with a wrong password: %d, want 401", r.status)
		}
	}
	p.kill()

	p = startBMCD(t, state)
	tok, _ = p.login("admin", adminPassword)
	list := p.entries(tok)
	failed := 0
	for _, e := range list[min(before, len(list)):] {
		if strings.HasSuffix(e.MessageID, ".LoginFailed") {
			failed++
		}
	}
	if failed == 0 {
		t.Errorf("after kill -9 the event log has no LoginFailed entry after the first %d; entries: %+v", before, list)
	}

	// Power on (acknowledged), read the log as a client sees it, kill -9 at once: every
	// entry the client saw is still there after the restart, and the host is on its way on.
	r = p.do("POST", "/redfish/v1/Systems/1/Actions/ComputerSystem.Reset", tok, map[string]string{"ResetType": "On"})
	if r.status/100 != 2 {
		t.Fatalf("Reset On: %d %s", r.status, r.body)
	}
	seen := p.entries(tok)
	p.kill()

	p = startBMCD(t, state)
	tok, _ = p.login("admin", adminPassword)
	after := map[string]string{}
	for _, e := range p.entries(tok) {
		after[e.ID] = e.MessageID
	}
	for _, e := range seen {
		if after[e.ID] != e.MessageID {
			t.Errorf("entry %s (%s) acknowledged before kill -9 is %q after the restart", e.ID, e.MessageID, after[e.ID])
		}
	}
	sys := p.do("GET", "/redfish/v1/Systems/1", tok, nil).json(t)
	if ps := sys["PowerState"]; ps != "On" && ps != "PoweringOn" {
		t.Errorf("after kill -9 during power-on the host is %v, want On (or PoweringOn)", ps)
	}
}

func TestLockoutSurvivesKill(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	p := startBMCD(t, state)
	tok := firstLogin(t, p)
	if r := p.do("PATCH", "/redfish/v1/AccountService", tok,
		map[string]any{"AccountLockoutThreshold": 2, "AccountLockoutDuration": 600, "AuthFailureLoggingThreshold": 0}); r.status != 200 && r.status != 204 {
		t.Fatalf("set lockout policy: %d %s", r.status, r.body)
	}
	r := p.do("POST", "/redfish/v1/AccountService/Accounts", tok,
		map[string]any{"UserName": "victim1", "Password": "Victim-Passw0rd-1", "RoleId": "ReadOnly"})
	if r.status != http.StatusCreated {
		t.Fatalf("create account: %d %s", r.status, r.body)
	}
	loc, _ := urlPath(r.header.Get("Location"))
	for i := 0; i < 2; i++ {
		if r := p.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "victim1", "Password": "Wrong-Passw0rd-1"}); r.status != http.StatusUnauthorized {
			t.Fatalf("wrong password: %d", r.status)
		}
	}
	p.kill()

	p = startBMCD(t, state)
	if r := p.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "victim1", "Password": "Victim-Passw0rd-1"}); r.status != http.StatusUnauthorized {
		t.Errorf("after kill -9 the locked-out account logs in with its password: %d, want 401", r.status)
	}
	tok, _ = p.login("admin", adminPassword)
	if got := p.do("GET", loc, tok, nil).json(t); got["Locked"] != true {
		t.Errorf("after kill -9 the account's Locked is %v, want true", got["Locked"])
	}
}

func TestManagerResetExitsWithStatus3(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	p := startBMCD(t, state)
	tok := firstLogin(t, p)
	r := p.do("POST", "/redfish/v1/Managers/bmc/Actions/Manager.Reset", tok, map[string]string{"ResetType": "GracefulRestart"})
	if r.status/100 != 2 {
		t.Fatalf("Manager.Reset: %d %s", r.status, r.body)
	}
	if code := p.wait(20 * time.Second); code != 3 {
		t.Errorf("exit status after Manager.Reset %d, want 3\nstderr: %s", code, p.stderr)
	}

	// The supervisor starts it again: same state, the changed password works.
	p = startBMCD(t, state)
	tok, _ = p.login("admin", adminPassword)

	// ResetToDefaults(ResetAll): status 3 as well, and the next start is a first boot.
	oldPw := initialPassword(t, state)
	r = p.do("POST", "/redfish/v1/Managers/bmc/Actions/Manager.ResetToDefaults", tok, map[string]string{"ResetType": "ResetAll"})
	if r.status/100 != 2 {
		t.Fatalf("Manager.ResetToDefaults: %d %s", r.status, r.body)
	}
	if code := p.wait(20 * time.Second); code != 3 {
		t.Errorf("exit status after Manager.ResetToDefaults %d, want 3\nstderr: %s", code, p.stderr)
	}
	p = startBMCD(t, state)
	newPw := initialPassword(t, state)
	if newPw == oldPw || !strings.Contains(p.stdout.String(), newPw) {
		t.Errorf("after ResetToDefaults the next boot is not a first boot (password file unchanged or not printed)")
	}
	if r := p.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": adminPassword}); r.status != http.StatusUnauthorized {
		t.Errorf("after ResetToDefaults the old admin password gives %d, want 401", r.status)
	}
}

func TestPlainHTTPIsNotServed(t *testing.T) {
	t.Parallel()
	p := startBMCD(t, filepath.Join(t.TempDir(), "state"))
	host := strings.TrimPrefix(p.url, "https://")
	for _, path := range []string{"/redfish/v1", "/redfish", "/redfish/v1/Systems/1"} {
		conn, err := net.DialTimeout("tcp", host, 10*time.Second)
		if err != nil {
			t.Fatal(err)
		}
		conn.SetDeadline(time.Now().Add(10 * time.Second))
		fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: %s\r\nAuthorization: Basic YWRtaW46eA==\r\n\r\n", path, host)
		data, _ := io.ReadAll(io.LimitReader(conn, 64<<10))
		conn.Close()
		// The listener closes a connection that does not start with a TLS handshake
		// record before anything is written: not even net/http's canned 400 comes back.
		if len(data) != 0 {
			t.Errorf("plain HTTP GET %s got %d bytes back (%q); want none", path, len(data), data)
		}
	}
}

// vmRSS returns the resident set size of a process in bytes, from /proc/PID/status.
func vmRSS(tb testing.TB, pid int) float64 {
	tb.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatalf("read /proc/%d/status: %v", pid, err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest) // "12345 kB"
			if len(f) == 2 && f[1] == "kB" {
				kb, err := strconv.ParseFloat(f[0], 64)
				if err == nil {
					return kb * 1024
				}
			}
		}
	}
	tb.Fatalf("/proc/%d/status has no VmRSS line", pid)
	return 0
}

// rawGET sends one keep-alive GET on an open TLS connection and reads the response.
func rawGET(c *tls.Conn, br *bufio.Reader, host, path, token string) (int, error) {
	c.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nX-Auth-Token: %s\r\n\r\n", path, host, token); err != nil {
		return 0, err
	}
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

// BenchmarkBMCDRSS starts the real bmcd and reports its resident memory (VmRSS) when
// idle and with 200 open TLS keep-alive connections that have each done a GET. Goals:
// idle-RSS-MB ≤ 10, 200conn-RSS-MB ≤ 29. The baseline, measured the same way in the
// same run, is barehttps (testdata/barehttps): the standard library's HTTPS server with
// the same kind of TLS identity (self-signed ECDSA P-384), serving one fixed document;
// idle-ratio is bmcd's idle RSS over the baseline's. The timed loop is GETs to bmcd
// spread over the 200 connections.
//
// Idle is measured right after start-up and a first login, before bmcd's first garbage
// collection: an idle bmcd keeps allocating a little (re-attestation, sensors), so its RSS
// drifts up until the heap reaches the collector's first goal.
func BenchmarkBMCDRSS(b *testing.B) {
	bare := startBareHTTPS(b)
	bareIdle := idleRSS(b, bare.pid, bare.client, bare.url, "")
	bare200, _ := connRSS(b, bare.pid, bare.url, bare.pool, "")

	state := filepath.Join(b.TempDir(), "state")
	p := startBMCD(b, state)
	tok := firstLogin(b, p)
	pid := p.cmd.Process.Pid
	idle := idleRSS(b, pid, p.client, p.url, tok)
	at200, conns := connRSS(b, pid, p.url, certFilePool(b, filepath.Join(state, "tls", "cert.pem")), tok)

	host := strings.TrimPrefix(p.url, "https://")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		cn := conns[i%len(conns)]
		if st, err := rawGET(cn.c, cn.br, host, rssPath, tok); err != nil || st != 200 {
			b.Fatalf("GET %d: %d, %v", i, st, err)
		}
	}
	b.StopTimer()
	final := vmRSS(b, pid)
	b.ReportMetric(idle/(1<<20), "idle-RSS-MB")
	b.ReportMetric(max(at200, final)/(1<<20), "200conn-RSS-MB")
	b.ReportMetric(bareIdle/(1<<20), "bare-idle-RSS-MB")
	b.ReportMetric(bare200/(1<<20), "bare-200conn-RSS-MB")
	b.ReportMetric(idle/bareIdle, "idle-ratio")
}

// rssPath is the resource the RSS benchmark reads; the baseline serves any path.
const rssPath = "/redfish/v1/Systems/1"

// idleRSS does five GETs with client (keep-alive), closes its connections and returns
// the server's VmRSS.
func idleRSS(b *testing.B, pid int, client *http.Client, url, tok string) float64 {
	b.Helper()
	for i := 0; i < 5; i++ {
		req, err := http.NewRequest("GET", url+rssPath, nil)
		if err != nil {
			b.Fatal(err)
		}
		if tok != "" {
			req.Header.Set("X-Auth-Token", tok)
		}
		resp, err := client.Do(req)
		if err != nil {
			b.Fatalf("GET %s: %v", url+rssPath, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("GET %s: %d", url+rssPath, resp.StatusCode)
		}
	}
	client.CloseIdleConnections()
	return vmRSS(b, pid)
}

// rssConn is one of connRSS's open connections.
type rssConn struct {
	c  *tls.Conn
	br *bufio.Reader
}

// connRSS opens 200 TLS connections that each do one GET and stay open (until the
// benchmark's cleanup), and returns the server's VmRSS with them open, and the connections.
func connRSS(b *testing.B, pid int, url string, pool *x509.CertPool, tok string) (float64, []rssConn) {
	b.Helper()
	host := strings.TrimPrefix(url, "https://")
	conns := make([]rssConn, 0, 200)
	b.Cleanup(func() {
		for _, c := range conns {
			c.c.Close()
		}
	})
	for i := 0; i < 200; i++ {
		c, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", host,
			&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12, ServerName: "127.0.0.1"})
		if err != nil {
			b.Fatalf("connection %d to %s: %v", i, host, err)
		}
		cn := rssConn{c, bufio.NewReader(c)}
		conns = append(conns, cn)
		if st, err := rawGET(cn.c, cn.br, host, rssPath, tok); err != nil || st != 200 {
			b.Fatalf("connection %d GET: %d, %v", i, st, err)
		}
	}
	return vmRSS(b, pid), conns
}

// bareHTTPS is a running barehttps process.
type bareHTTPS struct {
	pid    int
	url    string
	pool   *x509.CertPool
	client *http.Client
}

// startBareHTTPS starts testdata/barehttps (built once, as bmcd is) on a 127.0.0.1:0
// socket it inherits, with a TLS identity made as bmcd makes its own, and kills it by its
// PID at cleanup.
func startBareHTTPS(b *testing.B) bareHTTPS {
	b.Helper()
	bin, err := bareHTTPSBin()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	id, err := tlsidentity.LoadOrCreate(dir, tlsidentity.Options{})
	if err != nil {
		b.Fatal(err)
	}
	ln, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		b.Fatal(err)
	}
	lf, err := ln.File()
	ln.Close()
	if err != nil {
		b.Fatal(err)
	}
	defer lf.Close()
	cmd := exec.Command(bin, "-cert", filepath.Join(dir, tlsidentity.CertFile), "-key", filepath.Join(dir, tlsidentity.KeyFile))
	cmd.ExtraFiles = []*os.File{lf} // fd 3
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		b.Fatalf("start barehttps: %v", err)
	}
	b.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	return bareHTTPS{
		pid:    cmd.Process.Pid,
		url:    "https://" + ln.Addr().String(),
		pool:   id.CertPool(),
		client: poolClient(id.CertPool()),
	}
}

// bareHTTPSBin builds testdata/barehttps once per test binary, into TestMain's folder.
var bareHTTPSBin = sync.OnceValues(func() (string, error) {
	bin := filepath.Join(filepath.Dir(bmcdBin), "barehttps")
	if out, err := goBuild(bin, "./testdata/barehttps"); err != nil {
		return "", fmt.Errorf("build barehttps: %v\n%s", err, out)
	}
	return bin, nil
})

// waitGateOpen waits (at most 30 s) until bmcd's gate has attested the RoT: an
// unauthenticated request for a protected URI then gets 401, not the gate's 503.
func (p *proc) waitGateOpen() {
	p.tb.Helper()
	p.waitFor("the gate to open", 30*time.Second, func() bool {
		r := p.do("GET", "/redfish/v1/SessionService", "", nil)
		if r.status != http.StatusUnauthorized && r.status != http.StatusServiceUnavailable {
			p.tb.Fatalf("waiting for the gate: GET SessionService answered %d, want 503 then 401", r.status)
		}
		return r.status == http.StatusUnauthorized
	})
}

// waitFor checks cond every 20 ms until it holds, failing the test after d or when bmcd
// exits first.
func (p *proc) waitFor(what string, d time.Duration, cond func() bool) {
	p.tb.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			p.tb.Fatalf("waited %v for %s\nstdout: %s\nstderr: %s", d, what, p.stdout, p.stderr)
		}
		select {
		case <-p.done:
			p.tb.Fatalf("bmcd exited while waiting for %s: %v\nstderr: %s", what, p.status, p.stderr)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Without a verified bmc-config from the root of trust, bmcd fails closed: discovery
// answers, everything else is 503 with Retry-After, even with valid credentials, and
// IPMI answers nothing.
func TestWithoutVerifiedConfigEveryInterfaceStaysClosed(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	p := launchBMCD(t, state, nil)
	if r := p.do("GET", "/redfish/v1", "", nil); r.status != http.StatusOK {
		t.Errorf("GET /redfish/v1 (discovery) = %d, want 200", r.status)
	}
	pw := initialPassword(t, state)
	req, err := http.NewRequest("GET", p.url+"/redfish/v1/Systems/1", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth("admin", pw)
	resp, err := p.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("GET Systems/1 with valid credentials and no attested RoT = %d (Retry-After %q), want 503 with Retry-After",
			resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	if !bytes.Contains(body, []byte("Base.1.22.ServiceTemporarilyUnavailable")) {
		t.Errorf("503 body lacks Base ServiceTemporarilyUnavailable: %s", body)
	}
	if r := p.do("POST", "/redfish/v1/SessionService/Sessions", "", map[string]string{"UserName": "admin", "Password": pw}); r.status != http.StatusServiceUnavailable {
		t.Errorf("login with no attested RoT = %d, want 503", r.status)
	}
}

// The IPMI keys of a board upgraded from the interim key file move under the sealing key
// the root of trust hands the attested bmcd (GetSealingKey): the file is removed, IPMI
// logins keep working, and after a kill -9 and a restart against the same RoT too.
func TestSealingKeyFromRoT(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	// State as an older bmcd left it: the interim key file, and an IPMI account whose
	// key is sealed under it.
	defaults := filepath.Join(t.TempDir(), "defaults.json")
	if err := os.WriteFile(defaults, []byte(`{"ipmi_enabled": true}`), 0o600); err != nil {
		t.Fatal(err)
	}
	board, _, err := bmc.Open(context.Background(), bmc.Config{StateDir: state, DefaultsFile: defaults})
	if err != nil {
		t.Fatal(err)
	}
	const user, pass = "ipmiop", "Ipmi-Passw0rd"
	a, err := board.Accounts.Create(user, pass, account.Operator, []account.AccountType{account.TypeRedfish, account.TypeIPMI}, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := board.Close(); err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(state, bmc.SealingKeyFile)
	if _, err := os.Stat(keyFile); err != nil {
		t.Fatalf("the older state has no interim key file: %v", err)
	}

	rot := rotsim.New(t, rotsim.Options{})
	check := func(p *proc) {
		t.Helper()
		if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
			t.Errorf("interim key file after the RoT's key is in use: %v", err)
		}
		if ipmitool, err := exec.LookPath("ipmitool"); err == nil {
			out, err := exec.Command(ipmitool, "-I", "lanplus", "-H", "127.0.0.1", "-p", p.ipmiPort(),
				"-U", user, "-P", pass, "-L", "OPERATOR", "-C", "17", "-N", "1", "-R", "3", "mc", "info").CombinedOutput()
			if err != nil || !bytes.Contains(out, []byte("Device ID")) {
				t.Errorf("ipmitool -C 17 mc info as %s: %v\n%s\nbmcd stderr: %s", user, err, out, p.stderr)
			}
		}
		p.kill()
		// The record on disk opens with the RoT's key alone.
		s, err := account.Open(account.Config{Dir: filepath.Join(state, bmc.AccountsDir)})
		if err != nil {
			t.Fatal(err)
		}
		if err := s.SetSealingKey(rot.SealingKey); err != nil {
			t.Fatal(err)
		}
		if k, err := s.IPMIKey(a.ID); err != nil || string(k) != pass {
			t.Errorf("IPMI key under the RoT's sealing key: %q, %v", k, err)
		}
	}

	check(startBMCDBehind(t, state, rot)) // kills it
	check(startBMCDBehind(t, state, rot))
	if _, err := os.Stat(keyFile); !os.IsNotExist(err) {
		t.Errorf("interim key file recreated after the restart: %v", err)
	}
}

// waitSealingKey waits (at most 30 s) until bmcd logs that the RoT's sealing key is in use.
func (p *proc) waitSealingKey() {
	p.tb.Helper()
	p.waitFor("bmcd to take the RoT's sealing key", 30*time.Second, func() bool {
		return strings.Contains(p.stderr.String(), "sealing key from the root of trust in use")
	})
}

// ipmiPort returns the UDP port bmcd's ready file names for IPMI.
func (p *proc) ipmiPort() string {
	p.tb.Helper()
	_, port, err := net.SplitHostPort(p.ipmi)
	if err != nil {
		p.tb.Fatalf("ready file's IPMI address %q: %v", p.ipmi, err)
	}
	return port
}

// A fresh board behind a RoT never writes the interim key file: the first boot's admin
// gets its IPMI key when its password is changed, sealed under the RoT's key.
func TestFreshBoardSealsUnderRoTKey(t *testing.T) {
	t.Parallel()
	state := filepath.Join(t.TempDir(), "state")
	rot := rotsim.New(t, rotsim.Options{})
	p := startBMCDBehind(t, state, rot)
	firstLogin(t, p)
	p.kill()
	if _, err := os.Stat(filepath.Join(state, bmc.SealingKeyFile)); !os.IsNotExist(err) {
		t.Errorf("interim key file on a fresh board behind a RoT: %v", err)
	}
	s, err := account.Open(account.Config{Dir: filepath.Join(state, bmc.AccountsDir), SealingKey: rot.SealingKey})
	if err != nil {
		t.Fatal(err)
	}
	a, err := s.ByName("admin")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(a.ID, account.Patch{AccountTypes: &[]account.AccountType{account.TypeRedfish, account.TypeIPMI}}); err != nil {
		t.Fatalf("enable IPMI for the admin (its IPMI key must exist): %v", err)
	}
	if k, err := s.IPMIKey(a.ID); err != nil || string(k) != adminPassword {
		t.Errorf("admin's IPMI key under the RoT's sealing key: %q, %v", k, err)
	}
}
