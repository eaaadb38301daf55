package events

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/apiws/apiws"
)

// channelPrefix namespaces apiws's Redis channels: topic t is "apiws:t".
const channelPrefix = "apiws:"

// Redis is a Bus over Redis pub/sub, shared by every instance of a
// deployment. Each process holds one PubSub connection, subscribed to the
// channels of the topics it has local subscribers for.
//
// Redis is the only path an event takes, local subscribers included: with
// Redis down, events are not delivered live, and the subscribers are told
// to resync instead:
//   - when the PubSub connection is re-established (go-redis reconnects
//     and resubscribes on its own), every Subscription of every topic
//     receives one apiws.EventResync, after the broker has confirmed the
//     subscription again, so a re-read of the log then leaves no gap;
//   - when a Publish of this process fails, the local subscribers of that
//     topic receive an apiws.EventResync, so that they at least see, from
//     the log, what this process wrote (remote ones get theirs on
//     reconnect);
//   - a Subscribe that could not get the broker's confirmation within
//     Options.Timeout still succeeds, and its Subscription receives an
//     apiws.EventResync once the confirmation arrives.
type Redis struct {
	client redis.UniversalClient
	ps     *redis.PubSub
	hub    *hub
	opts   Options

	// cmdMu orders SUBSCRIBE and UNSUBSCRIBE of a topic as its local
	// subscribers come and go, so the broker ends up in the state of the
	// last change. It is never held by the delivery path.
	cmdMu sync.Mutex

	done      chan struct{} // closed by Close
	wg        sync.WaitGroup
	closeOnce sync.Once
}

var _ Bus = (*Redis)(nil)

// NewRedis returns a Bus over client, which stays owned by the caller: close
// it after the Bus. The Bus connects lazily and keeps reconnecting while
// Redis is away.
func NewRedis(client redis.UniversalClient, opts Options) *Redis {
	opts = opts.withDefaults()
	b := &Redis{
		client: client,
		ps:     client.Subscribe(context.Background()),
		hub:    newHub(opts.BufferSize),
		opts:   opts,
		done:   make(chan struct{}),
	}
	// ChannelWithSubscriptions, unlike a bare Receive loop, also pings an
	// idle connection, so a half-open one is noticed and replaced; its
	// subscription confirmations are what tells us a reconnect happened.
	msgs := b.ps.ChannelWithSubscriptions(redis.WithChannelSize(opts.BufferSize))
	b.wg.Add(1)
	go b.receive(msgs)
	return b
}

// Publish encodes ev once and publishes it on topic's channel, giving up
// after Options.Timeout. On failure the local subscribers of topic receive
// an apiws.EventResync.
func (b *Redis) Publish(ctx context.Context, topic string, ev apiws.Event) error {
	return b.PublishBatch(ctx, []Published{{Topic: topic, Event: ev}})
}

// PublishBatch encodes each event once and publishes them in order in one
// pipeline, giving up after Options.Timeout. On failure the local
// subscribers of their topics receive an apiws.EventResync.
func (b *Redis) PublishBatch(ctx context.Context, evs []Published) error {
	if len(evs) == 0 {
		return nil
	}
	for _, p := range evs {
		if err := checkPublish(ctx, p.Event); err != nil {
			return err
		}
	}
	select {
	case <-b.done:
		return ErrClosed
	default:
	}
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	pipe := b.client.Pipeline()
	for _, p := range evs {
		payload, err := json.Marshal(p.Event)
		if err != nil {
			return fmt.Errorf("events: encode event: %w", err)
		}
		pipe.Publish(ctx, channelPrefix+p.Topic, payload)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		resynced := map[string]bool{}
		for _, p := range evs {
			if !resynced[p.Topic] {
				resynced[p.Topic] = true
				b.hub.resync(p.Topic)
			}
		}
		if len(evs) == 1 {
			return fmt.Errorf("events: publish to %q: %w", evs[0].Topic, err)
		}
		return fmt.Errorf("events: publish %d events: %w", len(evs), err)
	}
	return nil
}

