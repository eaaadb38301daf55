package resolvers

import (
	"context"

	"github.com/99designs/gqlgen/graphql"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

// authPayload shapes the AuthPayload of a new session (signUp, logIn,
// changePassword) and carries the session's caller in it, for
// AuthPayloadSessions.
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

// AuthPayloadSessions is a field middleware: an AuthPayload's account, and
// everything below it, resolves as the payload's new session sees it, not
// with the request's credentials (signUp and logIn come with none;
// changePassword's own session has just ended).
func AuthPayloadSessions(ctx context.Context, next graphql.Resolver) (any, error) {
	fc := graphql.GetFieldContext(ctx)
	if fc == nil || fc.Object != "AuthPayload" || fc.Field.Name != "account" || fc.Parent == nil {
		return next(ctx)
	}
	if p, ok := fc.Parent.Result.(*model.AuthPayload); ok && p.Session != nil {
		ctx = apiws.WithCaller(ctx, p.Session)
	}
	return next(ctx)
}
