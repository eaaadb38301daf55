package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

// testSecretKey is APIWS_SECRET_KEY for tests.
const testSecretKey = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff"

// lineWriter hands each complete line written to it to a channel.
type lineWriter struct {
	mu    sync.Mutex
	buf   bytes.Buffer
	lines chan string
}

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf.Write(p)
	for {
		line, err := w.buf.ReadString('\n')
		if err != nil {
			w.buf.WriteString(line)
			return len(p), nil
		}
		select {
		case w.lines <- strings.TrimSpace(line):
		default:
		}
	}
}

// serverEnv is env over the test servers' defaults: SQLite and mail in a
// temporary folder, a fast sandbox, and Redis keys of the test's own (the
// servers of one test share them; those of other tests, and of other runs
// against the same Redis, do not).
func serverEnv(t *testing.T, env map[string]string) map[string]string {
	t.Helper()
	dir := t.TempDir()
	prefix, loaded := redisKeyPrefixes.LoadOrStore(t, "apiws-test:"+rand.Text()+":")
	if !loaded {
		t.Cleanup(func() { redisKeyPrefixes.Delete(t) })
	}
	full := map[string]string{
		"APIWS_ADDR":             "127.0.0.1:0",
		"APIWS_DATABASE_URL":     dir + "/apiws.db",
		"APIWS_MAIL_DIR":         dir + "/mail",
		"APIWS_SANDBOX_DELAY":    "0.02",
		"APIWS_SECRET_KEY":       testSecretKey,
		"APIWS_REDIS_KEY_PREFIX": prefix.(string),
	}
	for k, v := range env {
		full[k] = v
	}
	return full
}

// redisKeyPrefixes holds each running test's Redis key prefix.
var redisKeyPrefixes sync.Map // *testing.T -> string

// startServer runs apiws in this process on a free port with env (over the
// defaults: SQLite in a temporary folder, a fast sandbox) and returns its
// base URL. The server stops when the test ends.
func startServer(t *testing.T, env map[string]string) string {
	t.Helper()
	return startServerCtx(t, context.Background(), env)
}

// servers records, per base URL, each test server's database and a channel
// closed when it has stopped.
var servers sync.Map // base URL -> *testServer

type testServer struct {
	dbURL   string
	stopped chan struct{}
	log     *syncBuffer // what the server wrote to stderr
}

// syncBuffer is a bytes.Buffer that a server writes while a test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// startServerCtx is startServer for a server that also stops when ctx ends.
func startServerCtx(t *testing.T, ctx context.Context, env map[string]string) string {
	t.Helper()
	full := serverEnv(t, env)
	ctx, cancel := context.WithCancel(ctx)
	out := &lineWriter{lines: make(chan string, 16)}
	logs := &syncBuffer{}
	done := make(chan error, 1)
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		done <- run(ctx, nil, func(k string) string { return full[k] }, out, logs)
	}()
	t.Cleanup(func() {
		cancel()
		<-stopped
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("server stopped with %v", err)
			}
		default: // read already, by the start-up failure below
		}
	})
	deadline := time.After(20 * time.Second)
	for {
		select {
		case line := <-out.lines:
			if addr, ok := strings.CutPrefix(line, "apiws listening on "); ok {
				waitHealthy(t, addr)
				servers.Store(addr, &testServer{dbURL: full["APIWS_DATABASE_URL"], stopped: stopped, log: logs})
				return addr
			}
		case <-stopped:
			t.Fatalf("server did not start: %v", <-done)
		case <-deadline:
			t.Fatal("server did not start within 20s")
		}
	}
}

// serverOf returns what startServer recorded of the server at base.
func serverOf(t *testing.T, base string) *testServer {
	t.Helper()
	s, ok := servers.Load(base)
	if !ok {
		t.Fatalf("no test server at %s", base)
	}
	return s.(*testServer)
}

// waitStopped waits until the server at base has shut down.
func waitStopped(t *testing.T, base string) {
	t.Helper()
	select {
	case <-serverOf(t, base).stopped:
	case <-time.After(30 * time.Second):
		t.Fatal("the server did not stop within 30s")
	}
}

