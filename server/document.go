package server

import (
	"fmt"
	"strings"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
	"github.com/vektah/gqlparser/v2/validator/core"
	"github.com/vektah/gqlparser/v2/validator/rules"

	"github.com/apiws/apiws"
)

// Limits on a document, checked while it is parsed and validated, before
// any limit on the operation: parsing is linear in the tokens, and one
// validation rule (overlapping fields) is quadratic in the fields of a
// selection that share a name, so both are bounded before they run.
const (
	// maxTokens bounds the tokens of a document; apiws's largest queries
	// (the dashboard's, GraphiQL's introspection) have a few hundred.
	maxTokens = 5000
	// maxFields bounds the fields written in a document (not the fields
	// it resolves, which the complexity limit bounds).
	maxFields = 1000
)

// Names of the validation rules apiws adds.
const (
	documentSizeRule    = "DocumentSize"
	noIntrospectionRule = "NoIntrospection"
	overlapRule         = "OverlappingFieldsCanBeMerged"
)

// validationRules are gqlgen's default rules with the overlapping-fields
// rule run only on documents of at most maxFields fields, and, in
// production, introspection refused.
func validationRules(production bool) func() *rules.Rules {
	return func() *rules.Rules {
		r := rules.NewDefaultRules()
		r.RemoveRule(overlapRule)
		r.AddRule(documentSizeRule, documentSize)
		if production {
			r.AddRule(noIntrospectionRule, noIntrospection)
		}
		return r
	}
}

// documentSize refuses a document of more than maxFields fields, of more
// than maxFragments fragments, or with a response name written more than
// maxSameName times in one selection, and runs the overlapping-fields rule
// on the others: its work grows with the square of the fields that share
// a name in a selection, and of the fragments spread in one.
func documentSize(observers *core.Events, addError core.AddErrFunc) {
	overlap := &core.Events{}
	rules.OverlappingFieldsCanBeMergedRule.RuleFunc(overlap, func(options ...core.ErrorOption) {
		addError(append(options, func(err *gqlerror.Error) { err.Rule = overlapRule })...)
	})
	checked := false
	observers.OnOperation(func(w *core.Walker, _ *ast.OperationDefinition) {
		if checked {
			return
		}
		checked = true
		if problem := sizeProblem(w.Document); problem != "" {
			addError(core.Message("%s", problem))
			return
		}
		core.Walk(w.Schema, w.Document, overlap)
	})
}

// More limits on a document's shape (see documentSize).
const (
	maxFragments = 100
	maxSameName  = 20
)

// sizeProblem says what makes a document too large, "" when nothing does.
func sizeProblem(doc *ast.QueryDocument) string {
	if len(doc.Fragments) > maxFragments {
		return fmt.Sprintf("the document has %d fragments; at most %d are allowed", len(doc.Fragments), maxFragments)
	}
	fields, sameName := 0, 0
	var walk func(set ast.SelectionSet, names map[string]int)
	walk = func(set ast.SelectionSet, names map[string]int) {
		for _, sel := range set {
			if fields > maxFields || sameName > maxSameName {
				return
			}
			switch s := sel.(type) {
			case *ast.Field:
				fields++
				name := s.Alias
				if name == "" {
					name = s.Name
				}
				names[name]++
				sameName = max(sameName, names[name])
				walk(s.SelectionSet, map[string]int{})
			case *ast.InlineFragment:
				walk(s.SelectionSet, names) // its fields are the selection's
			}
		}
	}
	for _, op := range doc.Operations {
		walk(op.SelectionSet, map[string]int{})
	}
	for _, f := range doc.Fragments {
		walk(f.SelectionSet, map[string]int{})
	}
	switch {
	case fields > maxFields:
		return fmt.Sprintf("the document has more than %d fields", maxFields)
	case sameName > maxSameName:
		return fmt.Sprintf("a selection repeats one name more than %d times", maxSameName)
	}
	return ""
}

// noIntrospection refuses __schema and __type (production turns
// introspection off): a client's mistake, answered as a validation error
// rather than an internal one. __typename stays allowed.
func noIntrospection(observers *core.Events, addError core.AddErrFunc) {
	observers.OnField(func(_ *core.Walker, f *ast.Field) {
		if f.Name == "__schema" || f.Name == "__type" {
			addError(core.Message("introspection is disabled"), core.At(f.Position))
		}
	})
}

// limitCode is the code of gqlgen's own errors that are apiws's limits:
// the parser's token limit and the document size rule.
func limitCode(err *gqlerror.Error) (apiws.ErrorCode, bool) {
	if err.Rule == documentSizeRule || strings.HasPrefix(err.Message, "exceeded token limit") {
		return apiws.ECOMPLEXITY, true
	}
	return "", false
}
