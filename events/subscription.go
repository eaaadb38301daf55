package events

import (
	"context"
	"slices"
	"sync"

	"github.com/apiws/apiws"
)

// Subscription is one local subscriber's view of a topic. Its channel is
// bounded; if it fills up the Subscription is dropped with ErrSlowSubscriber.
//
// The events received are shared with the topic's other local subscribers:
// a subscriber must not modify an Event's Data.
type Subscription struct {
	c     chan apiws.Event
	hub   *hub
	topic *topic
	// release gives the Subscription's share of the broker subscription
	// back; it runs once, on Close or when the subscription's ctx ends.
	release func(*Subscription)
	once    sync.Once
	// kinds are the event kinds delivered; all of them if empty.
	kinds []apiws.EventKind

	// Guarded by hub.mu.
	stop    func() bool // unregisters the ctx watch
	err     error
	pending bool // Subscribe returned before the broker confirmed: a resync is owed
}

// C returns the channel of events. It is closed when the Subscription ends:
// after Close, after the Subscribe ctx ends, when the Bus closes, or when the
// subscriber is dropped as too slow. Err then says which.
func (s *Subscription) C() <-chan apiws.Event { return s.c }

// Err returns why C was closed: nil after Close, the end of the Subscribe
// ctx or of the Bus, ErrSlowSubscriber if the subscriber was dropped. It is
// nil while C is open.
func (s *Subscription) Err() error {
	s.hub.mu.Lock()
	defer s.hub.mu.Unlock()
	return s.err
}

// Close ends the Subscription and, if it was the topic's last local one,
// the broker subscription. It is safe to call more than once, and must be
// called (or the Subscribe ctx ended) even after a drop, since a dropped
// Subscription still holds its share of the broker subscription.
func (s *Subscription) Close() {
	s.hub.mu.Lock()
	stop := s.stop
	s.hub.mu.Unlock()
	if stop != nil {
		stop()
	}
	s.end()
}

// wants reports whether events of kind are delivered to s.
func (s *Subscription) wants(kind apiws.EventKind) bool {
	return len(s.kinds) == 0 || slices.Contains(s.kinds, kind)
}

func (s *Subscription) end() {
	s.once.Do(func() { s.release(s) })
}

// watch ends s when ctx ends, without a goroutine waiting meanwhile.
func (s *Subscription) watch(ctx context.Context) {
	stop := context.AfterFunc(ctx, s.end)
	s.hub.mu.Lock()
	s.stop = stop
	s.hub.mu.Unlock()
}
