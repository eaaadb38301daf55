package main

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/apiws/apiws/server/dashboard"
)

const accountsQuery = `query($search: String, $hold: Boolean) { accounts(first: 50, search: $search, legalHold: $hold) {
  totalCount edges { node { id email legalHold } } } }`

// accountIDs lists the ids of an accounts answer, in order.
func accountIDs(r *gqlResponse) []string {
	var ids []string
	edges, _ := get(r.Data, "accounts", "edges").([]any)
	for _, e := range edges {
		ids = append(ids, str(e, "node", "id"))
	}
	return ids
}

// The operator console finds accounts by name, email or id, and lists the
// accounts under a legal hold; it is served with the dashboard's policy.
func TestOperatorConsole(t *testing.T) {
	for name, dbEnv := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, dbEnv(t))
			op := testOperatorKey(t, serverOf(t, base).dbURL)
			_, held := signUp(t, base, "held.console@example.com")
			_, free := signUp(t, base, "free.console@example.com")
			r := gql(t, base, op, `mutation($id: ID!) { setLegalHold(accountId: $id, hold: true, reason: "case 7") { userErrors { code } } }`, map[string]any{"id": held})
			if len(userErrorCodes(get(r.Data, "setLegalHold"))) > 0 || len(r.Errors) > 0 {
				t.Fatalf("setLegalHold = %+v", r)
			}

			for _, c := range []struct {
				name   string
				search any
				hold   any
				want   []string
			}{
				{"by part of the email", "CONSOLE@example", nil, []string{free, held}},
				{"by the whole id", held, nil, []string{held}},
				{"not by part of an id", held[:10], nil, nil},
				{"held ones", nil, true, []string{held}},
				{"not held, matching", "console", false, []string{free}},
			} {
				r := gql(t, base, op, accountsQuery, map[string]any{"search": c.search, "hold": c.hold})
				if got := strings.Join(accountIDs(r), ","); got != strings.Join(c.want, ",") || get(r.Data, "accounts", "totalCount") != float64(len(c.want)) {
					t.Errorf("%s: accounts = %+v; want %v", c.name, r, c.want)
				}
			}

			resp, err := http.Get(base + "/operator")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Security-Policy") != dashboard.ContentSecurityPolicy ||
				!strings.Contains(string(page), "/operator/assets/console.js") {
				t.Errorf("GET /operator = %d %v", resp.StatusCode, resp.Header)
			}
		})
	}
}
