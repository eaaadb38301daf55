package webhooks

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// testAccount makes an account with one number and returns a context of
// its dashboard session and the number's id.
func testAccount(t *testing.T, db *storage.DB, email string) (context.Context, string) {
	t.Helper()
	ctx := context.Background()
	now := time.Now().UTC()
	acc := &apiws.Account{ID: apiws.NewID(apiws.PrefixAccount), Name: "Ann", Email: email, Status: apiws.AccountActive,
		PasswordHash: "x", CreatedAt: now, AgeCheckedAt: now}
	err := db.CreateAccount(ctx, acc, &apiws.Consent{AccountID: acc.ID, PolicyVersion: "1.0", AcceptedAt: now},
		&apiws.Session{ID: apiws.NewID(apiws.PrefixSession), AccountID: acc.ID, TokenHash: []byte(email), CreatedAt: now, ExpiresAt: now.Add(time.Hour)},
		&apiws.AuditEntry{AccountID: &acc.ID, Actor: "account", Action: "signup", At: now})
	if err != nil {
		t.Fatal(err)
	}
	n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: acc.ID, Status: apiws.NumberConnected, Sandbox: true, CreatedAt: now}
	if err := db.CreateNumber(ctx, n); err != nil {
		t.Fatal(err)
	}
	return apiws.WithCaller(ctx, &apiws.Caller{Kind: apiws.CredentialSession, AccountID: acc.ID}), n.ID
}

func newService(t *testing.T, db *storage.DB, allowPrivate bool) *Service {
	t.Helper()
	s, err := New(db, Options{SecretKey: make([]byte, 32), AllowPrivate: allowPrivate})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// codes lists err's codes and fields as CODE@field.path.
func codes(err error) []string {
	var es apiws.Errors
	var e *apiws.Error
	switch {
	case err == nil:
		return nil
	case errorsAs(err, &es):
	case errorsAs(err, &e):
		es = apiws.Errors{e}
	default:
		return []string{err.Error()}
	}
	var out []string
	for _, e := range es {
		out = append(out, string(e.Code)+"@"+strings.Join(e.Field, "."))
	}
	return out
}

var urlTests = []struct {
	url          string
	allowPrivate bool
	want         string // "" when accepted
}{
	{"https://hooks.example.com/apiws", false, ""},
	{"https://localhost/x", false, ""}, // host names are judged at connection time
	{"https://8.8.8.8/x", false, ""},
	{"http://hooks.example.com/apiws", false, "INVALID@input.url"},
	{"http://127.0.0.1:9/x", true, ""},
	{"https://10.1.2.3/x", true, ""},
	{"https://127.0.0.1/x", false, "INVALID@input.url"},
	{"https://[::1]/x", false, "INVALID@input.url"},
	{"https://[::ffff:192.168.1.1]/x", false, "INVALID@input.url"},
	{"https://10.1.2.3/x", false, "INVALID@input.url"},
	{"https://169.254.169.254/latest/meta-data", false, "INVALID@input.url"},
	{"https://[fe80::1]/x", false, "INVALID@input.url"},
	{"ftp://hooks.example.com/x", true, "INVALID@input.url"},
	{"hooks.example.com/x", false, "INVALID@input.url"},
	{"https://user:pw@hooks.example.com/x", false, "INVALID@input.url"},
	{"https://hooks.example.com/" + strings.Repeat("a", 2048), false, "INVALID@input.url"},
}

// URLs are judged at creation by their scheme, length and literal address.
func TestCreateEndpointURL(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	for i, tt := range urlTests {
		ctx, _ := testAccount(t, db, "url"+string(rune('a'+i))+"@example.com")
		s := newService(t, db, tt.allowPrivate)
		e, secret, err := s.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: tt.url})
		got := strings.Join(codes(err), ",")
		if got != tt.want {
			t.Errorf("create %q (private allowed: %v) = %q, want %q", tt.url, tt.allowPrivate, got, tt.want)
			continue
		}
		if tt.want == "" && (!strings.HasPrefix(secret, "whsec_") || !e.Enabled || e.Types == nil || e.NumberIDs == nil) {
			t.Errorf("create %q = %+v, %q", tt.url, e, secret)
		}
		if tt.want != "" {
			if eps, _ := db.WebhookEndpoints(context.Background(), apiws.CallerFrom(ctx).AccountID); len(eps) != 0 {
				t.Errorf("create %q failed but wrote %d endpoints", tt.url, len(eps))
			}
		}
	}
}

