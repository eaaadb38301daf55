package apiws

import "time"

// Direction says whether a message was sent or received.
type Direction string

// Directions.
const (
	Outbound Direction = "OUTBOUND"
	Inbound  Direction = "INBOUND"
)

// MessageKind is what a message carries.
type MessageKind string

// Message kinds.
const (
	KindText     MessageKind = "TEXT"
	KindImage    MessageKind = "IMAGE"
	KindDocument MessageKind = "DOCUMENT"
	KindAudio    MessageKind = "AUDIO"
	KindVideo    MessageKind = "VIDEO"
	KindLocation MessageKind = "LOCATION"
	KindReaction MessageKind = "REACTION"
	KindContact  MessageKind = "CONTACT"
	KindPoll     MessageKind = "POLL"
	KindSticker  MessageKind = "STICKER"
	KindOther    MessageKind = "OTHER"
)

// MessageStatus is where a message stands.
type MessageStatus string

// Message statuses.
const (
	StatusQueued    MessageStatus = "QUEUED"
	StatusSent      MessageStatus = "SENT"
	StatusDelivered MessageStatus = "DELIVERED"
	StatusRead      MessageStatus = "READ"
	StatusPlayed    MessageStatus = "PLAYED"
	StatusFailed    MessageStatus = "FAILED"
	StatusReceived  MessageStatus = "RECEIVED"
)

// Rank orders the outbound statuses so a receipt can only move a message
// forward: QUEUED < SENT < DELIVERED < READ < PLAYED. FAILED and RECEIVED
// are final and rank highest.
func (s MessageStatus) Rank() int {
	switch s {
	case StatusQueued:
		return 1
	case StatusSent:
		return 2
	case StatusDelivered:
		return 3
	case StatusRead:
		return 4
	case StatusPlayed:
		return 5
	case StatusFailed, StatusReceived:
		return 6
	}
	return 0
}

// Advances reports whether moving from s to next is a step forward.
func (s MessageStatus) Advances(next MessageStatus) bool {
	return next.Rank() > s.Rank()
}

// Step moves m to status at time at if that is a step forward (the state
// machine is monotonic: a late or repeated report changes nothing), sets
// the time of that status and, with merr, the error; it returns the event
// of the step, or nil.
func (m *Message) Step(status MessageStatus, at time.Time, merr *MessageError) *LogEvent {
	if !m.Status.Advances(status) {
		return nil
	}
	m.Status = status
	t := at
	switch status {
	case StatusSent:
		m.SentAt = &t
	case StatusDelivered:
		m.DeliveredAt = &t
	case StatusRead:
		m.ReadAt = &t
	case StatusPlayed:
		m.PlayedAt = &t
	case StatusFailed:
		m.FailedAt = &t
	case StatusReceived:
		m.ReceivedAt = &t
	}
	if merr != nil {
		m.Error = merr
	}
	return &LogEvent{AccountID: m.AccountID, Type: EventTypeMessageStatus, MessageID: m.ID, NumberID: m.NumberID, Status: status, Error: merr, At: at}
}

// ApplyReceipt applies WhatsApp's report that m reached status (merr is
// its error, kept only with FAILED) and returns the events of the steps
// taken, in order. A receipt for a message still QUEUED means WhatsApp
// accepted it before its acceptance was recorded: it goes SENT first, so
// every message's events read QUEUED, SENT, then the rest.
func (m *Message) ApplyReceipt(status MessageStatus, at time.Time, merr *MessageError) []*LogEvent {
	if status != StatusFailed {
		merr = nil
	}
	var evs []*LogEvent
	if m.Status == StatusQueued && status != StatusFailed && status != StatusSent {
		if ev := m.Step(StatusSent, at, nil); ev != nil {
			evs = append(evs, ev)
		}
	}
	if ev := m.Step(status, at, merr); ev != nil {
		evs = append(evs, ev)
	}
	return evs
}

// MessageError explains why a message failed or is being retried.
type MessageError struct {
	Code      string `json:"code"`
	Message   string `json:"message"`
	Retryable bool   `json:"retryable"`
}

// Stable message error codes.
const (
	MsgErrNotOnWhatsApp = "NOT_ON_WHATSAPP"
	MsgErrNotConnected  = "NOT_CONNECTED"
	MsgErrRateLimited   = "RATE_LIMITED"
	MsgErrMediaInvalid  = "MEDIA_INVALID"
	MsgErrTimeout       = "TIMEOUT"
	// MsgErrUndecryptable is an inbound message WhatsApp delivered and
	// the number could not decrypt (its content is on the phone only).
	MsgErrUndecryptable = "UNDECRYPTABLE"
)

