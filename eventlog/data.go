package eventlog

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/apiws/apiws"
)

// The data of an event outside GraphQL (webhook bodies): every field of
// the event's GraphQL type under its GraphQL name. Objects carry their
// scalar fields and small value objects; links to other nodes inside them
// (a message's number, an event's number) are {"id": "..."}; lists of other
// objects (Message.events, WhatsAppNumber.groups) and fields with arguments (WhatsAppNumber.lookup,
// which asks WhatsApp) are left out.

type (
	ref struct {
		ID string `json:"id"`
	}
	timestamp time.Time
)

func (t timestamp) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Time(t).UTC().Format(apiws.TimeLayout))
}

func at(t *time.Time) *timestamp { return (*timestamp)(t) }

// eventHead is what every event has (the interface Event).
type eventHead struct {
	Cursor   string          `json:"cursor"`
	Type     apiws.EventType `json:"type"`
	At       timestamp       `json:"at"`
	NumberID string          `json:"numberId"`
}

type messageData struct {
	ID              string              `json:"id"`
	Number          ref                 `json:"number"`
	Direction       apiws.Direction     `json:"direction"`
	Peer            *string             `json:"peer"`
	PeerLID         *string             `json:"peerLid"`
	ReplyTo         *ref                `json:"replyTo"`
	Group           *ref                `json:"group"`
	Kind            apiws.MessageKind   `json:"kind"`
	Status          apiws.MessageStatus `json:"status"`
	WAMessageID     *string             `json:"waMessageId"`
	ClientReference *string             `json:"clientReference"`
	Error           *apiws.MessageError `json:"error"`
	QueuedAt        *timestamp          `json:"queuedAt"`
	SentAt          *timestamp          `json:"sentAt"`
	DeliveredAt     *timestamp          `json:"deliveredAt"`
	ReadAt          *timestamp          `json:"readAt"`
	PlayedAt        *timestamp          `json:"playedAt"`
	FailedAt        *timestamp          `json:"failedAt"`
	ReceivedAt      *timestamp          `json:"receivedAt"`
	EditedAt        *timestamp          `json:"editedAt"`
	RevokedAt       *timestamp          `json:"revokedAt"`
}

// messageOf is nil for a message no longer kept (past its retention).
func messageOf(m *apiws.Message) *messageData {
	if m == nil {
		return nil
	}
	d := &messageData{ID: m.ID, Number: ref{m.NumberID}, Direction: m.Direction, Peer: apiws.NilIfEmpty(m.Peer), PeerLID: m.PeerLID,
		Kind: m.Kind, Status: m.Status, WAMessageID: m.PublicWAMessageID(), ClientReference: m.ClientReference, Error: m.Error,
		QueuedAt: at(m.QueuedAt), SentAt: at(m.SentAt), DeliveredAt: at(m.DeliveredAt), ReadAt: at(m.ReadAt), PlayedAt: at(m.PlayedAt),
		FailedAt: at(m.FailedAt), ReceivedAt: at(m.ReceivedAt), EditedAt: at(m.EditedAt), RevokedAt: at(m.RevokedAt)}
	if m.ReplyTo != nil {
		d.ReplyTo = &ref{*m.ReplyTo}
	}
	if m.GroupID != nil {
		d.Group = &ref{*m.GroupID}
	}
	return d
}

type numberData struct {
	ID          string             `json:"id"`
	Label       *string            `json:"label"`
	Sandbox     bool               `json:"sandbox"`
	Phone       *string            `json:"phone"`
	PushName    *string            `json:"pushName"`
	Status      apiws.NumberStatus `json:"status"`
	ConnectedAt *timestamp         `json:"connectedAt"`
	LastSeenAt  *timestamp         `json:"lastSeenAt"`
	CreatedAt   timestamp          `json:"createdAt"`
}

// MessageStatusEvent.
type messageStatusData struct {
	eventHead
	MessageID string              `json:"messageId"`
	Status    apiws.MessageStatus `json:"status"`
	Error     *apiws.MessageError `json:"error"`
	Message   *messageData        `json:"message"`
}

// MessageReceivedEvent.
type messageReceivedData struct {
	eventHead
	Message *messageData          `json:"message"`
	Content *apiws.MessageContent `json:"content"`
}

// MessageEditedEvent (and MessageReceivedEvent).
type messageContentData = messageReceivedData

// MessageRevokedEvent.
type messageRevokedData struct {
	eventHead
	Message *messageData `json:"message"`
}

// ReactionEvent.
type reactionData struct {
	eventHead
	Message *messageData `json:"message"`
	From    apiws.Peer   `json:"from"`
	Emoji   *string      `json:"emoji"`
}

// PollVoteEvent.
type pollVoteData struct {
	eventHead
	Message *messageData `json:"message"`
	Voter   apiws.Peer   `json:"voter"`
	Options []string     `json:"options"`
}

