package events

import (
	"sync"
	"sync/atomic"

	"github.com/apiws/apiws"
)

// hub is the local half of a Bus: the topics this process follows and their
// subscribers. Delivery never blocks, so one slow subscriber cannot hold up
// the broker connection or the other subscribers.
type hub struct {
	size    int
	dropped atomic.Uint64
	resyncs atomic.Uint64

	mu     sync.Mutex
	closed bool
	topics map[string]*topic
}

// topic is one followed topic.
type topic struct {
	name string
	subs map[*Subscription]struct{} // those still receiving
	// refs counts Subscriptions not yet released, dropped ones included:
	// dropping happens on the delivery path, which must not wait for the
	// broker, so the broker subscription is only given back on release.
	refs int
	// confirmed is set once the broker has acknowledged the subscription;
	// ready is closed at the same time.
	confirmed bool
	ready     chan struct{}
}

func newHub(size int) *hub {
	return &hub{size: size, topics: make(map[string]*topic)}
}

// add registers a new Subscription to name. created reports that the topic
// was not followed yet, so the broker must be asked to subscribe;
// confirmed marks a topic that needs no broker confirmation.
func (h *hub) add(name string, kinds []apiws.EventKind, release func(*Subscription), confirmed bool) (s *Subscription, created bool, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, false, ErrClosed
	}
	t := h.topics[name]
	if t == nil {
		t = &topic{name: name, subs: make(map[*Subscription]struct{}), ready: make(chan struct{})}
		if confirmed {
			t.confirmed = true
			close(t.ready)
		}
		h.topics[name] = t
		created = true
	}
	s = &Subscription{c: make(chan apiws.Event, h.size), hub: h, topic: t, release: release, kinds: kinds}
	t.subs[s] = struct{}{}
	t.refs++
	return s, created, nil
}

// remove releases s. It reports whether the topic's last Subscription is
// gone and the broker subscription must be undone now. A topic whose
// subscription the broker has not confirmed yet is kept until it is, so
// that no UNSUBSCRIBE overtakes a SUBSCRIBE still in flight and no stale
// confirmation is mistaken for a newer one.
func (h *hub) remove(s *Subscription) (unsubscribe bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := s.topic
	if h.topics[t.name] != t {
		return false // the Bus was closed
	}
	if _, ok := t.subs[s]; ok {
		delete(t.subs, s)
		close(s.c)
	}
	t.refs--
	if t.refs > 0 || !t.confirmed {
		return false
	}
	delete(h.topics, t.name)
	return true
}

// publish hands ev to the local subscribers of name.
func (h *hub) publish(name string, ev apiws.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.topics[name]; t != nil {
		for s := range t.subs {
			if s.wants(ev.Kind) {
				h.sendLocked(t, s, ev)
			}
		}
	}
}

// resync tells every local subscriber of name that it may have missed events.
func (h *hub) resync(name string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if t := h.topics[name]; t != nil {
		for s := range t.subs {
			h.resyncLocked(t, s)
		}
	}
}

// confirm records the broker's acknowledgement of a subscription to name.
// The first one makes the topic ready and settles the resyncs owed to
// subscribers that stopped waiting for it; any later one means the broker
// connection was lost and re-established, so everyone resyncs. orphan
// reports a topic nobody follows any more, to be unsubscribed now.
func (h *hub) confirm(name string) (orphan bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[name]
	if t == nil {
		return false
	}
	if !t.confirmed {
		t.confirmed = true
		close(t.ready)
		for s := range t.subs {
			if s.pending {
				h.resyncLocked(t, s)
			}
		}
		return t.refs == 0
	}
	for s := range t.subs {
		h.resyncLocked(t, s)
	}
	return false
}

// settle is called when Subscribe stops waiting for the broker: if the topic
// is still unconfirmed, s is owed a resync once it is.
func (h *hub) settle(s *Subscription) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !s.topic.confirmed {
		s.pending = true
	}
}

// takeOrphan removes name if it is confirmed and has no Subscription left,
// reporting whether the broker subscription must be undone.
func (h *hub) takeOrphan(name string) bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	t := h.topics[name]
	if t == nil || t.refs > 0 || !t.confirmed {
		return false
	}
	delete(h.topics, name)
	return true
}

func (h *hub) resyncLocked(t *topic, s *Subscription) {
	s.pending = false
	if h.sendLocked(t, s, apiws.Event{Kind: apiws.EventResync}) {
		h.resyncs.Add(1)
	}
}

// sendLocked delivers ev to s or, if s's channel is full, drops s.
func (h *hub) sendLocked(t *topic, s *Subscription, ev apiws.Event) bool {
	select {
	case s.c <- ev:
		return true
	default:
		delete(t.subs, s)
		s.err = ErrSlowSubscriber
		close(s.c)
		h.dropped.Add(1)
		return false
	}
}

// close ends every Subscription and forgets every topic.
func (h *hub) close() {
	h.mu.Lock()
	var stops []func() bool
	if !h.closed {
		h.closed = true
		for _, t := range h.topics {
			for s := range t.subs {
				close(s.c)
			}
			for s := range t.subs {
				if s.stop != nil {
					stops = append(stops, s.stop)
				}
			}
			if !t.confirmed {
				close(t.ready) // wake Subscribe calls still waiting
			}
		}
		clear(h.topics)
	}
	h.mu.Unlock()
	for _, stop := range stops {
		stop()
	}
}

func (h *hub) stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	st := Stats{Topics: len(h.topics), Dropped: h.dropped.Load(), Resyncs: h.resyncs.Load()}
	for _, t := range h.topics {
		st.Subscribers += len(t.subs)
	}
	return st
}
