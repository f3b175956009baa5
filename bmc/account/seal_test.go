package account

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
	"github.com/ironroot-bmc/ironroot/bmc/record"
)

// rotKey stands for the sealing key the root of trust hands over.
var rotKey = bytes.Repeat([]byte{0x5a}, SealingKeySize)

func openWithKey(t *testing.T, dir string, key []byte) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, SealingKey: key, Clock: clock.NewFake(testStart), iterations: testIterations})
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	return s
}

func wantIPMIKey(t *testing.T, s *Store, id int, want string) {
	t.Helper()
	if k, err := s.IPMIKey(id); err != nil || string(k) != want {
		t.Errorf("IPMIKey(%d) = %q, %v; want %q", id, k, err, want)
	}
}

// keyIDs returns the key IDs of the sealed IPMI keys on disk, by account ID.
func keyIDs(t *testing.T, dir string) map[int][]byte {
	t.Helper()
	var rec storeRecord
	if _, err := record.Load(filepath.Join(dir, recordFile), &rec); err != nil {
		t.Fatal(err)
	}
	out := make(map[int][]byte)
	for _, a := range rec.Accounts {
		if a.IPMIKey != nil {
			out[a.ID] = a.IPMIKey.KeyID
		}
	}
	return out
}

func TestSetSealingKeyReseals(t *testing.T) {
	f := newFixture(t)
	s := f.store
	ipmi := mustCreate(t, s, "ipmiuser", "ipmi-pass1", Operator, TypeRedfish, TypeIPMI)
	plain := mustCreate(t, s, "plain", "plain-pass1", ReadOnly)
	for id, kid := range keyIDs(t, f.dir) {
		if !bytes.Equal(kid, SealingKeyID(f.key)) {
			t.Errorf("account %d sealed under %x, want the file key's %x", id, kid, SealingKeyID(f.key))
		}
	}

	if err := s.SetSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	// On disk before SetSealingKey returned: every key re-sealed under rotKey.
	ids := keyIDs(t, f.dir)
	if len(ids) != 2 {
		t.Fatalf("%d sealed keys on disk, want 2", len(ids))
	}
	for id, kid := range ids {
		if !bytes.Equal(kid, SealingKeyID(rotKey)) {
			t.Errorf("account %d sealed under %x after SetSealingKey, want %x", id, kid, SealingKeyID(rotKey))
		}
	}
	wantIPMIKey(t, s, ipmi.ID, "ipmi-pass1")
	// A later password set seals under rotKey too, and turning IPMI on
	// uses the key captured before.
	if _, err := s.Update(ipmi.ID, Patch{Password: ptr("ipmi-pass2")}); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(plain.ID, Patch{AccountTypes: &[]AccountType{TypeRedfish, TypeIPMI}}); err != nil {
		t.Fatal(err)
	}
	wantIPMIKey(t, s, ipmi.ID, "ipmi-pass2")
	wantIPMIKey(t, s, plain.ID, "plain-pass1")

	// Restart without the file key: nothing opens until the key is back.
	r := openWithKey(t, f.dir, nil)
	if _, err := r.IPMIKey(ipmi.ID); !errors.Is(err, ErrNoSealingKey) {
		t.Errorf("IPMIKey without a sealing key: %v, want ErrNoSealingKey", err)
	}
	if err := r.SetSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	wantIPMIKey(t, r, ipmi.ID, "ipmi-pass2")
	wantIPMIKey(t, r, plain.ID, "plain-pass1")

	// The file key no longer opens them; nor does another RoT key.
	if _, err := openWithKey(t, f.dir, f.key).IPMIKey(ipmi.ID); err == nil {
		t.Error("the interim file key opened a key re-sealed under the RoT key")
	}
	other := openWithKey(t, f.dir, nil)
	if err := other.SetSealingKey(bytes.Repeat([]byte{1}, SealingKeySize)); err != nil {
		t.Fatal(err)
	}
	if _, err := other.IPMIKey(ipmi.ID); err == nil {
		t.Error("a different RoT key opened the IPMI key")
	}
	// ... and left the record alone: the right key still opens it.
	again := openWithKey(t, f.dir, nil)
	if err := again.SetSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	wantIPMIKey(t, again, ipmi.ID, "ipmi-pass2")

	if err := again.SetSealingKey(make([]byte, 16)); err == nil {
		t.Error("SetSealingKey took a 16-byte key")
	}
}

