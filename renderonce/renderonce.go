// Package renderonce renders the events of messageStatus subscriptions once
// per process for all the subscribers that select the same fields, instead
// of once per subscriber.
//
// gqlgen executes a subscription's selection for every event and every
// subscriber. For messageStatus, whose events are plain values (cursor,
// ids, status, time, error), Schema renders each event once per distinct
// selection and hands the same bytes to every subscriber: the account's
// stream in this process delivers the same *apiws.LogEvent to all of
// them. Everything else about the operation is gqlgen's: parsing,
// validation, limits, extensions, the transport. Selections this package
// does not render (the message field, @defer) and resolver errors go
// through gqlgen's own execution.
package renderonce

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/scalars"
)

// Follow starts a messageStatus subscription: the resolver.
type Follow func(ctx context.Context, numberID *string, after *int64) (<-chan *apiws.LogEvent, error)

// Schema is an executable schema that renders messageStatus events once
// for all their subscribers.
type Schema struct {
	graphql.ExecutableSchema
	follow Follow
	cache  *cache
}

// New wraps es; follow is the messageStatus resolver.
func New(es graphql.ExecutableSchema, follow Follow) *Schema {
	return &Schema{ExecutableSchema: es, follow: follow, cache: newCache(4096)}
}

// Exec runs the operation: messageStatus subscriptions it can render
// itself, everything else through the wrapped schema.
func (s *Schema) Exec(ctx context.Context) graphql.ResponseHandler {
	op := graphql.GetOperationContext(ctx)
	if op.Operation == nil || op.Operation.Operation != ast.Subscription {
		return s.ExecutableSchema.Exec(ctx)
	}
	// Fields are collected on a scratch context: gqlgen would keep what it
	// collects in the operation's cache for the subscription's whole life,
	// while the compiled selection is all this needs.
	scratch := &graphql.OperationContext{Doc: op.Doc, Variables: op.Variables, Operation: op.Operation}
	roots := graphql.CollectFields(scratch, op.Operation.SelectionSet, []string{"Subscription"})
	if len(roots) != 1 || roots[0].Name != "messageStatus" {
		return s.ExecutableSchema.Exec(ctx)
	}
	root := roots[0]
	sel, ok := compile(scratch, root.Selections, "MessageStatusEvent", eventFields)
	if !ok || len(root.Deferrables) > 0 {
		return s.ExecutableSchema.Exec(ctx)
	}
	numberID, after, ok := arguments(root.ArgumentMap(op.Variables))
	if !ok {
		return s.ExecutableSchema.Exec(ctx) // gqlgen reports the bad argument
	}
	events, err := s.follow(ctx, numberID, after)
	if err != nil {
		// gqlgen calls the resolver again and reports its error as it
		// reports any other; a refused subscription starts nothing.
		return s.ExecutableSchema.Exec(ctx)
	}
	alias := root.Alias
	shape := alias + "\x00" + sel.key()
	return func(ctx context.Context) *graphql.Response {
		select {
		case ev, ok := <-events:
			if !ok {
				return nil
			}
			return &graphql.Response{Data: s.cache.get(ev, shape, func() []byte { return render(alias, sel, ev) })}
		case <-ctx.Done():
			return nil
		}
	}
}

// arguments reads messageStatus's arguments as gqlgen would; ok is false
// when one is not what the schema allows.
func arguments(args map[string]any) (numberID *string, after *int64, ok bool) {
	if v, set := args["numberId"]; set && v != nil {
		id, err := graphql.UnmarshalID(v)
		if err != nil {
			return nil, nil, false
		}
		numberID = &id
	}
	if v, set := args["after"]; set && v != nil {
		c, err := scalars.UnmarshalCursor(v)
		if err != nil {
			return nil, nil, false
		}
		after = &c
	}
	return numberID, after, true
}

// field is one selected field, with what is selected under it.
type field struct {
	alias, name string
	sub         selection
}

type selection []field

// key identifies a selection: subscribers with equal keys get the same
// bytes.
func (s selection) key() string {
	var b strings.Builder
	for _, f := range s {
		b.WriteString(f.alias)
		b.WriteByte(':')
		b.WriteString(f.name)
		if f.sub != nil {
			b.WriteByte('{')
			b.WriteString(f.sub.key())
			b.WriteByte('}')
		}
		b.WriteByte(',')
	}
	return b.String()
}

