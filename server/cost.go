package server

import (
	"context"
	"encoding/json"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/apiws/apiws"
)

// Costs of the fields of the schema, for the complexity limit. A field
// costs 1 plus what its selection costs; a list costs its selection once
// per item it may hold:
//   - a field with a `first` argument (a connection) as many times as
//     `first` asks (its default when not given, at most apiws.MaxPageSize),
//   - a list inside a connection type (its edges) once, since the
//     connection has counted its items already,
//   - any other list (a message's events, an account's keys) defaultListItems
//     times.
//
// So the complexity of an operation bounds the fields it may resolve, and
// nested pagination costs what it may return.
const defaultListItems = 10

// costModel gives every field of the schema its cost without a function
// per field: the schema's own complexity functions where it has some, the
// rules above for the rest. Introspection fields cost what gqlgen's
// default gives them (__schema nothing), so tools can read the schema.
type costModel struct {
	graphql.ExecutableSchema
}

// Complexity implements graphql.ExecutableSchema.
func (m costModel) Complexity(ctx context.Context, typeName, field string, childComplexity int, args map[string]any) (int, bool) {
	if c, ok := m.ExecutableSchema.Complexity(ctx, typeName, field, childComplexity, args); ok {
		return c, true
	}
	if strings.HasPrefix(typeName, "__") {
		return 0, false
	}
	def := m.Schema().Types[typeName]
	if def == nil {
		return 0, false
	}
	f := def.Fields.ForName(field)
	if f == nil {
		return 0, false
	}
	return 1 + safeMul(childComplexity, itemsOf(typeName, f, args)), true
}

// itemsOf is how many items a field's value may hold, 1 for a single
// value.
func itemsOf(typeName string, f *ast.FieldDefinition, args map[string]any) int {
	if f.Arguments.ForName("first") != nil {
		n, ok := intArg(args["first"])
		if !ok {
			return 20 // first: null gets the resolvers' default
		}
		return min(max(n, 0), apiws.MaxPageSize)
	}
	if f.Type.Elem == nil {
		return 1
	}
	if strings.HasSuffix(typeName, "Connection") {
		return 1
	}
	return defaultListItems
}

// intArg reads an Int argument as gqlgen hands it over: from a literal,
// from a variable (JSON), or absent.
func intArg(v any) (int, bool) {
	switch n := v.(type) {
	case int:
		return n, true
	case int32:
		return int(n), true
	case int64:
		return int(min(max(n, -1<<31), 1<<31-1)), true
	case float64:
		return int(min(max(n, -1<<31), 1<<31-1)), true
	case json.Number:
		i, err := n.Int64()
		if err != nil {
			return 0, false
		}
		return intArg(i)
	}
	return 0, false
}

// safeMul multiplies costs without overflowing.
func safeMul(a, b int) int {
	const ceiling = 1 << 40
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > ceiling/b {
		return ceiling
	}
	return a * b
}
