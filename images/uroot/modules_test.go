package uroot

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestWriteModules checks the archive with GNU cpio when it is installed.
func TestWriteModules(t *testing.T) {
	k := t.TempDir()
	if err := os.WriteFile(filepath.Join(k, "VERSION"), []byte("package=x\nabi=6.1.0-99-test\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	base := filepath.Join(k, "root", "lib", "modules", "6.1.0-99-test", "kernel")
	for _, m := range []string{"a/one", "b/two"} {
		if err := os.MkdirAll(filepath.Join(base, filepath.Dir(m)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(base, m+".ko"), []byte("module "+m), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	if err := WriteModules(&buf, k, []string{"b/two", "a/one"}); err != nil {
		t.Fatal(err)
	}
	if buf.Len()%4 != 0 || !bytes.HasPrefix(buf.Bytes(), []byte("070701")) {
		t.Fatalf("archive: %d bytes, prefix %q", buf.Len(), buf.Bytes()[:6])
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed; archive layout not cross-checked")
	}
	cmd := exec.Command("cpio", "-it", "--quiet")
	cmd.Stdin = &buf
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("cpio -it: %v", err)
	}
	want := "lib\nlib/ironroot\nlib/ironroot/modules\nlib/ironroot/modules/10-two.ko\nlib/ironroot/modules/11-one.ko\n"
	if string(out) != want {
		t.Errorf("cpio -it:\n%s\nwant:\n%s", out, want)
	}
	if _, err := KernelRelease(t.TempDir()); err == nil || !strings.Contains(err.Error(), "VERSION") {
		t.Errorf("KernelRelease without VERSION: %v", err)
	}
}

func TestFileArchive(t *testing.T) {
	data := []byte("bmc-config bytes")
	h, err := FileArchiveHeader("etc/ironroot/bmc-config.cbor", int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	arch := append(append(h, data...), FileArchiveTrailer(int64(len(data)))...)
	if len(arch)%4 != 0 {
		t.Fatalf("archive length %d not 4-aligned", len(arch))
	}
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed")
	}
	dir := t.TempDir()
	cmd := exec.Command("cpio", "-id", "--quiet")
	cmd.Dir = dir
	cmd.Stdin = bytes.NewReader(arch)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("cpio -id: %v %s", err, out)
	}
	got, err := os.ReadFile(filepath.Join(dir, "etc/ironroot/bmc-config.cbor"))
	if err != nil || !bytes.Equal(got, data) {
		t.Errorf("extracted %q, %v; want %q", got, err, data)
	}
}