// The fields this package renders, of MessageStatusEvent and MessageError.
var (
	eventFields = map[string]bool{"__typename": true, "cursor": true, "type": true, "messageId": true, "numberId": true,
		"status": true, "at": true, "error": true}
	messageErrorFields = map[string]bool{"__typename": true, "code": true, "message": true, "retryable": true}
)

// compile collects the selection as gqlgen does (fragments, @skip and
// @include with the operation's variables); ok is false when it selects
// something this package does not render.
func compile(op *graphql.OperationContext, set ast.SelectionSet, typeName string, allowed map[string]bool) (selection, bool) {
	var sel selection
	for _, f := range graphql.CollectFields(op, set, []string{typeName}) {
		if !allowed[f.Name] || len(f.Deferrables) > 0 {
			return nil, false
		}
		out := field{alias: f.Alias, name: f.Name}
		if f.Name == "error" {
			sub, ok := compile(op, f.Selections, "MessageError", messageErrorFields)
			if !ok {
				return nil, false
			}
			out.sub = sub
		}
		sel = append(sel, out)
	}
	return sel, true
}

// render writes {"<alias>": <event>} the way gqlgen's generated code does.
func render(alias string, sel selection, ev *apiws.LogEvent) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	graphql.MarshalString(alias).MarshalGQL(&b)
	b.WriteByte(':')
	object(&b, sel, func(f field) graphql.Marshaler {
		switch f.name {
		case "__typename":
			return graphql.MarshalString("MessageStatusEvent")
		case "cursor":
			return scalars.MarshalCursor(ev.Seq)
		case "type":
			return graphql.MarshalString(string(ev.Type))
		case "messageId":
			return graphql.MarshalID(ev.MessageID)
		case "numberId":
			return graphql.MarshalID(ev.NumberID)
		case "status":
			return graphql.MarshalString(string(ev.Status))
		case "at":
			return scalars.MarshalTime(ev.At)
		case "error":
			if ev.Error == nil {
				return graphql.Null
			}
			return graphql.WriterFunc(func(w io.Writer) { messageError(w, f.sub, ev.Error) })
		}
		return graphql.Null
	})
	b.WriteByte('}')
	return b.Bytes()
}

func messageError(w io.Writer, sel selection, e *apiws.MessageError) {
	object(w, sel, func(f field) graphql.Marshaler {
		switch f.name {
		case "__typename":
			return graphql.MarshalString("MessageError")
		case "code":
			return graphql.MarshalString(e.Code)
		case "message":
			return graphql.MarshalString(e.Message)
		case "retryable":
			return graphql.MarshalBoolean(e.Retryable)
		}
		return graphql.Null
	})
}

// object writes {"alias":value,...} in selection order.
func object(w io.Writer, sel selection, value func(field) graphql.Marshaler) {
	_, _ = w.Write([]byte{'{'})
	for i, f := range sel {
		if i > 0 {
			_, _ = w.Write([]byte{','})
		}
		graphql.MarshalString(f.alias).MarshalGQL(w)
		_, _ = w.Write([]byte{':'})
		value(f).MarshalGQL(w)
	}
	_, _ = w.Write([]byte{'}'})
}

// cache keeps the rendering of recent events, per selection: bounded, the
// oldest entries go first.
type cache struct {
	mu    sync.Mutex
	m     map[cacheKey][]byte
	order []cacheKey // a ring of the keys, oldest at next
	next  int
}

type cacheKey struct {
	ev    *apiws.LogEvent
	shape string
}

func newCache(size int) *cache {
	return &cache{m: make(map[cacheKey][]byte, size), order: make([]cacheKey, size)}
}

// get returns the bytes of ev under shape, rendering them on the first
// request. The bytes are shared: nobody may change them.
func (c *cache) get(ev *apiws.LogEvent, shape string, render func() []byte) []byte {
	k := cacheKey{ev, shape}
	c.mu.Lock()
	b, ok := c.m[k]
	c.mu.Unlock()
	if ok {
		return b
	}
	b = render()
	c.mu.Lock()
	defer c.mu.Unlock()
	if prev, ok := c.m[k]; ok {
		return prev // rendered meanwhile by another subscriber
	}
	if old := c.order[c.next]; old.ev != nil {
		delete(c.m, old)
	}
	c.order[c.next] = k
	c.next = (c.next + 1) % len(c.order)
	c.m[k] = b
	return b
}
