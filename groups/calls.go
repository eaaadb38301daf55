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

// answer is what a call returns.
type answer struct {
	Groups []whatsapp.GroupInfo `json:"groups,omitempty"`
	Group  *whatsapp.GroupInfo  `json:"group,omitempty"`
	JID    string               `json:"jid,omitempty"`
	Link   string               `json:"link,omitempty"`
}

// refusals are the codes of the Connector's refusals: the same here and
// through another instance, where they travel as codes.
var refusals = []struct {
	err  error
	code apiws.ErrorCode
}{
	{whatsapp.ErrNotAdmin, apiws.EFORBIDDEN},
	{whatsapp.ErrGroupNotFound, apiws.ENOTFOUND},
	{whatsapp.ErrInviteInvalid, apiws.EINVALID},
	{whatsapp.ErrInvalidPhone, apiws.EINVALID},
	{whatsapp.ErrNotConnected, apiws.ENOTCONNECTED},
}

// coded gives a Connector's refusal its code; other errors stay as they
// are.
func coded(err error) error {
	for _, r := range refusals {
		if errors.Is(err, r.err) {
			return apiws.Errorf(r.code, "%s", r.err.Error())
		}
	}
	return err
}

// call makes c through n's connection: here when this instance holds it,
// else through its owner. Refusals come back coded (see refusals).
func (s *Service) call(ctx context.Context, n *apiws.Number, c call) (*answer, error) {
	if apiws.Owns(s.owner, n.ID) {
		a, err := s.do(ctx, n, c)
		return a, coded(err)
	}
	a := &answer{}
	err := events.Ask(ctx, s.bus, callTopic, n.ID, s.after(callWait), func(reply string) any {
		c.NumberID, c.Reply = n.ID, reply
		return c
	}, a)
	if err != nil {
		return nil, err
	}
	return a, nil
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

// callRequested makes a group call another instance forwarded, when this
// instance holds its number.
func (s *Service) callRequested(ev apiws.Event) {
	var c call
	if ev.Kind != apiws.EventNumberCommand || json.Unmarshal(ev.Data, &c) != nil || !apiws.Owns(s.owner, c.NumberID) {
		return
	}
	s.wg.Add(1)
	go s.obey(c)
}

// obey makes a call for another instance and answers on its reply topic.
func (s *Service) obey(c call) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, callWait-5*time.Second)
	defer cancel()
	var a *answer
	n, err := s.db.NumberByID(ctx, c.NumberID)
	if err == nil {
		a, err = s.do(ctx, n, c)
	}
	if err = coded(err); err != nil && apiws.ErrorCodeOf(err) == apiws.EINTERNAL {
		s.log.Warn("group call on request of another instance", "number", c.NumberID, "action", c.Action, "err", err)
	}
	if err := events.Answer(ctx, s.bus, c.Reply, c.NumberID, a, err); err != nil {
		s.log.Warn("answer a group call", "number", c.NumberID, "err", err)
	}
}
