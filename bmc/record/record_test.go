package record

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"testing"
)

type settingsV1 struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

type settingsV2 struct {
	Name   string            `json:"name"`
	Count  int               `json:"count"`
	Extra  string            `json:"extra"`
	Nested struct{ A []int } `json:"nested"`
}

func TestSaveLoadRoundTrip(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	if err := Save(p, 1, settingsV1{Name: "x", Count: 3}); err != nil {
		t.Fatal(err)
	}
	var got settingsV1
	v, err := Load(p, &got)
	if err != nil {
		t.Fatal(err)
	}
	if v != 1 || got != (settingsV1{Name: "x", Count: 3}) {
		t.Fatalf("got v%d %+v", v, got)
	}
	st, err := os.Stat(p)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Fatalf("mode %v, want 0600", st.Mode().Perm())
	}
	left, _ := filepath.Glob(filepath.Join(filepath.Dir(p), ".*tmp*"))
	if len(left) != 0 {
		t.Fatalf("temporary files left: %v", left)
	}
}

// An older reader (v1 struct) keeps working on a newer (v2) record.
func TestNewerRecordLoadsIntoOlderStruct(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	newer := settingsV2{Name: "board", Count: 7, Extra: "only v2 knows"}
	newer.Nested.A = []int{1, 2}
	if err := Save(p, 2, newer); err != nil {
		t.Fatal(err)
	}
	var old settingsV1
	v, err := Load(p, &old)
	if err != nil {
		t.Fatalf("v1 reader on v2 record: %v", err)
	}
	if v != 2 || old.Name != "board" || old.Count != 7 {
		t.Fatalf("got v%d %+v", v, old)
	}
	// And a hand-written v2 file with fields this build has never heard of.
	raw := `{"version":2,"data":{"name":"n","count":1,"future":{"x":[1,2,3]},"flag":true},"envelope_future":1}`
	if err := os.WriteFile(p, []byte(raw), 0o600); err != nil {
		t.Fatal(err)
	}
	old = settingsV1{}
	if v, err := Load(p, &old); err != nil || v != 2 || old.Name != "n" || old.Count != 1 {
		t.Fatalf("v=%d err=%v got %+v", v, err, old)
	}
}

func TestLoadMissing(t *testing.T) {
	var s settingsV1
	_, err := Load(filepath.Join(t.TempDir(), "nope.json"), &s)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want fs.ErrNotExist", err)
	}
}

func TestLoadRejectsUnversioned(t *testing.T) {
	p := filepath.Join(t.TempDir(), "s.json")
	if err := os.WriteFile(p, []byte(`{"name":"x"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	var s settingsV1
	if _, err := Load(p, &s); !errors.Is(err, ErrNoVersion) {
		t.Fatalf("err = %v, want ErrNoVersion", err)
	}
}

func TestWriteFileReplaces(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	for _, s := range []string{"one", "two"} {
		if err := WriteFile(p, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(p)
	if err != nil || string(b) != "two" {
		t.Fatalf("content %q err %v", b, err)
	}
}
