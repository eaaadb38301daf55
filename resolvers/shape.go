package resolvers

import (
	"context"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/model"
)

// payload returns the shaper of a mutation's payload from a service's
// answer (v, err): input problems become its userErrors (with a zero
// result), anything else is the error, and a success carries v. build makes
// the payload of one result. Use it as payload(build)(service call).
func payload[T, P any](build func(T, []*apiws.Error) *P) func(v T, err error) (*P, error) {
	return func(v T, err error) (*P, error) {
		ues, err := userErrors(err)
		if err != nil || len(ues) > 0 {
			var zero T
			return build(zero, ues), err
		}
		return build(v, ues), nil
	}
}

func accountPayload(acc *apiws.Account, ues []*apiws.Error) *model.AccountPayload {
	return &model.AccountPayload{Account: acc, UserErrors: ues}
}

func apiKeyPayload(k *apiws.APIKey, ues []*apiws.Error) *model.APIKeyPayload {
	return &model.APIKeyPayload{APIKey: k, UserErrors: ues}
}

func numberPayload(n *apiws.Number, ues []*apiws.Error) *model.NumberPayload {
	return &model.NumberPayload{Number: n, UserErrors: ues}
}

func privacyRequestPayload(pr *apiws.PrivacyRequest, ues []*apiws.Error) *model.PrivacyRequestPayload {
	return &model.PrivacyRequestPayload{PrivacyRequest: pr, UserErrors: ues}
}

func debugCapturePayload(dc *apiws.DebugCapture, ues []*apiws.Error) *model.DebugCapturePayload {
	return &model.DebugCapturePayload{DebugCapture: dc, UserErrors: ues}
}

// connection shapes one page of a list as a GraphQL connection: each item
// an edge whose cursor is the item's id. edge makes the edge of one item;
// conn makes the connection of the edges.
func connection[T, E, C any](l apiws.List[T], id func(T) string, edge func(cursor string, node T) E, conn func(edges []E, pi *model.PageInfo, total int) C) C {
	edges := make([]E, len(l.Items))
	end := ""
	for i, it := range l.Items {
		end = id(it)
		edges[i] = edge(end, it)
	}
	return conn(edges, pageInfo(l.More, end), l.Total)
}

// nodeLoader loads the object with an id of one type for Query.node.
type nodeLoader func(r *Resolver, ctx context.Context, id string) (model.Node, error)

// nodeLoaders maps each id prefix to the loader of its type. A loader's
// service answers NOT_FOUND for another account's object, like a missing
// one.
var nodeLoaders = map[string]nodeLoader{
	apiws.PrefixAccount: func(r *Resolver, ctx context.Context, id string) (model.Node, error) {
		if err := accountCaller(ctx, id, apiws.ScopeRead); err != nil {
			return notFoundAsNull(err)
		}
		return asNode(r.svc.Accounts.Account(ctx, id))
	},
	apiws.PrefixAPIKey: ofAccount(func(r *Resolver) func(context.Context, string, string) (*apiws.APIKey, error) {
		return r.svc.Keys.APIKey
	}),
	apiws.PrefixNumber: ofAccount(func(r *Resolver) func(context.Context, string, string) (*apiws.Number, error) {
		return r.svc.Numbers.Number
	}),
	apiws.PrefixMessage: func(r *Resolver, ctx context.Context, id string) (model.Node, error) {
		return asNode(r.svc.Messages.Message(ctx, id))
	},
	apiws.PrefixDebugCapture: ofAccount(func(r *Resolver) func(context.Context, string, string) (*apiws.DebugCapture, error) {
		return r.svc.Messages.DebugCapture
	}),
	apiws.PrefixPrivacyRequest: ofAccount(func(r *Resolver) func(context.Context, string, string) (*apiws.PrivacyRequest, error) {
		return r.svc.Privacy.Request
	}),
	apiws.PrefixNotice: ofAccount(func(r *Resolver) func(context.Context, string, string) (*apiws.Notice, error) {
		return r.svc.Privacy.Notice
	}),
	apiws.PrefixAPICall: ofAccount(func(r *Resolver) func(context.Context, string, string) (*apiws.APICall, error) {
		return r.svc.Usage.APICall
	}),
}

// ofAccount is the loader of a type that a service reads as one of the
// calling account's objects.
func ofAccount[T any](get func(*Resolver) func(ctx context.Context, accountID, id string) (*T, error)) nodeLoader {
	return func(r *Resolver, ctx context.Context, id string) (model.Node, error) {
		c, err := apiws.RequireAccount(ctx, apiws.ScopeRead)
		if err != nil {
			return nil, err
		}
		return asNode(get(r)(ctx, c.AccountID, id))
	}
}

// asNode turns a service's answer into a node: no typed nil inside the
// interface, and NOT_FOUND answers null (Query.node's contract).
func asNode[T any](v *T, err error) (model.Node, error) {
	if err != nil {
		return notFoundAsNull(err)
	}
	if v == nil {
		return nil, nil
	}
	return v, nil
}
