package events

import (
	"bytes"
	"context"

	"github.com/apiws/apiws"
)

// Memory is the in-process Bus of a single-instance deployment: events reach
// the subscribers of this process only, and nothing is ever lost to a broker.
type Memory struct {
	hub *hub
}

var _ Bus = (*Memory)(nil)

// NewMemory returns an in-process Bus. Options.Timeout is ignored.
func NewMemory(opts Options) *Memory {
	opts = opts.withDefaults()
	return &Memory{hub: newHub(opts.BufferSize)}
}

// Publish hands ev to the current subscribers of topic; it never blocks.
func (m *Memory) Publish(ctx context.Context, topic string, ev apiws.Event) error {
	if err := checkPublish(ctx, ev); err != nil {
		return err
	}
	m.hub.mu.Lock()
	closed := m.hub.closed
	m.hub.mu.Unlock()
	if closed {
		return ErrClosed
	}
	// One copy per publish, as the Redis bus's encoding gives: the
	// publisher may reuse its buffer, the subscribers share this one.
	ev.Data = bytes.Clone(ev.Data)
	m.hub.publish(topic, ev)
	return nil
}

// PublishBatch publishes each event in order.
func (m *Memory) PublishBatch(ctx context.Context, evs []Published) error {
	for _, p := range evs {
		if err := checkPublish(ctx, p.Event); err != nil {
			return err
		}
	}
	for _, p := range evs {
		if err := m.Publish(ctx, p.Topic, p.Event); err != nil {
			return err
		}
	}
	return nil
}

// Subscribe follows topic until ctx ends or the Subscription or the Bus is
// closed. Every event published after it returns is delivered.
func (m *Memory) Subscribe(ctx context.Context, topic string, kinds ...apiws.EventKind) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	s, _, err := m.hub.add(topic, kinds, func(s *Subscription) { m.hub.remove(s) }, true)
	if err != nil {
		return nil, err
	}
	s.watch(ctx)
	return s, nil
}

// Ping always succeeds: there is no broker.
func (m *Memory) Ping(ctx context.Context) error { return nil }

// Close ends every Subscription.
func (m *Memory) Close() error {
	m.hub.close()
	return nil
}

// Stats returns a snapshot of the local fan-out.
func (m *Memory) Stats() Stats { return m.hub.stats() }
