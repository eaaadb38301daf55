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
	PeerLID         *string       `bun:"peer_lid"`
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
	// IdempotencyKey and RequestHash let a retried sendMessage return the
	// first message; they are not part of the API's Message.
	IdempotencyKey *string `bun:"idempotency_key"`
	RequestHash    []byte  `bun:"request_hash"`
}

// MessageEvent is one status change in an account's event log. Seq is the
// Cursor: strictly increasing within the account, in commit order.
type MessageEvent struct {
	AccountID string        `bun:"account_id,pk"`
	Seq       int64         `bun:"seq,pk"`
	MessageID string        `bun:"message_id,notnull"`
	NumberID  string        `bun:"number_id,notnull"`
	Status    MessageStatus `bun:"status,notnull"`
	Error     *MessageError `bun:"error,type:text"`
	At        time.Time     `bun:"at,notnull"`
}

// SendMessage is the input of a send.
type SendMessage struct {
	NumberID        string
	To              string
	Text            *string
	Media           *MediaInput
	ClientReference *string
	IdempotencyKey  *string
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
