package groups

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/whatsapp"
)

// callTopic carries group calls to the owner of a number: only the
// instance holding its connection can make them.
const callTopic = "group-calls"

// callWait bounds how long a call waits for the owner of its number, on
// another instance, to answer; the owner gives up a little earlier.
const callWait = 30 * time.Second

// Group call actions, one per Connector method.
const (
	actionList         = "list"
	actionGroup        = "group"
	actionCreate       = "create"
	actionName         = "name"
	actionTopic        = "topic"
	actionParticipants = "participants"
	actionLeave        = "leave"
	actionLink         = "link"
	actionJoin         = "join"
)

// call is one Connector group call, as it travels to the owner.
type call struct {
	Action       string                     `json:"action"`
	NumberID     string                     `json:"number,omitempty"`
	JID          string                     `json:"jid,omitempty"`
	Name         string                     `json:"name,omitempty"`
	Topic        string                     `json:"topic,omitempty"`
	Phones       []string                   `json:"phones,omitempty"`
	Participants whatsapp.ParticipantAction `json:"participants,omitempty"`
	Reset        bool                       `json:"reset,omitempty"`
	Link         string                     `json:"link,omitempty"`
	Reply        string                     `json:"reply,omitempty"`
}

// answer is what a call returns; Refused names the Connector error it
// failed with (see refusals), Error any other failure.
type answer struct {
	Groups  []whatsapp.GroupInfo `json:"groups,omitempty"`
	Group   *whatsapp.GroupInfo  `json:"group,omitempty"`
	JID     string               `json:"jid,omitempty"`
	Link    string               `json:"link,omitempty"`
	Refused string               `json:"refused,omitempty"`
	Error   string               `json:"error,omitempty"`
}

// refusals are the Connector errors an answer carries by name.
var refusals = map[string]error{
	"not_admin":     whatsapp.ErrNotAdmin,
	"not_found":     whatsapp.ErrGroupNotFound,
	"invite":        whatsapp.ErrInviteInvalid,
	"not_connected": whatsapp.ErrNotConnected,
	"phone":         whatsapp.ErrInvalidPhone,
}

// call makes c through n's connection: here when this instance holds it,
// else through its owner.
func (s *Service) call(ctx context.Context, n *apiws.Number, c call) (*answer, error) {
	if apiws.Owns(s.owner, n.ID) {
		return s.do(ctx, n, c)
	}
	return s.callOwner(ctx, n.ID, c)
}

// do makes c with the connector.
func (s *Service) do(ctx context.Context, n *apiws.Number, c call) (*answer, error) {
	conn := s.connectors(n)
	a := &answer{}
	var err error
	switch c.Action {
	case actionList:
		a.Groups, err = conn.Groups(ctx, n)
	case actionGroup:
		var g whatsapp.GroupInfo
		g, err = conn.Group(ctx, n, c.JID)
		a.Group = &g
	case actionCreate:
		var g whatsapp.GroupInfo
		g, err = conn.CreateGroup(ctx, n, c.Name, c.Phones)
		a.Group = &g
	case actionName:
		err = conn.SetGroupName(ctx, n, c.JID, c.Name)
	case actionTopic:
		err = conn.SetGroupTopic(ctx, n, c.JID, c.Topic)
	case actionParticipants:
		err = conn.UpdateGroupParticipants(ctx, n, c.JID, c.Participants, c.Phones)
	case actionLeave:
		err = conn.LeaveGroup(ctx, n, c.JID)
	case actionLink:
		a.Link, err = conn.GroupInviteLink(ctx, n, c.JID, c.Reset)
	case actionJoin:
		a.JID, err = conn.JoinGroup(ctx, n, c.Link)
	default:
		err = fmt.Errorf("unknown group call %q", c.Action)
	}
	if err != nil {
		return nil, err
	}
	return a, nil
}

// callOwner asks the instance that holds the number's connection to make
// c, and waits for its answer on a reply topic of its own.
func (s *Service) callOwner(ctx context.Context, numberID string, c call) (*answer, error) {
	c.NumberID, c.Reply = numberID, "group-call-"+apiws.NewID("r")
	f, err := events.NewFollower(ctx, s.bus, c.Reply, apiws.EventNumberCommand)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, _ := json.Marshal(c)
	if err := s.bus.Publish(ctx, callTopic, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: numberID, Data: data}); err != nil {
		return nil, err
	}
	timeout := s.after(callWait)
	for {
		select {
		case ev, ok := <-f.C():
			if !ok {
				if ev, err = f.Resume(); err != nil {
					return nil, err
				}
			}
			var a answer
			if ev.Kind != apiws.EventNumberCommand || ev.NumberID != numberID || json.Unmarshal(ev.Data, &a) != nil {
				continue
			}
			if err := refusals[a.Refused]; err != nil {
				return nil, err
			}
			if a.Error != "" {
				return nil, errors.New(a.Error)
			}
			return &a, nil
		case <-timeout:
			return nil, apiws.Errorf(apiws.EUNAVAILABLE, "the server holding the number's connection did not answer; try again")
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// followCalls makes the group calls other instances send for the numbers
// this instance holds, until ctx ends.
func (s *Service) followCalls(ctx context.Context) error {
	return events.Follow(ctx, s.bus, callTopic, func(ev apiws.Event) {
		var c call
		if ev.Kind != apiws.EventNumberCommand || json.Unmarshal(ev.Data, &c) != nil || !apiws.Owns(s.owner, c.NumberID) {
			return
		}
		s.wg.Add(1)
		go s.obey(c)
	}, apiws.EventNumberCommand)
}

// obey makes a call for another instance and answers on its reply topic.
func (s *Service) obey(c call) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, callWait-5*time.Second)
	defer cancel()
	n, err := s.db.NumberByID(ctx, c.NumberID)
	a := &answer{}
	if err == nil {
		a, err = s.do(ctx, n, c)
	}
	if err != nil {
		a = &answer{Error: "the group call failed; try again"}
		for name, r := range refusals {
			if errors.Is(err, r) {
				a = &answer{Refused: name}
			}
		}
		if a.Refused == "" {
			s.log.Warn("group call on request of another instance", "number", c.NumberID, "action", c.Action, "err", err)
		}
	}
	data, _ := json.Marshal(a)
	if err := s.bus.Publish(ctx, c.Reply, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: c.NumberID, Data: data}); err != nil {
		s.log.Warn("answer a group call", "number", c.NumberID, "err", err)
	}
}
