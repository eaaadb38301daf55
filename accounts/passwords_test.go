package accounts

import (
	"strings"
	"testing"
)

func TestPasswordHashing(t *testing.T) {
	const password = "correct horse battery"
	hash := hashPassword(password)
	parts := strings.Split(hash, "$")
	if len(parts) != 6 || parts[1] != "argon2id" || parts[2] != "v=19" || parts[3] != "m=19456,t=2,p=1" {
		t.Fatalf("hashPassword = %q; want $argon2id$v=19$m=19456,t=2,p=1$salt$key", hash)
	}
	if again := hashPassword(password); again == hash {
		t.Fatal("two hashes of one password are alike: no fresh salt")
	}
	with := func(i int, part string) string {
		p := append([]string(nil), parts...)
		p[i] = part
		return strings.Join(p, "$")
	}
	tests := []struct {
		name, hash, password string
		ok                   bool
	}{
		{"the password", hash, password, true},
		{"another hash of the password", hashPassword(password), password, true},
		{"a wrong password", hash, "correct horse battery!", false},
		{"a password that differs in case", hash, "Correct horse battery", false},
		{"empty password", hash, "", false},
		{"empty hash", "", password, false},
		{"argon2i, not argon2id", with(1, "argon2i"), password, false},
		{"a part missing", strings.Join(parts[:5], "$"), password, false},
		{"parameters unreadable", with(3, "m=x,t=2,p=1"), password, false},
		{"other parameters", with(3, "m=19456,t=3,p=1"), password, false},
		{"salt not base64", with(4, "!!!"), password, false},
		{"key not base64", with(5, "!!!"), password, false},
		{"another salt", with(4, strings.Repeat("A", len(parts[4]))), password, false},
		{"the dummy hash", dummyHash, password, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := checkPassword(tt.hash, tt.password); got != tt.ok {
				t.Fatalf("checkPassword(%q, %q) = %v; want %v", tt.hash, tt.password, got, tt.ok)
			}
		})
	}
}
