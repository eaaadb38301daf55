package renderonce_test

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/executor"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/graph/generated"
	"github.com/apiws/apiws/renderonce"
	"github.com/apiws/apiws/resolvers"
)

// stubSubscriptions answers messageStatus and events with fixed events;
// every other subscription is left unimplemented.
type stubSubscriptions struct {
	generated.SubscriptionResolver
	events []*apiws.LogEvent
	err    error
	calls  int
}

func (s *stubSubscriptions) MessageStatus(ctx context.Context, numberID *string, after *int64) (<-chan *apiws.LogEvent, error) {
	s.calls++
	if s.err != nil {
		return nil, s.err
	}
	ch := make(chan *apiws.LogEvent, len(s.events))
	for _, ev := range s.events {
		ch <- ev
	}
	close(ch)
	return ch, nil
}

// FollowEvents is events as renderonce follows it.
func (s *stubSubscriptions) FollowEvents(ctx context.Context, after *int64, types []apiws.EventType, numberID *string) (<-chan *apiws.LogEvent, error) {
	return s.MessageStatus(ctx, numberID, after)
}

// Events is events as gqlgen resolves it.
func (s *stubSubscriptions) Events(ctx context.Context, after *int64, types []apiws.EventType, numberID *string) (<-chan apiws.EventView, error) {
	evs, err := s.FollowEvents(ctx, after, types, numberID)
	if err != nil {
		return nil, err
	}
	out := make(chan apiws.EventView, len(s.events))
	for ev := range evs {
		out <- apiws.View(ev)
	}
	close(out)
	return out, nil
}

// follow is what renderonce follows: the stub.
func (s *stubSubscriptions) follow() renderonce.Follow {
	return renderonce.Follow{Status: s.MessageStatus, Events: s.FollowEvents}
}

type root struct {
	*resolvers.Resolver
	sub *stubSubscriptions
}

func (r root) Subscription() generated.SubscriptionResolver { return r.sub }

func (r root) MessageStatusEvent() generated.MessageStatusEventResolver { return stubEvents{} }

// stubEvents resolves an event's message without a database.
type stubEvents struct{}

func (stubEvents) Message(ctx context.Context, ev *apiws.LogEvent) (*apiws.Message, error) {
	return &apiws.Message{ID: ev.MessageID, NumberID: ev.NumberID, Status: ev.Status}, nil
}

var events = []*apiws.LogEvent{
	{AccountID: "acc_1", Seq: 41, Type: apiws.EventTypeMessageStatus, MessageID: "msg_1", NumberID: "num_1", Status: apiws.StatusSent,
		At: time.Date(2026, 11, 25, 23, 59, 58, 123456789, time.UTC)},
	{AccountID: "acc_1", Seq: 42, Type: apiws.EventTypeMessageStatus, MessageID: "msg_2", NumberID: "num_2", Status: apiws.StatusFailed,
		Error: &apiws.MessageError{Code: "NOT_ON_WHATSAPP", Message: `"+1 555" is "not" on WhatsApp`, Retryable: false},
		At:    time.Date(2026, 11, 26, 0, 0, 1, 0, time.UTC)},
}

// mixed are events of every type the events subscription renders.
var mixed = append(slices.Clone(events),
	&apiws.LogEvent{AccountID: "acc_1", Seq: 43, Type: apiws.EventTypeMessageReceived, MessageID: "msg_3", NumberID: "num_1",
		Status: apiws.StatusReceived, At: time.Date(2026, 11, 26, 0, 0, 2, 0, time.UTC)},
	&apiws.LogEvent{AccountID: "acc_1", Seq: 44, Type: apiws.EventTypeNumberStatus, NumberID: "num_1", At: time.Date(2026, 11, 26, 0, 0, 3, 0, time.UTC),
		Detail: &apiws.EventDetail{NumberStatus: apiws.NumberDisconnected, Reason: ptr(`keep-alive "timed" out`), Number: &apiws.Number{ID: "num_1"}}},
	&apiws.LogEvent{AccountID: "acc_1", Seq: 45, Type: apiws.EventTypeNumberStatus, NumberID: "num_2", At: time.Date(2026, 11, 26, 0, 0, 4, 0, time.UTC),
		Detail: &apiws.EventDetail{NumberStatus: apiws.NumberConnected, Number: &apiws.Number{ID: "num_2"}}},
	&apiws.LogEvent{AccountID: "acc_1", Seq: 46, Type: apiws.EventTypeMessageEdited, MessageID: "msg_3", NumberID: "num_1",
		At: time.Date(2026, 11, 26, 0, 0, 5, 0, time.UTC)},
	&apiws.LogEvent{AccountID: "acc_1", Seq: 47, Type: apiws.EventTypeMessageRevoked, MessageID: "msg_3", NumberID: "num_1",
		At: time.Date(2026, 11, 26, 0, 0, 6, 0, time.UTC)},
	&apiws.LogEvent{AccountID: "acc_1", Seq: 48, Type: apiws.EventTypeReaction, MessageID: "msg_1", NumberID: "num_1",
		At: time.Date(2026, 11, 26, 0, 0, 7, 0, time.UTC), Detail: &apiws.EventDetail{Peer: &apiws.Peer{Phone: ptr("+15550100004")}}},
	&apiws.LogEvent{AccountID: "acc_1", Seq: 49, Type: apiws.EventTypePollVote, MessageID: "msg_1", NumberID: "num_2",
		At: time.Date(2026, 11, 26, 0, 0, 8, 0, time.UTC), Detail: &apiws.EventDetail{Peer: &apiws.Peer{LID: ptr("100015550100005")}}},
)

