package accounts

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
	"github.com/apiws/apiws/usage"
)

const password = "correct horse battery"

// signedUp makes an account and returns it with the context of its
// dashboard session.
func signedUp(t *testing.T, s *Service, email string) (*apiws.Account, context.Context) {
	t.Helper()
	acc, token, err := s.SignUp(t.Context(), apiws.SignUp{Name: "Ann", Email: email, Password: password,
		BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), AcceptPolicyVersion: "1.0", IP: "198.51.100.7"})
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	c, err := s.Authenticate(t.Context(), token)
	if err != nil {
		t.Fatalf("Authenticate: %v", err)
	}
	return acc, apiws.WithCaller(t.Context(), c)
}

func TestLoginFailuresAreCountedPerEmailAndNetwork(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := New(db, Options{Limiter: usage.NewMemoryLimiter()})
		const email = "owner@example.com"
		signedUp(t, s, email)
		logIn := func(pw, ip string) apiws.ErrorCode {
			_, _, err := s.LogIn(t.Context(), email, pw, ip, "test")
			return apiws.ErrorCodeOf(err)
		}
		failUntilLimited := func(ip string) {
			t.Helper()
			for i := 0; i < 13; i++ {
				switch code := logIn("wrong password!", ip); code {
				case apiws.ERATELIMITED:
					return
				case apiws.EWRONGCREDENTIALS:
				default:
					t.Fatalf("wrong password from %s: %s", ip, code)
				}
			}
			t.Fatalf("13 wrong passwords from %s were not limited", ip)
		}

		failUntilLimited("203.0.113.9")
		if code := logIn(password, "203.0.113.9"); code != apiws.ERATELIMITED {
			t.Errorf("the guesser's own network after its failures: %q; want RATE_LIMITED", code)
		}
		if code := logIn(password, "198.51.100.7"); code != "" {
			t.Fatalf("the owner's correct password while a stranger was failing: %s", code)
		}
		if code := logIn("wrong password!", "198.51.100.7"); code != apiws.EWRONGCREDENTIALS {
			t.Fatalf("the owner's typo: %s; want WRONG_CREDENTIALS", code)
		}

		failUntilLimited("2001:db8:1:2::1")
		if code := logIn(password, "2001:db8:1:2::ffff"); code != apiws.ERATELIMITED {
			t.Errorf("another address of the guesser's /64: %q; want RATE_LIMITED", code)
		}
		if code := logIn(password, "2001:db8:1:3::1"); code != "" {
			t.Errorf("another /64: %s", code)
		}
	})
}

func TestPasswordHashingWaitsItsTurnThenGivesUp(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	s := New(db, Options{Limiter: usage.NewMemoryLimiter(), Hashes: 2, HashWait: 50 * time.Millisecond})
	const email = "busy@example.com"
	signedUp(t, s, email)

	// Two long hashes take both slots.
	var running atomic.Int32
	release := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < 2; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := s.hashes.do(context.Background(), func() { running.Add(1); <-release }); err != nil {
				t.Errorf("a hash with a free slot: %v", err)
			}
		}()
	}
	deadline := time.Now().Add(10 * time.Second)
	for running.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatal("the two hashes did not start")
		}
		time.Sleep(time.Millisecond)
	}

	_, _, err := s.LogIn(t.Context(), email, password, "198.51.100.7", "test")
	var e *apiws.Error
	if !errors.As(err, &e) || e.Code != apiws.ERATELIMITED || e.RetryAfter <= 0 {
		t.Fatalf("a login while every slot is taken past the wait: %v; want RATE_LIMITED with a retry time", err)
	}
	_, _, err = s.SignUp(t.Context(), apiws.SignUp{Name: "Bo", Email: "bo@example.com", Password: password,
		BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), AcceptPolicyVersion: "1.0"})
	if apiws.ErrorCodeOf(err) != apiws.ERATELIMITED {
		t.Fatalf("a sign-up while every slot is taken: %v; want RATE_LIMITED", err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if err := s.hashes.do(ctx, func() { t.Error("ran a hash for an ended request") }); !errors.Is(err, context.Canceled) {
		t.Fatalf("a hash whose request ended while waiting: %v; want context.Canceled", err)
	}

	close(release)
	wg.Wait()
	if _, _, err := s.LogIn(t.Context(), email, password, "198.51.100.7", "test"); err != nil {
		t.Fatalf("a login once the slots are free: %v", err)
	}
}

var mailedCode = regexp.MustCompile(`verification code is: (\d{6})`)

// mailedEmailCode takes the email change mail to the address from the
// outbox and returns its code.
func mailedEmailCode(t *testing.T, db *storage.DB, to string, now time.Time) string {
	t.Helper()
	ms, err := db.ClaimMail(t.Context(), now.Add(time.Hour), time.Minute, 100)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range ms {
		if m.To == to && strings.Contains(m.Body, "change the email") {
			if c := mailedCode.FindStringSubmatch(m.Body); c != nil {
				return c[1]
			}
		}
	}
	t.Fatalf("no email change mail to %s", to)
	return ""
}

func TestEmailChangeCodesLastThirtyMinutes(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		s := New(db, Options{Limiter: usage.NewMemoryLimiter(), SecretKey: []byte("0123456789abcdef0123456789abcdef")})
		now := time.Date(2026, 12, 3, 8, 0, 0, 0, time.UTC)
		s.now = func() time.Time { return now }
		acc, ctx := signedUp(t, s, "clock@example.com")
		change := func(to string) string {
			t.Helper()
			pw := password
			if _, err := s.UpdateAccount(ctx, apiws.AccountUpdate{Email: &to, CurrentPassword: &pw}); err != nil {
				t.Fatalf("UpdateAccount: %v", err)
			}
			return mailedEmailCode(t, db, to, now)
		}
		emailNow := func() string {
			a, err := s.Account(ctx, acc.ID)
			if err != nil {
				t.Fatal(err)
			}
			return a.Email
		}

		code := change("late@example.com")
		now = now.Add(30 * time.Minute)
		if _, err := s.ConfirmEmailChange(ctx, code); apiws.ErrorCodeOf(err) != apiws.EEXPIRED || emailNow() != "clock@example.com" {
			t.Fatalf("the right code after 30 minutes: %v, email %s; want EXPIRED and no change", err, emailNow())
		}
		if _, err := s.ConfirmEmailChange(ctx, code); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("the expired change again: %v; want NOT_FOUND (it is forgotten)", err)
		}

		code = change("intime@example.com")
		now = now.Add(29 * time.Minute)
		acc2, err := s.ConfirmEmailChange(ctx, code)
		if err != nil || acc2.Email != "intime@example.com" || emailNow() != "intime@example.com" {
			t.Fatalf("the right code after 29 minutes: %v, %+v", err, acc2)
		}

		code = change("forgotten@example.com")
		now = now.Add(31 * time.Minute)
		if n, err := db.DeleteExpiredEmailChanges(t.Context(), now); err != nil || n != 1 {
			t.Fatalf("DeleteExpiredEmailChanges = %d, %v; want 1", n, err)
		}
		if _, err := s.ConfirmEmailChange(ctx, code); apiws.ErrorCodeOf(err) != apiws.ENOTFOUND {
			t.Fatalf("a swept change: %v; want NOT_FOUND", err)
		}
	})
}
