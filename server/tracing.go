package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
)

// tracing makes OpenTelemetry spans of GraphQL: one per operation, and
// under it one per field with a resolver of its own (the fields that read
// the database, through a service or a dataloader; plain struct fields
// cost nothing and get none).
type tracing struct {
	tracer trace.Tracer
}

func newTracing(tp trace.TracerProvider) tracing {
	return tracing{tracer: tp.Tracer("github.com/apiws/apiws/server")}
}

// aroundOperations spans an operation until its response. A subscription's
// span covers its start only: it may then run for hours.
func (t tracing) aroundOperations(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	name, typ := operationOf(op)
	spanName := "graphql." + typ
	attrs := []attribute.KeyValue{attribute.String("graphql.operation.type", typ)}
	if name != nil {
		spanName += " " + *name
		attrs = append(attrs, attribute.String("graphql.operation.name", *name))
	}
	ctx, span := t.tracer.Start(ctx, spanName, trace.WithSpanKind(trace.SpanKindServer), trace.WithAttributes(attrs...))
	responses := next(ctx)
	if typ == string(ast.Subscription) {
		span.End()
		return responses
	}
	ended := false
	return func(ctx context.Context) *graphql.Response {
		resp := responses(ctx)
		if !ended {
			ended = true
			if resp != nil && len(resp.Errors) > 0 {
				code, _ := resp.Errors[0].Extensions["code"].(string)
				span.SetStatus(codes.Error, code)
			}
			span.End()
		}
		return resp
	}
}

// aroundFields spans each field that has a resolver.
func (t tracing) aroundFields(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || !fc.IsResolver {
		return next(ctx)
	}
	ctx, span := t.tracer.Start(ctx, fc.Object+"."+fc.Field.Name, trace.WithAttributes(
		attribute.String("graphql.field.path", fc.Path().String())))
	defer span.End()
	res, err := next(ctx)
	if err != nil {
		span.SetStatus(codes.Error, err.Error())
	}
	return res, err
}
