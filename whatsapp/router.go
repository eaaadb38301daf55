package whatsapp

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
)

// Router hands the Connectors' events to the services that act on them. It
// breaks the cycle between the connectors (which need a handler when they
// are made) and the services (which need the connectors): the Router is
// made first, the connectors report to its Handle, and each service, when
// it is made, tells the Router which events are its own.
//
// No event comes before a service has used a connector, so by then every
// handler is in place; an event with nobody to handle it is logged and
// dropped.
type Router struct {
	log *slog.Logger

	mu       sync.RWMutex
	states   func(*StateChange)
	messages EventHandler
	retained func(ctx context.Context, numberID, waID string) ([]byte, error)
	groups   func(*GroupUpdated)
}

// NewRouter returns a Router with no handlers yet.
func NewRouter(log *slog.Logger) *Router {
	return &Router{log: log}
}

// HandleStates makes fn the handler of StateChanges (the numbers service).
func (r *Router) HandleStates(fn func(*StateChange)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.states = fn
}

// HandleMessages makes fn the handler of every other event: receipts and
// inbound messages (the messaging service).
func (r *Router) HandleMessages(fn EventHandler) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.messages = fn
}

// HandleGroups makes fn the handler of GroupUpdated events (the groups
// service).
func (r *Router) HandleGroups(fn func(*GroupUpdated)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.groups = fn
}

// HandleRetained makes fn the source of the sealed content of messages
// sent, kept to answer WhatsApp's retry receipts (the messaging service).
func (r *Router) HandleRetained(fn func(ctx context.Context, numberID, waID string) ([]byte, error)) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.retained = fn
}

// Retained returns what the messaging service kept of a message sent
// (WhatsApp id waID) to answer a retry receipt; nil when nothing is kept.
func (r *Router) Retained(ctx context.Context, numberID, waID string) ([]byte, error) {
	r.mu.RLock()
	fn := r.retained
	r.mu.RUnlock()
	if fn == nil {
		return nil, nil
	}
	return fn(ctx, numberID, waID)
}

// Handle is the Connectors' EventHandler.
func (r *Router) Handle(e Event) {
	r.mu.RLock()
	states, messages, groups := r.states, r.messages, r.groups
	r.mu.RUnlock()
	if gu, ok := e.(*GroupUpdated); ok {
		if groups != nil {
			groups(gu)
			return
		}
	} else if sc, ok := e.(*StateChange); ok {
		if states != nil {
			states(sc)
			return
		}
	} else if messages != nil {
		messages(e)
		return
	}
	r.log.Warn("connector event with no handler", "number", e.Number(), "event", fmt.Sprintf("%T", e))
}
