package main

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws"
)

// operatorCLI runs `apiws operator-key ARGS` on the server's database and
// returns what it printed and its error.
func operatorCLI(t *testing.T, base string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	env := map[string]string{"APIWS_DATABASE_URL": serverOf(t, base).dbURL}
	var out, errOut bytes.Buffer
	err = run(t.Context(), append([]string{"operator-key"}, args...), func(k string) string { return env[k] }, &out, &errOut)
	return out.String(), errOut.String(), err
}

// operatorKeys runs `operator-key list` and returns its lines by key id,
// each split into its five fields.
func operatorKeys(t *testing.T, base string) map[string][]string {
	t.Helper()
	out, _, err := operatorCLI(t, base, "list")
	if err != nil {
		t.Fatalf("operator-key list: %v", err)
	}
	keys := map[string][]string{}
	for _, line := range strings.Split(strings.TrimSuffix(out, "\n"), "\n") {
		if line == "" {
			continue
		}
		f := strings.Split(line, "\t")
		if len(f) != 5 || !apiws.ValidID(f[0], apiws.PrefixOperatorKey) {
			t.Fatalf("operator-key list line %q: want id, name, created, expires, revoked", line)
		}
		keys[f[0]] = f
	}
	return keys
}

// operatorWorks reports whether a request with the operator key succeeds,
// and fails the test on any error other than UNAUTHENTICATED.
func operatorWorks(t *testing.T, base, key string) bool {
	t.Helper()
	r := gql(t, base, key, `{ accounts(first: 1) { totalCount } }`, nil)
	switch r.code() {
	case "":
		return true
	case "UNAUTHENTICATED":
		return false
	}
	t.Fatalf("operator query: %+v", r)
	return false
}

func TestOperatorKeyCLI(t *testing.T) {
	for db, env := range databases(t) {
		t.Run(db, func(t *testing.T) {
			base := startServer(t, env(t))
			create := func(t *testing.T, args ...string) (id, secret string) {
				t.Helper()
				out, errOut, err := operatorCLI(t, base, append([]string{"create"}, args...)...)
				if err != nil {
					t.Fatalf("operator-key create %v: %v", args, err)
				}
				id, _, _ = strings.Cut(strings.TrimPrefix(errOut, "operator key "), " ")
				secret = strings.TrimSpace(out)
				if !apiws.ValidID(id, apiws.PrefixOperatorKey) || !strings.HasPrefix(secret, "apiwsop_") {
					t.Fatalf("operator-key create printed %q and %q", out, errOut)
				}
				return id, secret
			}

			named, namedSecret := create(t, "--name", "ops team")
			unnamed, _ := create(t)
			expires := time.Now().Add(48 * time.Hour).UTC().Truncate(time.Second)
			expiring, _ := create(t, "--name", "contractor", "--expires", expires.Format(time.RFC3339))

			t.Run("list shows every key, one line each", func(t *testing.T) {
				keys := operatorKeys(t, base)
				if len(keys) != 3 {
					t.Fatalf("listed %d keys, want 3: %v", len(keys), keys)
				}
				for id, want := range map[string][2]string{
					named: {"ops team", "-"}, unnamed: {"operator", "-"}, expiring: {"contractor", expires.Format(time.RFC3339)},
				} {
					f := keys[id]
					created, err := time.Parse(time.RFC3339, f[2])
					if f == nil || f[1] != want[0] || f[3] != want[1] || f[4] != "-" || err != nil || time.Since(created) > time.Minute {
						t.Errorf("key %s listed as %q, want name %q, created now, expires %q, not revoked", id, f, want[0], want[1])
					}
				}
			})

			t.Run("revoke refuses the key at once", func(t *testing.T) {
				if !operatorWorks(t, base, namedSecret) {
					t.Fatal("a new operator key was refused")
				}
				out, _, err := operatorCLI(t, base, "revoke", named)
				if err != nil || !strings.Contains(out, named+" (ops team) revoked at ") {
					t.Fatalf("operator-key revoke = %q, %v", out, err)
				}
				if operatorWorks(t, base, namedSecret) {
					t.Fatal("a revoked operator key still works")
				}
				revokedAt := operatorKeys(t, base)[named][4]
				if _, err := time.Parse(time.RFC3339, revokedAt); err != nil {
					t.Fatalf("list shows the revoked key's revoked as %q", revokedAt)
				}
				// Again: nothing changes.
				if _, _, err := operatorCLI(t, base, "revoke", named); err != nil {
					t.Fatalf("revoking again: %v", err)
				}
				if again := operatorKeys(t, base)[named][4]; again != revokedAt {
					t.Fatalf("revoking again moved the revocation from %s to %s", revokedAt, again)
				}
				if f := operatorKeys(t, base)[unnamed]; f[4] != "-" {
					t.Fatalf("revoking one key revoked another: %q", f)
				}
			})

			t.Run("bad input", func(t *testing.T) {
				for _, c := range []struct {
					name string
					args []string
					want string
				}{
					{"unknown id", []string{"revoke", "opk_01KBK2C0000000000000000000"}, "no operator key"},
					{"malformed id", []string{"revoke", "nonsense"}, "no operator key"},
					{"another type's id", []string{"revoke", "key_01KBK2C0000000000000000000"}, "no operator key"},
					{"revoke without id", []string{"revoke"}, "usage"},
					{"malformed time", []string{"create", "--expires", "tomorrow"}, "RFC 3339"},
					{"time without zone", []string{"create", "--expires", "2030-01-02T15:04:05"}, "RFC 3339"},
					{"past time", []string{"create", "--expires", "2020-01-02T15:04:05Z"}, "future"},
					{"empty name", []string{"create", "--name", " "}, "name"},
					{"name of two lines", []string{"create", "--name", "a\nb"}, "name"},
					{"unknown flag", []string{"create", "--nmae", "x"}, "flag provided but not defined"},
					{"unknown command", []string{"delete", named}, "unknown operator-key command"},
					{"no command", nil, "usage"},
				} {
					t.Run(c.name, func(t *testing.T) {
						_, _, err := operatorCLI(t, base, c.args...)
						if err == nil || !strings.Contains(err.Error(), c.want) {
							t.Fatalf("operator-key %q = %v, want an error saying %q", c.args, err, c.want)
						}
					})
				}
				if keys := operatorKeys(t, base); len(keys) != 3 {
					t.Fatalf("refused commands left %d keys, want 3", len(keys))
				}
			})

			// The expiry's edge is tested on accounts.Service with a clock of
			// its own (TestCredentialsExpire); here the expiry a key was
			// created with is moved into the past in the database.
			t.Run("an expired key is refused", func(t *testing.T) {
				id, secret := create(t, "--name", "short", "--expires", time.Now().Add(time.Hour).UTC().Format(time.RFC3339Nano))
				if !operatorWorks(t, base, secret) {
					t.Fatal("an operator key was refused before it expired")
				}
				db := openDB(t, serverOf(t, base).dbURL)
				if _, err := db.Bun.NewUpdate().Table("operator_keys").Set("expires_at = ?", time.Now().Add(-time.Second).UTC()).
					Where("id = ?", id).Exec(t.Context()); err != nil {
					t.Fatal(err)
				}
				if operatorWorks(t, base, secret) {
					t.Fatalf("operator key %s works after its expiry", id)
				}
			})
		})
	}
}