// NumberStatusEvent.
type numberStatusData struct {
	eventHead
	Number *numberData        `json:"number"`
	Status apiws.NumberStatus `json:"status"`
	Reason *string            `json:"reason"`
}

// GroupUpdatedEvent.
type groupUpdatedData struct {
	eventHead
	Group        *groupData        `json:"group"`
	Change       apiws.GroupChange `json:"change"`
	Participants []apiws.Peer      `json:"participants"`
}

type groupData struct {
	ID           string                    `json:"id"`
	Number       ref                       `json:"number"`
	JID          string                    `json:"jid"`
	Name         string                    `json:"name"`
	Topic        *string                   `json:"topic"`
	Participants []*apiws.GroupParticipant `json:"participants"`
	Role         *apiws.GroupRole          `json:"role"`
	CreatedAt    *timestamp                `json:"createdAt"`
}

// EventData returns the data of the events, in their order: for each,
// every field of its GraphQL type, content included while it is in transit
// (ev.Content, or read from the transit table). The events are of one
// account.
func (l *Log) EventData(ctx context.Context, evs []*apiws.LogEvent) ([]json.RawMessage, error) {
	if len(evs) == 0 {
		return nil, nil
	}
	var ids []string
	var missing []*apiws.LogEvent
	for _, ev := range evs {
		if ev.MessageID != "" {
			ids = append(ids, ev.MessageID)
		}
		if ev.Content == nil && HasContent(ev.Type) {
			missing = append(missing, ev)
		}
	}
	if err := l.attach(ctx, evs[0].AccountID, missing); err != nil {
		return nil, err
	}
	msgs, err := l.db.MessagesByIDs(ctx, ids)
	if err != nil {
		return nil, err
	}
	byID := make(map[string]*apiws.Message, len(msgs))
	for _, m := range msgs {
		byID[m.ID] = m
	}
	out := make([]json.RawMessage, len(evs))
	for i, ev := range evs {
		if out[i], err = data(ev, byID[ev.MessageID]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// data renders one event; m is its message, if it has one. Adding an event
// type is adding its case.
func data(ev *apiws.LogEvent, m *apiws.Message) (json.RawMessage, error) {
	head := eventHead{Cursor: strconv.FormatInt(ev.Seq, 10), Type: ev.Type, At: timestamp(ev.At), NumberID: ev.NumberID}
	var v any
	switch ev.Type {
	case apiws.EventTypeMessageStatus:
		v = messageStatusData{eventHead: head, MessageID: ev.MessageID, Status: ev.Status, Error: ev.Error, Message: messageOf(m)}
	case apiws.EventTypeMessageReceived, apiws.EventTypeMessageEdited:
		v = messageContentData{eventHead: head, Message: messageOf(m), Content: ev.Content}
	case apiws.EventTypeMessageRevoked:
		v = messageRevokedData{eventHead: head, Message: messageOf(m)}
	case apiws.EventTypeReaction:
		r := apiws.ReactionEvent{LogEvent: ev}
		v = reactionData{eventHead: head, Message: messageOf(m), From: r.From(), Emoji: r.Emoji()}
	case apiws.EventTypePollVote:
		p := apiws.PollVoteEvent{LogEvent: ev}
		v = pollVoteData{eventHead: head, Message: messageOf(m), Voter: p.Voter(), Options: p.Options()}
	case apiws.EventTypeNumberStatus:
		st := apiws.NumberStatusEvent{LogEvent: ev}
		d := numberStatusData{eventHead: head, Status: st.Status(), Reason: st.Reason()}
		if n := st.Number(); n != nil {
			d.Number = &numberData{ID: n.ID, Label: n.Label, Sandbox: n.Sandbox, Phone: n.Phone, PushName: n.PushName, Status: n.Status,
				ConnectedAt: at(n.ConnectedAt), LastSeenAt: at(n.LastSeenAt), CreatedAt: timestamp(n.CreatedAt)}
		}
		v = d
	case apiws.EventTypeGroupUpdated:
		gu := apiws.GroupUpdatedEvent{LogEvent: ev}
		d := groupUpdatedData{eventHead: head, Change: gu.Change(), Participants: gu.Participants()}
		if g := gu.Group(); g != nil {
			d.Group = &groupData{ID: g.ID, Number: ref{g.NumberID}, JID: g.JID, Name: g.Name, Topic: g.Topic, Participants: g.Participants,
				Role: g.Role, CreatedAt: at(g.CreatedAt)}
			if d.Group.Participants == nil {
				d.Group.Participants = []*apiws.GroupParticipant{}
			}
		}
		v = d
	default:
		return nil, fmt.Errorf("eventlog: no data for events of type %s", ev.Type)
	}
	return json.Marshal(v)
}
