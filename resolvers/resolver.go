// Package resolvers translates GraphQL into calls of the domain services:
// it parses input, calls one service method and shapes the payload. Rules
// live in the services.
package resolvers

import (
	"context"
	"errors"

	"github.com/99designs/gqlgen/graphql"
	"github.com/apiws/apiws"
	"github.com/apiws/apiws/dataloaders"
	"github.com/apiws/apiws/graph/model"
	"github.com/vikstrous/dataloadgen"
)

// Services are the domain services the resolvers call.
type Services struct {
	Accounts apiws.AccountService
	Keys     apiws.KeyService
	Numbers  apiws.NumberService
	Messages apiws.MessageService
	Usage    apiws.UsageService
	Privacy  apiws.PrivacyService
	Webhooks apiws.WebhookService
	Billing  apiws.BillingService
	Groups   apiws.GroupService
	Support  apiws.SupportService
}

// Resolver is the root resolver.
type Resolver struct {
	svc   Services
	nodes map[string]nodeLoader
}

// New returns the root resolver over the services.
func New(svc Services) *Resolver { return &Resolver{svc: svc, nodes: nodeLoaders(svc)} }

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

// pageArgs turns first/after arguments into a page, capped at
// apiws.MaxPageSize. after must be the id of an item of the connection
// (prefix is its type): anything else is BAD_REQUEST.
func pageArgs(first *int, after *string, prefix string) (apiws.Page, error) {
	p := apiws.Page{First: 20}
	if first != nil {
		if *first < 0 {
			return p, apiws.Errorf(apiws.EBADREQUEST, "first must not be negative")
		}
		p.First = min(*first, apiws.MaxPageSize)
	}
	if after != nil {
		if !apiws.ValidID(*after, prefix) {
			return p, apiws.Errorf(apiws.EBADREQUEST, "after must be the cursor of an edge of this connection")
		}
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

// messagePage pages an account's messages (of one number when
// numberID is set), newest first.
func (r *Resolver) messagePage(ctx context.Context, accountID, numberID string, first *int, after *string, filter *apiws.MessageFilter) (*model.MessageConnection, error) {
	p, err := pageArgs(first, after, apiws.PrefixMessage)
	if err != nil {
		return nil, err
	}
	f := deref(filter)
	f.NumberID = numberID
	p.NoTotal = !wants(ctx, "totalCount")
	l, err := r.svc.Messages.Messages(ctx, accountID, f, p)
	if err != nil {
		return nil, err
	}
	prefetch(ctx, l.Items)
	return connection(l, messageEdge, messageConnection), nil
}

// loadNumber resolves a number through the operation's loader.
func (r *Resolver) loadNumber(ctx context.Context, id string) (*apiws.Number, error) {
	return dataloaders.For(ctx).Number.Load(ctx, id)
}

// prefetch loads, in one statement each, what the page's selection asks
// of its messages, so the count of statements does not depend on how many
// resolvers reach their loader within its batching window; and at once,
// without that window's wait (dataloaders.Loader.PrimeAll).
func prefetch(ctx context.Context, ms []*apiws.Message) {
	if len(ms) == 0 {
		return
	}
	l := dataloaders.For(ctx)
	if wants(ctx, "edges", "node", "events") {
		l.MessageEvents.PrimeAll(ctx, distinct(ms, func(m *apiws.Message) string { return m.ID }))
	}
	if wants(ctx, "edges", "node", "number") {
		l.Number.PrimeAll(ctx, distinct(ms, func(m *apiws.Message) string { return m.NumberID }))
	}
	if wants(ctx, "edges", "node", "replyTo") {
		l.Message.PrimeAll(ctx, distinct(ms, func(m *apiws.Message) string { return deref(m.ReplyTo) }))
	}
	if wants(ctx, "edges", "node", "group") {
		l.Group.PrimeAll(ctx, distinct(ms, func(m *apiws.Message) string { return deref(m.GroupID) }))
	}
}

// distinct is what key gives of xs, each once, in order; empty answers
// left out.
func distinct[T any](xs []T, key func(T) string) []string {
	seen := map[string]bool{}
	var ids []string
	for _, x := range xs {
		if k := key(x); k != "" && !seen[k] {
			seen[k] = true
			ids = append(ids, k)
		}
	}
	return ids
}

// prefetchAPIKeys reads the keys of a page of API calls in one statement,
// when the selection asks for them (see prefetch).
func prefetchAPIKeys(ctx context.Context, calls []*apiws.APICall) {
	if len(calls) == 0 || !wants(ctx, "edges", "node", "apiKey") {
		return
	}
	dataloaders.For(ctx).APIKey.PrimeAll(ctx, distinct(calls, func(c *apiws.APICall) string { return deref(c.APIKeyID) }))
}

// notFoundAsNil turns a loader's "no such key" into no error: the field
// answers null.
func notFoundAsNil(err error) error {
	if errors.Is(err, dataloadgen.ErrNotFound) {
		return nil
	}
	return err
}

// wants reports whether the current field's selection reaches path.
func wants(ctx context.Context, path ...string) bool {
	op := graphql.GetOperationContext(ctx)
	fields := graphql.CollectFieldsCtx(ctx, nil)
	for i, name := range path {
		var next *graphql.CollectedField
		for j := range fields {
			if fields[j].Name == name {
				next = &fields[j]
				break
			}
		}
		if next == nil {
			return false
		}
		if i < len(path)-1 {
			fields = graphql.CollectFields(op, next.Selections, nil)
		}
	}
	return true
}

// followed checks a subscription's caller and its optional number filter:
// another account's number is not found, like a missing one.
func (r *Resolver) followed(ctx context.Context, numberID *string) (*apiws.Caller, string, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
	if err != nil {
		return nil, "", err
	}
	if numberID == nil {
		return c, "", nil
	}
	if _, err := r.svc.Numbers.Number(ctx, *numberID); err != nil {
		return nil, "", err
	}
	return c, *numberID, nil
}

// FollowEvents is the events subscription with the logged events
// themselves, for package renderonce; Subscription.events shows each as
// its GraphQL type.
func (r *Resolver) FollowEvents(ctx context.Context, after *int64, types []apiws.EventType, numberID *string) (<-chan *apiws.LogEvent, error) {
	c, number, err := r.followed(ctx, numberID)
	if err != nil {
		return nil, err
	}
	return r.svc.Messages.FollowEvents(ctx, c.AccountID, types, number, after)
}

// mapStream hands out f of each item of in until in closes or ctx ends.
func mapStream[T, U any](ctx context.Context, in <-chan T, f func(T) U) <-chan U {
	out := make(chan U)
	go func() {
		defer close(out)
		for v := range in {
			select {
			case out <- f(v):
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}
