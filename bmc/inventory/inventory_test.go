package inventory

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"
)

var uuidRE = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$`)

func TestStableAcrossRestarts(t *testing.T) {
	dir := t.TempDir()
	a, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a.Manufacturer == "" || a.Model == "" || a.SKU == "" || a.SerialNumber == "" || a.ChassisSerial == "" {
		t.Fatalf("incomplete inventory %+v", a)
	}
	if !uuidRE.MatchString(a.UUID) || !uuidRE.MatchString(a.ManagerUUID) || a.UUID == a.ManagerUUID {
		t.Fatalf("UUIDs %q %q", a.UUID, a.ManagerUUID)
	}
	b, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Fatalf("changed across restart:\n%+v\n%+v", a, b)
	}
	st, err := os.Stat(filepath.Join(dir, FileName))
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("record: %v %v", st, err)
	}
	other, err := LoadOrCreate(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if other.SerialNumber == a.SerialNumber || other.UUID == a.UUID {
		t.Fatal("two boards share serial or UUID")
	}
}

func TestNewerRecordStillLoads(t *testing.T) {
	dir := t.TempDir()
	raw := `{"version":3,"data":{"manufacturer":"M","serial_number":"S1","uuid":"u","asset_tag":"new field"}}`
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	inv, err := LoadOrCreate(dir)
	if err != nil {
		t.Fatal(err)
	}
	if inv.Manufacturer != "M" || inv.SerialNumber != "S1" || inv.UUID != "u" {
		t.Fatalf("%+v", inv)
	}
}

func TestCorruptRecordIsAnError(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := LoadOrCreate(dir); err == nil {
		t.Fatal("corrupt inventory silently regenerated")
	}
}
