package server

import (
	"context"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/apiws/apiws"
)

// streamEnds lets a subscription's service end it with an error
// (apiws.EndStream): once its channel is closed, the client gets one more
// response carrying the error, then the end of the stream, on every
// transport. Other operations pass through.
func (s *Server) streamEnds(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	if op.Operation == nil || op.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	ctx, ended := apiws.WithStreamEnd(ctx)
	responses := next(ctx)
	over := false
	return func(ctx context.Context) *graphql.Response {
		if over {
			return nil
		}
		resp := responses(ctx)
		if resp != nil {
			return resp
		}
		over = true
		err := ended()
		if err == nil || ctx.Err() != nil {
			return nil
		}
		return &graphql.Response{Errors: gqlerror.List{s.presentError(ctx, err)}}
	}
}
