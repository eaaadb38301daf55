// Package renderonce renders the events of messageStatus and events
// subscriptions once per process for all the subscribers that select the
// same fields, instead of once per subscriber.
//
// gqlgen executes a subscription's selection for every event and every
// subscriber. For selections of plain values (cursor, type, ids, status,
// time, error), Schema renders each event once per distinct selection and
// hands the same bytes to every subscriber: the account's stream in this
// process delivers the same *apiws.LogEvent to all of them. Everything
// else about the operation is gqlgen's: parsing, validation, limits,
// extensions, the transport. Selections this package does not render (an
// event's message, number or content, @defer) and resolver errors go
// through gqlgen's own execution.
package renderonce

import (
	"bytes"
	"context"
	"io"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/scalars"
)

// Follow starts the subscriptions this package renders: the resolvers of
// messageStatus and events, the latter with the logged events themselves
// (not their GraphQL views).
type Follow struct {
	Status func(ctx context.Context, numberID *string, after *int64) (<-chan *apiws.LogEvent, error)
	Events func(ctx context.Context, after *int64, types []apiws.EventType, numberID *string) (<-chan *apiws.LogEvent, error)
}

// Schema is an executable schema that renders messageStatus and events
// events once for all their subscribers.
type Schema struct {
	graphql.ExecutableSchema
	follow Follow
	cache  *cache
	shapes shapes
}

// New wraps es.
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
	if len(roots) != 1 || len(roots[0].Deferrables) > 0 {
		return s.ExecutableSchema.Exec(ctx)
	}
	root := roots[0]
	var sels selections
	var ok bool
	switch root.Name {
	case "messageStatus":
		sels, ok = s.compileFor(scratch, root, []string{"MessageStatusEvent"})
	case "events":
		sels, ok = s.compileFor(scratch, root, s.eventTypes())
	}
	if !ok {
		return s.ExecutableSchema.Exec(ctx)
	}
	args, ok := arguments(root.ArgumentMap(op.Variables))
	if !ok {
		return s.ExecutableSchema.Exec(ctx) // gqlgen reports the bad argument
	}
	var events <-chan *apiws.LogEvent
	var err error
	if root.Name == "events" {
		events, err = s.follow.Events(ctx, args.after, args.types, args.numberID)
	} else {
		events, err = s.follow.Status(ctx, args.numberID, args.after)
	}
	if err != nil {
		// gqlgen calls the resolver again and reports its error as it
		// reports any other; a refused subscription starts nothing.
		return s.ExecutableSchema.Exec(ctx)
	}
	// What the handler keeps for the subscription's life: no more than it
	// needs of the collected field, the shared selection.
	alias, eventsField := root.Alias, root.Name == "events"
	shape, sels := s.shapes.intern(alias+"\x00"+sels.key(), sels)
	return func(ctx context.Context) *graphql.Response {
		for {
			select {
			case ev, ok := <-events:
				if !ok {
					return nil
				}
				typ := "MessageStatusEvent" // messageStatus shows every event as one
				if eventsField {
					typ = typeName[ev.Type]
				}
				sel, known := sels[typ]
				if !known {
					continue // cannot happen: every type of Event was compiled
				}
				return &graphql.Response{Data: s.cache.get(ev, shape, func() []byte { return render(alias, typ, sel, ev) })}
			case <-ctx.Done():
				return nil
			}
		}
	}
}

// typeName is the GraphQL type of the events of each type (apiws.View).
var typeName = map[apiws.EventType]string{
	apiws.EventTypeMessageStatus:   "MessageStatusEvent",
	apiws.EventTypeMessageReceived: "MessageReceivedEvent",
	apiws.EventTypeNumberStatus:    "NumberStatusEvent",
	apiws.EventTypeMessageEdited:   "MessageEditedEvent",
	apiws.EventTypeMessageRevoked:  "MessageRevokedEvent",
	apiws.EventTypeReaction:        "ReactionEvent",
	apiws.EventTypePollVote:        "PollVoteEvent",
	apiws.EventTypeGroupUpdated:    "GroupUpdatedEvent",
}

// eventTypes returns the schema's types of Event, for all of which an
// events selection must be renderable.
func (s *Schema) eventTypes() []string {
	schema := s.Schema()
	var out []string
	for _, t := range schema.GetPossibleTypes(schema.Types["Event"]) {
		out = append(out, t.Name)
	}
	return out
}

// selections are the compiled selections of a subscription, by the
// GraphQL type of the event they apply to.
type selections map[string]selection

func (ss selections) key() string {
	var b strings.Builder
	for _, t := range slices.Sorted(maps.Keys(ss)) {
		b.WriteString(t)
		b.WriteByte('{')
		b.WriteString(ss[t].key())
		b.WriteByte('}')
	}
	return b.String()
}

// compileFor compiles root's selection for each of types; ok is false when
// one has a field this package does not render, or a type it does not know.
func (s *Schema) compileFor(op *graphql.OperationContext, root graphql.CollectedField, types []string) (selections, bool) {
	sels := selections{}
	for _, t := range types {
		allowed, known := eventFields[t]
		if !known {
			return nil, false
		}
		// Fragments on the type or on an interface it implements apply.
		satisfies := append([]string{t}, s.Schema().Types[t].Interfaces...)
		sel, ok := compile(op, root.Selections, satisfies, allowed)
		if !ok {
			return nil, false
		}
		sels[t] = sel
	}
	return sels, len(sels) > 0
}

