package messaging

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/rivo/uniseg"

	"github.com/apiws/apiws"
	"github.com/apiws/apiws/whatsapp"
)

// maxEmojiBytes bounds a reaction: one grapheme cluster can be made
// arbitrarily long with combining marks, no emoji is (the longest ZWJ
// sequences take about 40 bytes).
const maxEmojiBytes = 64

// React implements apiws.MessageService. The reaction is a send of its
// own, queued through the outbox as Send's are: an outbound REACTION
// message to the target's chat that quotes the target. The number's own
// REACTION event is logged in the transaction that records the reaction
// SENT (see ownReaction).
func (s *Service) React(ctx context.Context, in apiws.React) (*apiws.Message, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeSend)
	if err != nil {
		return nil, err
	}
	if err := validEmoji(in.Emoji); err != nil {
		return nil, err
	}
	if in.IdempotencyKey != nil && (len(*in.IdempotencyKey) == 0 || len(*in.IdempotencyKey) > maxKeyLength) {
		return nil, apiws.FieldError(apiws.EINVALID, field("idempotencyKey"), "must be 1 to 255 characters")
	}
	hash := reactionHash(in)
	if first, err := s.replayed(ctx, c.AccountID, in.IdempotencyKey, hash); first != nil || err != nil {
		return first, err
	}
	target, err := s.ownMessage(ctx, c.AccountID, in.MessageID, field("messageId"))
	if err != nil {
		return nil, err
	}
	if target.WAMessageID == nil || target.Status == apiws.StatusQueued || target.Status == apiws.StatusFailed {
		return nil, apiws.FieldError(apiws.EINVALID, field("messageId"), "the message was never sent, so it cannot be reacted to")
	}
	if target.Kind == apiws.KindReaction {
		return nil, apiws.FieldError(apiws.EINVALID, field("messageId"), "a reaction cannot be reacted to")
	}
	to, toLID := target.Peer, ""
	if to == "" && target.PeerLID != nil {
		toLID = *target.PeerLID
	}
	var group *apiws.Group
	if target.GroupID != nil {
		// A reaction goes to the chat of the message: its group.
		if group, err = s.sendGroup(ctx, c.AccountID, target.NumberID, *target.GroupID, field("messageId")); err != nil {
			return nil, err
		}
		to, toLID = "", ""
	}
	if to == "" && toLID == "" && group == nil {
		return nil, apiws.FieldError(apiws.EINVALID, field("messageId"), "WhatsApp told nothing of this message's chat")
	}
	if err := s.checkSend(ctx, c.AccountID, target.NumberID, field("messageId")); err != nil {
		return nil, err
	}
	if s.usage != nil {
		if err := s.usage.CheckQuota(ctx, c.AccountID); err != nil {
			return nil, err
		}
	}
	o := outgoing{accountID: c.AccountID, numberID: target.NumberID, to: to, toLID: toLID, replyTo: &target.ID,
		idempotencyKey: in.IdempotencyKey, hash: hash,
		body: &content{Kind: apiws.KindReaction, Text: in.Emoji, ReplyTo: quoteOf(target)}}
	o.toGroup(group)
	rs, err := s.queue(ctx, o)
	if err != nil {
		return nil, err
	}
	return rs[0].Message, rs[0].Err
}

// validEmoji accepts one grapheme cluster (an emoji, with its skin tone
// or ZWJ sequence), or "" (the reaction removed).
func validEmoji(e string) error {
	if e == "" {
		return nil
	}
	if !utf8.ValidString(e) || len(e) > maxEmojiBytes || uniseg.GraphemeClusterCount(e) != 1 || strings.TrimSpace(e) == "" {
		return apiws.FieldError(apiws.EINVALID, field("emoji"), "must be one emoji, or empty to remove the reaction")
	}
	return nil
}

// reactionHash is a digest of everything that makes two reactions the
// same, for idempotency keys (shared with sends: a key used for a send is
// a CONFLICT for a reaction).
func reactionHash(in apiws.React) []byte {
	b, _ := json.Marshal(struct{ Reaction, Emoji string }{in.MessageID, in.Emoji})
	h := sha256.Sum256(b)
	return h[:]
}

// ownReaction is the REACTION event of a reaction the number sends (m,
// its content body), logged with its SENT: the reaction is the number's
// only once WhatsApp took it. nil for any other message.
func ownReaction(n *apiws.Number, m *apiws.Message, body *content, at time.Time) []*apiws.LogEvent {
	if body.Kind != apiws.KindReaction || m.ReplyTo == nil {
		return nil
	}
	emoji := body.Text
	return []*apiws.LogEvent{{AccountID: m.AccountID, Type: apiws.EventTypeReaction, NumberID: m.NumberID, MessageID: *m.ReplyTo, At: at,
		Detail:  &apiws.EventDetail{Peer: &apiws.Peer{Phone: n.Phone}},
		Content: &apiws.MessageContent{Emoji: &emoji, Mentions: []apiws.Peer{}}}}
}

// ownMessage returns one of the account's messages; another account's, or
// an id that names none, is NOT_FOUND at the field at.
func (s *Service) ownMessage(ctx context.Context, accountID, id string, at []string) (*apiws.Message, error) {
	if !apiws.ValidID(id, apiws.PrefixMessage) {
		return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such message")
	}
	m, err := s.db.Message(ctx, accountID, id)
	if apiws.ErrorCodeOf(err) == apiws.ENOTFOUND {
		return nil, apiws.FieldError(apiws.ENOTFOUND, at, "no such message")
	}
	return m, err
}

