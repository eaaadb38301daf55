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

// chatSignal is a read receipt or a presence for a number's owner to send.
type chatSignal struct {
	NumberID string                `json:"number"`
	Read     *whatsapp.ReadReceipt `json:"read,omitempty"`
	Phone    string                `json:"phone,omitempty"`
	State    whatsapp.ChatState    `json:"state,omitempty"`
	// Reply is the topic of the owner's answer.
	Reply string `json:"reply,omitempty"`
}

// chatAnswer is the owner's answer: empty, or the error's code and message.
type chatAnswer struct {
	Code    apiws.ErrorCode `json:"code,omitempty"`
	Message string          `json:"message,omitempty"`
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
	for _, r := range receipts(ms, s.now()) {
		if err := s.signal(ctx, n, chatSignal{NumberID: n.ID, Read: r}); err != nil {
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
// order of their first message. A message with no WhatsApp id is left out.
func receipts(ms []*apiws.Message, at time.Time) []*whatsapp.ReadReceipt {
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
		key := m.Peer + "/" + lid
		r := byChat[key]
		if r == nil {
			r = &whatsapp.ReadReceipt{Chat: m.Peer, ChatLID: lid, At: at}
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
	return s.signal(ctx, n, chatSignal{NumberID: n.ID, Phone: phone, State: state})
}

// validPresence checks a presence's chat and state: groups do not exist
// yet, so a groupId names none.
func validPresence(in apiws.SendChatPresence) (string, whatsapp.ChatState, error) {
	switch {
	case in.To != nil && in.GroupID != nil:
		return "", "", apiws.FieldError(apiws.EINVALID, field("groupId"), "give either to or groupId, not both")
	case in.GroupID != nil:
		return "", "", apiws.FieldError(apiws.ENOTFOUND, field("groupId"), "no such group")
	case in.To == nil:
		return "", "", apiws.FieldError(apiws.EINVALID, field("to"), "give to or groupId")
	}
	phone, ok := phones.Normalize(*in.To)
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
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such number")
	} else if err != nil {
		return nil, err
	}
	if n.Status != apiws.NumberConnected {
		return nil, apiws.FieldError(apiws.ENOTCONNECTED, at, "the number is not connected (status %s)", n.Status)
	}
	return n, nil
}

// signal sends sig through n's connection: here when this instance holds
// it, else through the instance that does.
func (s *Service) signal(ctx context.Context, n *apiws.Number, sig chatSignal) error {
	if s.owner != nil && !apiws.Owns(s.owner, n.ID) {
		return s.signalThroughOwner(ctx, sig)
	}
	return s.signalHere(ctx, n, sig)
}

// signalHere sends sig through the connection this instance holds.
func (s *Service) signalHere(ctx context.Context, n *apiws.Number, sig chatSignal) error {
	conn := s.connectors(n)
	var err error
	if sig.Read != nil {
		err = conn.MarkRead(ctx, n, *sig.Read)
	} else {
		err = conn.SendChatPresence(ctx, n, sig.Phone, sig.State)
	}
	switch {
	case err == nil:
		return nil
	case errors.Is(err, whatsapp.ErrNotConnected):
		return apiws.Errorf(apiws.ENOTCONNECTED, "the number is not connected")
	case ctx.Err() != nil:
		return ctx.Err()
	}
	s.log.Warn("chat signal", "number", n.ID, "err", err)
	return apiws.Errorf(apiws.EUNAVAILABLE, "WhatsApp did not take it; try again")
}

// signalThroughOwner asks the instance holding the number's connection to
// send sig, and waits for its answer on a reply topic of its own.
func (s *Service) signalThroughOwner(ctx context.Context, sig chatSignal) error {
	sig.Reply = "chat-signal-" + apiws.NewID("r")
	f, err := events.NewFollower(ctx, s.bus, sig.Reply, apiws.EventNumberCommand)
	if err != nil {
		return err
	}
	defer f.Close()
	data, _ := json.Marshal(sig)
	if err := s.bus.Publish(ctx, chatTopic, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: sig.NumberID, Data: data}); err != nil {
		return err
	}
	timeout := time.NewTimer(chatWait)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-f.C():
			if !ok {
				if ev, err = f.Resume(); err != nil {
					return err
				}
			}
			var a chatAnswer
			if ev.Kind != apiws.EventNumberCommand || ev.NumberID != sig.NumberID || json.Unmarshal(ev.Data, &a) != nil {
				continue
			}
			if a.Code != "" {
				return apiws.Errorf(a.Code, "%s", a.Message)
			}
			return nil
		case <-timeout.C:
			return apiws.Errorf(apiws.EUNAVAILABLE, "the server holding the number's connection did not answer; try again")
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// followSignals sends the signals other instances pass on for the numbers
// this instance owns, until the service stops.
func (s *Service) followSignals() error {
	return events.Follow(s.ctx, s.bus, chatTopic, func(ev apiws.Event) {
		var sig chatSignal
		if ev.Kind != apiws.EventNumberCommand || json.Unmarshal(ev.Data, &sig) != nil || !apiws.Owns(s.owner, sig.NumberID) {
			return
		}
		s.wg.Add(1)
		go s.obeySignal(sig)
	}, apiws.EventNumberCommand)
}

// obeySignal sends a signal for another instance and answers on its reply
// topic.
func (s *Service) obeySignal(sig chatSignal) {
	defer s.wg.Done()
	ctx, cancel := context.WithTimeout(s.ctx, chatWait-5*time.Second)
	defer cancel()
	var a chatAnswer
	n, err := s.numbers.NumberByID(ctx, sig.NumberID)
	if err == nil {
		err = s.signalHere(ctx, n, sig)
	}
	if err != nil {
		a.Code, a.Message = apiws.ErrorCodeOf(err), apiws.ErrorMessage(err)
		if a.Code == apiws.EINTERNAL {
			s.log.Warn("chat signal on request of another instance", "number", sig.NumberID, "err", err)
			a.Code, a.Message = apiws.EUNAVAILABLE, "it failed; try again"
		}
	}
	data, _ := json.Marshal(a)
	if err := s.bus.Publish(ctx, sig.Reply, apiws.Event{Kind: apiws.EventNumberCommand, NumberID: sig.NumberID, Data: data}); err != nil {
		s.log.Warn("answer a chat signal", "number", sig.NumberID, "err", err)
	}
}
