package messaging

import (
	"context"
	"errors"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/storage"
	"github.com/apiws/apiws/whatsapp"
)

// HandleConnectorEvent applies receipts, inbound messages, and reactions,
// edits, revokes and poll votes from a Connector; connection changes are
// the numbers service's.
func (s *Service) HandleConnectorEvent(ev whatsapp.Event) {
	ctx := context.WithoutCancel(s.ctx)
	switch e := ev.(type) {
	case *whatsapp.Receipt:
		account, err := s.accountOf(ctx, e.NumberID)
		if err != nil {
			s.log.Warn("receipt for an unknown number", "number", e.NumberID, "err", err)
			return
		}
		r := &storage.ReceiptWrite{AccountID: account, NumberID: e.NumberID, WAIDs: e.MessageIDs, Status: e.Status, Error: e.Error, At: e.At.UTC()}
		if err := s.journal.write(&journalReq{account: account, receipt: r}); err != nil {
			s.log.Error("apply receipt", "err", err, "number", e.NumberID)
		}
	case *whatsapp.Inbound:
		s.receive(ctx, e)
	case *whatsapp.Reacted:
		s.about(ctx, e.NumberID, e.TargetID, actor{e.Group, e.From, e.FromLID, e.FromMe, false}, func(n *apiws.Number, target *apiws.Message) error {
			emoji := e.Emoji
			ev := &apiws.LogEvent{AccountID: n.AccountID, Type: apiws.EventTypeReaction, NumberID: n.ID, MessageID: target.ID, WAMessageID: e.WAMessageID, At: e.At.UTC(),
				Detail:  &apiws.EventDetail{Peer: peerOf(n, e.From, e.FromLID, e.FromMe)},
				Content: &apiws.MessageContent{Emoji: &emoji, Mentions: []apiws.Peer{}}}
			return s.logged(ev, s.db.LogEvent(ctx, ev))
		})
	case *whatsapp.Edited:
		s.about(ctx, e.NumberID, e.TargetID, actor{e.Group, e.From, e.FromLID, e.FromMe, true}, func(n *apiws.Number, target *apiws.Message) error {
			text := e.Text
			ev := &apiws.LogEvent{AccountID: n.AccountID, Type: apiws.EventTypeMessageEdited, NumberID: n.ID, MessageID: target.ID, WAMessageID: e.WAMessageID, At: e.At.UTC(),
				Content: &apiws.MessageContent{Text: &text, Mentions: []apiws.Peer{}}}
			return s.logged(ev, s.db.MarkEdited(ctx, target.ID, ev.At, ev))
		})
	case *whatsapp.Revoked:
		s.about(ctx, e.NumberID, e.TargetID, actor{e.Group, e.From, e.FromLID, e.FromMe, true}, func(n *apiws.Number, target *apiws.Message) error {
			ev := &apiws.LogEvent{AccountID: n.AccountID, Type: apiws.EventTypeMessageRevoked, NumberID: n.ID, MessageID: target.ID, WAMessageID: e.WAMessageID, At: e.At.UTC()}
			return s.logged(ev, s.db.MarkRevoked(ctx, target.ID, ev.At, ev))
		})
	case *whatsapp.PollVoted:
		s.about(ctx, e.NumberID, e.PollID, actor{e.Group, e.From, e.FromLID, e.FromMe, false}, func(n *apiws.Number, poll *apiws.Message) error {
			ev := &apiws.LogEvent{AccountID: n.AccountID, Type: apiws.EventTypePollVote, NumberID: n.ID, MessageID: poll.ID, WAMessageID: e.WAMessageID, At: e.At.UTC(),
				Detail: &apiws.EventDetail{Peer: peerOf(n, e.From, e.FromLID, e.FromMe)}}
			if e.Options != nil {
				// nil: the connector could not tell the options, and the
				// event's options read null.
				opts := append([]string{}, e.Options...)
				ev.Content = &apiws.MessageContent{Votes: &opts, Mentions: []apiws.Peer{}}
			}
			return s.logged(ev, s.db.LogEvent(ctx, ev))
		})
	case *whatsapp.LIDLearned:
		s.learnLID(ctx, e)
	}
}