// Every other bad input is a userError on its field and changes nothing;
// a key without MANAGE_WEBHOOKS is FORBIDDEN.
func TestEndpointInput(t *testing.T) {
	db := storagetest.Open(t, storage.SQLite)
	s := newService(t, db, false)
	ctx, number := testAccount(t, db, "input@example.com")
	otherCtx, otherNumber := testAccount(t, db, "input-other@example.com")
	good := apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/a", NumberIDs: []string{number}, Types: []apiws.EventType{apiws.EventTypeMessageStatus}}
	e, _, err := s.CreateEndpoint(ctx, good)
	if err != nil {
		t.Fatal(err)
	}
	other, _, err := s.CreateEndpoint(otherCtx, apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/b"})
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("d", 501)
	key := apiws.WithCaller(context.Background(), &apiws.Caller{Kind: apiws.CredentialAPIKey, AccountID: apiws.CallerFrom(ctx).AccountID,
		Scopes: []apiws.Scope{apiws.ScopeRead, apiws.ScopeSend, apiws.ScopeManageNumbers}})
	cases := []struct {
		name string
		do   func() error
		want string
	}{
		{"another account's number", func() error {
			_, _, err := s.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/c", NumberIDs: []string{otherNumber}})
			return err
		}, "INVALID@input.numberIds"},
		{"an unknown number", func() error {
			_, err := s.UpdateEndpoint(ctx, apiws.WebhookEndpointUpdate{ID: e.ID, NumberIDs: []string{"num_nope"}})
			return err
		}, "INVALID@input.numberIds"},
		{"a long description", func() error {
			_, _, err := s.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/c", Description: &long})
			return err
		}, "INVALID@input.description"},
		{"PING as a type", func() error {
			_, _, err := s.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/c", Types: []apiws.EventType{apiws.EventTypePing}})
			return err
		}, "INVALID@input.types"},
		{"a bad URL and a bad description at once", func() error {
			_, err := s.UpdateEndpoint(ctx, apiws.WebhookEndpointUpdate{ID: e.ID, URL: ptr("http://x"), Description: &long})
			return err
		}, "INVALID@input.url,INVALID@input.description"},
		{"another account's endpoint: update", func() error {
			_, err := s.UpdateEndpoint(ctx, apiws.WebhookEndpointUpdate{ID: other.ID, Enabled: ptr(false)})
			return err
		}, "NOT_FOUND@input.id"},
		{"another account's endpoint: delete", func() error { _, err := s.DeleteEndpoint(ctx, other.ID); return err }, "NOT_FOUND@id"},
		{"an unknown endpoint: rotate", func() error { _, _, err := s.RotateSecret(ctx, "whe_nope"); return err }, "NOT_FOUND@id"},
		{"an unknown endpoint: ping", func() error { _, err := s.Ping(ctx, "whe_nope"); return err }, "NOT_FOUND@id"},
		{"another account's endpoint: replay", func() error { _, err := s.Replay(ctx, other.ID, 0); return err }, "NOT_FOUND@endpointId"},
		{"replay beyond the log", func() error { _, err := s.Replay(ctx, e.ID, 1); return err }, "INVALID@after"},
		{"a key without MANAGE_WEBHOOKS", func() error {
			_, _, err := s.CreateEndpoint(key, apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/c"})
			return err
		}, "FORBIDDEN@"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if got := strings.Join(codes(c.do()), ","); got != c.want {
				t.Fatalf("got %q, want %q", got, c.want)
			}
			eps, _ := db.WebhookEndpoints(context.Background(), apiws.CallerFrom(ctx).AccountID)
			if len(eps) != 1 || eps[0].URL != good.URL || !slices.Equal(eps[0].NumberIDs, good.NumberIDs) || !eps[0].Enabled || eps[0].Description != nil {
				t.Fatalf("endpoints changed: %+v", eps)
			}
		})
	}

	t.Run("at most 10 endpoints", func(t *testing.T) {
		for i := 1; i < apiws.MaxWebhookEndpoints; i++ {
			if _, _, err := s.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/n"}); err != nil {
				t.Fatal(err)
			}
		}
		if _, _, err := s.CreateEndpoint(ctx, apiws.NewWebhookEndpoint{URL: "https://hooks.example.com/11"}); strings.Join(codes(err), ",") != "INVALID@input" {
			t.Fatalf("11th = %v", err)
		}
	})
}

func ptr[T any](v T) *T { return &v }

func errorsAs[T any](err error, target *T) bool { return errors.As(err, target) }
