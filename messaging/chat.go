package messaging

import (
	"context"
	"encoding/json"
	"errors"
	"time"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/events"
	"github.com/apiws/apiws/phones"
	"github.com/apiws/apiws/whatsapp"
)

// chatTopic carries read receipts and presences to the owner of a number:
// only the instance holding its connection can send them.
const chatTopic = "chat-signals"

// chatWait bounds how long a signal waits for the owner of its number, on
// another instance, to answer; the owner gives up a little earlier.
const chatWait = 15 * time.Second

// chatSignal is what a number's owner sends for another instance: a read
// receipt, a presence, or an edit or a revoke of one of the number's
// messages.
type chatSignal struct {
	NumberID string                `json:"number"`
	Read     *whatsapp.ReadReceipt `json:"read,omitempty"`
	Phone    string                `json:"phone,omitempty"`
	State    whatsapp.ChatState    `json:"state,omitempty"`
	// Edit and Revoke name the message to edit or revoke; an edit's new
	// text is Sealed (the Bus never carries content in clear), with the
	// message's WhatsApp id as AAD.
	Edit   *whatsapp.MessageRef `json:"edit,omitempty"`
	Revoke *whatsapp.MessageRef `json:"revoke,omitempty"`
	Sealed []byte               `json:"sealed,omitempty"`
	// Reply is the topic of the owner's answer (events.Ask).
	Reply string `json:"reply,omitempty"`
}

// MarkRead implements apiws.MessageService.
func (s *Service) MarkRead(ctx context.Context, ids []string) ([]*apiws.Message, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeSend)
	if err != nil {
		return nil, err
	}
	ms, err := s.readable(ctx, c.AccountID, ids)
	if err != nil {
		return nil, err
	}
	n, err := s.connected(ctx, c.AccountID, ms[0].NumberID, []string{"messageIds"})
	if err != nil {
		return nil, err
	}
	jids, err := s.groupJIDs(ctx, c.AccountID, ms)
	if err != nil {
		return nil, err
	}
	for _, r := range receipts(ms, s.now(), jids) {
		if _, err := s.signal(ctx, n, chatSignal{NumberID: n.ID, Read: r}); err != nil {
			return nil, err
		}
	}
	return ms, nil
}

// readable returns the messages ids names, in order, once each: the
// caller's inbound messages of one number.
func (s *Service) readable(ctx context.Context, accountID string, ids []string) ([]*apiws.Message, error) {
	at := []string{"messageIds"}
	if len(ids) == 0 || len(ids) > apiws.MaxMarkRead {
		return nil, apiws.FieldError(apiws.EINVALID, at, "give 1 to %d message ids, not %d", apiws.MaxMarkRead, len(ids))
	}
	seen := make(map[string]bool, len(ids))
	ms := make([]*apiws.Message, 0, len(ids))
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		if !apiws.ValidID(id, apiws.PrefixMessage) {
			return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such message %s", id)
		}
		m, err := s.db.Message(ctx, accountID, id)
		if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
			return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such message %s", id)
		} else if err != nil {
			return nil, err
		}
		if m.Direction != apiws.Inbound {
			return nil, apiws.FieldError(apiws.EINVALID, at, "message %s is outbound: only inbound messages are read", id)
		}
		if m.NumberID != ms0(ms, m).NumberID {
			return nil, apiws.FieldError(apiws.EINVALID, at, "the messages belong to different numbers: mark each number's read apart")
		}
		ms = append(ms, m)
	}
	return ms, nil
}

// ms0 is the first of ms, or m when ms is empty.
func ms0(ms []*apiws.Message, m *apiws.Message) *apiws.Message {
	if len(ms) == 0 {
		return m
	}
	return ms[0]
}

// receipts groups messages by chat, one read receipt for each, in the
// order of their first message; in a group (jids has its JID by group id)
// the chat is the group's and the sender its participant's. A message with
// no WhatsApp id is left out.
func receipts(ms []*apiws.Message, at time.Time, jids map[string]string) []*whatsapp.ReadReceipt {
	var out []*whatsapp.ReadReceipt
	byChat := map[string]*whatsapp.ReadReceipt{}
	for _, m := range ms {
		if m.WAMessageID == nil {
			continue
		}
		lid := ""
		if m.Peer == "" && m.PeerLID != nil {
			lid = *m.PeerLID
		}
		group := ""
		if m.GroupID != nil {
			group = jids[*m.GroupID]
		}
		key := m.Peer + "/" + lid + "/" + group
		r := byChat[key]
		if r == nil {
			r = &whatsapp.ReadReceipt{Chat: m.Peer, ChatLID: lid, Group: group, At: at}
			byChat[key] = r
			out = append(out, r)
		}
		r.IDs = append(r.IDs, *m.WAMessageID)
	}
	return out
}

// SendChatPresence implements apiws.MessageService.
func (s *Service) SendChatPresence(ctx context.Context, in apiws.SendChatPresence) error {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeSend)
	if err != nil {
		return err
	}
	phone, state, err := validPresence(in)
	if err != nil {
		return err
	}
	if !apiws.ValidID(in.NumberID, apiws.PrefixNumber) {
		return apiws.FieldError(apiws.ENOTFOUND, field("numberId"), "no such number")
	}
	n, err := s.connected(ctx, c.AccountID, in.NumberID, field("numberId"))
	if err != nil {
		return err
	}
	if in.GroupID != nil {
		g, err := s.sendGroup(ctx, c.AccountID, n.ID, *in.GroupID, field("groupId"))
		if err != nil {
			return err
		}
		phone = g.JID // the connectors take a group's JID as its chat
	}
	_, err = s.signal(ctx, n, chatSignal{NumberID: n.ID, Phone: phone, State: state})
	return err
}

