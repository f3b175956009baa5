//go:build conformance

package base

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// TestConformanceBaseRegistry checks the table against the DMTF Base registry file: every
// message exists there with the same text, severity, argument count and resolution.
func TestConformanceBaseRegistry(t *testing.T) {
	shared := os.Getenv("IRONROOT_SHARED")
	if shared == "" {
		shared = filepath.Join("..", "..", "..", "shared")
	}
	path := filepath.Join(shared, "redfish", "registries", "Base."+Version+".json")
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("Base registry not found (set IRONROOT_SHARED): %v", err)
	}
	var reg struct {
		RegistryPrefix  string
		RegistryVersion string
		Messages        map[string]struct {
			Message         string
			MessageSeverity string
			NumberOfArgs    int
			ParamTypes      []string
			Resolution      string
		}
	}
	if err := json.Unmarshal(data, &reg); err != nil {
		t.Fatal(err)
	}
	if reg.RegistryPrefix != Prefix || reg.RegistryVersion != Version {
		t.Fatalf("registry %s %s, table %s %s", reg.RegistryPrefix, reg.RegistryVersion, Prefix, Version)
	}
	for key, def := range messages {
		m, ok := reg.Messages[key]
		switch {
		case !ok:
			t.Errorf("%s: not in %s", key, path)
		case m.Message != def.Message || m.MessageSeverity != string(def.Severity) ||
			m.NumberOfArgs != def.NumberOfArgs || m.Resolution != def.Resolution:
			t.Errorf("%s differs from the registry", key)
		}
		for _, p := range m.ParamTypes {
			if p != "string" {
				t.Errorf("%s: parameter type %s (the table assumes strings)", key, p)
			}
		}
	}
}