// metric reads one unlabelled value from /metrics.
func metric(t *testing.T, base, name string) float64 {
	t.Helper()
	lines := metricLines(t, base, name+" ")
	if len(lines) == 0 {
		t.Fatalf("no metric %s", name)
	}
	v := strings.TrimPrefix(lines[0], name+" ")
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		t.Fatalf("metric %s = %q", name, v)
	}
	return f
}

// metricLines returns the /metrics lines of the server at base that start
// with prefix, read with an operator key.
func metricLines(t *testing.T, base, prefix string) []string {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, base+"/metrics", nil)
	req.Header.Set("Authorization", "Bearer "+testOperatorKey(t, serverOf(t, base).dbURL))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: HTTP %d", resp.StatusCode)
	}
	var out []string
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if strings.HasPrefix(sc.Text(), prefix) {
			out = append(out, sc.Text())
		}
	}
	return out
}

// testOperatorSecrets holds an operator key per database, made once.
var testOperatorSecrets sync.Map // database URL -> secret

// testOperatorKey returns an operator key of the database at dbURL, made by
// the CLI while servers run on it.
func testOperatorKey(t *testing.T, dbURL string) string {
	t.Helper()
	if k, ok := testOperatorSecrets.Load(dbURL); ok {
		return k.(string)
	}
	var out bytes.Buffer
	env := map[string]string{"APIWS_DATABASE_URL": dbURL, "APIWS_SECRET_KEY": testSecretKey}
	if err := run(t.Context(), []string{"operator-key", "create", "--name", "tests"}, func(k string) string { return env[k] }, &out, io.Discard); err != nil {
		t.Fatalf("operator-key create: %v", err)
	}
	for _, f := range strings.Fields(out.String()) {
		if strings.HasPrefix(f, "apiwsop_") {
			testOperatorSecrets.Store(dbURL, f)
			return f
		}
	}
	t.Fatalf("operator-key create printed no key: %q", out.String())
	return ""
}

// waitHealthy waits until /healthz answers 200.
func waitHealthy(t *testing.T, base string) {
	t.Helper()
	eventually(t, base+"/healthz to answer 200", 10*time.Second, func() bool {
		resp, err := http.Get(base + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
}

// eventually polls ok until it holds, and fails the test when it does not
// within the time given. It is the tests' one way to wait: for observable
// state, never for a time.
func eventually(t *testing.T, what string, within time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", within, what)
		}
		// Not faster: polls through GraphQL count against the per-token
		// rate limit (20 a second by default).
		time.Sleep(100 * time.Millisecond)
	}
}

// waitMetric waits until the unlabelled metric's value satisfies ok, and
// returns the value.
func waitMetric(t *testing.T, base, name string, ok func(float64) bool) float64 {
	t.Helper()
	var v float64
	eventually(t, "metric "+name, 20*time.Second, func() bool {
		v = metric(t, base, name)
		return ok(v)
	})
	return v
}

// subscribed runs start, which starts a subscription that makes a bus
// subscription of its own (any but an account's second messageStatus, which
// shares the account's), and waits until the server's event bus feeds it:
// what is published from then on reaches the subscription.
func subscribed(t *testing.T, base string, start func()) {
	t.Helper()
	before := metric(t, base, "apiws_bus_subscribers")
	start()
	waitMetric(t, base, "apiws_bus_subscribers", func(n float64) bool { return n > before })
}

// sharedRedisURL is the Redis every test may use (APIWS_TEST_REDIS_URL).
func sharedRedisURL() string {
	if u := os.Getenv("APIWS_TEST_REDIS_URL"); u != "" {
		return u
	}
	return "redis://127.0.0.1:6379/0"
}

// databases are the configurations the end-to-end tests run on.
func databases(t *testing.T) map[string]func(t *testing.T) map[string]string {
	return map[string]func(t *testing.T) map[string]string{
		"sqlite": func(t *testing.T) map[string]string { return nil },
		"postgres": func(t *testing.T) map[string]string {
			return map[string]string{"APIWS_DATABASE_URL": storagetest.URL(t, storage.Postgres)}
		},
	}
}

// gqlResponse is a GraphQL response with the HTTP status it came with.
type gqlResponse struct {
	Status int
	Data   map[string]any
	Errors []struct {
		Message    string         `json:"message"`
		Path       []any          `json:"path"`
		Extensions map[string]any `json:"extensions"`
	}
}

// code is the extensions.code of the first error, "" without errors.
func (r *gqlResponse) code() string {
	if len(r.Errors) == 0 {
		return ""
	}
	c, _ := r.Errors[0].Extensions["code"].(string)
	return c
}

// gql posts one operation with an optional bearer token.
func gql(t *testing.T, base, token, query string, vars map[string]any) *gqlResponse {
	t.Helper()
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	return gqlRaw(t, base, token, body)
}

func gqlRaw(t *testing.T, base, token string, body []byte) *gqlResponse {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, base+"/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("POST /graphql: %v", err)
	}
	defer resp.Body.Close()
	out := &gqlResponse{Status: resp.StatusCode}
	raw, _ := io.ReadAll(bufio.NewReader(resp.Body))
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("response is not JSON (%d): %s", resp.StatusCode, raw)
	}
	return out
}