// Message is the metadata of a message; its content is never part of it.
type Message struct {
	ID        string    `bun:"id,pk"`
	AccountID string    `bun:"account_id,notnull"`
	NumberID  string    `bun:"number_id,notnull"`
	Direction Direction `bun:"direction,notnull"`
	// Peer is the other party's phone (E.164); "" when WhatsApp hid the
	// sender behind a LID whose phone is not known.
	Peer string `bun:"peer,notnull"`
	// PeerLID is WhatsApp's hidden-number id of the other party, when
	// WhatsApp gave one.
	PeerLID *string `bun:"peer_lid"`
	// ReplyTo is the id of the message this one quotes, when apiws knows
	// that message.
	ReplyTo *string `bun:"reply_to"`
	// GroupID is the group of a group message; nil in a one-to-one chat.
	GroupID         *string       `bun:"group_id"`
	Kind            MessageKind   `bun:"kind,notnull"`
	Status          MessageStatus `bun:"status,notnull"`
	WAMessageID     *string       `bun:"wa_message_id"`
	ClientReference *string       `bun:"client_reference"`
	Error           *MessageError `bun:"error,type:text"`
	QueuedAt        *time.Time    `bun:"queued_at"`
	SentAt          *time.Time    `bun:"sent_at"`
	DeliveredAt     *time.Time    `bun:"delivered_at"`
	ReadAt          *time.Time    `bun:"read_at"`
	PlayedAt        *time.Time    `bun:"played_at"`
	FailedAt        *time.Time    `bun:"failed_at"`
	ReceivedAt      *time.Time    `bun:"received_at"`
	// EditedAt is when the sender last edited the message, RevokedAt when
	// it deleted it for everyone.
	EditedAt  *time.Time `bun:"edited_at"`
	RevokedAt *time.Time `bun:"revoked_at"`
	// IdempotencyKey and RequestHash let a retried sendMessage return the
	// first message; they are not part of the API's Message.
	IdempotencyKey *string `bun:"idempotency_key"`
	RequestHash    []byte  `bun:"request_hash"`
}

// PublicWAMessageID is the WhatsApp id the API shows for m: the id is chosen
// when an outbound message is queued, so that a retry is the same message,
// but it is WhatsApp's only once WhatsApp has the message (SentAt is set);
// until then there is none. An inbound message always shows its id.
func (m *Message) PublicWAMessageID() *string {
	if m.Direction == Outbound && m.SentAt == nil {
		return nil
	}
	return m.WAMessageID
}

// PeerOrNil is Peer as the API shows it: nil when WhatsApp told only the
// peer's LID.
func (m *Message) PeerOrNil() *string { return NilIfEmpty(m.Peer) }

// EventType is what an entry of an account's event log reports.
type EventType string

// Event types, as the GraphQL enum EventType names them.
const (
	EventTypeMessageStatus   EventType = "MESSAGE_STATUS"
	EventTypeMessageReceived EventType = "MESSAGE_RECEIVED"
	EventTypeMessageEdited   EventType = "MESSAGE_EDITED"
	EventTypeMessageRevoked  EventType = "MESSAGE_REVOKED"
	EventTypeReaction        EventType = "REACTION"
	EventTypePollVote        EventType = "POLL_VOTE"
	EventTypeNumberStatus    EventType = "NUMBER_STATUS"
	EventTypeGroupUpdated    EventType = "GROUP_UPDATED"
	// EventTypePing is never logged: only webhook deliveries carry it.
	EventTypePing EventType = "PING"
)

// LogEvent is one entry of an account's event log: a message's status
// changed, a message arrived, a number's connection changed, and so on.
// Seq is the Cursor: strictly increasing within the account, in commit
// order, shared by every type. The entry holds metadata only; content that
// comes with an event (an inbound message's text) is in transit, apart.
type LogEvent struct {
	AccountID string    `bun:"account_id,pk"`
	Seq       int64     `bun:"seq,pk"`
	Type      EventType `bun:"type,notnull"`
	NumberID  string    `bun:"number_id,notnull"`
	// MessageID is the message the event is about, if any.
	MessageID string `bun:"message_id,nullzero"`
	// WAMessageID is WhatsApp's id of what someone did to the message (a
	// reaction, an edit, a revoke, a vote, each a message of its own): the
	// log holds each once, however often WhatsApp delivers it.
	WAMessageID string `bun:"wa_message_id,nullzero" json:"-"`
	// Status is the message's new status (MESSAGE_STATUS; RECEIVED for
	// MESSAGE_RECEIVED).
	Status MessageStatus `bun:"status,nullzero"`
	Error  *MessageError `bun:"error,type:text"`
	// Detail holds what the other types report beyond the columns.
	Detail *EventDetail `bun:"detail,type:text"`
	At     time.Time    `bun:"at,notnull"`
	// Content is the event's content while it is in transit (see package
	// eventlog); never a column of the log.
	Content *MessageContent `bun:"-" json:"-"`
	// MediaUntil is when the event's inbound file leaves transit, while
	// what fetches it (MediaInfo.Ref) is kept: its media link is valid
	// until then. Never a column of the log.
	MediaUntil *time.Time `bun:"-" json:"mediaUntil,omitempty"`
}

