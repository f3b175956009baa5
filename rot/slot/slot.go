// Package slot owns the A/B firmware slots of a board: two bundle files and
// one crash-safe metadata record (which slot is active, which one was last
// committed healthy, each slot's lifecycle state and boot counter), and the
// slot lifecycle as one transition table.
//
// Invariant: the last committed slot's file is never written while another
// slot is being installed, and the record names a slot as active only after
// its file was written, synced and checked. A crash (kill -9) at any point
// therefore leaves a committed slot to boot.
//
// It does not verify bundles itself (the caller's check does) and knows
// nothing of TPMs or of what a bundle contains beyond the facts it records.
package slot

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/ironroot-bmc/ironroot/rot/record"
)

// Name names a slot.
type Name string

// The two slots.
const (
	A Name = "a"
	B Name = "b"
)

// Other returns the other slot.
func (n Name) Other() Name {
	if n == A {
		return B
	}
	return A
}

// State is a slot's lifecycle state.
type State string

// Slot states.
const (
	Empty     State = "empty"     // no bundle (or one being written)
	Trial     State = "trial"     // installed and activated, on probation
	Committed State = "committed" // reported healthy; the fallback of last resort
	Standby   State = "standby"   // committed earlier, superseded by the other slot
	Rejected  State = "rejected"  // reverted or failed verification; never booted again
)

// Event is what moves a slot from one state to another.
type Event string

// Slot events.
const (
	EvWriting   Event = "writing"   // an install starts writing the slot
	EvInstalled Event = "installed" // the file is written and checked; the slot becomes active
	EvCommit    Event = "commit"    // the slot reported healthy
	EvSupersede Event = "supersede" // the other slot was committed
	EvRevert    Event = "revert"    // no health report in time, crash on probation, too many trial boots
	EvReject    Event = "reject"    // the bundle failed verification at boot
)

// transitions is the slot lifecycle: from state, on event, to state. Any
// pair not listed is refused.
var transitions = map[State]map[Event]State{
	Empty:     {EvWriting: Empty, EvInstalled: Trial},
	Trial:     {EvWriting: Empty, EvCommit: Committed, EvRevert: Rejected, EvReject: Rejected},
	Committed: {EvSupersede: Standby, EvReject: Rejected, EvCommit: Committed},
	Standby:   {EvWriting: Empty, EvReject: Rejected},
	Rejected:  {EvWriting: Empty, EvReject: Rejected},
}

// Bootable reports whether a slot in state s may be tried at boot.
func (s State) Bootable() bool { return s == Trial || s == Committed || s == Standby }

// Info is what the record keeps about one slot.
type Info struct {
	State State `json:"state"`
	// ManifestDigest is the hex SHA-384 of the signed manifest.
	ManifestDigest  string `json:"manifest_digest,omitempty"`
	FirmwareVersion string `json:"firmware_version,omitempty"`
	SVN             uint64 `json:"svn"`
	// Boots counts boots since the slot was installed (the trial's boot
	// counter).
	Boots int `json:"boots"`
	// Reason says why a slot was rejected.
	Reason string `json:"reason,omitempty"`
}

// Meta is the slot record.
type Meta struct {
	Version int `json:"version"`
	// Active is the slot to boot first.
	Active Name `json:"active"`
	// Committed is the slot last committed healthy ("" before the first
	// commit).
	Committed Name          `json:"committed"`
	Slots     map[Name]Info `json:"slots"`
}

const metaVersion = 1

// MetaFile is the slot record's file name.
const MetaFile = "slots.json"

// ErrTransition: the lifecycle does not allow the event in the slot's state.
var ErrTransition = errors.New("slot transition not allowed")

// Store is the slot directory of one board. It is not safe for concurrent
// use; rotd serializes slot operations.
type Store struct {
	dir  string
	meta Meta
}

// Open opens (creating if needed) the slot directory and its record, and
// removes temporary files left by a crash.
func Open(dir string) (*Store, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("opening slots: %w", err)
	}
	record.RemoveTemps(dir)
	s := &Store{dir: dir}
	b, err := os.ReadFile(filepath.Join(dir, MetaFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.meta = Meta{Version: metaVersion, Active: A, Slots: map[Name]Info{A: {State: Empty}, B: {State: Empty}}}
		return s, nil
	case err != nil:
		return nil, fmt.Errorf("opening slots: %w", err)
	}
	m, err := ParseMeta(b)
	if err != nil {
		return nil, fmt.Errorf("opening slots: %w", err)
	}
	s.meta = m
	return s, nil
}

// ParseMeta decodes and checks a slot record.
func ParseMeta(b []byte) (Meta, error) {
	var m Meta
	if err := json.Unmarshal(b, &m); err != nil {
		return Meta{}, fmt.Errorf("slot record: %w", err)
	}
	if m.Version < 1 {
		return Meta{}, fmt.Errorf("slot record: version %d", m.Version)
	}
	if m.Active != A && m.Active != B {
		return Meta{}, fmt.Errorf("slot record: active slot %q", m.Active)
	}
	if m.Committed != "" && m.Committed != A && m.Committed != B {
		return Meta{}, fmt.Errorf("slot record: committed slot %q", m.Committed)
	}
	if len(m.Slots) != 2 {
		return Meta{}, fmt.Errorf("slot record: %d slots", len(m.Slots))
	}
	for _, n := range []Name{A, B} {
		info, ok := m.Slots[n]
		if !ok {
			return Meta{}, fmt.Errorf("slot record: no slot %q", n)
		}
		if _, ok := transitions[info.State]; !ok {
			return Meta{}, fmt.Errorf("slot record: slot %q in unknown state %q", n, info.State)
		}
		if info.Boots < 0 {
			return Meta{}, fmt.Errorf("slot record: slot %q boot count %d", n, info.Boots)
		}
	}
	if m.Committed != "" && m.Slots[m.Committed].State != Committed {
		return Meta{}, fmt.Errorf("slot record: committed slot %q is %s", m.Committed, m.Slots[m.Committed].State)
	}
	return m, nil
}

