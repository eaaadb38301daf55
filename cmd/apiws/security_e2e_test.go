package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Attacks of issue 13 on the HTTP server, each reproduced on a real one.

func TestNestedPaginationIsRefusedBeforeRunning(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "nested@example.com")
	// The attack: 689 bytes, 5 aliases, 135,000 nodes in 8.3 s.
	var b strings.Builder
	b.WriteString("{ viewer { ")
	for _, a := range []string{"a", "b", "c", "d", "e"} {
		b.WriteString(a + `: numbers(first: 100) { edges { node { messages(first: 100) { edges { node { id number { messages(first: 100) { edges { node { id } } } } } } } } } } `)
	}
	b.WriteString("} }")
	if r := gql(t, base, token, b.String(), nil); r.code() != "COMPLEXITY_LIMIT" || r.Data != nil {
		t.Fatalf("nested pagination: %+v", r)
	}
	// What clients ask for still runs: a page of 100 messages with their
	// events (the largest query of the tests).
	if r := gql(t, base, token, messagesQuery, nil); len(r.Errors) > 0 {
		t.Fatalf("a page of messages: %+v", r.Errors)
	}
}

// mediaMutation is a sendMessage with inline base64 media of n bytes.
func mediaBody(t *testing.T, n int, comment string) []byte {
	t.Helper()
	body, err := json.Marshal(map[string]any{
		"query": "mutation($i: SendMessageInput!) { sendMessage(input: $i) { userErrors { code } } }" + comment,
		"variables": map[string]any{"i": map[string]any{"numberId": "num_none", "to": "+15550100001",
			"media": map[string]any{"kind": "DOCUMENT", "mimeType": "application/pdf", "data": strings.Repeat("A", n)}}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return body
}

func TestBodyLimitsFollowTheOperationAndTheCaller(t *testing.T) {
	base := startServer(t, nil)
	session, _ := signUp(t, base, "bodies@example.com")
	keyOf := func(scope string) string {
		r := gql(t, base, session, createKey, map[string]any{"i": map[string]any{"name": scope, "scopes": []string{scope}}})
		return str(r.Data, "createApiKey", "secret")
	}
	sendKey, readKey := keyOf("SEND"), keyOf("READ")
	twoMiB := 2 << 20
	// A query padded past 1 MiB, with a comment naming media.
	padded, _ := json.Marshal(map[string]any{"query": "{ privacyPolicy { version } } #media", "variables": map[string]any{"pad": strings.Repeat("x", twoMiB)}})
	for _, tt := range []struct {
		name  string
		token string
		body  []byte
		large bool // refused with 413
	}{
		{"a comment naming media does not lift the limit", session, padded, true},
		{"a media mutation without credentials", "", mediaBody(t, twoMiB, ""), true},
		{"a media mutation with a READ key", readKey, mediaBody(t, twoMiB, ""), true},
		{"a media mutation with a SEND key", sendKey, mediaBody(t, twoMiB, ""), false},
		{"a media mutation of a dashboard session", session, mediaBody(t, twoMiB, ""), false},
		{"a small media mutation with a READ key", readKey, mediaBody(t, 1000, ""), false},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(tt.body))
			req.Header.Set("Content-Type", "application/json")
			if tt.token != "" {
				req.Header.Set("Authorization", "Bearer "+tt.token)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if large := resp.StatusCode == http.StatusRequestEntityTooLarge; large != tt.large {
				t.Fatalf("HTTP %d: %.300s", resp.StatusCode, body)
			}
		})
	}
}

// countingReader counts what the HTTP client has read of a body; the
// client's transport may still be reading it when Do returns.
type countingReader struct {
	r    io.Reader
	read atomic.Int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.read.Add(int64(n))
	return n, err
}

func TestBodyReadingStopsAtTheLimit(t *testing.T) {
	base := startServer(t, nil)
	// 40 MiB sent without a length (chunked), anonymously: the server
	// answers 413 once 1 MiB is read and reads no further; the client
	// gets to send little more than what socket buffers hold.
	body := &countingReader{r: io.LimitReader(zeros{}, 40<<20)}
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", body)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		// The server may close the connection while the client writes.
		if body.read.Load() >= 40<<20 {
			t.Fatalf("the whole body was sent: %v", err)
		}
		return
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Fatalf("HTTP %d", resp.StatusCode)
	}
	if n := body.read.Load(); n > 16<<20 {
		t.Fatalf("the client sent %d MiB before the refusal", n>>20)
	}
}

type zeros struct{}

func (zeros) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}

