package dataloaders

import (
	"context"
	"fmt"
	"testing"

	"github.com/vektah/gqlparser/v2/ast"

	"github.com/apiws/apiws"
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