// args are the arguments of messageStatus and events.
type args struct {
	numberID *string
	after    *int64
	types    []apiws.EventType
}

// arguments reads the subscription's arguments as gqlgen would; ok is false
// when one is not what the schema allows.
func arguments(m map[string]any) (a args, ok bool) {
	if v, set := m["numberId"]; set && v != nil {
		id, err := graphql.UnmarshalID(v)
		if err != nil {
			return a, false
		}
		a.numberID = &id
	}
	if v, set := m["after"]; set && v != nil {
		c, err := scalars.UnmarshalCursor(v)
		if err != nil {
			return a, false
		}
		a.after = &c
	}
	if v, set := m["types"]; set && v != nil {
		list, isList := v.([]any)
		if !isList {
			return a, false
		}
		for _, t := range list {
			name, isString := t.(string)
			if !isString {
				return a, false
			}
			a.types = append(a.types, apiws.EventType(name))
		}
	}
	return a, true
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

// The fields this package renders, of each event type and of MessageError.
var (
	eventFields = map[string]map[string]bool{
		"MessageStatusEvent": {"__typename": true, "cursor": true, "type": true, "messageId": true, "numberId": true,
			"status": true, "at": true, "error": true},
		"MessageReceivedEvent": {"__typename": true, "cursor": true, "type": true, "numberId": true, "at": true},
		"NumberStatusEvent":    {"__typename": true, "cursor": true, "type": true, "numberId": true, "at": true, "status": true, "reason": true},
		// Their message, content, peers, emoji and options go through
		// gqlgen.
		"MessageEditedEvent":  {"__typename": true, "cursor": true, "type": true, "numberId": true, "at": true},
		"MessageRevokedEvent": {"__typename": true, "cursor": true, "type": true, "numberId": true, "at": true},
		"ReactionEvent":       {"__typename": true, "cursor": true, "type": true, "numberId": true, "at": true},
		"PollVoteEvent":       {"__typename": true, "cursor": true, "type": true, "numberId": true, "at": true},
		"GroupUpdatedEvent":   {"__typename": true, "cursor": true, "type": true, "numberId": true, "at": true, "change": true},
	}
	messageErrorFields = map[string]bool{"__typename": true, "code": true, "message": true, "retryable": true}
)

// compile collects the selection as gqlgen does (fragments, @skip and
// @include with the operation's variables); ok is false when it selects
// something this package does not render.
func compile(op *graphql.OperationContext, set ast.SelectionSet, satisfies []string, allowed map[string]bool) (selection, bool) {
	var sel selection
	for _, f := range graphql.CollectFields(op, set, satisfies) {
		if !allowed[f.Name] || len(f.Deferrables) > 0 {
			return nil, false
		}
		out := field{alias: f.Alias, name: f.Name}
		if f.Name == "error" {
			sub, ok := compile(op, f.Selections, []string{"MessageError"}, messageErrorFields)
			if !ok {
				return nil, false
			}
			out.sub = sub
		}
		sel = append(sel, out)
	}
	return sel, true
}

// render writes {"<alias>": <event>}, ev shown as the GraphQL type typ, the
// way gqlgen's generated code does.
func render(alias, typ string, sel selection, ev *apiws.LogEvent) []byte {
	var b bytes.Buffer
	b.WriteByte('{')
	graphql.MarshalString(alias).MarshalGQL(&b)
	b.WriteByte(':')
	object(&b, sel, func(f field) graphql.Marshaler {
		if typ == "NumberStatusEvent" {
			switch st := (apiws.NumberStatusEvent{LogEvent: ev}); f.name {
			case "status":
				return graphql.MarshalString(string(st.Status()))
			case "reason":
				if st.Reason() == nil {
					return graphql.Null
				}
				return graphql.MarshalString(*st.Reason())
			}
		}
		if typ == "GroupUpdatedEvent" && f.name == "change" {
			return graphql.MarshalString(string(apiws.GroupUpdatedEvent{LogEvent: ev}.Change()))
		}
		switch f.name {
		case "__typename":
			return graphql.MarshalString(typ)
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

// shapes are the compiled selections of subscriptions, by their shape:
// the subscriptions of one selection (a dashboard's, open many times)
// share one copy of it instead of each holding its own for its life.
type shapes struct {
	mu sync.Mutex
	m  map[string]shaped
}

type shaped struct {
	shape string
	sels  selections
}

// maxShapes bounds the shapes kept: past it, a subscription keeps its own.
const maxShapes = 1024

// intern returns the copy of shape and sels that subscriptions share.
func (s *shapes) intern(shape string, sels selections) (string, selections) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if kept, ok := s.m[shape]; ok {
		return kept.shape, kept.sels
	}
	if s.m == nil {
		s.m = map[string]shaped{}
	}
	if len(s.m) < maxShapes {
		s.m[shape] = shaped{shape, sels}
	}
	return shape, sels
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
