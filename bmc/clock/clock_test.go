package clock

import (
	"sync"
	"testing"
	"time"
)

var epoch = time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)

func TestFakeFiresInDeadlineOrder(t *testing.T) {
	f := NewFake(epoch)
	var got []string
	var at []time.Duration
	rec := func(name string) func() {
		return func() { got = append(got, name); at = append(at, f.Now().Sub(epoch)) }
	}
	f.AfterFunc(3*time.Second, rec("c"))
	f.AfterFunc(1*time.Second, rec("a"))
	f.AfterFunc(2*time.Second, rec("b1"))
	f.AfterFunc(2*time.Second, rec("b2"))
	stopped := f.AfterFunc(2*time.Second, rec("never"))
	if !stopped.Stop() {
		t.Fatal("Stop of pending timer returned false")
	}
	if stopped.Stop() {
		t.Fatal("second Stop returned true")
	}
	f.Advance(2500 * time.Millisecond)
	want := []string{"a", "b1", "b2"}
	if len(got) != len(want) {
		t.Fatalf("fired %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("fired %v, want %v", got, want)
		}
	}
	if at[0] != time.Second || at[1] != 2*time.Second {
		t.Fatalf("callback times %v", at)
	}
	if d := f.Now().Sub(epoch); d != 2500*time.Millisecond {
		t.Fatalf("Now after Advance = +%v", d)
	}
	f.Advance(time.Second)
	if len(got) != 4 || got[3] != "c" || at[3] != 3*time.Second {
		t.Fatalf("fired %v at %v", got, at)
	}
}

func TestFakeTimerScheduledInCallbackFires(t *testing.T) {
	f := NewFake(epoch)
	n := 0
	var tick func()
	tick = func() {
		n++
		f.AfterFunc(time.Second, tick)
	}
	f.AfterFunc(time.Second, tick)
	f.Advance(10 * time.Second)
	if n != 10 {
		t.Fatalf("ticks = %d, want 10", n)
	}
	if f.Pending() != 1 {
		t.Fatalf("pending = %d, want 1", f.Pending())
	}
}

func TestFakeFiredTimerStopFalse(t *testing.T) {
	f := NewFake(epoch)
	tm := f.AfterFunc(0, func() {})
	f.Advance(0)
	if tm.Stop() {
		t.Fatal("Stop after firing returned true")
	}
}

func TestFakeConcurrentUse(t *testing.T) {
	f := NewFake(epoch)
	var wg sync.WaitGroup
	var mu sync.Mutex
	fired := 0
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 100; i++ {
				tm := f.AfterFunc(time.Duration(i)*time.Millisecond, func() { mu.Lock(); fired++; mu.Unlock() })
				if i%10 == 0 {
					tm.Stop()
				}
				f.Now()
			}
		}()
	}
	for i := 0; i < 50; i++ {
		f.Advance(time.Millisecond)
	}
	wg.Wait()
	f.Advance(time.Second)
	if f.Pending() != 0 {
		t.Fatalf("%d timers pending", f.Pending())
	}
	mu.Lock()
	defer mu.Unlock()
	if fired > 400 || fired < 360 {
		t.Fatalf("fired %d", fired)
	}
}

func TestRealClock(t *testing.T) {
	c := Real()
	if c.Now().IsZero() {
		t.Fatal("zero time")
	}
	done := make(chan struct{})
	c.AfterFunc(0, func() { close(done) })
	<-done
}
