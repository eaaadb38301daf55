// Package events carries apiws.Events between the parts of apiws and, through
// Redis, between instances.
//
// Each Bus keeps one broker subscription per process and fans it out to
// bounded per-subscriber channels. A subscriber that cannot keep up is
// dropped rather than allowed to slow the others; it resumes by re-reading
// the account's event log from its cursor, which is the source of truth.
package events

import (
	"context"
	"errors"
	"time"

	"github.com/apiws/apiws"
)

// Bus carries events between the parts of apiws and across instances.
//
// Events of one topic published one after another by one process reach each
// subscriber in publish order. Delivery is best effort: a subscriber learns
// that it may have missed events either by receiving an apiws.EventResync or
// by its Subscription ending with ErrSlowSubscriber.
type Bus interface {
	// Publish sends ev to every subscriber of topic (usually an account id).
	// It returns within about Options.Timeout even when the broker is down,
	// with an error; the caller carries on, as the database log is the
	// source of truth. ev.Data is copied: the caller may reuse it.
	Publish(ctx context.Context, topic string, ev apiws.Event) error
	// PublishBatch publishes events in order, as Publish does each, in
	// one round trip to the broker.
	PublishBatch(ctx context.Context, evs []Published) error
	// Subscribe follows topic until ctx ends or the Subscription or the Bus
	// is closed: the events of the given kinds (of every kind if none is
	// given), so that a subscriber is neither woken nor dropped for
	// events it would ignore. Each such event published after Subscribe
	// returns is delivered, or followed by an apiws.EventResync, or the
	// Subscription ends with ErrSlowSubscriber; the one exception is a
	// Publish that returned an error in another process, which only that
	// process's caller learns of. Most consumers want Follow, which
	// outlives drops.
	Subscribe(ctx context.Context, topic string, kinds ...apiws.EventKind) (*Subscription, error)
	// Ping reports whether the broker is reachable (for /readyz); the
	// in-process bus always is.
	Ping(ctx context.Context) error
	// Close ends every Subscription (their Err is nil) and releases the
	// broker subscription. Publish and Subscribe then fail with ErrClosed.
	Close() error
}

// Published is an event and the topic it is published on.
type Published struct {
	Topic string
	Event apiws.Event
}

// ErrSlowSubscriber is a Subscription's Err when it was dropped because its
// channel was full: it missed events and must catch up from the log.
var ErrSlowSubscriber = errors.New("events: subscriber too slow, dropped")

// ErrClosed is returned by a Bus that has been closed.
var ErrClosed = errors.New("events: bus closed")

// Defaults for Options.
const (
	DefaultBufferSize = 64
	DefaultTimeout    = 250 * time.Millisecond
)

// Options tune a Bus. The zero value gives the defaults.
type Options struct {
	// BufferSize is how many undelivered events a subscriber may have
	// before it is dropped. Default DefaultBufferSize.
	BufferSize int
	// Timeout bounds each broker call the Bus makes on behalf of a caller
	// (Publish, Ping, SUBSCRIBE and UNSUBSCRIBE) and how long Subscribe
	// waits for the broker to confirm a new subscription. Ignored by the
	// in-process bus. Default DefaultTimeout.
	Timeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.BufferSize <= 0 {
		o.BufferSize = DefaultBufferSize
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return o
}

// Stats is a snapshot of a Bus's local fan-out.
type Stats struct {
	// Topics is the number of topics with a local subscription.
	Topics int
	// Subscribers is the number of local subscriptions still receiving.
	Subscribers int
	// Dropped counts subscriptions dropped as too slow since the Bus began.
	Dropped uint64
	// Resyncs counts apiws.EventResync events handed to subscribers.
	Resyncs uint64
}

var errResyncPublished = errors.New("events: EventResync is made by the bus and cannot be published")

// checkPublish rejects what no Bus may carry.
func checkPublish(ctx context.Context, ev apiws.Event) error {
	if ev.Kind == apiws.EventResync {
		return errResyncPublished
	}
	return ctx.Err()
}
