package apiws

import (
	"context"
	"testing"
)

func TestHasScope(t *testing.T) {
	key := func(scopes ...Scope) *Caller {
		return &Caller{Kind: CredentialAPIKey, AccountID: "acc_1", Scopes: scopes}
	}
	tests := []struct {
		name   string
		caller *Caller
		scope  Scope
		want   bool
	}{
		{"no caller", nil, ScopeRead, false},
		{"anonymous", &Caller{Kind: CredentialNone}, ScopeRead, false},
		{"a session may everything", &Caller{Kind: CredentialSession, AccountID: "acc_1"}, ScopeManageNumbers, true},
		{"a session without scopes listed", &Caller{Kind: CredentialSession}, ScopeSend, true},
		{"a key with the scope", key(ScopeRead, ScopeSend), ScopeSend, true},
		{"a key without the scope", key(ScopeRead), ScopeSend, false},
		{"a key with no scopes", key(), ScopeRead, false},
		{"READ does not imply SEND", key(ScopeRead), ScopeSend, false},
		{"SEND does not imply READ", key(ScopeSend), ScopeRead, false},
		{"MANAGE_NUMBERS does not imply SEND", key(ScopeManageNumbers), ScopeSend, false},
		{"an operator key holds no account scope", &Caller{Kind: CredentialOperator}, ScopeRead, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.caller.HasScope(tt.scope); got != tt.want {
				t.Fatalf("HasScope(%s) = %v; want %v", tt.scope, got, tt.want)
			}
		})
	}
}

func TestRequireRead(t *testing.T) {
	tests := []struct {
		name   string
		caller *Caller
		want   ErrorCode
	}{
		{"nobody", nil, EUNAUTHENTICATED},
		{"own session", &Caller{Kind: CredentialSession, AccountID: "acc_a"}, ""},
		{"own key with READ", &Caller{Kind: CredentialAPIKey, AccountID: "acc_a", Scopes: []Scope{ScopeRead}}, ""},
		{"own key without READ", &Caller{Kind: CredentialAPIKey, AccountID: "acc_a", Scopes: []Scope{ScopeSend}}, EFORBIDDEN},
		{"another account's session", &Caller{Kind: CredentialSession, AccountID: "acc_b"}, ENOTFOUND},
		{"another account's key", &Caller{Kind: CredentialAPIKey, AccountID: "acc_b", Scopes: []Scope{ScopeRead}}, ENOTFOUND},
		{"operator", &Caller{Kind: CredentialOperator}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			if tt.caller != nil {
				ctx = WithCaller(ctx, tt.caller)
			}
			err := RequireRead(ctx, "acc_a")
			if got := ErrorCodeOf(err); got != tt.want || (tt.want == "") != (err == nil) {
				t.Errorf("RequireRead = %v (code %q), want code %q", err, got, tt.want)
			}
		})
	}
}
