package server

import (
	"bytes"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/apiws/apiws/graph/generated"
)

// newTestServer is a server over apiws's real schema with no resolvers:
// enough for everything decided before an operation runs.
func newTestServer(tb testing.TB, cfg Config) *Server {
	tb.Helper()
	return New(cfg, Deps{
		Schema: generated.NewExecutableSchema(generated.Config{}),
		Log:    slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
}

// post runs one GraphQL request through h and returns the recorder.
func post(h http.Handler, query string) *httptest.ResponseRecorder {
	body, _ := json.Marshal(map[string]any{"query": query})
	req := httptest.NewRequest(http.MethodPost, "/graphql", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

// codeOf is the first error's extensions.code of a recorded response.
func codeOf(tb testing.TB, rec *httptest.ResponseRecorder) string {
	tb.Helper()
	var out struct {
		Errors []struct {
			Extensions map[string]any `json:"extensions"`
		} `json:"errors"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &out); err != nil {
		tb.Fatalf("response is not JSON (%d): %.500s", rec.Code, rec.Body.String())
	}
	if len(out.Errors) == 0 {
		return ""
	}
	c, _ := out.Errors[0].Extensions["code"].(string)
	return c
}

// repeated is a query of n __typename fields.
func repeated(n int) string {
	return "{" + strings.Repeat(" __typename", n) + " }"
}
