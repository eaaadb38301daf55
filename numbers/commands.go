package numbers

import (
	"context"
	"encoding/json"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
)

// commandTopic carries connect and disconnect requests to a number's owner:
// only the instance that owns a number may touch its connection.
const commandTopic = "number-commands"

type command struct {
	Action   string `json:"action"` // "connect" or "disconnect"
	NumberID string `json:"number"`
}

// FollowCommands carries out the connect and disconnect requests that
// other instances send for the numbers this instance owns, until Close.
func (s *Service) FollowCommands() {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := events.Follow(s.ctx, s.bus, commandTopic, func(ev apiws.Event) {
			var cmd command
			if ev.Kind != apiws.EventNumberStatus || json.Unmarshal(ev.Data, &cmd) != nil || !s.owns(cmd.NumberID) {
				return
			}
			s.obey(cmd)
		})
		if err != nil && s.ctx.Err() == nil {
			s.log.Error("follow number commands", "err", err)
		}
	}()
}

// obey applies a command to the connection this instance holds.
func (s *Service) obey(cmd command) {
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	n, err := s.db.NumberByID(ctx, cmd.NumberID)
	if err != nil {
		return
	}
	conn, err := s.connector(n.Sandbox)
	if err != nil {
		return
	}
	switch cmd.Action {
	case "disconnect":
		s.stopRetry(n.ID)
		if err := conn.Disconnect(ctx, n); err != nil {
			s.log.Warn("disconnect on request of another instance", "number", n.ID, "err", err)
		}
	case "connect":
		if err := s.connect(ctx, n, conn); err != nil {
			s.log.Warn("connect on request of another instance", "number", n.ID, "err", err)
		}
	}
}

// tellOwner asks the owner of a number, on another instance, to act on it.
func (s *Service) tellOwner(ctx context.Context, action, numberID string) error {
	data, _ := json.Marshal(command{Action: action, NumberID: numberID})
	return s.bus.Publish(ctx, commandTopic, apiws.Event{Kind: apiws.EventNumberStatus, NumberID: numberID, Data: data})
}
