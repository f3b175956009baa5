//go:build conformance

package redfish

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ironroot-bmc/ironroot/internal/redfishschema"
)

// sharedDir returns $IRONROOT_SHARED, defaulting to ../shared next to the repository root.
func sharedDir(t *testing.T) string {
	t.Helper()
	if d := os.Getenv("IRONROOT_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "..", "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatalf("no go.mod above %s; set IRONROOT_SHARED", dir)
		}
		dir = parent
	}
}

// TestConformanceSchemaVersions checks that schemaVersions names the LATEST version of
// every schema in the DMTF bundle, and that every collection type exists there.
func TestConformanceSchemaVersions(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "redfish", "json-schema")
	if _, err := os.Stat(dir); err != nil {
		t.Fatalf("DMTF schema bundle not found at %s (set IRONROOT_SHARED): %v", dir, err)
	}
	v, err := redfishschema.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	for name, version := range schemaVersions {
		latest, ok := v.Latest(name)
		if !ok {
			t.Errorf("%s: not in the bundle", name)
			continue
		}
		if want := name + "." + version + ".json"; latest != want {
			t.Errorf("%s: table says %s, bundle's latest is %s", name, want, latest)
		}
	}
	for _, c := range collectionTypes {
		if _, err := os.Stat(filepath.Join(dir, c+".json")); err != nil {
			t.Errorf("collection %s: %v", c, err)
		}
	}
	// $metadata references only CSDL files the bundle has.
	csdl := filepath.Join(sharedDir(t), "redfish", "csdl")
	doc, _ := metadata()
	for _, line := range strings.Split(string(doc), "\n") {
		if _, rest, ok := strings.Cut(line, `Uri="http://redfish.dmtf.org/schemas/v1/`); ok {
			file, _, _ := strings.Cut(rest, `"`)
			if _, err := os.Stat(filepath.Join(csdl, file)); err != nil {
				t.Errorf("$metadata references %s: %v", file, err)
			}
		}
	}
}
