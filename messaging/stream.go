package messaging

import (
	"context"
	"encoding/json"

	"github.com/apiws/apiws"
)

// replayBatch is how many logged events one replay query reads.
const replayBatch = 500

// FollowStatus streams the account's message events (of one number when
// numberID is set): with after, the logged events after that cursor first,
// then live ones, with no gap and no duplicate. Live events come from the
// account's stream in this process (see accountStream), shared by all its
// followers here; a follower that falls behind reads the log until it has
// caught up.
func (s *Service) FollowStatus(ctx context.Context, accountID, numberID string, after *int64) (<-chan *apiws.MessageEvent, error) {
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
func (s *Service) FollowIncoming(ctx context.Context, accountID, numberID string) (<-chan *Incoming, error) {
	sub, err := s.bus.Subscribe(ctx, accountID)
	if err != nil {
		return nil, err
	}
	out := make(chan *Incoming, 16)
	go func() {
		defer close(out)
		defer sub.Close()
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-sub.C():
				if !ok {
					return
				}
				if ev.Kind != apiws.EventIncoming || (numberID != "" && ev.NumberID != numberID) {
					continue
				}
				in := new(Incoming)
				if json.Unmarshal(ev.Data, in) != nil {
					continue
				}
				select {
				case out <- in:
				case <-ctx.Done():
					return
				}
			}
		}
	}()
	return out, nil
}

// EventsOfMessages returns the events of the messages, oldest first, for
// the dataloader of Message.events.
func (s *Service) EventsOfMessages(ctx context.Context, ids []string) ([]*apiws.MessageEvent, error) {
	return s.db.EventsOfMessages(ctx, ids)
}

// MessagesByIDs returns messages by id, for dataloaders.
func (s *Service) MessagesByIDs(ctx context.Context, ids []string) ([]*apiws.Message, error) {
	return s.db.MessagesByIDs(ctx, ids)
}
