package messaging

import (
	"context"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/eventlog"
)

// statusTypes are the events of messageStatus: a message's status changes,
// its arrival included (RECEIVED).
var statusTypes = []apiws.EventType{apiws.EventTypeMessageStatus, apiws.EventTypeMessageReceived}

// FollowStatus streams the account's message status events (of one number
// when numberID is set): a view of the account's event log.
func (s *Service) FollowStatus(ctx context.Context, accountID, numberID string, after *int64) (<-chan *apiws.LogEvent, error) {
	return s.events.Follow(ctx, accountID, eventlog.Filter{Types: statusTypes, NumberID: numberID}, after)
}

// FollowIncoming streams inbound messages with their content while it is
// in transit: a view of the account's event log, from now on.
func (s *Service) FollowIncoming(ctx context.Context, accountID, numberID string) (<-chan *apiws.LogEvent, error) {
	filter := eventlog.Filter{Types: []apiws.EventType{apiws.EventTypeMessageReceived}, NumberID: numberID}
	return s.events.Follow(ctx, accountID, filter, nil)
}

// EventsOfMessages returns the events of the messages, oldest first, for
// the dataloader of Message.events.
func (s *Service) EventsOfMessages(ctx context.Context, ids []string) ([]*apiws.LogEvent, error) {
	return s.db.EventsOfMessages(ctx, ids)
}

// MessagesByIDs returns messages by id, for dataloaders.
func (s *Service) MessagesByIDs(ctx context.Context, ids []string) ([]*apiws.Message, error) {
	return s.db.MessagesByIDs(ctx, ids)
}

// FollowEvents streams the account's events of types: the log itself.
func (s *Service) FollowEvents(ctx context.Context, accountID string, types []apiws.EventType, numberID string, after *int64) (<-chan *apiws.LogEvent, error) {
	return s.events.Follow(ctx, accountID, eventlog.Filter{Types: types, NumberID: numberID}, after)
}
