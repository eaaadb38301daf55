package server

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/99designs/gqlgen/complexity"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"
	"github.com/vektah/gqlparser/v2/validator"

	"github.com/apiws/apiws/graph/generated"
)

var costTests = []struct {
	name  string
	query string
	vars  map[string]any
	cost  int
}{
	{"scalars", `{ privacyPolicy { version } }`, nil, 2},
	{"a connection costs its items times first", `{ viewer { numbers(first: 100) { edges { node { id } } } } }`, nil, 1 + 1 + 100*(1+1+1)},
	{"first defaults to the schema's default", `{ viewer { numbers { edges { node { id } } } } }`, nil, 1 + 1 + 20*(1+1+1)},
	{"first from a variable", `query($n: Int) { viewer { numbers(first: $n) { edges { node { id } } } } }`, map[string]any{"n": json.Number("7")}, 1 + 1 + 7*3},
	{"first null takes the resolvers' default", `query($n: Int) { viewer { numbers(first: $n) { edges { node { id } } } } }`, map[string]any{"n": nil}, 1 + 1 + 20*3},
	{"first over the page size costs a full page", `{ viewer { numbers(first: 1000) { edges { node { id } } } } }`, nil, 1 + 1 + 100*3},
	{"a negative first costs nothing more", `{ viewer { numbers(first: -5) { edges { node { id } } } } }`, nil, 2},
	{"nested connections multiply", `{ viewer { numbers(first: 100) { edges { node { messages(first: 100) { edges { node { id } } } } } } } }`, nil,
		1 + 1 + 100*(1+1+(1+100*3))},
	{"a plain list costs its items times defaultListItems", `{ viewer { apiKeys { id name } } }`, nil, 1 + 1 + defaultListItems*2},
	{"introspection of the schema is free", `{ __schema { types { fields { name } } } }`, nil, 0},
}

func TestCostModel(t *testing.T) {
	es := generated.NewExecutableSchema(generated.Config{})
	for _, tt := range costTests {
		t.Run(tt.name, func(t *testing.T) {
			doc, err := parser.ParseQuery(&ast.Source{Input: tt.query})
			if err != nil {
				t.Fatal(err)
			}
			if errs := validator.ValidateWithRules(es.Schema(), doc, nil); len(errs) > 0 {
				t.Fatal(errs)
			}
			op := doc.Operations[0]
			vars, gerr := validator.VariableValues(es.Schema(), op, tt.vars)
			if gerr != nil {
				t.Fatal(gerr)
			}
			if got := complexity.Calculate(context.Background(), costModel{es}, op, vars); got != tt.cost {
				t.Fatalf("cost %d, want %d", got, tt.cost)
			}
		})
	}
}
