package dataloaders

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vikstrous/dataloadgen"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/storage/storagetest"
)

func TestByID(t *testing.T) {
	tests := []struct {
		name  string
		items []string // "id:value"
		want  string
	}{
		{"none", nil, "map[]"},
		{"some", []string{"a:1", "b:2"}, "map[a:a:1 b:b:2]"},
		{"a repeated id keeps the last", []string{"a:1", "a:2"}, "map[a:a:2]"},
	}
	for _, tt := range tests {
		got := byID(tt.items, func(s string) string { return s[:1] })
		if fmt.Sprint(got) != tt.want {
			t.Errorf("%s: byID = %v; want %s", tt.name, got, tt.want)
		}
	}
}

func TestEventsByMessage(t *testing.T) {
	ev := func(msg string, seq int64) *apiws.LogEvent { return &apiws.LogEvent{MessageID: msg, Seq: seq} }
	show := func(m map[string][]*apiws.LogEvent) string {
		out := map[string][]int64{}
		for id, evs := range m {
			if evs == nil {
				return id + " has nil, not an empty list"
			}
			out[id] = []int64{}
			for _, e := range evs {
				out[id] = append(out[id], e.Seq)
			}
		}
		return fmt.Sprint(out)
	}
	tests := []struct {
		name string
		ids  []string
		evs  []*apiws.LogEvent
		want string
	}{
		{"nothing asked", nil, nil, "map[]"},
		{"a message without events has an empty list", []string{"m1", "m2"}, []*apiws.LogEvent{ev("m1", 1)}, "map[m1:[1] m2:[]]"},
		{"events keep their order", []string{"m1"}, []*apiws.LogEvent{ev("m1", 3), ev("m1", 1), ev("m1", 2)}, "map[m1:[3 1 2]]"},
		{"interleaved messages", []string{"m1", "m2"}, []*apiws.LogEvent{ev("m1", 1), ev("m2", 2), ev("m1", 3)}, "map[m1:[1 3] m2:[2]]"},
		{"a repeated id", []string{"m1", "m1"}, []*apiws.LogEvent{ev("m1", 1)}, "map[m1:[1]]"},
	}
	for _, tt := range tests {
		if got := show(eventsByMessage(tt.ids, tt.evs)); got != tt.want {
			t.Errorf("%s: %s; want %s", tt.name, got, tt.want)
		}
	}
}

func TestCached(t *testing.T) {
	tests := []struct {
		op   *ast.OperationDefinition
		want bool
	}{
		{nil, true},
		{&ast.OperationDefinition{Operation: ast.Query}, true},
		{&ast.OperationDefinition{Operation: ast.Mutation}, true},
		{&ast.OperationDefinition{Operation: ast.Subscription}, false},
	}
	for _, tt := range tests {
		if got := cached(tt.op); got != tt.want {
			t.Errorf("cached(%v) = %v; want %v", tt.op, got, tt.want)
		}
	}
}

func TestForWithoutMiddleware(t *testing.T) {
	if l := For(context.Background()); l != nil {
		t.Fatalf("For outside an operation = %v; want nil", l)
	}
}

func TestPrimeReadsAPageInOneStatementAndKeepsWhatItFound(t *testing.T) {
	storagetest.Each(t, func(t *testing.T, db *storage.DB) {
		ctx := context.Background()
		accID := storagetest.Account(t, db)
		n := &apiws.Number{ID: apiws.NewID(apiws.PrefixNumber), AccountID: accID, Status: apiws.NumberConnected, CreatedAt: time.Now().UTC()}
		if err := db.CreateNumber(ctx, n); err != nil {
			t.Fatal(err)
		}
		var ids []string
		for range 2 {
			now := time.Now().UTC()
			m := &apiws.Message{ID: apiws.NewID(apiws.PrefixMessage), AccountID: accID, NumberID: n.ID, Direction: apiws.Outbound,
				Peer: "+15550100001", Kind: apiws.KindText, Status: apiws.StatusQueued, QueuedAt: &now}
			if _, err := db.QueueMessage(ctx, m, []byte("sealed")); err != nil {
				t.Fatal(err)
			}
			ids = append(ids, m.ID)
		}
		missing := apiws.NewID(apiws.PrefixMessage)
		statements := func(f func()) uint64 {
			before := db.Statements()
			f()
			return db.Statements() - before
		}

		l := New(db, true)
		if s := statements(func() { l.MessageEvents.PrimeAll(ctx, append(ids, missing)) }); s != 1 {
			t.Fatalf("priming the events of 3 messages took %d statements; want 1", s)
		}
		if s := statements(func() { l.Number.PrimeAll(ctx, []string{n.ID, "num_missing"}) }); s != 1 {
			t.Fatalf("priming 2 numbers took %d statements; want 1", s)
		}
		if s := statements(func() { l.Message.PrimeAll(ctx, ids) }); s != 1 {
			t.Fatalf("priming 2 messages took %d statements; want 1", s)
		}
		s := statements(func() {
			for _, id := range ids {
				evs, err := l.MessageEvents.Load(ctx, id)
				if err != nil || len(evs) != 1 || evs[0].Status != apiws.StatusQueued || evs[0].MessageID != id {
					t.Errorf("events of %s = %v, %v; want its QUEUED", id, evs, err)
				}
				if m, err := l.Message.Load(ctx, id); err != nil || m.ID != id {
					t.Errorf("message %s = %v, %v", id, m, err)
				}
			}
			if evs, err := l.MessageEvents.Load(ctx, missing); err != nil || evs == nil || len(evs) != 0 {
				t.Errorf("events of a missing message = %v, %v; want an empty list", evs, err)
			}
			if got, err := l.Number.Load(ctx, n.ID); err != nil || got.ID != n.ID {
				t.Errorf("number = %v, %v", got, err)
			}
		})
		if s != 0 {
			t.Fatalf("loading what was primed took %d statements", s)
		}
		// What was not found is not kept: its field loads, and reports, on
		// its own, as without priming.
		if s := statements(func() {
			if _, err := l.Number.Load(ctx, "num_missing"); !errors.Is(err, dataloadgen.ErrNotFound) {
				t.Errorf("a missing number: %v; want not found", err)
			}
		}); s != 1 {
			t.Fatalf("loading a number not found took %d statements; want 1", s)
		}

		// A subscription's loaders keep nothing, so they read nothing.
		if s := statements(func() { New(db, false).MessageEvents.PrimeAll(ctx, ids) }); s != 0 {
			t.Fatalf("priming without a cache took %d statements; want 0", s)
		}
	})
}