// Meta returns a copy of the record.
func (s *Store) Meta() Meta {
	m := s.meta
	m.Slots = map[Name]Info{A: s.meta.Slots[A], B: s.meta.Slots[B]}
	return m
}

// Path is the bundle file of a slot.
func (s *Store) Path(n Name) string { return filepath.Join(s.dir, string(n)+".bundle") }

func (s *Store) save(m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding slot record: %w", err)
	}
	if err := record.WriteFile(filepath.Join(s.dir, MetaFile), append(b, '\n'), 0o600); err != nil {
		return err
	}
	s.meta = m
	return nil
}

// apply moves slot n by event ev in a copy of the record.
func apply(m Meta, n Name, ev Event) (Meta, error) {
	info := m.Slots[n]
	to, ok := transitions[info.State][ev]
	if !ok {
		return m, fmt.Errorf("slot %s: %s while %s: %w", n, ev, info.State, ErrTransition)
	}
	info.State = to
	m.Slots = map[Name]Info{A: m.Slots[A], B: m.Slots[B]}
	m.Slots[n] = info
	return m, nil
}

// BootOrder is the order in which slots are tried: the active slot, then
// the other one if it is bootable.
func (s *Store) BootOrder() []Name {
	var out []Name
	for _, n := range []Name{s.meta.Active, s.meta.Active.Other()} {
		if s.meta.Slots[n].State.Bootable() {
			out = append(out, n)
		}
	}
	return out
}

// InstallTarget is the slot an install writes: never the committed one.
func (s *Store) InstallTarget() Name {
	if s.meta.Committed != "" {
		return s.meta.Committed.Other()
	}
	if s.meta.Slots[A].State == Empty {
		return A
	}
	return s.meta.Active.Other()
}

// Install writes a bundle into the install target and activates it as a
// trial: record "writing" (the slot is empty from now on), write the file
// crash-safely, run check on the written file (the caller verifies the
// bundle there and returns what the record should say), then record the
// slot as active. If check fails the slot stays empty.
func (s *Store) Install(src io.Reader, check func(path string) (Info, error)) (Name, error) {
	n := s.InstallTarget()
	m, err := apply(s.meta, n, EvWriting)
	if err != nil {
		return n, err
	}
	m.Slots[n] = Info{State: Empty}
	if m.Active == n && m.Committed != "" {
		m.Active = m.Committed
	}
	if err := s.save(m); err != nil {
		return n, fmt.Errorf("installing into slot %s: %w", n, err)
	}
	err = record.WriteFrom(s.Path(n), 0o600, func(w io.Writer) error {
		_, err := io.Copy(w, src)
		return err
	})
	if err != nil {
		return n, fmt.Errorf("installing into slot %s: %w", n, err)
	}
	info, err := check(s.Path(n))
	if err != nil {
		os.Remove(s.Path(n))
		return n, fmt.Errorf("installing into slot %s: %w", n, err)
	}
	m, err = apply(s.meta, n, EvInstalled)
	if err != nil {
		return n, err
	}
	info.State = Trial
	info.Boots = 0
	m.Slots[n] = info
	m.Active = n
	if err := s.save(m); err != nil {
		return n, fmt.Errorf("installing into slot %s: %w", n, err)
	}
	return n, nil
}

// Booting counts a boot of slot n (before it is released) and returns its
// record. For a trial slot, this is the boot counter the probation limit
// is checked against.
func (s *Store) Booting(n Name) (Info, error) {
	m := s.Meta()
	info := m.Slots[n]
	if !info.State.Bootable() {
		return info, fmt.Errorf("booting slot %s: state %s: %w", n, info.State, ErrTransition)
	}
	info.Boots++
	m.Slots[n] = info
	if err := s.save(m); err != nil {
		return info, fmt.Errorf("booting slot %s: %w", n, err)
	}
	return info, nil
}

// Commit records slot n healthy: it becomes the committed slot and the
// previously committed one goes to standby.
func (s *Store) Commit(n Name) error {
	m, err := apply(s.meta, n, EvCommit)
	if err != nil {
		return err
	}
	if prev := m.Committed; prev != "" && prev != n {
		if m, err = apply(m, prev, EvSupersede); err != nil {
			return err
		}
	}
	m.Committed = n
	m.Active = n
	return s.save(m)
}

// Revert rejects a trial slot that did not prove healthy and makes the
// other slot active again.
func (s *Store) Revert(n Name, reason string) error {
	return s.reject(n, EvRevert, reason)
}

// Reject records that slot n failed verification at boot.
func (s *Store) Reject(n Name, reason string) error {
	return s.reject(n, EvReject, reason)
}

func (s *Store) reject(n Name, ev Event, reason string) error {
	m, err := apply(s.meta, n, ev)
	if err != nil {
		return err
	}
	info := m.Slots[n]
	info.Reason = reason
	m.Slots[n] = info
	if m.Committed == n {
		m.Committed = ""
	}
	if m.Active == n {
		m.Active = n.Other()
	}
	return s.save(m)
}
