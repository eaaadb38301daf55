package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/graph/model"
)

// authPayload shapes the AuthPayload of a new session (signUp, logIn,
// changePassword) and carries the session's caller in it, for
// asPayloadSession.
func (r *Resolver) authPayload(ctx context.Context, acc *apiws.Account, token string, err error) (*model.AuthPayload, error) {
	ues, err := userErrors(err)
	if err != nil || len(ues) > 0 {
		return &model.AuthPayload{UserErrors: ues}, err
	}
	sess, err := r.svc.Keys.Authenticate(ctx, token)
	if err != nil {
		return nil, err
	}
	req := apiws.CallerFrom(ctx)
	sess.IP, sess.UserAgent = req.IP, req.UserAgent
	return &model.AuthPayload{Token: &token, Account: acc, UserErrors: ues, Session: sess}, nil
}

// Directives implements the schema's directives.
func Directives() generated.DirectiveRoot {
	return generated.DirectiveRoot{AsPayloadSession: asPayloadSession}
}

// asPayloadSession is @asPayloadSession, on AuthPayload.account: the
// account, and everything below it, resolves as the payload's new session
// sees it, not with the request's credentials (signUp and logIn come with
// none; changePassword's own session has just ended). A directive rather
// than a field middleware: a middleware would run around every field of
// every operation for this one field's sake (see BENCHMARKS.md, "Page of
// 50").
func asPayloadSession(ctx context.Context, obj any, next graphql.Resolver) (any, error) {
	if p, ok := obj.(*model.AuthPayload); ok && p.Session != nil {
		ctx = apiws.WithCaller(ctx, p.Session)
	}
	return next(ctx)
}
