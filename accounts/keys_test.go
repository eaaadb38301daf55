package accounts

import (
	"context"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// t0 is the tests' start of time (whole microseconds: both databases keep
// it exactly).
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// clockedService is the service over db with a clock the test sets.
func clockedService(db *storage.DB, now *time.Time) *Service {
	s := New(db, Options{})
	s.now = func() time.Time { return *now }
	return s
}

// Credentials are refused from the instant they expire on.
func TestCredentialsExpire(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		now := t0
		s := clockedService(db, &now)
		acc, session, err := s.SignUp(t.Context(), apiws.SignUp{Name: "Ann", Email: "expiry@example.com", Password: password,
			BirthDate: time.Date(1990, 4, 1, 0, 0, 0, 0, time.UTC), AcceptPolicyVersion: "1.0"})
		if err != nil {
			t.Fatal(err)
		}
		ctx := apiws.WithCaller(t.Context(), &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID})
		expires := t0.Add(time.Hour)
		expiring, err := createKey(ctx, s, &expires)
		if err != nil {
			t.Fatal(err)
		}
		lasting, err := createKey(ctx, s, nil)
		if err != nil {
			t.Fatal(err)
		}
		_, operator, err := s.CreateOperatorKey(t.Context(), "ops", &expires)
		if err != nil {
			t.Fatal(err)
		}
		_, lastingOperator, err := s.CreateOperatorKey(t.Context(), "ops", nil)
		if err != nil {
			t.Fatal(err)
		}
		tests := []struct {
			name  string
			token string
			at    time.Time
			ok    bool
		}{
			{"a key before its expiry", expiring, t0, true},
			{"a key just before its expiry", expiring, expires.Add(-time.Microsecond), true},
			{"a key at its expiry", expiring, expires, false},
			{"a key after its expiry", expiring, expires.Add(time.Hour), false},
			{"a key without expiry, years on", lasting, t0.AddDate(10, 0, 0), true},
			{"an operator key just before its expiry", operator, expires.Add(-time.Microsecond), true},
			{"an operator key at its expiry", operator, expires, false},
			{"an operator key without expiry, years on", lastingOperator, t0.AddDate(10, 0, 0), true},
			{"a session just before SessionTTL", session, t0.Add(SessionTTL - time.Microsecond), true},
			{"a session at SessionTTL", session, t0.Add(SessionTTL), false},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				now = tt.at
				_, err := s.Authenticate(t.Context(), tt.token)
				if tt.ok && err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !tt.ok && apiws.ErrorCodeOf(err) != apiws.EUNAUTHENTICATED {
					t.Fatalf("got %v; want UNAUTHENTICATED", err)
				}
			})
		}
		t.Run("a key cannot be made expired", func(t *testing.T) {
			now = t0
			if _, err := createKey(ctx, s, &t0); apiws.ErrorCodeOf(err) != apiws.EINVALID {
				t.Fatalf("a key expiring now: %v; want INVALID", err)
			}
			if _, _, err := s.CreateOperatorKey(t.Context(), "ops", &t0); apiws.ErrorCodeOf(err) != apiws.EINVALID {
				t.Fatalf("an operator key expiring now: %v; want INVALID", err)
			}
		})
	})
}

// createKey makes a READ key of the session in ctx and returns its secret.
func createKey(ctx context.Context, s *Service, expires *time.Time) (string, error) {
	_, secret, err := s.CreateAPIKey(ctx, apiws.NewAPIKey{Name: "k", Scopes: []apiws.Scope{apiws.ScopeRead}, ExpiresAt: expires})
	return secret, err
}
