// Package resolvers translates GraphQL into calls of the domain services:
// it parses input, calls one service method and shapes the payload. Rules
// live in the services.
package resolvers

import (
	"context"
	"errors"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

// Services are the domain services the resolvers call.
type Services struct {
	Accounts apiws.AccountService
	Keys     apiws.KeyService
	Usage    apiws.UsageService
}

// Resolver is the root resolver.
type Resolver struct {
	svc Services
}

// New returns the root resolver over the services.
func New(svc Services) *Resolver { return &Resolver{svc: svc} }

// userErrors splits err into the userErrors of a payload (input problems)
// and an error for everything else. A nil err gives an empty list: the
// schema's userErrors is never null.
func userErrors(err error) ([]*apiws.Error, error) {
	if err == nil {
		return []*apiws.Error{}, nil
	}
	var es apiws.Errors
	if errors.As(err, &es) {
		return es, nil
	}
	var e *apiws.Error
	if errors.As(err, &e) && e.Code.IsUserError() {
		return []*apiws.Error{e}, nil
	}
	return nil, err
}

// accountCaller returns the caller acting for the account with id: the
// account itself (with scope) or an operator. Another account's object is
// reported as not found, exactly like a missing one.
func accountCaller(ctx context.Context, accountID string, scope apiws.Scope) error {
	c := apiws.CallerFrom(ctx)
	if c.Kind == apiws.CredentialOperator {
		return nil
	}
	if _, err := apiws.RequireAccount(ctx, scope); err != nil {
		return err
	}
	if c.AccountID != accountID {
		return apiws.Errorf(apiws.ENOTFOUND, "not found")
	}
	return nil
}

// pageArgs turns first/after arguments into a page, capped at
// apiws.MaxPageSize.
func pageArgs(first *int, after *string) (apiws.Page, error) {
	p := apiws.Page{First: 20}
	if first != nil {
		if *first < 0 {
			return p, apiws.Errorf(apiws.EINVALID, "first must not be negative")
		}
		p.First = min(*first, apiws.MaxPageSize)
	}
	if after != nil {
		p.After = *after
	}
	return p, nil
}

func pageInfo(hasNext bool, endCursor string) *model.PageInfo {
	pi := &model.PageInfo{HasNextPage: hasNext}
	if endCursor != "" {
		pi.EndCursor = &endCursor
	}
	return pi
}

// notFoundAsNull answers null for a missing object (Query.node's contract)
// and passes other errors on.
func notFoundAsNull(err error) (model.Node, error) {
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, nil
	}
	return nil, err
}