// post sends a raw body with an optional bearer token and returns the
// HTTP status.
func postStatus(t *testing.T, base, token, body string) int {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

func TestRequestRatesAreLimitedBeforeTheBodyIsRead(t *testing.T) {
	t.Run("anonymous", func(t *testing.T) {
		base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "1"})
		if s := postStatus(t, base, "", `{"query":"{ privacyPolicy { version } }"}`); s != http.StatusOK {
			t.Fatalf("first request: HTTP %d", s)
		}
		// Not JSON: refused for its rate, not parsed.
		if s := postStatus(t, base, "", `{"query": not json`); s != http.StatusTooManyRequests {
			t.Fatalf("second request: HTTP %d, want 429", s)
		}
	})
	t.Run("per address, whatever the credentials", func(t *testing.T) {
		base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "1"})
		// One address may make five requests a second (five times the
		// per-key rate, a burst of five): requests with ever another
		// token, and a body that is not JSON, are refused for their rate
		// once past it, neither authenticated nor parsed.
		for i := 0; ; i++ {
			s := postStatus(t, base, "apiws_unknown"+strings.Repeat("x", i), `{"query": not json`)
			if s == http.StatusTooManyRequests {
				if i < 5 {
					t.Fatalf("refused after %d requests, within the burst", i)
				}
				break
			}
			if s != http.StatusUnauthorized || i == 100 {
				t.Fatalf("request %d: HTTP %d", i, s)
			}
		}
	})
	t.Run("failed bearer tokens", func(t *testing.T) {
		base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "0"})
		token, _ := signUp(t, base, "throttled@example.com")
		// 20 failures at once, then one a second.
		for i := 0; ; i++ {
			s := postStatus(t, base, "apiws_wrong", `{"query":"{ __typename }"}`)
			if s == http.StatusTooManyRequests {
				if i <= 20 {
					t.Fatalf("refused after %d failures, within the burst", i)
				}
				break
			}
			if s != http.StatusUnauthorized || i == 100 {
				t.Fatalf("failure %d: HTTP %d", i, s)
			}
		}
		// The address is refused without a look at the token for a
		// while: a right one too.
		if s := postStatus(t, base, token, `{"query":"{ __typename }"}`); s != http.StatusTooManyRequests {
			t.Fatalf("a right token from the blocked address: HTTP %d, want 429", s)
		}
	})
}

func TestSocketsPerCredentialAreCapped(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_MAX_SOCKETS": "3"})
	other, _ := signUp(t, base, "other-sockets@example.com")
	for _, proto := range subprotocols {
		t.Run(proto, func(t *testing.T) {
			token, _ := signUp(t, base, proto+"@example.com")
			var open []*wsClient
			for range 3 {
				open = append(open, openWS(t, base, proto, token))
			}
			w := dialWS(t, base, proto, nil)
			w.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
			if code, before := w.closed(10 * time.Second); code != websocket.CloseTryAgainLater || len(before) > 0 {
				t.Fatalf("a fourth socket: close %d after %v, want 1013 and nothing sent", code, before)
			}
			// Another credential is not held back.
			openWS(t, base, proto, other).close()
			// A socket that ends gives its place back.
			open[0].close()
			eventually(t, "a closed socket's place is free", 10*time.Second, func() bool {
				w := dialWS(t, base, proto, nil)
				defer w.close()
				w.send(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer " + token}})
				for m := range w.msgs { // closed when the server closes the socket
					if m["type"] == "connection_ack" {
						return true
					}
				}
				return false
			})
			for _, w := range open[1:] {
				w.close()
			}
		})
	}
}

func TestSubscriptionsPerSocketAreCapped(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_MAX_SUBSCRIPTIONS": "2"})
	token, _ := signUp(t, base, "subs@example.com")
	// One message, so a replay from the start answers at once: a running
	// subscription shows itself by its first event.
	send(t, base, token, map[string]any{"numberId": connectedNumber(t, base, token), "to": "+15550100001", "text": "hi"})
	const replay = `subscription { messageStatus(after: "0") { cursor } }`
	codeOf := func(m map[string]any) string {
		return str(get(m, "payload", 0), "extensions", "code") + str(get(m, "payload", "errors", 0), "extensions", "code")
	}
	for _, proto := range subprotocols {
		t.Run(proto, func(t *testing.T) {
			w := openWS(t, base, proto, token)
			defer w.close()
			w.subscribe("1", replay, nil)
			w.data("1")
			w.subscribe("2", replay, nil)
			w.data("2")
			w.subscribe("3", replay, nil)
			if m := w.next("3"); codeOf(m) != "BAD_REQUEST" {
				t.Fatalf("a third subscription: %v", m)
			}
			// Ending one makes room for another.
			stop := "complete"
			if proto == "graphql-ws" {
				stop = "stop"
			}
			w.send(map[string]any{"id": "1", "type": stop})
			i := 0
			eventually(t, "a subscription's end makes room", 10*time.Second, func() bool {
				i++
				id := fmt.Sprint("4-", i)
				w.subscribe(id, replay, nil)
				return codeOf(w.next(id)) == ""
			})
		})
	}
}

func TestSubscriptionOverPOSTIsRefused(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "post-sub@example.com")
	// It used to wait forever for an event a POST cannot carry.
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, base+"/graphql", strings.NewReader(`{"query":"subscription { messageStatus { cursor } }"}`))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("a subscription over POST: %v", err)
	}
	defer resp.Body.Close()
	var r gqlResponse
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil || r.code() != "BAD_REQUEST" || r.Data != nil {
		t.Fatalf("a subscription over POST: %v %+v", err, r)
	}
}

