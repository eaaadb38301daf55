// Package dataloaders batches the lookups of one GraphQL operation, so a
// page's statement count does not grow with its size.
package dataloaders

import (
	"context"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
)

// Loaders are one operation's batch loaders. Values are shared by every
// field of the operation, never across operations or accounts.
type Loaders struct {
	Number        Loader[*apiws.Number]
	Message       Loader[*apiws.Message]
	MessageEvents Loader[[]*apiws.LogEvent]
	APIKey        Loader[*apiws.APIKey]
	// WebhookEndpoint loads the endpoints of a page of deliveries.
	WebhookEndpoint Loader[*apiws.WebhookEndpoint]
	// Group loads the groups of a page of group messages.
	Group Loader[*apiws.Group]
}

// Loader batches the loads of one kind of value by id, and keeps its
// fetch for PrimeAll.
type Loader[V any] struct {
	*dataloadgen.Loader[string, V]
	fetch func(context.Context, []string) (map[string]V, error)
	cache bool
}

// wait is how long a loader collects keys before it queries: resolvers of
// one list run concurrently and ask within microseconds of each other.
const wait = 500 * time.Microsecond

// New returns fresh loaders over db. Without cache, each load batches but
// reads afresh: a subscription resolves its fields once per event, and each
// event must see the data as it is then.
func New(db *storage.DB, cache bool) *Loaders {
	return &Loaders{
		Number:          newLoader(cache, fetchByID(db.NumbersByIDs, func(n *apiws.Number) string { return n.ID })),
		Message:         newLoader(cache, fetchByID(db.MessagesByIDs, func(m *apiws.Message) string { return m.ID })),
		MessageEvents:   newLoader(cache, eventsFetch(db)),
		APIKey:          newLoader(cache, fetchByID(db.APIKeysByIDs, func(k *apiws.APIKey) string { return k.ID })),
		WebhookEndpoint: newLoader(cache, fetchByID(db.WebhookEndpointsByIDs, func(e *apiws.WebhookEndpoint) string { return e.ID })),
		Group:           newLoader(cache, fetchByID(db.GroupsByIDs, func(g *apiws.Group) string { return g.ID })),
	}
}

func newLoader[V any](cache bool, fetch func(context.Context, []string) (map[string]V, error)) Loader[V] {
	opts := []dataloadgen.Option{dataloadgen.WithWait(wait)}
	if !cache {
		opts = append(opts, dataloadgen.WithoutCache())
	}
	return Loader[V]{Loader: dataloadgen.NewMappedLoader(fetch, opts...), fetch: fetch, cache: cache}
}

// fetchByID is a loader's fetch through read: the rows found, by their id.
func fetchByID[T any](read func(context.Context, []string) ([]T, error), id func(T) string) func(context.Context, []string) (map[string]T, error) {
	return func(ctx context.Context, ids []string) (map[string]T, error) {
		rows, err := read(ctx, ids)
		return byID(rows, id), err
	}
}

func eventsFetch(db *storage.DB) func(context.Context, []string) (map[string][]*apiws.LogEvent, error) {
	return func(ctx context.Context, ids []string) (map[string][]*apiws.LogEvent, error) {
		evs, err := db.EventsOfMessages(ctx, ids)
		return eventsByMessage(ids, evs), err
	}
}

// PrimeAll reads the values of ids in one statement, at once, and keeps
// them for the operation's loads of those keys. It is for a page, which
// knows every key its fields will ask for: a loader would first wait
// (wait) for more keys that are not coming, each loader in turn, the same
// for a page of 5 as of 50. On an error nothing is kept, and each field
// then loads, and reports, on its own; a key not found is not kept either.
// Without a cache (a subscription's loaders) it reads nothing: nothing
// could be kept.
func (l Loader[V]) PrimeAll(ctx context.Context, ids []string) {
	if !l.cache || len(ids) == 0 {
		return
	}
	found, err := l.fetch(ctx, ids)
	if err != nil {
		return
	}
	for id, v := range found {
		l.Prime(id, v)
	}
}

func byID[T any](items []T, id func(T) string) map[string]T {
	m := make(map[string]T, len(items))
	for _, it := range items {
		m[id(it)] = it
	}
	return m
}

// eventsByMessage groups events by message, in the order given; each of
// ids has a list, empty when it has no events.
func eventsByMessage(ids []string, evs []*apiws.LogEvent) map[string][]*apiws.LogEvent {
	out := make(map[string][]*apiws.LogEvent, len(ids))
	for _, id := range ids {
		out[id] = []*apiws.LogEvent{}
	}
	for _, ev := range evs {
		out[ev.MessageID] = append(out[ev.MessageID], ev)
	}
	return out
}

type loadersKey struct{}

// lazy makes an operation's loaders on first use: most operations (a
// send, a status subscription) never load anything.
type lazy struct {
	once    sync.Once
	db      *storage.DB
	cache   bool
	loaders *Loaders
}

// For returns the operation's loaders.
func For(ctx context.Context) *Loaders {
	z, _ := ctx.Value(loadersKey{}).(*lazy)
	if z == nil {
		return nil
	}
	z.once.Do(func() { z.loaders = New(z.db, z.cache) })
	return z.loaders
}

// Middleware gives each GraphQL operation its own loaders: a websocket
// carries many operations, and each must see fresh data.
func Middleware(db *storage.DB) graphql.OperationMiddleware {
	return func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		cache := cached(graphql.GetOperationContext(ctx).Operation)
		return next(context.WithValue(ctx, loadersKey{}, &lazy{db: db, cache: cache}))
	}
}

// cached reports whether an operation's loaders keep what they loaded: all
// but a subscription's, which resolves its fields afresh for each event.
func cached(op *ast.OperationDefinition) bool {
	return op == nil || op.Operation != ast.Subscription
}