// get walks a path of keys and indexes through decoded JSON.
func get(v any, path ...any) any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			m, _ := v.(map[string]any)
			v = m[k]
		case int:
			s, _ := v.([]any)
			if k >= len(s) {
				return nil
			}
			v = s[k]
		}
	}
	return v
}

func str(v any, path ...any) string {
	s, _ := get(v, path...).(string)
	return s
}

const signUpMutation = `mutation($i: SignUpInput!) { signUp(input: $i) {
  token account { id name email status } userErrors { field code message } } }`

func signUpInput(email string) map[string]any {
	return map[string]any{"name": "Ann Example", "email": email, "password": "correct horse battery",
		"birthDate": "1990-04-01", "acceptPolicyVersion": "1.0"}
}

// signUp makes an account and returns its session token and id.
func signUp(t *testing.T, base, email string) (token, accountID string) {
	t.Helper()
	r := gql(t, base, "", signUpMutation, map[string]any{"i": signUpInput(email)})
	token, accountID = str(r.Data, "signUp", "token"), str(r.Data, "signUp", "account", "id")
	if token == "" || accountID == "" {
		t.Fatalf("signUp(%s) = %+v", email, r)
	}
	return token, accountID
}

// userErrorCodes lists the codes and fields of a payload's userErrors.
func userErrorCodes(payload any) []string {
	var out []string
	list, _ := get(payload, "userErrors").([]any)
	for _, e := range list {
		field, _ := get(e, "field").([]any)
		var parts []string
		for _, f := range field {
			parts = append(parts, f.(string))
		}
		out = append(out, str(e, "code")+"@"+strings.Join(parts, "."))
	}
	return out
}

// firstUserError is the first of userErrorCodes(payload), "" without any.
func firstUserError(payload any) string {
	if codes := userErrorCodes(payload); len(codes) > 0 {
		return codes[0]
	}
	return ""
}

// createAPIKey makes an API key with the scopes and returns its secret and id.
func createAPIKey(t *testing.T, base, token string, scopes ...string) (secret, id string) {
	t.Helper()
	r := gql(t, base, token, createKey, map[string]any{"i": map[string]any{"name": "test", "scopes": scopes}})
	secret, id = str(r.Data, "createApiKey", "secret"), str(r.Data, "createApiKey", "apiKey", "id")
	if secret == "" {
		t.Fatalf("createApiKey = %+v", r)
	}
	return secret, id
}

func urlQueryEscape(s string) string { return url.QueryEscape(s) }

// bodyHasErrors reports whether a GraphQL response body carries errors.
func bodyHasErrors(resp *http.Response) bool {
	defer resp.Body.Close()
	var r gqlResponse
	_ = json.NewDecoder(resp.Body).Decode(&r)
	return len(r.Errors) > 0
}