func TestConnectionInitIsRateLimited(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_RATE_LIMIT_PER_SECOND": "1"})
	// An address may make five requests a second; each socket is two (its
	// upgrade and its connection_init), so the third socket is refused:
	// at its upgrade (HTTP 429) or at its connection_init (close 1013),
	// before its token is looked at.
	d := websocket.Dialer{Subprotocols: []string{"graphql-transport-ws"}, HandshakeTimeout: 5 * time.Second}
	for i := 0; ; i++ {
		if i == 10 {
			t.Fatal("10 sockets were opened at once")
		}
		conn, resp, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/graphql", nil)
		if err != nil {
			if resp == nil || resp.StatusCode != http.StatusTooManyRequests {
				t.Fatalf("dial %d: %v (%v)", i, err, resp)
			}
			return
		}
		defer conn.Close()
		_ = conn.WriteJSON(map[string]any{"type": "connection_init", "payload": map[string]any{"authorization": "Bearer apiws_wrong"}})
		_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
		_, _, err = conn.ReadMessage()
		var ce *websocket.CloseError
		if !errors.As(err, &ce) {
			t.Fatalf("socket %d: %v", i, err)
		}
		if ce.Code == websocket.CloseTryAgainLater {
			return
		}
		if ce.Code != 4403 {
			t.Fatalf("socket %d closed with %d", i, ce.Code)
		}
	}
}

func TestMetricsNeedAnOperatorKey(t *testing.T) {
	base := startServer(t, nil)
	token, _ := signUp(t, base, "metrics@example.com")
	// A tenant's operation name, which anyone could read in /metrics.
	gql(t, base, token, `query AcmeCorpPayrollSync { viewer { id } }`, nil)
	status := func(token string) int {
		req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	if s := status(""); s != http.StatusUnauthorized {
		t.Fatalf("/metrics without credentials: HTTP %d", s)
	}
	if s := status(token); s != http.StatusForbidden {
		t.Fatalf("/metrics with an account's session: HTTP %d", s)
	}
	if lines := metricLines(t, base, "apiws_graphql_"); len(lines) == 0 {
		t.Fatal("no GraphQL metrics for an operator")
	} else if all := strings.Join(lines, "\n"); strings.Contains(all, "AcmeCorpPayrollSync") || strings.Contains(all, "operation=") {
		t.Fatalf("metrics labelled by operation names:\n%s", all)
	}
}

func TestMetricsOnTheirOwnListener(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	base := startServer(t, map[string]string{"APIWS_METRICS_ADDR": addr})
	if s := statusCode(t, "http://"+addr+"/metrics"); s != http.StatusOK {
		t.Fatalf("/metrics on APIWS_METRICS_ADDR without credentials: HTTP %d", s)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testOperatorKey(t, serverOf(t, base).dbURL))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Fatalf("/metrics on the main port beside APIWS_METRICS_ADDR: HTTP %d", resp.StatusCode)
	}
}

// Introspection in production is the client's mistake: it used to answer
// INTERNAL and log an error.
func TestIntrospectionInProductionIsRefusedQuietly(t *testing.T) {
	base := startServer(t, map[string]string{"APIWS_ENV": "production"})
	for _, q := range []string{`{ __schema { types { name } } }`, `{ __type(name: "Account") { name } }`} {
		if r := gql(t, base, "", q, nil); r.code() != "GRAPHQL_VALIDATION_FAILED" || r.Data != nil {
			t.Fatalf("%s in production: %+v", q, r)
		}
	}
	if r := gql(t, base, "", `{ __typename }`, nil); str(r.Data, "__typename") != "Query" {
		t.Fatalf("__typename in production: %+v", r)
	}
	if log := serverOf(t, base).log.String(); strings.Contains(log, `"level":"ERROR"`) {
		t.Fatalf("the server logged an error:\n%s", log)
	}
}
