package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
)

const apiCallsQuery = `query Calls($f: ApiCallFilter) { viewer { apiCalls(first: 100, filter: $f) { totalCount
  edges { cursor node { id operationName operationType durationMs ok errorCode ip userAgent at apiKey { id } } } } } }`

// waitForCalls polls the call log (as the dashboard session) until the key
// has want calls, and returns them newest first.
func waitForCalls(t *testing.T, base, token, keyID string, want int) []any {
	t.Helper()
	var edges []any
	eventually(t, fmt.Sprintf("%d calls of the key logged", want), 10*time.Second, func() bool {
		r := gql(t, base, token, apiCallsQuery, map[string]any{"f": map[string]any{"apiKeyId": keyID}})
		n, _ := get(r.Data, "viewer", "apiCalls", "totalCount").(float64)
		if int(n) > want {
			t.Fatalf("%v calls of the key logged; want %d (%+v)", n, want, r.Errors)
		}
		edges, _ = get(r.Data, "viewer", "apiCalls", "edges").([]any)
		return int(n) == want
	})
	return edges
}

func TestAPICallsAreLogged(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			base := startServer(t, env(t))
			token, _ := signUp(t, base, "calls@example.com")
			secret, keyID := createAPIKey(t, base, token, "READ")

			const n = 5
			for i := 0; i < n; i++ {
				if r := gql(t, base, secret, `query Who { viewer { id } }`, nil); len(r.Errors) > 0 {
					t.Fatalf("query %d: %+v", i, r.Errors)
				}
			}
			// Refused: a READ key may not make keys; and a document over the
			// alias limit is refused before it runs.
			if r := gql(t, base, secret, strings.Replace(createKey, "mutation(", "mutation MakeKey(", 1),
				map[string]any{"i": map[string]any{"name": "x", "scopes": []string{"READ"}}}); r.code() != "FORBIDDEN" {
				t.Fatalf("createApiKey with a key: %+v", r)
			}
			var b strings.Builder
			b.WriteString("query Wide { ")
			for i := 0; i < 101; i++ {
				fmt.Fprintf(&b, "a%d: viewer { id } ", i)
			}
			b.WriteString("}")
			if r := gql(t, base, secret, b.String(), nil); r.code() != "COMPLEXITY_LIMIT" {
				t.Fatalf("101 aliases: %+v", r)
			}

			edges := waitForCalls(t, base, token, keyID, n+2)
			node := func(i int) map[string]any { return get(edges[i], "node").(map[string]any) }
			wide, forbidden := node(0), node(1)
			if wide["ok"] != false || wide["errorCode"] != "COMPLEXITY_LIMIT" || wide["operationName"] != "Wide" || wide["operationType"] != "query" {
				t.Errorf("refused wide query logged as %v", wide)
			}
			if forbidden["ok"] != false || forbidden["errorCode"] != "FORBIDDEN" || forbidden["operationName"] != "MakeKey" || forbidden["operationType"] != "mutation" {
				t.Errorf("forbidden mutation logged as %v", forbidden)
			}
			for i := 2; i < n+2; i++ {
				c := node(i)
				if c["ok"] != true || c["errorCode"] != nil || c["operationName"] != "Who" || c["operationType"] != "query" ||
					c["ip"] != "127.0.0.1" || !strings.HasPrefix(str(c, "userAgent"), "Go-http-client") ||
					str(c, "apiKey", "id") != keyID || c["durationMs"].(float64) <= 0 || str(c, "at") == "" {
					t.Errorf("call %d logged as %v", i, c)
				}
				if str(edges[i], "cursor") != str(c, "id") || !strings.HasPrefix(str(c, "id"), "call_") {
					t.Errorf("call %d: cursor %v, id %v", i, get(edges[i], "cursor"), c["id"])
				}
			}

			t.Run("node fetches a call of the account only", func(t *testing.T) {
				id := str(node(2), "id")
				q := `query($id: ID!) { node(id: $id) { ... on ApiCall { id operationName } } }`
				if r := gql(t, base, secret, q, map[string]any{"id": id}); str(r.Data, "node", "id") != id {
					t.Fatalf("node(%s) = %+v", id, r)
				}
				other, _ := signUp(t, base, "other-calls@example.com")
				if r := gql(t, base, other, q, map[string]any{"id": id}); get(r.Data, "node") != nil || len(r.Errors) > 0 {
					t.Fatalf("another account's call: %+v", r)
				}
			})
			t.Run("usage counts the calls this hour", func(t *testing.T) {
				// The hour before and after, in case the test ran across a boundary:
				// three buckets, since the first holds from.
				from := time.Now().UTC().Add(-time.Hour)
				q := `query($from: Time!, $to: Time!) { viewer { usage(from: $from, to: $to, granularity: HOUR) { start apiCalls errors p50LatencyMs }
				  plan { name monthlyMessages sendsPerSecond } quota { used limit resetsAt } } }`
				r := gql(t, base, token, q, map[string]any{"from": from.Format(time.RFC3339), "to": from.Add(2 * time.Hour).Format(time.RFC3339)})
				var calls, errs float64
				buckets, _ := get(r.Data, "viewer", "usage").([]any)
				for _, b := range buckets {
					c, _ := get(b, "apiCalls").(float64)
					e, _ := get(b, "errors").(float64)
					calls, errs = calls+c, errs+e
				}
				// The session's own reads count too; the key's n+2 are there.
				if len(buckets) != 3 || calls < n+2 || errs < 2 {
					t.Fatalf("usage = %+v", r)
				}
				if str(r.Data, "viewer", "plan", "name") != "free" || get(r.Data, "viewer", "quota", "used") != 0.0 ||
					get(r.Data, "viewer", "quota", "limit") != 1000.0 {
					t.Fatalf("plan and quota = %+v", r)
				}
			})
		})
	}
}

