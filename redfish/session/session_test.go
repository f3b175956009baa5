package session

import (
	"errors"
	"regexp"
	"sync"
	"testing"
	"time"

	"github.com/ironroot-bmc/ironroot/bmc/clock"
)

func newStore(t *testing.T, max int) (*Store, *clock.Fake, *[]string) {
	t.Helper()
	clk := clock.NewFake(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC))
	var mu sync.Mutex
	var ended []string
	s := New(Config{Clock: clk, MaxSessions: max, OnEnd: func(sess Session, reason string) {
		mu.Lock()
		defer mu.Unlock()
		ended = append(ended, sess.UserName+":"+reason)
	}})
	return s, clk, &ended
}

func TestCreateValidateDelete(t *testing.T) {
	s, _, ended := newStore(t, 0)
	sess, err := s.Create(2, "admin", "127.0.0.1", "ctx")
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sess.Token) || !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(sess.ID) {
		t.Fatalf("token %q id %q", sess.Token, sess.ID)
	}
	got, ok := s.Validate(sess.Token)
	if !ok || got.ID != sess.ID || got.Token != "" || got.AccountID != 2 {
		t.Fatalf("Validate = %+v, %v", got, ok)
	}
	if _, ok := s.Validate(sess.ID); ok {
		t.Fatal("the session ID works as a token")
	}
	if _, ok := s.Validate(""); ok {
		t.Fatal("empty token accepted")
	}
	if !s.Delete(sess.ID) || s.Delete(sess.ID) {
		t.Fatal("Delete")
	}
	if _, ok := s.Validate(sess.Token); ok {
		t.Fatal("token valid after logout")
	}
	if len(*ended) != 1 || (*ended)[0] != "admin:logout" {
		t.Fatalf("ended = %v", *ended)
	}
}

func TestIdleExpiry(t *testing.T) {
	s, clk, ended := newStore(t, 0)
	if err := s.SetTimeout(60 * time.Second); err != nil {
		t.Fatal(err)
	}
	a, _ := s.Create(2, "a", "", "")
	b, _ := s.Create(3, "b", "", "")
	clk.Advance(45 * time.Second)
	if _, ok := s.Validate(a.Token); !ok {
		t.Fatal("a expired early")
	}
	clk.Advance(30 * time.Second) // a idle 30 s, b idle 75 s
	if _, ok := s.Validate(a.Token); !ok {
		t.Fatal("use did not extend a")
	}
	if _, ok := s.Validate(b.Token); ok {
		t.Fatal("b did not expire")
	}
	clk.Advance(61 * time.Second)
	if n := len(s.List()); n != 0 {
		t.Fatalf("List after expiry has %d sessions", n)
	}
	if len(*ended) != 2 {
		t.Fatalf("ended = %v", *ended)
	}
}

func TestTimeoutBounds(t *testing.T) {
	s, _, _ := newStore(t, 0)
	if s.Timeout() != DefaultTimeout {
		t.Fatalf("default timeout %v", s.Timeout())
	}
	for _, d := range []time.Duration{29 * time.Second, 86401 * time.Second, 1500 * time.Millisecond} {
		if err := s.SetTimeout(d); !errors.Is(err, ErrTimeout) {
			t.Errorf("SetTimeout(%v) = %v", d, err)
		}
	}
	for _, d := range []time.Duration{MinTimeout, MaxTimeout} {
		if err := s.SetTimeout(d); err != nil {
			t.Errorf("SetTimeout(%v) = %v", d, err)
		}
	}
}

func TestLimitAndRevoke(t *testing.T) {
	s, _, ended := newStore(t, 3)
	for i := range 3 {
		if _, err := s.Create(2+i%2, "u", "", ""); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(2, "u", "", ""); !errors.Is(err, ErrLimit) {
		t.Fatalf("4th session: %v", err)
	}
	if n := s.DeleteAccount(2, "account removed"); n != 2 {
		t.Fatalf("DeleteAccount = %d", n)
	}
	if n := s.RevokeAll("gate locked"); n != 1 || len(s.List()) != 0 {
		t.Fatalf("RevokeAll = %d", n)
	}
	if len(*ended) != 3 || (*ended)[2] != "u:gate locked" {
		t.Fatalf("ended = %v", *ended)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, _, _ := newStore(t, 0)
	sess, _ := s.Create(2, "a", "", "")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				s.Validate(sess.Token)
				s.List()
			}
		})
	}
	wg.Wait()
}