func ptr[T any](v T) *T { return &v }

// run executes one operation and returns the data of each response.
func run(t *testing.T, es graphql.ExecutableSchema, query string, vars map[string]any) ([]string, []string) {
	t.Helper()
	data, _, errs := runBytes(t, es, query, vars)
	return data, errs
}

// runBytes also returns where each response's data lies in memory (gqlgen
// reuses one buffer for the responses of an operation, so the content is
// copied as it comes).
func runBytes(t *testing.T, es graphql.ExecutableSchema, query string, vars map[string]any) ([]string, []*byte, []string) {
	t.Helper()
	exec := executor.New(es)
	ctx := graphql.StartOperationTrace(context.Background())
	op, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query, Variables: vars})
	if errs != nil {
		t.Fatalf("%s: %v", query, errs)
	}
	responses, ctx := exec.DispatchOperation(ctx, op)
	var data []string
	var where []*byte
	var errors []string
	for range 10 {
		resp := responses(ctx)
		if resp == nil {
			break
		}
		data = append(data, string(resp.Data))
		if len(resp.Data) > 0 {
			where = append(where, &resp.Data[0])
		}
		for _, e := range resp.Errors {
			errors = append(errors, e.Error())
		}
	}
	return data, where, errors
}

// Whatever the selection (aliases, fragments, directives, duplicates,
// __typename, a null or a set error), the shared rendering is byte for byte
// what gqlgen writes.
func TestRenderingIsGqlgens(t *testing.T) {
	cases := []struct {
		query string
		vars  map[string]any
		evs   []*apiws.LogEvent // events when nil
	}{
		{`subscription { events { __typename cursor type at numberId ... on MessageStatusEvent { messageId status error { code } } ... on NumberStatusEvent { s: status reason } } }`, nil, mixed},
		{`subscription($t: [EventType!]) { e: events(after: "1", types: $t, numberId: "num_1") { ... on Event { cursor t: type } ...N ... on MessageReceivedEvent { __typename at } } }
		  fragment N on NumberStatusEvent { reason numberId }`, map[string]any{"t": []any{"NUMBER_STATUS", "MESSAGE_RECEIVED"}}, mixed},
		{`subscription { events(types: [REACTION, POLL_VOTE, MESSAGE_EDITED, MESSAGE_REVOKED]) { __typename ... on ReactionEvent { cursor at }
		  ... on PollVoteEvent { numberId t: type } ... on MessageEditedEvent { cursor } ... on MessageRevokedEvent { at } } }`, nil, mixed},
		{`subscription { messageStatus { ... on Event { cursor type } status } }`, nil, nil},
		{`subscription { messageStatus { cursor messageId numberId status at error { code message retryable } } }`, nil, nil},
		{`subscription S($n: ID, $a: Cursor) { s: messageStatus(numberId: $n, after: $a) { c: cursor __typename st: status e: error { __typename c: code } } }`,
			map[string]any{"n": "num_1", "a": "3"}, nil},
		{`subscription($x: Boolean!) { messageStatus(after: "0") { ...F at @include(if: $x) numberId @skip(if: $x) } }
		  fragment F on MessageStatusEvent { cursor status ... on MessageStatusEvent { messageId } }`, map[string]any{"x": true}, nil},
		{`subscription($x: Boolean!) { messageStatus { ...F at @include(if: $x) numberId @skip(if: $x) } }
		  fragment F on MessageStatusEvent { cursor status }`, map[string]any{"x": false}, nil},
		{`subscription { messageStatus { cursor cursor status error { code } error { message } } }`, nil, nil},
		{`subscription { messageStatus { __typename } }`, nil, nil},
	}
	for _, c := range cases {
		if c.evs == nil {
			c.evs = events
		}
		plain := generated.NewExecutableSchema(generated.Config{Resolvers: root{sub: &stubSubscriptions{events: c.evs}}})
		want, wantErrs := run(t, plain, c.query, c.vars)
		stub := &stubSubscriptions{events: c.evs}
		wrapped := renderonce.New(generated.NewExecutableSchema(generated.Config{Resolvers: root{sub: stub}}), stub.follow())
		got, gotErrs := run(t, wrapped, c.query, c.vars)
		if len(want) != len(c.evs) || len(wantErrs) > 0 {
			t.Fatalf("gqlgen gave %q, errors %v", want, wantErrs)
		}
		if len(got) != len(want) || len(gotErrs) > 0 {
			t.Fatalf("%s:\nshared gave %q, errors %v\ngqlgen gave %q", c.query, got, gotErrs, want)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Errorf("%s:\nshared: %s\ngqlgen: %s", c.query, got[i], want[i])
			}
		}
		if stub.calls != 1 {
			t.Errorf("%s: the resolver was called %d times", c.query, stub.calls)
		}
		// Rendered by this package, not by gqlgen: a second subscriber
		// gets the same bytes.
		_, again, _ := runBytes(t, wrapped, c.query, c.vars)
		_, first, _ := runBytes(t, wrapped, c.query, c.vars)
		if len(again) != len(c.evs) || again[0] != first[0] {
			t.Errorf("%s: not rendered once for all subscribers", c.query)
		}
	}
}