// validPresence checks a presence's chat and state, and returns the phone
// of to ("" for a group: SendChatPresence finds it).
func validPresence(in apiws.SendChatPresence) (string, whatsapp.ChatState, error) {
	switch {
	case in.To != nil && in.GroupID != nil:
		return "", "", apiws.FieldError(apiws.EINVALID, field("groupId"), "give either to or groupId, not both")
	case in.To == nil && in.GroupID == nil:
		return "", "", apiws.FieldError(apiws.EINVALID, field("to"), "give to or groupId")
	}
	phone, ok := "", true
	if in.To != nil {
		phone, ok = phones.Normalize(*in.To)
	}
	if !ok {
		return "", "", apiws.FieldError(apiws.EINVALID, field("to"), "not a valid phone number")
	}
	var state whatsapp.ChatState
	switch in.State {
	case apiws.PresenceTyping:
		state = whatsapp.StateTyping
	case apiws.PresenceRecording:
		state = whatsapp.StateRecording
	case apiws.PresencePaused:
		state = whatsapp.StatePaused
	default:
		return "", "", apiws.FieldError(apiws.EINVALID, field("state"), "unknown presence %q", in.State)
	}
	return phone, state, nil
}

// connected returns the account's number, which must be connected; its
// problems are reported at the field at.
func (s *Service) connected(ctx context.Context, accountID, numberID string, at []string) (*apiws.Number, error) {
	n, err := s.numbers.Number(ctx, accountID, numberID)
	return apiws.ConnectedNumber(n, err, at)
}

// signal sends sig through n's connection: here when this instance holds
// it, else through the instance that does. It returns when WhatsApp took
// it (for an edit or a revoke, WhatsApp's time; else zero).
func (s *Service) signal(ctx context.Context, n *apiws.Number, sig chatSignal) (time.Time, error) {
	if s.owner != nil && !apiws.Owns(s.owner, n.ID) {
		var at time.Time
		err := events.Ask(ctx, s.bus, chatTopic, n.ID, time.After(chatWait), func(reply string) any {
			sig.Reply = reply
			return sig
		}, &at)
		return at, err
	}
	return s.signalHere(ctx, n, sig)
}

// signalHere sends sig through the connection this instance holds.
func (s *Service) signalHere(ctx context.Context, n *apiws.Number, sig chatSignal) (time.Time, error) {
	conn := s.connectors(n)
	var at time.Time
	var err error
	switch {
	case sig.Read != nil:
		err = conn.MarkRead(ctx, n, *sig.Read)
	case sig.Edit != nil:
		var text []byte
		if text, err = s.seal.open(sig.Edit.ID, sig.Sealed); err == nil {
			at, err = conn.Edit(ctx, n, *sig.Edit, string(text))
		}
	case sig.Revoke != nil:
		at, err = conn.Revoke(ctx, n, *sig.Revoke)
	default:
		err = conn.SendChatPresence(ctx, n, sig.Phone, sig.State)
	}
	var se *whatsapp.SendError
	switch {
	case err == nil:
		return at.UTC(), nil
	case errors.Is(err, whatsapp.ErrNotConnected):
		return at, apiws.Errorf(apiws.ENOTCONNECTED, "the number is not connected")
	case ctx.Err() != nil:
		return at, ctx.Err()
	case errors.As(err, &se):
		s.log.Warn("chat signal", "number", n.ID, "err", err)
		return at, apiws.Errorf(apiws.EUNAVAILABLE, "WhatsApp did not take it (%s: %s); try again", se.Code, se.Message)
	}
	s.log.Warn("chat signal", "number", n.ID, "err", err)
	return at, apiws.Errorf(apiws.EUNAVAILABLE, "WhatsApp did not take it; try again")
}

// signalRequested sends a signal another instance passed on (on
// chatTopic) when this instance owns its number.
func (s *Service) signalRequested(ev apiws.Event) {
	var sig chatSignal
	if ev.Kind != apiws.EventNumberCommand || json.Unmarshal(ev.Data, &sig) != nil || !apiws.Owns(s.owner, sig.NumberID) {
		return
	}
	s.wg.Add(1)
	go s.obeySignal(sig)
}

// obeySignal sends a signal for another instance and answers on its reply
// topic.
func (s *Service) obeySignal(sig chatSignal) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, chatWait-5*time.Second)
	defer cancel()
	var at time.Time
	n, err := s.numbers.NumberByID(ctx, sig.NumberID)
	if err == nil {
		at, err = s.signalHere(ctx, n, sig)
	}
	if apiws.ErrorCodeOf(err) == apiws.EINTERNAL {
		s.log.Warn("chat signal on request of another instance", "number", sig.NumberID, "err", err)
	}
	if err := events.Answer(ctx, s.bus, sig.Reply, sig.NumberID, at, err); err != nil {
		s.log.Warn("answer a chat signal", "number", sig.NumberID, "err", err)
	}
}
