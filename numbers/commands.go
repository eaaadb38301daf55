package numbers

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/whatsapp"
)

// commandTopic carries connect and disconnect requests to a number's owner:
// only the instance that owns a number may touch its connection.
const commandTopic = "number-commands"

type command struct {
	Action   string `json:"action"` // "connect", "disconnect", "logout" or "lookup"
	NumberID string `json:"number"`
	// Number is the number to log out, as it was before its removal.
	Number *apiws.Number `json:"n,omitempty"`
	// Reply is the topic on which the owner says a logout is done, or
	// answers a lookup.
	Reply string `json:"reply,omitempty"`
	// Phones are the phones to look up (E.164, each once).
	Phones []string `json:"phones,omitempty"`
}

// followCommands carries out the connect and disconnect requests that other
// instances send for the numbers this instance owns, until ctx ends.
func (s *Service) followCommands(ctx context.Context) error {
	return events.Follow(ctx, s.bus, commandTopic, func(ev apiws.Event) {
		var cmd command
		// A resync needs nothing: commands are not read again.
		if ev.Kind != apiws.EventNumberCommand || json.Unmarshal(ev.Data, &cmd) != nil || !apiws.Owns(s.owner, cmd.NumberID) {
			return
		}
		s.obey(cmd)
	}, apiws.EventNumberCommand)
}

// obey applies a command to the connection this instance holds.
func (s *Service) obey(cmd command) {
	ctx, cancel := context.WithTimeout(s.ctx, writeTimeout)
	defer cancel()
	if cmd.Action == "logout" {
		s.obeyLogout(ctx, cmd)
		return
	}
	if cmd.Action == "lookup" {
		// Lookups wait for their turn to ask WhatsApp: the commands
		// behind them do not.
		s.wg.Add(1)
		go s.obeyLookup(cmd)
		return
	}
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
	return s.bus.Publish(ctx, commandTopic, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: numberID, Data: data})
}

// logoutWait bounds how long a logout waits for the number's owner to
// answer before logging out here. It is longer than the owner's own budget
// for the logout (writeTimeout), so that the two never log the number out
// at the same time.
const logoutWait = writeTimeout + 5*time.Second

// logOutWhereOwned logs n out through the instance that holds its
// connection: logging out elsewhere would delete the keys under the owner's
// live client and leave the device linked on the phone. When no owner
// answers in time (none holds it, or it let go meanwhile), n is logged out
// here, which connects it briefly to unlink it.
func (s *Service) logOutWhereOwned(ctx context.Context, n *apiws.Number, conn whatsapp.Connector) error {
	if apiws.Owns(s.owner, n.ID) {
		return conn.Logout(ctx, n)
	}
	reply := "number-logout-" + apiws.NewID("r")
	f, err := events.NewFollower(ctx, s.bus, reply, apiws.EventNumberCommand)
	if err == nil {
		defer f.Close()
		data, _ := json.Marshal(command{Action: "logout", NumberID: n.ID, Number: n, Reply: reply})
		err = s.bus.Publish(ctx, commandTopic, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: n.ID, Data: data})
	}
	if err == nil {
		if err = s.awaitLogout(ctx, f, n.ID); err == nil {
			return nil // the owner logged it out
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
	}
	s.log.Info("no owner logged the number out; logging out here", "number", n.ID, "err", err)
	return conn.Logout(ctx, n)
}

// errNoAnswer: no owner said it logged the number out within logoutWait.
var errNoAnswer = errors.New("no answer from an owner")

// awaitLogout waits for the owner's answer that it logged numberID out.
// Only that answer counts: a resync (the reply topic's subscription was
// confirmed late, or the broker came back) is no answer, and waiting goes
// on until logoutWait.
func (s *Service) awaitLogout(ctx context.Context, f *events.Follower, numberID string) error {
	timeout := s.after(logoutWait)
	for {
		select {
		case ev, ok := <-f.C():
			if !ok {
				var err error
				if ev, err = f.Resume(); err != nil {
					return err
				}
			}
			if ev.Kind == apiws.EventNumberCommand && ev.NumberID == numberID {
				return nil
			}
		case <-timeout:
			return errNoAnswer
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// obeyLogout logs out a number this instance owns, for another instance
// that removed it, and says so on the reply topic.
func (s *Service) obeyLogout(ctx context.Context, cmd command) {
	if cmd.Number == nil || cmd.Number.ID != cmd.NumberID {
		return
	}
	conn, err := s.connector(cmd.Number.Sandbox)
	if err != nil {
		return
	}
	s.stopRetry(cmd.NumberID)
	if err := conn.Logout(ctx, cmd.Number); err != nil {
		s.log.Warn("log out on request of another instance", "number", cmd.NumberID, "err", err)
		return
	}
	if cmd.Reply != "" {
		if err := s.bus.Publish(ctx, cmd.Reply, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: cmd.NumberID}); err != nil {
			s.log.Warn("answer a logout", "number", cmd.NumberID, "err", err)
		}
	}
}
