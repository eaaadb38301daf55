package messaging

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// replayBatch is how many logged events one replay query reads.
const replayBatch = 500

// FollowStatus streams the account's message events (of one number when
// numberID is set): with after, the logged events after that cursor first,
// then live ones, with no gap and no duplicate. Live events come from the
// bus; whenever the bus may have lost some (a gap in the cursors, a broker
// reconnect, this subscriber falling behind), the log fills the gap.
func (s *Service) FollowStatus(ctx context.Context, accountID, numberID string, after *int64) (<-chan *apiws.MessageEvent, error) {
	// Subscribe before reading the log, so nothing committed in between
	// is missed.
	sub, err := s.bus.Subscribe(ctx, accountID)
	if err != nil {
		return nil, err
	}
	newest, err := s.db.LastEventSeq(ctx, accountID)
	if err != nil {
		sub.Close()
		return nil, err
	}
	last := newest
	if after != nil {
		if *after > newest {
			sub.Close()
			return nil, apiws.FieldError(apiws.EINVALID, []string{"after"}, "cursor %d is ahead of the newest event (%d)", *after, newest)
		}
		last = *after
	}
	out := make(chan *apiws.MessageEvent, 64)
	go func() {
		defer close(out)
		defer func() {
			if sub != nil {
				sub.Close()
			}
		}()
		send := func(ev *apiws.MessageEvent) bool {
			last = ev.Seq
			if numberID != "" && ev.NumberID != numberID {
				return true
			}
			select {
			case out <- ev:
				return true
			case <-ctx.Done():
				return false
			}
		}
		replay := func() bool {
			for {
				evs, err := s.db.EventsAfter(ctx, accountID, last, "", replayBatch)
				if err != nil {
					if ctx.Err() == nil {
						s.log.Warn("replay message events", "err", err, "account", accountID)
					}
					return false
				}
				for _, ev := range evs {
					if !send(ev) {
						return false
					}
				}
				if len(evs) < replayBatch {
					return true
				}
			}
		}
		if after != nil && !replay() {
			return
		}
		for {
			select {
			case <-ctx.Done():
				return
			case ev, ok := <-sub.C():
				if !ok {
					if !errors.Is(sub.Err(), events.ErrSlowSubscriber) {
						return
					}
					// Fell behind: follow again and fill the gap from the log.
					sub.Close()
					sub = nil
					again, err := s.bus.Subscribe(ctx, accountID)
					if err != nil {
						return
					}
					sub = again
					if !replay() {
						return
					}
					continue
				}
				switch {
				case ev.Kind == apiws.EventResync:
					if !replay() {
						return
					}
				case ev.Kind != apiws.EventMessageStatus || ev.Cursor <= last:
					// Not a status event, or one already sent.
				case ev.Cursor == last+1:
					var me apiws.MessageEvent
					if json.Unmarshal(ev.Data, &me) != nil || !send(&me) {
						return
					}
				default:
					if !replay() { // a gap: the log has what the bus did not bring
						return
					}
				}
			}
		}
	}()
	return out, nil
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
