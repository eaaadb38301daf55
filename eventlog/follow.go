package eventlog

import (
	"context"
	"slices"

	"github.com/apiws/apiws"
)

// replayBatch is how many logged events one read of the log takes.
const replayBatch = 500

// Filter selects the events a follower gets.
type Filter struct {
	// Types selects events of these types; empty selects every type.
	Types []apiws.EventType
	// NumberID selects the events of one number; "" selects every number.
	NumberID string
}

func (f Filter) selects(ev *apiws.LogEvent) bool {
	return (f.NumberID == "" || ev.NumberID == f.NumberID) && (len(f.Types) == 0 || slices.Contains(f.Types, ev.Type))
}

// errInterrupted ends a stream that the log can no longer keep whole (the
// database or the Bus is gone); the client subscribes again with the last
// cursor it has.
var errInterrupted = apiws.Errorf(apiws.EUNAVAILABLE, "the event stream was interrupted; subscribe again with after set to the last cursor you received")

// Follow streams the account's events that filter selects: with after, the
// logged events after that cursor first, then live ones, with no gap and no
// duplicate. Live events come from the account's stream in this process,
// shared by all its followers here; a follower that falls behind reads the
// log until it has caught up. The channel closes when ctx ends, or, with an
// error for the client (apiws.EndStream), when the stream cannot go on.
// An after beyond the account's newest cursor is INVALID at after.
func (l *Log) Follow(ctx context.Context, accountID string, filter Filter, after *int64) (<-chan *apiws.LogEvent, error) {
	st, release, err := l.stream(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if after != nil {
		newest, err := l.db.LastEventSeq(ctx, accountID)
		if err != nil {
			release()
			return nil, err
		}
		if *after > newest {
			release()
			return nil, apiws.FieldError(apiws.EINVALID, []string{"after"}, "cursor %d is ahead of the newest event (%d)", *after, newest)
		}
	}
	f := st.follow(ctx, filter, after)
	context.AfterFunc(ctx, release)
	return f.out, nil
}
