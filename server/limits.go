package server

import (
	"context"

	"github.com/99designs/gqlgen/complexity"
	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/apiws/apiws"
)

// Limits on one operation, checked before it runs.
const (
	maxDepth   = 15
	maxAliases = 100
)

// limits refuses operations that are too deep, too complex or carry too
// many aliases, with COMPLEXITY_LIMIT, before any resolver runs.
type limits struct {
	limit int
	es    graphql.ExecutableSchema
}

var (
	_ graphql.HandlerExtension        = (*limits)(nil)
	_ graphql.OperationContextMutator = (*limits)(nil)
)

func (l *limits) ExtensionName() string { return "Limits" }

func (l *limits) Validate(es graphql.ExecutableSchema) error {
	l.es = es
	return nil
}

func (l *limits) MutateOperationContext(ctx context.Context, op *graphql.OperationContext) *gqlerror.Error {
	refuse := func(format string, args ...any) *gqlerror.Error {
		err := gqlerror.Errorf(format, args...)
		err.Extensions = map[string]any{"code": string(apiws.ECOMPLEXITY)}
		return err
	}
	aliases := 0
	for _, frag := range op.Doc.Fragments {
		aliases += countAliases(frag.SelectionSet)
	}
	aliases += countAliases(op.Operation.SelectionSet)
	if aliases > maxAliases {
		return refuse("the document has %d aliases; at most %d are allowed", aliases, maxAliases)
	}
	if d := depth(op.Operation.SelectionSet, 0); d > maxDepth {
		return refuse("the operation is %d levels deep; at most %d are allowed", d, maxDepth)
	}
	if c := complexity.Calculate(ctx, costModel{l.es}, op.Operation, op.Variables); c > l.limit {
		return refuse("the operation's complexity is %d; at most %d is allowed", c, l.limit)
	}
	return nil
}

// depth follows fragments too; a fragment cycle is refused by validation
// before this runs, and the level cap stops a walk regardless.
func depth(set ast.SelectionSet, level int) int {
	if level > maxDepth {
		return level
	}
	deepest := level
	for _, sel := range set {
		var d int
		switch s := sel.(type) {
		case *ast.Field:
			if len(s.SelectionSet) == 0 {
				d = level + 1
			} else {
				d = depth(s.SelectionSet, level+1)
			}
		case *ast.InlineFragment:
			d = depth(s.SelectionSet, level)
		case *ast.FragmentSpread:
			if s.Definition != nil {
				d = depth(s.Definition.SelectionSet, level)
			}
		}
		deepest = max(deepest, d)
	}
	return deepest
}

func countAliases(set ast.SelectionSet) int {
	n := 0
	for _, sel := range set {
		switch s := sel.(type) {
		case *ast.Field:
			if s.Alias != "" && s.Alias != s.Name {
				n++
			}
			n += countAliases(s.SelectionSet)
		case *ast.InlineFragment:
			n += countAliases(s.SelectionSet)
		}
	}
	return n
}