// about logs what someone did to a message of one of the number's chats
// (a reaction, an edit, a revoke, a vote): log finds the number and the
// message with the WhatsApp id waID. A message apiws does not know (sent
// before the number was here, or gone with its retention) has nothing to
// attach the event to: it is dropped; so is an event from outside the
// message's chat, or an edit or a revoke by someone but its author (a
// forgery: WhatsApp's ids are no secret to a chat's members).
func (s *Service) about(ctx context.Context, numberID, waID string, who actor, log func(n *apiws.Number, target *apiws.Message) error) {
	n, err := s.numbers.NumberByID(ctx, numberID)
	if err != nil {
		s.log.Warn("event for an unknown number", "number", numberID, "err", err)
		return
	}
	target, err := s.db.MessageByWAID(ctx, n.ID, waID)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		s.log.Debug("event about a message apiws does not know; dropped", "number", n.ID, "wa_message_id", waID)
		return
	} else if err != nil {
		s.log.Error("find the message of an event", "number", n.ID, "err", err)
		return
	}
	group := ""
	if target.GroupID != nil {
		g, err := s.db.Group(ctx, n.AccountID, *target.GroupID)
		if err != nil {
			s.log.Error("find the group of a message", "number", n.ID, "message", target.ID, "err", err)
			return
		}
		group = g.JID
	}
	if !who.mayActOn(target, group) {
		s.log.Warn("event about a message from outside its chat, or by someone but its author; dropped",
			"number", n.ID, "message", target.ID)
		return
	}
	if err := log(n, target); err != nil {
		s.log.Error("record an event about a message", "number", n.ID, "message", target.ID, "err", err)
	}
}

// actor is who did something to a message, and where: the chat's group
// JID ("" one-to-one), the sender's phone and LID (or the number itself,
// fromMe); author says the act is its author's alone (an edit, a revoke).
type actor struct {
	group         string
	from, fromLID string
	fromMe        bool
	author        bool
}

// mayActOn reports whether the actor may act on target, whose group has
// the JID group ("" one-to-one): it must be of target's chat, and for an
// edit or a revoke its author. One-to-one, the chat is the other party:
// anyone else is from another chat. The number's own acts (from another
// of its devices) are of whichever chat they name.
func (a actor) mayActOn(target *apiws.Message, group string) bool {
	if a.group != group {
		return false
	}
	peer := (a.from != "" && target.Peer == a.from) || (a.fromLID != "" && target.PeerLID != nil && *target.PeerLID == a.fromLID)
	if group == "" && !a.fromMe && !peer {
		return false
	}
	if !a.author {
		return true
	}
	if a.fromMe {
		return target.Direction == apiws.Outbound
	}
	return target.Direction == apiws.Inbound && peer
}

// logged publishes ev once err says it was logged; one WhatsApp
// delivered again (ErrDuplicate) was logged the first time.
func (s *Service) logged(ev *apiws.LogEvent, err error) error {
	if errors.Is(err, storage.ErrDuplicate) {
		return nil
	}
	if err == nil {
		s.publish(ev)
	}
	return err
}

// peerOf is who did something in a chat of n: n itself when fromMe (from
// another of its devices), else the phone and LID WhatsApp told.
func peerOf(n *apiws.Number, phone, lid string, fromMe bool) *apiws.Peer {
	if fromMe {
		return &apiws.Peer{Phone: n.Phone}
	}
	return &apiws.Peer{Phone: apiws.NilIfEmpty(phone), LID: apiws.NilIfEmpty(lid)}
}

// receive logs an inbound message: its metadata, and its content in
// transit for subscribers and webhook endpoints.
func (s *Service) receive(ctx context.Context, in *whatsapp.Inbound) {
	n, err := s.numbers.NumberByID(ctx, in.NumberID)
	if err != nil {
		s.log.Warn("inbound message for an unknown number", "number", in.NumberID, "err", err)
		return
	}
	at := in.At.UTC()
	waID := in.WAMessageID
	m := &apiws.Message{
		ID: apiws.NewID(apiws.PrefixMessage), AccountID: n.AccountID, NumberID: n.ID, Direction: apiws.Inbound,
		Peer: in.From, PeerLID: apiws.NilIfEmpty(in.FromLID), Kind: in.Kind, Status: apiws.StatusReceived, WAMessageID: &waID, ReceivedAt: &at,
		Error: in.Error,
	}
	if in.Group != "" {
		if m.GroupID, err = s.groupOf(ctx, n, in.Group); err != nil {
			s.log.Error("find the group of an inbound message", "number", n.ID, "group", in.Group, "err", err)
			return
		}
	}
	if in.QuotedID != "" {
		// A reply: Message.replyTo when apiws knows the message quoted.
		q, err := s.db.MessageByWAID(ctx, n.ID, in.QuotedID)
		switch {
		case err == nil:
			m.ReplyTo = &q.ID
		case apiws.ErrorCodeOf(err) != apiws.ENOTFOUND:
			s.log.Error("find the message an inbound message quotes", "number", n.ID, "err", err)
		}
	}
	ev, err := s.db.InsertInbound(ctx, m, in.Content())
	if errors.Is(err, storage.ErrDuplicate) {
		return // delivered again by WhatsApp: logged the first time
	}
	if err != nil {
		s.log.Error("record inbound message", "err", err, "number", n.ID)
		return
	}
	s.publish(ev)
}