// sentByUs returns one of the account's outbound messages that WhatsApp
// took and that is not revoked; any other is INVALID at the field at.
func (s *Service) sentByUs(ctx context.Context, accountID, id string, at []string) (*apiws.Message, error) {
	m, err := s.ownMessage(ctx, accountID, id, at)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Direction != apiws.Outbound:
		return nil, apiws.FieldError(apiws.EINVALID, at, "only messages this number sent can be changed")
	case m.SentAt == nil || m.Status == apiws.StatusQueued || m.Status == apiws.StatusFailed:
		return nil, apiws.FieldError(apiws.EINVALID, at, "the message was never sent (status %s)", m.Status)
	case m.Kind == apiws.KindReaction:
		return nil, apiws.FieldError(apiws.EINVALID, at, "a reaction is changed by reacting again (an empty emoji removes it)")
	}
	return m, nil
}

// refOf names m for the connector: its WhatsApp id and its chat.
func refOf(m *apiws.Message) whatsapp.MessageRef {
	ref := whatsapp.MessageRef{ID: *m.WAMessageID, Chat: m.Peer}
	if m.Peer == "" && m.PeerLID != nil {
		ref.ChatLID = *m.PeerLID
	}
	return ref
}

// Edit implements apiws.MessageService. The number's owner sends the edit
// (see signal); once WhatsApp took it, one transaction sets the message's
// editedAt and logs MESSAGE_EDITED with the new text in transit.
func (s *Service) Edit(ctx context.Context, in apiws.EditMessage) (*apiws.Message, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeSend)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(in.Text) == "" || utf8.RuneCountInString(in.Text) > MaxTextLength {
		return nil, apiws.FieldError(apiws.EINVALID, field("text"), "must be 1 to %d characters", MaxTextLength)
	}
	at := field("messageId")
	m, err := s.sentByUs(ctx, c.AccountID, in.MessageID, at)
	if err != nil {
		return nil, err
	}
	switch {
	case m.Kind != apiws.KindText:
		return nil, apiws.FieldError(apiws.EINVALID, at, "only TEXT messages can be edited, not %s", m.Kind)
	case m.RevokedAt != nil:
		return nil, apiws.FieldError(apiws.EINVALID, at, "the message was revoked")
	case s.now().Sub(*m.SentAt) > apiws.EditWindow:
		return nil, apiws.FieldError(apiws.EEXPIRED, at, "a message can be edited within %s of being sent", apiws.EditWindow)
	}
	n, err := s.sendable(ctx, c.AccountID, m.NumberID, at)
	if err != nil {
		return nil, err
	}
	ref, err := s.chatRef(ctx, m)
	if err != nil {
		return nil, err
	}
	when, err := s.signal(ctx, n, chatSignal{NumberID: n.ID, Edit: &ref, Sealed: s.seal.seal(ref.ID, []byte(in.Text))})
	if err != nil {
		return nil, err
	}
	when = s.orNow(when)
	text := in.Text
	ev := &apiws.LogEvent{AccountID: m.AccountID, Type: apiws.EventTypeMessageEdited, NumberID: m.NumberID, MessageID: m.ID, At: when,
		Content: &apiws.MessageContent{Text: &text, Mentions: []apiws.Peer{}}}
	if err := s.db.MarkEdited(ctx, m.ID, when, ev); err != nil {
		return nil, err
	}
	m.EditedAt = &when
	s.publish(ev)
	return m, nil
}

// Revoke implements apiws.MessageService, as Edit: the owner deletes the
// message for everyone, then one transaction sets its revokedAt and logs
// MESSAGE_REVOKED.
func (s *Service) Revoke(ctx context.Context, id string) (*apiws.Message, error) {
	c, err := apiws.RequireAccount(ctx, apiws.ScopeSend)
	if err != nil {
		return nil, err
	}
	at := []string{"messageId"}
	m, err := s.sentByUs(ctx, c.AccountID, id, at)
	if err != nil {
		return nil, err
	}
	if m.RevokedAt != nil {
		return m, nil
	}
	if s.now().Sub(*m.SentAt) > apiws.RevokeWindow {
		return nil, apiws.FieldError(apiws.EEXPIRED, at, "a message can be revoked within %s of being sent", apiws.RevokeWindow)
	}
	n, err := s.sendable(ctx, c.AccountID, m.NumberID, at)
	if err != nil {
		return nil, err
	}
	ref, err := s.chatRef(ctx, m)
	if err != nil {
		return nil, err
	}
	when, err := s.signal(ctx, n, chatSignal{NumberID: n.ID, Revoke: &ref})
	if err != nil {
		return nil, err
	}
	when = s.orNow(when)
	ev := &apiws.LogEvent{AccountID: m.AccountID, Type: apiws.EventTypeMessageRevoked, NumberID: m.NumberID, MessageID: m.ID, At: when}
	if err := s.db.MarkRevoked(ctx, m.ID, when, ev); err != nil {
		return nil, err
	}
	m.RevokedAt = &when
	s.publish(ev)
	return m, nil
}

// sendable returns the account's number of a message to edit or revoke,
// once checkSend found the account free to send (active, not restricted)
// and the number connected.
func (s *Service) sendable(ctx context.Context, accountID, numberID string, at []string) (*apiws.Number, error) {
	if err := s.checkSend(ctx, accountID, numberID, at); err != nil {
		return nil, err
	}
	return s.numbers.Number(ctx, accountID, numberID)
}

// orNow is t, or now when the connector gave no time: in UTC, to the
// microsecond, as the database keeps it (the answer reads as a read will).
func (s *Service) orNow(t time.Time) time.Time {
	if t.IsZero() {
		t = s.now()
	}
	return t.UTC().Truncate(time.Microsecond)
}
