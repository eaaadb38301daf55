package apiws

import (
	"context"
	"time"
)

// InboundMedia describes a received attachment, as a connector gives it.
type InboundMedia struct {
	MimeType string
	FileName string
	Caption  string
	Size     int64
	// Ref is what the Connector needs to download the file (its
	// Download), opaque; kept sealed while the message is in transit.
	Ref []byte
}

// MaxSendMany is how many messages one SendMany takes.
const MaxSendMany = 100

// SendResult answers one input of SendMany: its message, or Err, the error
// Send would have returned for it.
type SendResult struct {
	Message *Message
	Err     error
}

// MessageService sends messages, lists them, follows their status and the
// inbound ones, and keeps the debug captures of their content.
type MessageService interface {
	// Send validates and queues a message for one of the caller's numbers
	// (ScopeSend). A reply (ReplyTo) quotes a message of the same number
	// and chat, else it is ENOTFOUND at input.replyTo; without To it goes
	// to the quoted message's peer. With an idempotency key used in the
	// last 24 hours it returns the first message (same input) or ECONFLICT
	// (different input), and queues nothing.
	Send(ctx context.Context, in SendMessage) (*Message, error)
	// SendMany answers each of 1 to MaxSendMany inputs exactly as Send
	// would, in order, its user errors' fields under inputs.N (e.g.
	// ["inputs", "3", "to"]), and queues the accepted ones in one
	// transaction. More inputs, or none, is EINVALID at inputs and queues
	// nothing; so does any error that is not a user error.
	SendMany(ctx context.Context, ins []SendMessage) ([]SendResult, error)
	// MarkRead sends read receipts for inbound messages of one of the
	// caller's numbers (ScopeSend) and returns them; the number must be
	// connected.
	MarkRead(ctx context.Context, ids []string) ([]*Message, error)
	// SendChatPresence shows typing, recording or neither in a chat of one
	// of the caller's numbers (ScopeSend).
	SendChatPresence(ctx context.Context, in SendChatPresence) error
	// React queues the number's reaction to one of the account's messages
	// (ScopeSend) as a send of its own: an outbound message of kind
	// REACTION that quotes the target (ReplyTo), returned. The target is
	// ENOTFOUND at input.messageId when it is not the account's, INVALID
	// when it was never sent; an emoji that is not one grapheme cluster
	// (nor "") is INVALID at input.emoji. Idempotency keys work as Send's.
	React(ctx context.Context, in React) (*Message, error)
	// Edit replaces the text of one of the account's outbound TEXT
	// messages (ScopeSend) through WhatsApp and logs MESSAGE_EDITED with
	// the new text in transit; it returns the message, EditedAt set. A
	// message that is not such a one, or was never sent, is INVALID at
	// input.messageId; one sent over EditWindow ago EEXPIRED.
	Edit(ctx context.Context, in EditMessage) (*Message, error)
	// Revoke deletes one of the account's sent outbound messages for
	// everyone (ScopeSend) through WhatsApp and logs MESSAGE_REVOKED; it
	// returns the message, RevokedAt set. One sent over RevokeWindow ago
	// is EEXPIRED at messageId; one already revoked is returned as it is.
	Revoke(ctx context.Context, id string) (*Message, error)
	// Message returns one of the caller's messages, or ENOTFOUND.
	Message(ctx context.Context, id string) (*Message, error)
	// Messages pages an account's messages, newest first; Page.After is
	// the id of the last message of the previous page (RequireRead).
	Messages(ctx context.Context, accountID string, f MessageFilter, page Page) (List[*Message], error)
	// FollowEvents streams the account's events of types (every type when
	// empty), of one number when numberID is not "": with after, the
	// logged events after that cursor first, then live ones, with no gap
	// and no duplicate. Events that carry content have it while it is in
	// transit. A stream that cannot go on ends with an error (EndStream).
	FollowEvents(ctx context.Context, accountID string, types []EventType, numberID string, after *int64) (<-chan *LogEvent, error)
	// FollowStatus is FollowEvents of the message status events
	// (MESSAGE_STATUS, and MESSAGE_RECEIVED as status RECEIVED).
	FollowStatus(ctx context.Context, accountID, numberID string, after *int64) (<-chan *LogEvent, error)
	// FollowIncoming is FollowEvents of MESSAGE_RECEIVED, from now on.
	FollowIncoming(ctx context.Context, accountID, numberID string) (<-chan *LogEvent, error)
	// GrantDebugCapture records the calling session's permission to keep
	// the message content of one number until until.
	GrantDebugCapture(ctx context.Context, numberID string, until time.Time, reason string) (*DebugCapture, error)
	// RevokeDebugCapture ends one of the caller's captures.
	RevokeDebugCapture(ctx context.Context, id string) (*DebugCapture, error)
	// DebugCaptures lists an account's captures (RequireRead).
	DebugCaptures(ctx context.Context, accountID string) ([]*DebugCapture, error)
	// DebugCapture returns one capture of the caller's account
	// (ScopeRead), or ENOTFOUND.
	DebugCapture(ctx context.Context, id string) (*DebugCapture, error)
}