// What this package does not render (an event's message, its content)
// goes through gqlgen.
func TestUnrenderedSelectionsGoThroughGqlgen(t *testing.T) {
	for _, c := range []struct {
		query string
		evs   []*apiws.LogEvent
	}{
		{`subscription { messageStatus { cursor message { id } } }`, events},
		{`subscription { events { cursor ... on MessageReceivedEvent { content { text } } } }`, mixed},
	} {
		plain := generated.NewExecutableSchema(generated.Config{Resolvers: root{sub: &stubSubscriptions{events: c.evs}}})
		want, wantErrs := run(t, plain, c.query, nil)
		stub := &stubSubscriptions{events: c.evs}
		wrapped := renderonce.New(generated.NewExecutableSchema(generated.Config{Resolvers: root{sub: stub}}), stub.follow())
		got, gotErrs := run(t, wrapped, c.query, nil)
		if len(want) != len(c.evs) || len(wantErrs) > 0 || len(got) != len(want) || len(gotErrs) > 0 {
			t.Fatalf("shared: %q %v; gqlgen: %q %v", got, gotErrs, want, wantErrs)
		}
		for i := range want {
			if got[i] != want[i] {
				t.Fatalf("shared: %s; gqlgen: %s", got[i], want[i])
			}
		}
		_, again, _ := runBytes(t, wrapped, c.query, nil)
		_, first, _ := runBytes(t, wrapped, c.query, nil)
		if again[0] == first[0] {
			t.Fatalf("%s was rendered once for all subscribers", c.query)
		}
	}
}

// A refused subscription is gqlgen's to report, with its usual error.
func TestResolverErrorGoesThroughGqlgen(t *testing.T) {
	query := `subscription { messageStatus { cursor } }`
	refused := errors.New("no such number")
	plain := generated.NewExecutableSchema(generated.Config{Resolvers: root{sub: &stubSubscriptions{err: refused}}})
	want, wantErrs := run(t, plain, query, nil)
	stub := &stubSubscriptions{err: refused}
	wrapped := renderonce.New(generated.NewExecutableSchema(generated.Config{Resolvers: root{sub: stub}}), stub.follow())
	got, gotErrs := run(t, wrapped, query, nil)
	if len(wantErrs) == 0 || len(gotErrs) != len(wantErrs) || gotErrs[0] != wantErrs[0] || len(got) != len(want) {
		t.Fatalf("shared: %q %v; gqlgen: %q %v", got, gotErrs, want, wantErrs)
	}
}

// Subscribers with the same selection get the very same bytes.
func TestSubscribersShareTheBytes(t *testing.T) {
	query := `subscription { messageStatus { cursor status } }`
	stub := &stubSubscriptions{events: events[:1]}
	wrapped := renderonce.New(generated.NewExecutableSchema(generated.Config{Resolvers: root{sub: stub}}), stub.follow())
	var first []byte
	for i := range 3 {
		exec := executor.New(wrapped)
		ctx := graphql.StartOperationTrace(context.Background())
		op, errs := exec.CreateOperationContext(ctx, &graphql.RawParams{Query: query})
		if errs != nil {
			t.Fatal(errs)
		}
		responses, ctx := exec.DispatchOperation(ctx, op)
		resp := responses(ctx)
		if resp == nil || len(resp.Data) == 0 {
			t.Fatal("no response")
		}
		if i == 0 {
			first = resp.Data
		} else if &resp.Data[0] != &first[0] {
			t.Fatalf("subscriber %d got a rendering of its own", i)
		}
	}
}