// Records of the interim key file carry no key ID (written before there
// was one); an older bmcd that rewrites the record also drops the IDs of
// keys sealed under the RoT key.
func TestSetSealingKeyRecordsWithoutKeyID(t *testing.T) {
	f := newFixture(t)
	a := mustCreate(t, f.store, "fileuser", "file-pass1", Operator, TypeRedfish, TypeIPMI)
	b := mustCreate(t, f.store, "rotuser", "rot-pass1", Operator, TypeRedfish, TypeIPMI)
	rot, err := newSealer(rotKey)
	if err != nil {
		t.Fatal(err)
	}
	// As the N-1 rewrite leaves it: a sealed under the file key, b under
	// the RoT key, neither with a key ID.
	var rec storeRecord
	if _, err := record.Load(filepath.Join(f.dir, recordFile), &rec); err != nil {
		t.Fatal(err)
	}
	for i := range rec.Accounts {
		k := rec.Accounts[i].IPMIKey
		if rec.Accounts[i].ID == b.ID {
			if *k, err = rot.seal(b.ID, []byte("rot-pass1")); err != nil {
				t.Fatal(err)
			}
		}
		k.KeyID = nil
	}
	if err := record.Save(filepath.Join(f.dir, recordFile), recordVersion, rec); err != nil {
		t.Fatal(err)
	}
	s := f.open(t)
	wantIPMIKey(t, s, a.ID, "file-pass1") // no ID: the store's key
	if err := s.SetSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	wantIPMIKey(t, s, a.ID, "file-pass1")
	wantIPMIKey(t, s, b.ID, "rot-pass1")
	for id, kid := range keyIDs(t, f.dir) {
		if !bytes.Equal(kid, SealingKeyID(rotKey)) {
			t.Errorf("account %d sealed under %x, want %x", id, kid, SealingKeyID(rotKey))
		}
	}
	// An older reader parses the record: the new field is only additive.
	data, err := os.ReadFile(filepath.Join(f.dir, recordFile))
	if err != nil {
		t.Fatal(err)
	}
	var old struct {
		Data struct {
			Accounts []struct {
				IPMIKey struct {
					Alg   string `json:"alg"`
					Nonce []byte `json:"nonce"`
				} `json:"ipmi_key"`
			} `json:"accounts"`
		} `json:"data"`
	}
	if err := json.Unmarshal(data, &old); err != nil || len(old.Data.Accounts) != 2 || old.Data.Accounts[0].IPMIKey.Alg != sealAlg {
		t.Errorf("record as an older reader sees it: %+v, %v", old, err)
	}
}

// Without a sealing key (a fresh board, before the RoT hands it over),
// only a password that must be changed can be set, without an IPMI key,
// and IPMIKey fails clearly; the next password set after SetSealingKey
// captures the key.
func TestNoSealingKeyYet(t *testing.T) {
	dir := t.TempDir()
	s := openWithKey(t, dir, nil)
	a, err := s.Create("admin", "admin-pass1", Administrator, []AccountType{TypeRedfish, TypeIPMI}, true)
	if err != nil {
		t.Fatalf("first-boot create without a sealing key: %v", err)
	}
	if _, err := s.Authenticate("admin", "admin-pass1"); err != nil {
		t.Errorf("password without a sealing key: %v", err)
	}
	if _, err := s.IPMIKey(a.ID); !errors.Is(err, ErrNoSealingKey) {
		t.Errorf("IPMIKey without a sealing key: %v", err)
	}
	// Any other password set fails until the key is there.
	if _, err := s.Create("other", "other-pass1", ReadOnly, nil, false); !errors.Is(err, ErrNoSealingKey) {
		t.Errorf("Create without a sealing key: %v, want ErrNoSealingKey", err)
	}
	if _, err := s.Update(a.ID, Patch{Password: ptr("admin-pass3")}); !errors.Is(err, ErrNoSealingKey) {
		t.Errorf("password set without a sealing key: %v, want ErrNoSealingKey", err)
	}
	if _, err := s.Authenticate("admin", "admin-pass1"); err != nil {
		t.Errorf("a failed password set changed the password: %v", err)
	}
	// A reset to a password that must be changed (a redone first boot) works.
	yes := true
	if _, err := s.Update(a.ID, Patch{Password: ptr("admin-pass4"), PasswordChangeRequired: &yes}); err != nil {
		t.Errorf("reset to a must-change password without a sealing key: %v", err)
	}
	if err := s.SetSealingKey(rotKey); err != nil {
		t.Fatal(err)
	}
	if _, err := s.IPMIKey(a.ID); !errors.Is(err, ErrNoIPMIKey) {
		t.Errorf("IPMIKey of a password set before the key: %v, want ErrNoIPMIKey", err)
	}
	if _, err := s.Update(a.ID, Patch{Password: ptr("admin-pass2")}); err != nil {
		t.Fatal(err)
	}
	wantIPMIKey(t, s, a.ID, "admin-pass2")
}