// postWithHeaders posts one operation and returns the HTTP response's status
// and headers with the decoded body.
func postWithHeaders(t *testing.T, base, token, query string) (*http.Response, *gqlResponse) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query})
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := &gqlResponse{Status: resp.StatusCode}
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("not JSON (%d): %s", resp.StatusCode, raw)
	}
	return resp, out
}

func TestRateLimit(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "2"})
	token, _ := signUp(t, base, "rate@example.com")
	secret, keyID := createAPIKey(t, base, token, "READ")

	var resp *http.Response
	var r *gqlResponse
	passed := 0
	for i := 0; i < 5; i++ {
		resp, r = postWithHeaders(t, base, secret, `query Tick { viewer { id } }`)
		if len(r.Errors) > 0 {
			break
		}
		passed++
	}
	if passed < 2 || passed > 3 || r.code() != "RATE_LIMITED" {
		t.Fatalf("%d passed, then %+v; want the burst of 2 (3 if a token came back) and RATE_LIMITED", passed, r)
	}
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" {
		t.Fatalf("refusal: HTTP %d, Retry-After %q; want 429 and 1", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	wait, _ := r.Errors[0].Extensions["retryAfterMs"].(float64)
	if wait <= 0 || wait > 500 {
		t.Fatalf("retryAfterMs = %v; want within one interval (500ms)", wait)
	}
	time.Sleep(time.Duration(wait)*time.Millisecond + 20*time.Millisecond)
	if _, r := postWithHeaders(t, base, secret, `query Tick { viewer { id } }`); len(r.Errors) > 0 {
		t.Fatalf("refused after retryAfterMs: %+v", r.Errors)
	}
	edges := waitForCalls(t, base, token, keyID, passed+2)
	if c := get(edges[1], "node"); str(c, "errorCode") != "RATE_LIMITED" || str(c, "operationName") != "Tick" {
		t.Fatalf("refused call logged as %v", c)
	}
}

func TestNoCallLostOnShutdown(t *testing.T) {
	for name, env := range databases(t) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			full := map[string]string{
				"APIWS_ADDR": "127.0.0.1:0", "APIWS_DATABASE_URL": dir + "/apiws.db", "APIWS_MAIL_DIR": dir + "/mail",
				"APIWS_SECRET_KEY": testSecretKey, "APIWS_RATE_LIMIT_PER_SECOND": "0",
			}
			for k, v := range env(t) {
				full[k] = v
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			out := &lineWriter{lines: make(chan string, 16)}
			done := make(chan error, 1)
			go func() { done <- run(ctx, nil, func(k string) string { return full[k] }, out, io.Discard) }()
			var base string
			for base == "" {
				select {
				case line := <-out.lines:
					base, _ = strings.CutPrefix(line, "apiws listening on ")
				case err := <-done:
					t.Fatalf("server did not start: %v", err)
				case <-time.After(20 * time.Second):
					t.Fatal("server did not start")
				}
			}
			waitHealthy(t, base)
			token, accountID := signUp(t, base, "shutdown@example.com")
			const n = 200
			for i := 0; i < n; i++ {
				gql(t, base, token, `{ viewer { id } }`, nil)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("server stopped with %v", err)
			}
			db, err := storage.Open(context.Background(), full["APIWS_DATABASE_URL"])
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			var got int
			if err := db.Bun.NewRaw("SELECT COUNT(*) FROM api_calls WHERE account_id = ?", accountID).Scan(context.Background(), &got); err != nil {
				t.Fatal(err)
			}
			var rolled int
			if err := db.Bun.NewRaw("SELECT COALESCE(SUM(api_calls), 0) FROM usage_rollups WHERE account_id = ? AND period = 'day'", accountID).Scan(context.Background(), &rolled); err != nil {
				t.Fatal(err)
			}
			if got != n || rolled != n {
				t.Fatalf("%d calls logged and %d in the rollups after shutdown; want %d", got, rolled, n)
			}
		})
	}
}

func TestSubscriptionsAreLogged(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "subs@example.com")
	num := connectedNumber(t, base, token)
	ws := openWS(t, base, "graphql-transport-ws", token)
	subscribed(t, base, func() { ws.subscribe("s", `subscription Feed { messageStatus { cursor status } }`, nil) })
	send(t, base, token, map[string]any{"numberId": num, "to": "+14155550123", "text": "x"})
	ws.data("s")
	eventually(t, "the subscription logged", 10*time.Second, func() bool {
		r := gql(t, base, token, `{ viewer { apiCalls(filter: {operationName: "Feed"}) { edges { node { operationType ok } } } } }`, nil)
		return str(r.Data, "viewer", "apiCalls", "edges", 0, "node", "operationType") == "subscription"
	})
}