// EventView is an event of the log as GraphQL shows it: one Go type per
// GraphQL event type (the interface Event), each a view of its LogEvent.
type EventView interface {
	Logged() *LogEvent
}

// Logged returns the event itself: a MESSAGE_STATUS event (and in
// messageStatus a MESSAGE_RECEIVED one) is shown as it is logged.
func (e *LogEvent) Logged() *LogEvent { return e }

// MessageReceivedEvent is a MESSAGE_RECEIVED event as GraphQL shows it.
type MessageReceivedEvent struct{ *LogEvent }

// View returns the GraphQL view of ev, by its type.
func View(ev *LogEvent) EventView {
	switch ev.Type {
	case EventTypeMessageReceived:
		return MessageReceivedEvent{ev}
	case EventTypeNumberStatus:
		return NumberStatusEvent{ev}
	case EventTypeMessageEdited:
		return MessageEditedEvent{ev}
	case EventTypeMessageRevoked:
		return MessageRevokedEvent{ev}
	case EventTypeReaction:
		return ReactionEvent{ev}
	case EventTypePollVote:
		return PollVoteEvent{ev}
	case EventTypeGroupUpdated:
		return GroupUpdatedEvent{ev}
	}
	return ev
}

// EventDetail is the metadata of an event that the log's columns do not
// hold; each type sets its own fields.
type EventDetail struct {
	// NUMBER_STATUS: the number's new status, and why.
	NumberStatus NumberStatus `json:"numberStatus,omitempty"`
	Reason       *string      `json:"reason,omitempty"`
	// Number is the number as it was right after the change, so that a
	// removed number can still be reported.
	Number *Number `json:"number,omitempty"`
	// REACTION and POLL_VOTE: who reacted or voted.
	Peer *Peer `json:"peer,omitempty"`
	// GROUP_UPDATED: see GroupDetail.
	GroupDetail
}

// SendMessage is the input of a send: a recipient (To, GroupID, or
// neither with ReplyTo) and one kind of content (Text, with Media as its
// caption; Media; Location; Contacts; or Poll).
type SendMessage struct {
	NumberID string
	To       *string
	GroupID  *string
	Text     *string
	Media    *MediaInput
	Location *Location
	Contacts []*ContactCardInput
	Poll     *PollInput
	// ReplyTo is the id of a message of the same chat to quote.
	ReplyTo *string
	// Mentions are the phones mentioned in the text.
	Mentions        []string
	ClientReference *string
	IdempotencyKey  *string
}

// ContactCardInput is a contact card to send.
type ContactCardInput struct {
	Name   string
	Phones []string
}

// PollInput is a poll to send; SelectableCount defaults to 1.
type PollInput struct {
	Question        string
	Options         []string
	SelectableCount *int
}

// MediaInput is media to send: base64 Data or an https URL to fetch.
type MediaInput struct {
	Kind     MessageKind
	Data     *string
	URL      *string
	MimeType string
	FileName *string
	Caption  *string
}

// MessageFilter narrows a list of messages.
type MessageFilter struct {
	NumberID        string
	Status          []MessageStatus
	Direction       *Direction
	Peer            *string
	Since           *time.Time
	Until           *time.Time
	ClientReference *string
	// GroupID keeps the messages of one group.
	GroupID *string
	// Kind keeps the messages of these kinds.
	Kind []MessageKind
}

// DebugCapture is a customer's permission to keep the message content of one
// number until a time at most 30 days ahead.
type DebugCapture struct {
	ID        string     `bun:"id,pk"`
	AccountID string     `bun:"account_id,notnull"`
	NumberID  string     `bun:"number_id,notnull"`
	Reason    string     `bun:"reason,notnull"`
	CreatedAt time.Time  `bun:"created_at,notnull"`
	Until     time.Time  `bun:"until,notnull"`
	RevokedAt *time.Time `bun:"revoked_at"`
}
