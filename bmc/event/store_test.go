package event

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

var epoch = time.Date(2026, 11, 27, 1, 0, 0, 0, time.UTC)

func openT(t *testing.T, dir string, opt Options) *Store {
	t.Helper()
	s, err := Open(dir, opt)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func appendN(t *testing.T, s *Store, n int) []Event {
	t.Helper()
	var out []Event
	for i := 0; i < n; i++ {
		e, err := s.Append(Event{MessageID: AccountCreated, Args: []string{fmt.Sprintf("user%d", i)}})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func segments(t *testing.T, dir string) []string {
	t.Helper()
	m, err := filepath.Glob(filepath.Join(dir, "seg-*.evt"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestRoundTrip(t *testing.T) {
	dir := t.TempDir()
	clk := clock.NewFake(epoch)
	offset := time.Hour
	opt := Options{Clock: clk, TimeOffset: func() time.Duration { return offset }}
	s := openT(t, dir, opt)
	sel := &SEL{RecordType: SELSystemEvent, GeneratorID: SELGeneratorBMC, SensorType: 0x01, SensorNumber: 0x10, EventType: SELEventThreshold, EventData: [3]byte{0x57, 0xA0, 0x9B}}
	e1, err := s.Append(Event{MessageID: SensorThresholdCrossed, Severity: Warning, Args: []string{"CPU1 Temp", "UpperCaution", "80 Cel", "81 Cel"}, OriginURI: "/redfish/v1/Chassis/1/Sensors/CPU1Temp", SEL: sel})
	if err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	e2, err := s.Append(Event{MessageID: LogCleared})
	if err != nil {
		t.Fatal(err)
	}
	if e1.ID != 1 || e2.ID != 2 {
		t.Fatalf("IDs %d %d", e1.ID, e2.ID)
	}
	if !e1.Time.Equal(epoch.Add(time.Hour)) || !e2.Time.Equal(epoch.Add(time.Hour+time.Second)) {
		t.Fatalf("times %v %v", e1.Time, e2.Time)
	}
	if e2.Severity != OK {
		t.Fatalf("default severity %q", e2.Severity)
	}
	s.Close()
	if _, err := s.Append(Event{MessageID: LogCleared}); err == nil {
		t.Fatal("append after close succeeded")
	}

	s2 := openT(t, dir, opt)
	got := s2.List()
	if len(got) != 2 {
		t.Fatalf("reopened: %d events", len(got))
	}
	g := got[0]
	if g.ID != 1 || !g.Time.Equal(e1.Time) || g.Severity != Warning || g.MessageID != SensorThresholdCrossed ||
		strings.Join(g.Args, "|") != "CPU1 Temp|UpperCaution|80 Cel|81 Cel" || g.OriginURI != e1.OriginURI || g.SEL == nil || *g.SEL != *sel {
		t.Fatalf("reopened event %+v", g)
	}
	if e, ok := s2.Get(2); !ok || e.MessageID != LogCleared {
		t.Fatalf("Get(2) = %+v %v", e, ok)
	}
	if _, ok := s2.Get(3); ok {
		t.Fatal("Get(3) found")
	}
	e3, err := s2.Append(Event{MessageID: LogCleared})
	if err != nil || e3.ID != 3 {
		t.Fatalf("append after reopen: %+v %v", e3, err)
	}
}

func TestTornTailIgnoredAndTruncated(t *testing.T) {
	for _, tc := range []struct {
		name string
		tail func(frame []byte) []byte
	}{
		{"half header", func(f []byte) []byte { return f[:5] }},
		{"half payload", func(f []byte) []byte { return f[:len(f)/2] }},
		{"bad crc", func(f []byte) []byte { g := bytes.Clone(f); g[len(g)-2] ^= 0xFF; return g }},
		{"zero fill", func(f []byte) []byte { return make([]byte, len(f)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			opt := Options{Clock: clock.NewFake(epoch)}
			s := openT(t, dir, opt)
			appendN(t, s, 3)
			s.Close()
			segs := segments(t, dir)
			if len(segs) != 1 {
				t.Fatalf("segments %v", segs)
			}
			before, _ := os.ReadFile(segs[0])
			frame, err := EncodeFrame(Event{ID: 4, Time: epoch, Severity: OK, MessageID: AccountCreated, Args: []string{"torn"}})
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(segs[0], append(bytes.Clone(before), tc.tail(frame)...), 0o600); err != nil {
				t.Fatal(err)
			}
			s2 := openT(t, dir, opt)
			if n := len(s2.List()); n != 3 {
				t.Fatalf("events after torn tail: %d", n)
			}
			after, _ := os.ReadFile(segs[0])
			if !bytes.Equal(after, before) {
				t.Fatalf("torn tail not truncated: %d bytes, want %d", len(after), len(before))
			}
			e, err := s2.Append(Event{MessageID: AccountRemoved, Args: []string{"x"}})
			if err != nil || e.ID != 4 {
				t.Fatalf("append after truncation: %+v %v", e, err)
			}
			s2.Close()
			s3 := openT(t, dir, opt)
			if l := s3.List(); len(l) != 4 || l[3].MessageID != AccountRemoved {
				t.Fatalf("after reopen: %+v", l)
			}
		})
	}
}

func TestBoundDropsOldestSegments(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Clock: clock.NewFake(epoch), MaxEvents: 10, SegmentSize: 4}
	s := openT(t, dir, opt)
	appendN(t, s, 25)
	l := s.List()
	if len(l) > 10 || len(l) < 10-4+1 {
		t.Fatalf("%d events kept, want 7..10", len(l))
	}
	if l[len(l)-1].ID != 25 {
		t.Fatalf("newest ID %d", l[len(l)-1].ID)
	}
	for i := 1; i < len(l); i++ {
		if l[i].ID != l[i-1].ID+1 {
			t.Fatalf("gap in kept IDs: %d after %d", l[i].ID, l[i-1].ID)
		}
	}
	if n := len(segments(t, dir)); n > 3 {
		t.Fatalf("%d segment files", n)
	}
	s.Close()
	s2 := openT(t, dir, opt)
	if l2 := s2.List(); len(l2) != len(l) || l2[0].ID != l[0].ID {
		t.Fatalf("reopen kept %d from %d, want %d from %d", len(l2), l2[0].ID, len(l), l[0].ID)
	}
	// A smaller bound on reopen is applied at once.
	s2.Close()
	s3 := openT(t, dir, Options{Clock: clock.NewFake(epoch), MaxEvents: 4, SegmentSize: 2})
	if n := len(s3.List()); n > 4 {
		t.Fatalf("reopen with smaller bound kept %d", n)
	}
}

func TestClearNeverReusesIDs(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Clock: clock.NewFake(epoch), MaxEvents: 8, SegmentSize: 2}
	s := openT(t, dir, opt)
	appendN(t, s, 5)
	if err := s.Clear(); err != nil {
		t.Fatal(err)
	}
	l := s.List()
	if len(l) != 1 || l[0].MessageID != LogCleared || l[0].ID != 6 {
		t.Fatalf("after clear: %+v", l)
	}
	if l[0].SEL == nil || l[0].SEL.SensorType != 0x10 {
		t.Fatalf("LogCleared SEL %+v", l[0].SEL)
	}
	if n := len(segments(t, dir)); n != 1 {
		t.Fatalf("%d segments after clear", n)
	}
	s.Close()
	s2 := openT(t, dir, opt)
	e, err := s2.Append(Event{MessageID: AccountCreated, Args: []string{"a"}})
	if err != nil || e.ID != 7 {
		t.Fatalf("append after clear+reopen: %+v %v", e, err)
	}
	// Clear twice in a row, reopen between: still increasing.
	if err := s2.Clear(); err != nil {
		t.Fatal(err)
	}
	s2.Close()
	s3 := openT(t, dir, opt)
	if err := s3.Clear(); err != nil {
		t.Fatal(err)
	}
	if l := s3.List(); len(l) != 1 || l[0].ID != 9 {
		t.Fatalf("after clears: %+v", l)
	}
}

// An empty newest segment (crash right after creating it) still carries the
// next ID in its name.
func TestEmptyNewestSegmentKeepsID(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Clock: clock.NewFake(epoch)}
	s := openT(t, dir, opt)
	appendN(t, s, 2)
	if err := s.Clear(); err != nil { // LogCleared = 3, the only record
		t.Fatal(err)
	}
	s.Close()
	segs := segments(t, dir)
	if err := os.Truncate(segs[0], 0); err != nil { // the LogCleared frame was torn
		t.Fatal(err)
	}
	s2 := openT(t, dir, opt)
	if n := len(s2.List()); n != 0 {
		t.Fatalf("%d events", n)
	}
	if id := s2.NextID(); id < 3 {
		t.Fatalf("NextID %d would reuse IDs", id)
	}
}

func TestRegistryRender(t *testing.T) {
	r := BoardRegistry()
	txt, ok := r.Render(PowerStateChanged, []string{"Off", "PoweringOn", "On"})
	if !ok || txt != "The host power state changed from Off to PoweringOn (cause: On)." {
		t.Fatalf("%q %v", txt, ok)
	}
	if _, ok := r.Render("IronrootEvent.2.0.PowerStateChanged", nil); ok {
		t.Fatal("wrong major version rendered")
	}
	if _, ok := r.Render("Base.1.0.PowerStateChanged", nil); ok {
		t.Fatal("wrong prefix rendered")
	}
	if got := substitute("%1-%2-%10%", []string{"a", "b", "", "", "", "", "", "", "", "j"}); got != "a-b-j%" {
		t.Fatalf("substitute: %q", got)
	}
	// Every message's placeholders match its NumberOfArgs.
	for key, def := range r.Messages {
		for i := 1; i <= 9; i++ {
			has := strings.Contains(def.Message, "%"+strconv.Itoa(i))
			if has != (i <= def.NumberOfArgs) {
				t.Errorf("%s: placeholder %%%d present=%v, NumberOfArgs=%d", key, i, has, def.NumberOfArgs)
			}
		}
		switch def.Severity {
		case OK, Warning, Critical:
		default:
			t.Errorf("%s: severity %q", key, def.Severity)
		}
		if _, _, ok := r.Lookup(messagePrefix + key); !ok {
			t.Errorf("%s: lookup failed", key)
		}
	}
	for _, id := range []string{PowerStateChanged, ResetRequested, BootOverrideChanged, LoginSucceeded, LoginFailed,
		AccountLockedOut, AccountUnlocked, AccountCreated, AccountModified, AccountRemoved, SensorThresholdCrossed,
		SensorReturnedToNormal, LogCleared, ManagerStarted, ManagerReset, ManagerResetToDefaults, FirstBoot,
		DateTimeChanged, LocationIndicatorChanged, NetworkProtocolChanged, GateStateChanged, InternalError} {
		if _, _, ok := r.Lookup(id); !ok {
			t.Errorf("constant %s not in registry", id)
		}
	}
}

// TestCrashAfterAppend kills a child process with SIGKILL right after its
// appends were acknowledged; every acknowledged event must be there.
func TestCrashAfterAppend(t *testing.T) {
	if dir := os.Getenv("IRONROOT_EVENT_CRASH_DIR"); dir != "" {
		s, err := Open(dir, Options{Clock: clock.NewFake(epoch), SegmentSize: 3})
		if err != nil {
			os.Exit(2)
		}
		for i := 0; i < 7; i++ {
			e, err := s.Append(Event{MessageID: AccountCreated, Args: []string{"u" + strconv.Itoa(i)}})
			if err != nil {
				os.Exit(3)
			}
			fmt.Printf("ack %d\n", e.ID)
		}
		syscall.Kill(os.Getpid(), syscall.SIGKILL)
		select {}
	}
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashAfterAppend$")
	cmd.Env = append(os.Environ(), "IRONROOT_EVENT_CRASH_DIR="+dir)
	out, err := cmd.Output()
	if err == nil {
		t.Fatal("child exited cleanly, expected SIGKILL")
	}
	acked := strings.Count(string(out), "ack ")
	if acked != 7 {
		t.Fatalf("child acked %d events (err %v), output %q", acked, err, out)
	}
	s := openT(t, dir, Options{Clock: clock.NewFake(epoch), SegmentSize: 3})
	l := s.List()
	if len(l) != 7 || l[6].ID != 7 || l[6].Args[0] != "u6" {
		t.Fatalf("after crash: %d events %+v", len(l), l)
	}
}

func TestConcurrentAppend(t *testing.T) {
	dir := t.TempDir()
	opt := Options{Clock: clock.NewFake(epoch), MaxEvents: 1000, SegmentSize: 7}
	s := openT(t, dir, opt)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if _, err := s.Append(Event{MessageID: AccountModified, Args: []string{"x"}}); err != nil {
					t.Error(err)
					return
				}
				s.List()
			}
		}()
	}
	wg.Wait()
	l := s.List()
	if len(l) != 160 {
		t.Fatalf("%d events", len(l))
	}
	for i, e := range l {
		if e.ID != uint32(i+1) {
			t.Fatalf("event %d has ID %d", i, e.ID)
		}
	}
	l[0].Args[0] = "changed"
	if e, _ := s.Get(1); e.Args[0] != "x" {
		t.Fatal("List shares Args with the store")
	}
	s.Close()
	if n := len(openT(t, dir, opt).List()); n != 160 {
		t.Fatalf("%d events after reopen", n)
	}
}

func FuzzSegmentDecode(f *testing.F) {
	var seg []byte
	for i, e := range []Event{
		{ID: 1, Time: epoch, Severity: OK, MessageID: LogCleared},
		{ID: 2, Time: epoch, Severity: Warning, MessageID: LoginFailed, Args: []string{"root", "IPMI"}},
		{ID: 3, Time: epoch, Severity: Critical, MessageID: SensorThresholdCrossed, Args: []string{"a", "b", "c", "d"},
			SEL: &SEL{RecordType: 2, GeneratorID: 0x20, SensorType: 1, SensorNumber: 1, EventType: 1, EventData: [3]byte{0x59, 1, 2}}},
	} {
		fr, err := EncodeFrame(e)
		if err != nil {
			f.Fatal(err)
		}
		seg = append(seg, fr...)
		f.Add(bytes.Clone(seg))
		if i == 1 {
			f.Add(bytes.Clone(seg[:len(seg)-3]))
		}
	}
	f.Add([]byte{})
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0, '{'})
	f.Add([]byte{0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, data []byte) {
		evs, valid, err := DecodeSegment(data)
		if valid < 0 || valid > len(data) {
			t.Fatalf("valid %d of %d", valid, len(data))
		}
		if (err == nil) != (valid == len(data)) {
			t.Fatalf("err %v with valid %d of %d", err, valid, len(data))
		}
		evs2, valid2, err2 := DecodeSegment(data[:valid])
		if err2 != nil || valid2 != valid || len(evs2) != len(evs) {
			t.Fatalf("prefix re-decode: %d events, valid %d, err %v; first pass %d events, valid %d", len(evs2), valid2, err2, len(evs), valid)
		}
		for _, e := range evs {
			if e.ID == 0 || e.MessageID == "" {
				t.Fatalf("invalid event accepted: %+v", e)
			}
		}
	})
}
