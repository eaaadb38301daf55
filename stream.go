package apiws

import (
	"context"
	"sync"
)

// A subscription's stream ends in one of two ways: the client leaves (its
// context ends), or the service can no longer keep the stream whole (events
// were missed and cannot be read again) and ends it with an error. The
// client must see that error: a plain end would say the stream is over
// when it is not. A service says why before it closes the channel:
//
//	apiws.EndStream(ctx, apiws.Errorf(apiws.EUNAVAILABLE, "..."))
//	close(out)
//
// and the transport, which made ctx with WithStreamEnd, sends the error
// as the stream's last message.

type streamEndKey struct{}

type streamEnd struct {
	mu  sync.Mutex
	err error
}

// WithStreamEnd returns a context for a subscription's resolvers and the
// function that reports, once the subscription's channel is closed, the
// error it was ended with (nil for a plain end).
func WithStreamEnd(ctx context.Context) (context.Context, func() error) {
	e := &streamEnd{}
	return context.WithValue(ctx, streamEndKey{}, e), func() error {
		e.mu.Lock()
		defer e.mu.Unlock()
		return e.err
	}
}

// EndStream records err as the reason the stream of ctx's subscription
// ends; the first reason wins. It does nothing outside a subscription.
func EndStream(ctx context.Context, err error) {
	e, _ := ctx.Value(streamEndKey{}).(*streamEnd)
	if e == nil || err == nil {
		return
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}
