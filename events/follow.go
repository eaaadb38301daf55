package events

import (
	"context"
	"errors"

	"github.com/apiws/apiws"
)

// Follower follows a topic for good: when the Bus drops it for falling
// behind, it subscribes again and hands out an apiws.EventResync, so that
// its consumer reads its source of truth again (or, if it has none, ends
// with an error its own client sees). It never ends silently: it ends when
// its ctx does, or with an error.
//
// Every consumer of the Bus follows it through a Follower, with Next or,
// to wait on other things at the same time, with C and Resume.
type Follower struct {
	ctx   context.Context
	bus   Bus
	topic string
	kinds []apiws.EventKind
	sub   *Subscription
}

// NewFollower subscribes to the events of kinds (every kind if none) of
// topic: an event published after it returns is delivered, or followed by
// an EventResync.
func NewFollower(ctx context.Context, bus Bus, topic string, kinds ...apiws.EventKind) (*Follower, error) {
	sub, err := bus.Subscribe(ctx, topic, kinds...)
	if err != nil {
		return nil, err
	}
	return &Follower{ctx: ctx, bus: bus, topic: topic, kinds: kinds, sub: sub}, nil
}

// C returns the channel of events of the current subscription. When it is
// closed, call Resume. C changes after Resume: read it anew each time.
func (f *Follower) C() <-chan apiws.Event { return f.sub.C() }

// Resume is called once C was closed. If the subscription was dropped as
// too slow, it subscribes again and returns an EventResync. Otherwise it
// returns the reason the follow is over: the ctx's error, or ErrClosed
// when the Bus closed.
func (f *Follower) Resume() (apiws.Event, error) {
	err := f.sub.Err()
	f.sub.Close()
	if f.ctx.Err() != nil {
		return apiws.Event{}, f.ctx.Err()
	}
	if !errors.Is(err, ErrSlowSubscriber) {
		return apiws.Event{}, ErrClosed
	}
	sub, err := f.bus.Subscribe(f.ctx, f.topic, f.kinds...)
	if err != nil {
		return apiws.Event{}, err
	}
	f.sub = sub
	return apiws.Event{Kind: apiws.EventResync}, nil
}

// Next waits for the next event, an EventResync after a drop. It fails with
// the ctx's error when the ctx ends, ErrClosed when the Bus closes, or the
// error of subscribing again.
func (f *Follower) Next() (apiws.Event, error) {
	select {
	case ev, ok := <-f.sub.C():
		if ok {
			return ev, nil
		}
		return f.Resume()
	case <-f.ctx.Done():
		return apiws.Event{}, f.ctx.Err()
	}
}

// Close ends the follow. It is safe to call more than once.
func (f *Follower) Close() { f.sub.Close() }

// Follow hands every event of kinds (every kind if none) of topic to
// handle, an EventResync after a drop, until ctx ends (it then returns nil)
// or the Bus closes or subscribing fails (it returns the error).
func Follow(ctx context.Context, bus Bus, topic string, handle func(apiws.Event), kinds ...apiws.EventKind) error {
	f, err := NewFollower(ctx, bus, topic, kinds...)
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	return f.Serve(ctx, handle)
}

// Serve hands f's events to handle, one at a time, until ctx (the one f
// was made with) ends, then returns nil; or until the bus fails for good.
// It closes f. Made before Serve runs, f already receives: nothing
// published in between is missed.
func (f *Follower) Serve(ctx context.Context, handle func(apiws.Event)) error {
	defer f.Close()
	for {
		ev, err := f.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		handle(ev)
	}
}
