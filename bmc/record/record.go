// Package record owns crash-safe, versioned state files: every record the
// BMC keeps on disk (board settings, inventory, accounts, ...) is written
// here as a JSON envelope {"version":N,"data":...}.
//
// Crash safety: WriteFile writes a temporary file in the target directory,
// fsyncs it, renames it over the target and fsyncs the directory, so a
// reader sees either the old or the new content, never a mix.
//
// Versioning (A/B rollback runs an older bmcd on newer state): changes to a
// record's schema are additive. Load decodes any version, ignoring fields the
// caller's struct does not know, and returns the version found so the caller
// can migrate older records. A record must never change the meaning of an
// existing field; a field that must change gets a new name.
package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Envelope is the on-disk form of a record.
type Envelope struct {
	Version int             `json:"version"`
	Data    json.RawMessage `json:"data"`
}

// WriteFile atomically replaces path with data: temporary file in the same
// directory, write, fsync, rename, fsync of the directory.
func WriteFile(path string, data []byte, perm os.FileMode) (err error) {
	dir := filepath.Dir(path)
	f, err := os.CreateTemp(dir, "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err = f.Write(data); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = f.Sync(); err != nil {
		return fmt.Errorf("write %s: fsync: %w", path, err)
	}
	if err = f.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err = SyncDir(dir); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

// SyncDir fsyncs a directory so that entries created, renamed or removed in
// it are durable.
func SyncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("sync dir: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// Save writes v as the data of a version-tagged envelope, mode 0600.
func Save(path string, version int, v any) error {
	if version < 1 {
		return fmt.Errorf("save %s: version %d < 1", path, version)
	}
	data, err := json.Marshal(v)
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	b, err := json.MarshalIndent(Envelope{Version: version, Data: data}, "", "  ")
	if err != nil {
		return fmt.Errorf("save %s: %w", path, err)
	}
	b = append(b, '\n')
	return WriteFile(path, b, 0o600)
}

// Load decodes the record at path into v and returns the version it was
// written with. A missing file gives an error matching fs.ErrNotExist.
// Records of any version decode; fields unknown to v are ignored.
func Load(path string, v any) (version int, err error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, fmt.Errorf("load record: %w", err)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		return 0, fmt.Errorf("load record %s: %w", path, err)
	}
	if env.Version < 1 {
		return 0, fmt.Errorf("load record %s: %w", path, ErrNoVersion)
	}
	if len(env.Data) == 0 {
		return env.Version, fmt.Errorf("load record %s: no data", path)
	}
	if err := json.Unmarshal(env.Data, v); err != nil {
		return env.Version, fmt.Errorf("load record %s (version %d): %w", path, env.Version, err)
	}
	return env.Version, nil
}

// ErrNoVersion reports a file that is not a versioned record.
var ErrNoVersion = errors.New("missing or invalid schema version")
