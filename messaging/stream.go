package messaging

import (
	"context"
	"encoding/json"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// replayBatch is how many logged events one replay query reads.
const replayBatch = 500

// FollowStatus streams the account's message events (of one number when
// numberID is set): with after, the logged events after that cursor first,
// then live ones, with no gap and no duplicate. Live events come from the
// account's stream in this process (see accountStream), shared by all its
// followers here; a follower that falls behind reads the log until it has
// caught up.
func (s *Service) FollowStatus(ctx context.Context, accountID, numberID string, after *int64) (<-chan *apiws.LogEvent, error) {
	st, release, err := s.stream(ctx, accountID)
	if err != nil {
		return nil, err
	}
	if after != nil {
		newest, err := s.db.LastEventSeq(ctx, accountID)
		if err != nil {
			release()
			return nil, err
		}
		if *after > newest {
			release()
			return nil, apiws.FieldError(apiws.EINVALID, []string{"after"}, "cursor %d is ahead of the newest event (%d)", *after, newest)
		}
	}
	f := st.follow(ctx, numberID, after)
	context.AfterFunc(ctx, release)
	return f.out, nil
}

// FollowIncoming streams inbound messages with their content, in transit.
// Their content is not stored, so messages missed (the subscriber fell
// behind, or the bus lost its broker for a while) cannot be read again: the
// stream then ends with an error, and the client knows to look at its
// messages.
func (s *Service) FollowIncoming(ctx context.Context, accountID, numberID string) (<-chan *apiws.Incoming, error) {
	f, err := events.NewFollower(ctx, s.bus, accountID, apiws.EventIncoming)
	if err != nil {
		return nil, err
	}
	out := make(chan *apiws.Incoming, 16)
	go func() {
		defer close(out)
		defer f.Close()
		for {
			ev, err := f.Next()
			switch {
			case err != nil:
				if ctx.Err() == nil {
					apiws.EndStream(ctx, errIncomingInterrupted)
				}
				return
			case ev.Kind == apiws.EventResync:
				apiws.EndStream(ctx, errIncomingMissed)
				return
			case ev.Kind != apiws.EventIncoming || (numberID != "" && ev.NumberID != numberID):
				continue
			}
			in := new(apiws.Incoming)
			if json.Unmarshal(ev.Data, in) != nil {
				continue
			}
			select {
			case out <- in:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out, nil
}

// The errors an incomingMessages stream may end with.
var (
	errIncomingMissed      = apiws.Errorf(apiws.EUNAVAILABLE, "inbound messages may have been missed while the stream fell behind or the event broker was away; subscribe again, and read the messages query for what came meanwhile")
	errIncomingInterrupted = apiws.Errorf(apiws.EUNAVAILABLE, "the stream was interrupted; subscribe again")
)

// EventsOfMessages returns the events of the messages, oldest first, for
// the dataloader of Message.events.
func (s *Service) EventsOfMessages(ctx context.Context, ids []string) ([]*apiws.LogEvent, error) {
	return s.db.EventsOfMessages(ctx, ids)
}

// MessagesByIDs returns messages by id, for dataloaders.
func (s *Service) MessagesByIDs(ctx context.Context, ids []string) ([]*apiws.Message, error) {
	return s.db.MessagesByIDs(ctx, ids)
}
