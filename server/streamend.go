package server

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/apiws/apiws"
)

// streamEnds lets a subscription's service end it with an error
// (apiws.EndStream): once its channel is closed, the client gets one more
// response carrying the error, then the end of the stream, on every
// transport. A transport may end a subscription with an error too, by
// cancelling its context with an *apiws.Error as the cause. Other
// operations pass through.
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
		if ctx.Err() != nil {
			// The client left (nothing to say), or the transport ended the
			// stream with an apiws error as the cause (an event stream
			// whose credentials were revoked), which the client is told.
			err = apiErrorCause(ctx)
		}
		if err == nil {
			return nil
		}
		return &graphql.Response{Errors: gqlerror.List{s.presentError(ctx, err)}}
	}
}

// apiErrorCause is the apiws error ctx was cancelled with, if it was.
func apiErrorCause(ctx context.Context) error {
	var ae *apiws.Error
	if errors.As(context.Cause(ctx), &ae) {
		return ae
	}
	return nil
}
