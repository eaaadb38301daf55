package whatsapp

import (
	"io"
	"log/slog"
	"testing"
)

func TestRouterHandsEachEventToItsService(t *testing.T) {
	r := NewRouter(slog.New(slog.NewTextHandler(io.Discard, nil)))
	// Before any service registered, events are dropped, not panicking.
	r.Handle(&StateChange{NumberID: "num_1"})
	r.Handle(&Receipt{NumberID: "num_1"})

	var states, others []Event
	r.HandleStates(func(sc *StateChange) { states = append(states, sc) })
	r.HandleMessages(func(e Event) { others = append(others, e) })
	r.Handle(&StateChange{NumberID: "num_2"})
	r.Handle(&Receipt{NumberID: "num_2"})
	r.Handle(&Inbound{NumberID: "num_2"})
	if len(states) != 1 || states[0].Number() != "num_2" {
		t.Errorf("state changes handled: %v, want the one of num_2", states)
	}
	if len(others) != 2 {
		t.Errorf("receipts and inbound messages handled: %d, want 2", len(others))
	}
	if _, ok := others[0].(*Receipt); !ok {
		t.Errorf("first other event is %T, want *Receipt", others[0])
	}
}