// Without a sealing key, a must-change password too long for IPMI is refused for an
// IPMI account as it is with one (and as Create refuses it), even where the policy
// allows longer passwords.
func TestNoSealingKeyYetRefusesLongIPMIPassword(t *testing.T) {
	s := openWithKey(t, t.TempDir(), nil)
	pol := s.Policy()
	pol.MaxPasswordLength = 40
	if err := s.SetPolicy(pol); err != nil {
		t.Fatal(err)
	}
	a, err := s.Create("admin", "admin-pass1", Administrator, []AccountType{TypeRedfish, TypeIPMI}, true)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	long := "admin-pass-longer-than-twenty"
	_, err = s.Update(a.ID, Patch{Password: &long, PasswordChangeRequired: &yes})
	var pe *PolicyError
	if !errors.As(err, &pe) || pe.Field != "Password" {
		t.Errorf("a %d-byte password for an IPMI account without a sealing key: %v, want a Password policy error", len(long), err)
	}
	if _, err := s.Authenticate("admin", "admin-pass1"); err != nil {
		t.Errorf("the refused password set changed the password: %v", err)
	}
}

// crashSealEnv tells the re-executed test binary to act as the bmcd that
// switches to the RoT key in TestKillDuringSetSealingKey.
const crashSealEnv = "IRONROOT_ACCOUNT_SEAL_CRASH_DIR"

// TestKillDuringSetSealingKey: a SIGKILL at any point of SetSealingKey
// leaves a record that the board's start-up (interim key file if present,
// then SetSealingKey) reads, and after the acknowledgement one that reads
// without the file key.
func TestKillDuringSetSealingKey(t *testing.T) {
	if dir := os.Getenv(crashSealEnv); dir != "" {
		crashSealChild(dir)
		return
	}
	for i, delay := range []time.Duration{0, 200 * time.Microsecond, time.Millisecond, 3 * time.Millisecond, time.Second} {
		t.Run(fmt.Sprint(i), func(t *testing.T) {
			dir := t.TempDir()
			cmd, sc := startChild(t, "TestKillDuringSetSealingKey", crashSealEnv, dir)
			ready, acked := false, false
			for !ready && sc.Scan() {
				ready = strings.TrimSpace(sc.Text()) == "ready"
			}
			if delay >= time.Second { // wait for the acknowledgement
				for !acked && sc.Scan() {
					acked = strings.TrimSpace(sc.Text()) == "acked"
				}
			} else {
				time.Sleep(delay)
			}
			cmd.Process.Kill()
			cmd.Wait()
			if !ready {
				t.Fatal("child did not get ready")
			}
			accounts := filepath.Join(dir, "accounts")
			if acked {
				s := openWithKey(t, accounts, nil)
				if err := s.SetSealingKey(rotKey); err != nil {
					t.Fatal(err)
				}
				for id := MinID; id < MinID+MaxAccounts; id++ {
					wantIPMIKey(t, s, id, fmt.Sprintf("ipmi-pass-%d", id))
				}
			}
			key, err := LoadSealingKey(filepath.Join(dir, "sealing.key"))
			if err != nil || key == nil {
				t.Fatalf("interim key file: %v", err)
			}
			s := openWithKey(t, accounts, key)
			if err := s.SetSealingKey(rotKey); err != nil {
				t.Fatal(err)
			}
			for id := MinID; id < MinID+MaxAccounts; id++ {
				wantIPMIKey(t, s, id, fmt.Sprintf("ipmi-pass-%d", id))
			}
		})
	}
}

// crashSealChild fills the store under the interim key file, says ready,
// switches to the RoT key, says acked, and waits to be killed.
func crashSealChild(dir string) {
	fail := func(err error) { os.Stdout.WriteString("error: " + err.Error() + "\n"); os.Exit(2) }
	key, err := LoadOrCreateSealingKey(filepath.Join(dir, "sealing.key"))
	if err != nil {
		fail(err)
	}
	s, err := Open(Config{Dir: filepath.Join(dir, "accounts"), SealingKey: key, Clock: clock.NewFake(testStart), iterations: 1})
	if err != nil {
		fail(err)
	}
	for range MaxAccounts {
		id := len(s.List()) + MinID
		if _, err := s.Create(fmt.Sprintf("user%d", id), fmt.Sprintf("ipmi-pass-%d", id), Operator, []AccountType{TypeRedfish, TypeIPMI}, false); err != nil {
			fail(err)
		}
	}
	os.Stdout.WriteString("ready\n")
	if err := s.SetSealingKey(rotKey); err != nil {
		fail(err)
	}
	os.Stdout.WriteString("acked\n")
	time.Sleep(time.Minute) // killed long before
	os.Exit(3)
}
