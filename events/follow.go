package events

import (
	"context"
	"errors"

	"github.com/apiws/apiws"
)

// Follow hands every event of topic to handle until ctx ends, and returns
// then (or when subscribing fails). When the bus drops the subscription
// because handle fell behind, Follow subscribes again and hands handle an
// EventResync: events may have been missed, so a handler that needs every
// one reads its source of truth again.
func Follow(ctx context.Context, bus Bus, topic string, handle func(apiws.Event)) error {
	for {
		sub, err := bus.Subscribe(ctx, topic)
		if err != nil {
			return err
		}
		for ev := range sub.C() {
			handle(ev)
		}
		err = sub.Err()
		sub.Close()
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, ErrSlowSubscriber) {
			return err
		}
		handle(apiws.Event{Kind: apiws.EventResync})
	}
}