// Subscribe follows topic until ctx ends or the Subscription or the Bus is
// closed. It waits up to Options.Timeout for Redis to confirm a topic new
// to this process; without the confirmation it still succeeds, and the
// Subscription receives an apiws.EventResync once Redis confirms.
func (b *Redis) Subscribe(ctx context.Context, topic string, kinds ...apiws.EventKind) (*Subscription, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	b.cmdMu.Lock()
	s, created, err := b.hub.add(topic, kinds, b.release, false)
	if err != nil {
		b.cmdMu.Unlock()
		return nil, err
	}
	if created {
		// On a write error go-redis may already have reconnected, and its
		// resubscription of the new connection does not include this
		// channel yet: one retry puts it there. If Redis is down, go-redis
		// keeps the channel and subscribes it on reconnecting, and the
		// confirmation then settles this subscription. A duplicate
		// SUBSCRIBE only costs a spurious resync.
		if err := b.command(ctx, b.ps.Subscribe, topic); err != nil {
			_ = b.command(ctx, b.ps.Subscribe, topic)
		}
	}
	b.cmdMu.Unlock()
	s.watch(ctx)

	timer := time.NewTimer(b.opts.Timeout)
	defer timer.Stop()
	select {
	case <-s.topic.ready:
	case <-timer.C:
	case <-ctx.Done():
		s.Close()
		return nil, ctx.Err()
	}
	select {
	case <-b.done:
		s.Close()
		return nil, ErrClosed
	default:
	}
	b.hub.settle(s)
	return s, nil
}

// release gives s's share of the topic back, unsubscribing when it was the
// last one.
func (b *Redis) release(s *Subscription) {
	b.cmdMu.Lock()
	defer b.cmdMu.Unlock()
	if b.hub.remove(s) {
		_ = b.command(context.Background(), b.ps.Unsubscribe, s.topic.name)
	}
}

// unsubscribeOrphan undoes the subscription of a topic whose subscribers all
// left before Redis confirmed it.
func (b *Redis) unsubscribeOrphan(topic string) {
	defer b.wg.Done()
	b.cmdMu.Lock()
	defer b.cmdMu.Unlock()
	if b.hub.takeOrphan(topic) {
		_ = b.command(context.Background(), b.ps.Unsubscribe, topic)
	}
}

// command runs a SUBSCRIBE or UNSUBSCRIBE bounded by Options.Timeout but not
// by ctx's cancellation: a half-sent command would leave the broker out of
// step with the hub.
func (b *Redis) command(ctx context.Context, cmd func(context.Context, ...string) error, topic string) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), b.opts.Timeout)
	defer cancel()
	return cmd(ctx, channelPrefix+topic)
}

// receive demultiplexes the PubSub connection into the hub until the PubSub
// is closed, which is what ends msgs.
func (b *Redis) receive(msgs <-chan any) {
	defer b.wg.Done()
	for m := range msgs {
		switch m := m.(type) {
		case *redis.Message:
			topic, ok := strings.CutPrefix(m.Channel, channelPrefix)
			if !ok {
				continue
			}
			var ev apiws.Event
			if err := json.Unmarshal([]byte(m.Payload), &ev); err != nil || ev.Kind == apiws.EventResync {
				continue // not ours to deliver: no apiws process publishes it
			}
			b.hub.publish(topic, ev)
		case *redis.Subscription:
			if m.Kind != "subscribe" {
				continue
			}
			topic, ok := strings.CutPrefix(m.Channel, channelPrefix)
			if ok && b.hub.confirm(topic) {
				// Unsubscribing talks to Redis; delivery must not wait.
				b.wg.Add(1)
				go b.unsubscribeOrphan(topic)
			}
		}
	}
}

// Ping reports whether Redis answers within Options.Timeout.
func (b *Redis) Ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, b.opts.Timeout)
	defer cancel()
	if err := b.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("events: ping redis: %w", err)
	}
	return nil
}

// Close ends every Subscription, closes the PubSub connection and waits for
// the Bus's goroutines. It does not close the client.
func (b *Redis) Close() error {
	var err error
	b.closeOnce.Do(func() {
		close(b.done)
		b.hub.close()
		err = b.ps.Close()
		b.wg.Wait()
	})
	return err
}

// Stats returns a snapshot of the local fan-out.
func (b *Redis) Stats() Stats { return b.hub.stats() }
