package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"maps"
	"strings"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/generated"
)

func parse(t *testing.T, q string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	if err != nil {
		t.Fatal(err)
	}
	// Resolve fragment spreads, as validation does before depth runs.
	for _, op := range doc.Operations {
		linkSpreads(op.SelectionSet, doc)
	}
	for _, f := range doc.Fragments {
		linkSpreads(f.SelectionSet, doc)
	}
	return doc
}

func linkSpreads(set ast.SelectionSet, doc *ast.QueryDocument) {
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			linkSpreads(s.SelectionSet, doc)
		case *ast.InlineFragment:
			linkSpreads(s.SelectionSet, doc)
		case *ast.FragmentSpread:
			s.Definition = doc.Fragments.ForName(s.Name)
		}
	}
}

var depthTests = []struct {
	query string
	depth int
}{
	{`{ a }`, 1},
	{`{ a { b { c } } d }`, 3},
	{`{ a { ... on T { b { c } } } }`, 3},
	{`{ a { ...F } } fragment F on T { b { c { d } } }`, 4},
	{`{ ...F a } fragment F on Query { b }`, 1},
	{"{ " + strings.Repeat("a { ", 20) + "b" + strings.Repeat(" }", 20) + " }", maxDepth + 1}, // the walk stops past the cap
}

func TestDepth(t *testing.T) {
	for _, tt := range depthTests {
		doc := parse(t, tt.query)
		if got := depth(doc.Operations[0].SelectionSet, 0); got != tt.depth {
			t.Errorf("depth(%s) = %d, want %d", tt.query, got, tt.depth)
		}
	}
}

var aliasTests = []struct {
	query   string
	aliases int
}{
	{`{ a b }`, 0},
	{`{ x: a y: b }`, 2},
	{`{ a: a }`, 0}, // an alias equal to the name adds nothing
	{`{ x: a { y: b { z: c } } }`, 3},
	{`{ ... on Query { x: a } }`, 1},
	{`{ ...F } fragment F on Query { x: a }`, 0}, // fragments are counted once, on their own
}

func TestCountAliases(t *testing.T) {
	for _, tt := range aliasTests {
		doc := parse(t, tt.query)
		if got := countAliases(doc.Operations[0].SelectionSet); got != tt.aliases {
			t.Errorf("countAliases(%s) = %d, want %d", tt.query, got, tt.aliases)
		}
	}
}

var mediaMutationTests = []struct {
	name string
	body string
	want bool
}{
	{"sendMessage", `{"query":"mutation($i: SendMessageInput!) { sendMessage(input: $i) { userErrors { code } } }"}`, true},
	{"named among several", `{"query":"query Q { __typename } mutation M($i: SendMessageInput!) { sendMessage(input: $i) { userErrors { code } } }","operationName":"M"}`, true},
	{"another operation of the document", `{"query":"query Q { __typename } mutation M($i: SendMessageInput!) { sendMessage(input: $i) { userErrors { code } } }","operationName":"Q"}`, false},
	{"several operations, none named", `{"query":"query Q { __typename } mutation M($i: SendMessageInput!) { sendMessage(input: $i) { userErrors { code } } }"}`, false},
	{"a query naming media", `{"query":"{ privacyPolicy { version } } # media sendMessage"}`, false},
	{"sendMessages", `{"query":"mutation($i: [SendMessageInput!]!) { sendMessages(inputs: $i) { results { userErrors { code } } } }"}`, true},
	{"another mutation", `{"query":"mutation { logOut }"}`, false},
	{"an alias does not make one", `{"query":"mutation { sendMessage: logOut }"}`, false},
	{"not JSON", `{"query": media`, false},
	{"not GraphQL", `{"query":"mutation { sendMessage(input: "}`, false},
}

func TestMediaMutation(t *testing.T) {
	s := newTestServer(t, Config{})
	if want := map[string]bool{"sendMessage": true, "sendMessages": true}; !maps.Equal(s.mediaFields, want) {
		t.Fatalf("media fields %v, want %v", s.mediaFields, want)
	}
	for _, tt := range mediaMutationTests {
		t.Run(tt.name, func(t *testing.T) {
			if got := s.mediaMutation([]byte(tt.body)); got != tt.want {
				t.Fatalf("mediaMutation = %v, want %v", got, tt.want)
			}
		})
	}
}

var presentTests = []struct {
	name    string
	err     error
	code    string
	message string
	logged  bool
}{
	{"an apiws error", apiws.Errorf(apiws.EFORBIDDEN, "this API key lacks the SEND scope"), "FORBIDDEN", "this API key lacks the SEND scope", false},
	{"a wrapped apiws error", errorsJoin(apiws.Errorf(apiws.EBADREQUEST, "bad cursor")), "BAD_REQUEST", "bad cursor", false},
	{"a rate limit", apiws.RateLimited(1500e6), "RATE_LIMITED", "too many requests; retry later", false},
	{"gqlgen's validation", gqlerror.Errorf("Cannot query field \"x\""), "GRAPHQL_VALIDATION_FAILED", "Cannot query field \"x\"", false},
	{"the token limit", gqlerror.Errorf("exceeded token limit of 5000"), "COMPLEXITY_LIMIT", "exceeded token limit of 5000", false},
	{"the document size", &gqlerror.Error{Message: "the document has more than 1000 fields", Rule: documentSizeRule}, "COMPLEXITY_LIMIT", "the document has more than 1000 fields", false},
	{"anything else", errors.New("pq: relation does not exist"), "INTERNAL", "internal error", true},
}

func errorsJoin(err error) error { return errors.Join(errors.New("context"), err) }

func TestPresentError(t *testing.T) {
	for _, tt := range presentTests {
		t.Run(tt.name, func(t *testing.T) {
			var log bytes.Buffer
			s := New(Config{}, Deps{Schema: generated.NewExecutableSchema(generated.Config{}), Log: slog.New(slog.NewJSONHandler(&log, nil))})
			got := s.presentError(context.Background(), tt.err)
			if got.Extensions["code"] != tt.code || got.Message != tt.message {
				t.Fatalf("presented %q %v, want %q %s", got.Message, got.Extensions, tt.message, tt.code)
			}
			if logged := log.Len() > 0; logged != tt.logged {
				t.Fatalf("logged %v, want %v: %s", logged, tt.logged, log.String())
			}
			if tt.code == "RATE_LIMITED" && got.Extensions["retryAfterMs"] != int64(1500) {
				t.Fatalf("retryAfterMs %v", got.Extensions["retryAfterMs"])
			}
			if b, _ := json.Marshal(got); strings.Contains(string(b), "pq:") {
				t.Fatalf("internals leaked: %s", b)
			}
		})
	}
}
